//! RFC 7523 client assertions as the identity-provider simulators check them: a compact JWS
//! (RS256 or ES256) verified against registered public JWKs, with the claim checks real IdPs
//! make (exp, nbf/iat, aud, iss/sub, one use per jti). Verification uses `ring`, not the
//! product's code, so a simulator accepting an assertion is evidence the product signed it right.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaPublicKeyComponents};
use serde_json::{json, Value};

/// Clock skew tolerated on exp/nbf/iat, and the longest lifetime an assertion may claim.
const SKEW_SECS: i64 = 60;
const MAX_LIFETIME_SECS: i64 = 3600;

/// The jti values already used (an assertion is good once).
#[derive(Default)]
pub struct ReplayGuard(Mutex<HashSet<String>>);

/// What the verifying IdP expects of the claims.
pub struct Expect<'a> {
    pub audiences: &'a [&'a str],
    pub issuer: Option<&'a str>,
    pub subject: Option<&'a str>,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64
}

fn part(s: &str, what: &str) -> Result<Vec<u8>, String> {
    B64.decode(s)
        .map_err(|_| format!("client assertion {what} is not base64url"))
}

fn jwk_bytes(jwk: &Value, field: &str) -> Option<Vec<u8>> {
    B64.decode(jwk.get(field)?.as_str()?).ok()
}

fn signature_ok(alg: &str, jwk: &Value, message: &[u8], sig: &[u8]) -> bool {
    match (alg, jwk.get("kty").and_then(Value::as_str)) {
        ("RS256", Some("RSA")) => {
            let (Some(n), Some(e)) = (jwk_bytes(jwk, "n"), jwk_bytes(jwk, "e")) else {
                return false;
            };
            RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig)
                .is_ok()
        }
        ("ES256", Some("EC")) if jwk.get("crv").and_then(Value::as_str) == Some("P-256") => {
            let (Some(x), Some(y)) = (jwk_bytes(jwk, "x"), jwk_bytes(jwk, "y")) else {
                return false;
            };
            let mut point = vec![4u8];
            point.extend(x);
            point.extend(y);
            signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(message, sig)
                .is_ok()
        }
        _ => false,
    }
}

/// Verifies a compact JWS client assertion; `Err` is an `error_description` for the 401.
pub fn verify(
    jwt: &str,
    keys: &[Value],
    expect: &Expect,
    replay: &ReplayGuard,
) -> Result<Value, String> {
    verify_at(jwt, keys, expect, replay, now())
}

/// [`verify`] with the verifier's clock at `now` (epoch seconds): a simulator whose clock runs
/// ahead sees assertions as expired.
pub fn verify_at(
    jwt: &str,
    keys: &[Value],
    expect: &Expect,
    replay: &ReplayGuard,
    now: i64,
) -> Result<Value, String> {
    let mut parts = jwt.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("client assertion is not a compact JWS".into());
    };
    let header: Value = serde_json::from_slice(&part(h, "header")?)
        .map_err(|_| "client assertion header is not JSON".to_string())?;
    let claims: Value = serde_json::from_slice(&part(c, "claims")?)
        .map_err(|_| "client assertion claims are not JSON".to_string())?;
    let sig = part(s, "signature")?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if !matches!(alg, "RS256" | "ES256") {
        return Err(format!("client assertion alg {alg:?} is not accepted"));
    }
    let kid = header.get("kid").and_then(Value::as_str);
    let message = format!("{h}.{c}");
    let verified = keys
        .iter()
        .filter(|k| {
            kid.is_none()
                || k.get("kid")
                    .and_then(Value::as_str)
                    .is_none_or(|x| Some(x) == kid)
        })
        .any(|k| signature_ok(alg, k, message.as_bytes(), &sig));
    if !verified {
        return Err("client assertion signature does not verify with any registered key".into());
    }
    let t = now;
    let num = |name: &str| claims.get(name).and_then(Value::as_i64);
    let exp = num("exp").ok_or("client assertion has no exp")?;
    if exp + SKEW_SECS < t {
        return Err("client assertion has expired".into());
    }
    if exp > t + MAX_LIFETIME_SECS + SKEW_SECS {
        return Err("client assertion lives longer than allowed".into());
    }
    if num("nbf").is_some_and(|nbf| nbf > t + SKEW_SECS) {
        return Err("client assertion is not valid yet (nbf)".into());
    }
    if num("iat").is_some_and(|iat| iat > t + SKEW_SECS) {
        return Err("client assertion was issued in the future (iat)".into());
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => expect.audiences.contains(&a.as_str()),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .any(|a| expect.audiences.contains(&a)),
        _ => false,
    };
    if !aud_ok {
        return Err("client assertion audience is not this token endpoint".into());
    }
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if let Some(iss) = expect.issuer {
        if text("iss") != Some(iss) {
            return Err("client assertion issuer does not match".into());
        }
    }
    if let Some(sub) = expect.subject {
        if text("sub") != Some(sub) {
            return Err("client assertion subject does not match".into());
        }
    }
    let jti = text("jti").ok_or("client assertion has no jti")?;
    let mut seen = replay.0.lock().unwrap_or_else(|p| p.into_inner());
    if !seen.insert(jti.to_string()) {
        return Err("client assertion jti was already used".into());
    }
    Ok(claims)
}

