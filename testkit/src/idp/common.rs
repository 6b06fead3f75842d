//! What every IdP simulator needs alike: randomness, RFC 6749 client-credential decoding, JSON
//! answers, epoch time.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{KeyPair, RsaKeyPair};
use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

/// A listener on an ephemeral loopback port, and its base URL (`http://127.0.0.1:PORT`).
pub fn bind_loopback() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let base = format!("http://{}", listener.local_addr().expect("local addr"));
    listener.set_nonblocking(true).expect("nonblocking");
    (listener, base)
}

/// Serves `app` from a thread and runtime of its own, for the life of the test process (so a
/// simulator outlives the runtime of the test that started it).
pub fn serve_in_background(listener: std::net::TcpListener, app: axum::Router, name: &'static str) {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            axum::serve(listener, app)
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        });
    });
}

pub fn epoch_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

pub fn now_secs() -> i64 {
    epoch_secs(SystemTime::now()) as i64
}

/// `len` characters drawn uniformly from `alphabet` (at most 256 symbols).
pub fn random_from(alphabet: &[u8], len: usize) -> String {
    let rng = SystemRandom::new();
    let limit = 256 - 256 % alphabet.len();
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        rng.fill(&mut buf).expect("system randomness");
        // Rejection sampling keeps the characters uniform.
        for b in buf.iter().filter(|b| usize::from(**b) < limit) {
            if out.len() == len {
                break;
            }
            out.push(char::from(alphabet[usize::from(*b) % alphabet.len()]));
        }
    }
    out
}

pub const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

pub fn random_alphanumeric(len: usize) -> String {
    random_from(ALPHANUMERIC, len)
}

pub fn json_response(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

/// RFC 6749 §2.3.1 / `application/x-www-form-urlencoded` decoding of one Basic credential
/// component; `None` for a malformed escape or invalid UTF-8.
pub fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The (client id, secret) of an HTTP Basic `Authorization` header, each part form-decoded.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            let (id, secret) = s.split_once(':')?;
            Some((form_decode(id)?, form_decode(secret)?))
        })
}

/// A fixed 2048-bit RSA test key (PKCS#1 DER, `test_rsa_key.der`), generated for this testkit and
/// used nowhere else: ring cannot generate RSA keys, and RS256 is what some IdPs demand.
pub const TEST_RSA_KEY_DER: &[u8] = include_bytes!("test_rsa_key.der");

pub fn test_rsa_key() -> RsaKeyPair {
    RsaKeyPair::from_der(TEST_RSA_KEY_DER).expect("test RSA key")
}

/// The public JWK of an RSA key (RS256, `kid`): ring's public key is the DER `RSAPublicKey`.
pub fn rsa_jwk(key: &RsaKeyPair, kid: &str) -> Value {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    let (n, e) = rsa_public_numbers(key.public_key().as_ref());
    serde_json::json!({
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
        "n": B64.encode(n), "e": B64.encode(e),
    })
}

/// (n, e) of a DER `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
fn rsa_public_numbers(der: &[u8]) -> (Vec<u8>, Vec<u8>) {
    fn tlv(b: &[u8]) -> (u8, &[u8], &[u8]) {
        let tag = b[0];
        let (len, head) = if b[1] < 0x80 {
            (b[1] as usize, 2)
        } else {
            let n = (b[1] & 0x7f) as usize;
            let len = b[2..2 + n]
                .iter()
                .fold(0usize, |acc, x| (acc << 8) | *x as usize);
            (len, 2 + n)
        };
        (tag, &b[head..head + len], &b[head + len..])
    }
    let (_, seq, _) = tlv(der);
    let (_, n, rest) = tlv(seq);
    let (_, e, _) = tlv(rest);
    let strip = |v: &[u8]| {
        let i = v.iter().position(|b| *b != 0).unwrap_or(v.len());
        v[i..].to_vec()
    };
    (strip(n), strip(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        assert_eq!(form_decode("a%2Bb+c%3A").as_deref(), Some("a+b c:"));
        assert_eq!(form_decode("100%"), None);
        assert_eq!(form_decode("%zz"), None);
    }

    #[test]
    fn random_values_use_only_the_alphabet() {
        let v = random_from(b"ab", 100);
        assert_eq!(v.len(), 100);
        assert!(v.bytes().all(|b| b == b'a' || b == b'b'));
        assert!(v.contains('a') && v.contains('b'));
    }
}