/// An ES256 key for tests and stand-ins (the STS federation issuer, "wrong key" cases).
pub struct TestSigner {
    pair: EcdsaKeyPair,
    kid: String,
}

impl Default for TestSigner {
    fn default() -> Self {
        Self::new()
    }
}

impl TestSigner {
    pub fn new() -> Self {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("P-256 key");
        let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).expect("P-256 key");
        let kid = format!("test-{}", uuid::Uuid::new_v4().simple());
        Self { pair, kid }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public JWK (EC P-256, with kid, use sig, alg ES256).
    pub fn jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
            "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65]),
        })
    }

    /// A compact ES256 JWS over `claims`, with this key's kid.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": self.kid});
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let sig = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .expect("ECDSA signature");
        format!("{input}.{}", B64.encode(sig.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(aud: &str, exp_in: i64, jti: &str) -> Value {
        json!({"iss": "admin", "sub": "admin", "aud": aud, "exp": now() + exp_in, "iat": now(), "jti": jti})
    }

    const EXPECT: Expect = Expect {
        audiences: &["https://idp/token"],
        issuer: Some("admin"),
        subject: Some("admin"),
    };

    #[test]
    fn a_good_assertion_verifies_once() {
        let s = TestSigner::new();
        let replay = ReplayGuard::default();
        let jwt = s.sign(&claims("https://idp/token", 60, "j1"));
        assert!(verify(&jwt, &[s.jwk()], &EXPECT, &replay).is_ok());
        let again = verify(&jwt, &[s.jwk()], &EXPECT, &replay).unwrap_err();
        assert!(again.contains("jti"), "{again}");
    }

    #[test]
    fn wrong_key_expired_wrong_audience_and_tampering_are_refused() {
        let s = TestSigner::new();
        let other = TestSigner::new();
        let replay = ReplayGuard::default();
        let keys = [s.jwk()];
        let err = |jwt: &str| verify(jwt, &keys, &EXPECT, &replay).unwrap_err();
        assert!(err(&other.sign(&claims("https://idp/token", 60, "a"))).contains("signature"));
        assert!(err(&s.sign(&claims("https://idp/token", -600, "b"))).contains("expired"));
        assert!(err(&s.sign(&claims("https://other/token", 60, "c"))).contains("audience"));
        assert!(err(&s.sign(&claims("https://idp/token", 7200, "d"))).contains("longer"));
        let good = s.sign(&claims("https://idp/token", 60, "e"));
        let mut pieces: Vec<&str> = good.split('.').collect();
        let forged = B64.encode(claims("https://idp/token", 60, "f").to_string());
        pieces[1] = &forged;
        assert!(err(&pieces.join(".")).contains("signature"));
        let mut no_jti = claims("https://idp/token", 60, "x");
        no_jti.as_object_mut().unwrap().remove("jti");
        assert!(err(&s.sign(&no_jti)).contains("jti"));
    }
}
