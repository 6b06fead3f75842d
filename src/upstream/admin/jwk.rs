//! A KMS public key (DER SubjectPublicKeyInfo, as `GetPublicKey` returns it) as the JWK an IdP
//! registers, with its RFC 7638 thumbprint as `kid`; and ECDSA signatures from DER (what KMS
//! returns) to the raw `r‖s` JWS wants. A small DER reader: only what these two need.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::jws::JwsAlg;

const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const PRIME256V1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// One DER element: (tag, contents, rest).
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |a, &b| (a << 8) | b as usize);
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, body, rest) = element(input)?;
    (t == tag).then_some((body, rest))
}

/// An unsigned INTEGER's magnitude without leading zeros.
fn unsigned(int: &[u8]) -> &[u8] {
    let skip = int.iter().take_while(|&&b| b == 0).count();
    &int[skip.min(int.len().saturating_sub(1))..]
}

/// The JWK (RSA or EC P-256) and JWS algorithm for a DER SubjectPublicKeyInfo.
pub fn from_spki(der: &[u8]) -> Result<(Value, JwsAlg), String> {
    let bad = || "the public key is not an RSA or EC P-256 SubjectPublicKeyInfo".to_string();
    let (spki, _) = expect(der, 0x30).ok_or_else(bad)?;
    let (algorithm, rest) = expect(spki, 0x30).ok_or_else(bad)?;
    let (oid, params) = expect(algorithm, 0x06).ok_or_else(bad)?;
    let (bits, _) = expect(rest, 0x03).ok_or_else(bad)?;
    let key = bits.get(1..).ok_or_else(bad)?;
    let mut jwk = if oid == RSA_ENCRYPTION {
        let (seq, _) = expect(key, 0x30).ok_or_else(bad)?;
        let (n, rest) = expect(seq, 0x02).ok_or_else(bad)?;
        let (e, _) = expect(rest, 0x02).ok_or_else(bad)?;
        json!({"kty": "RSA", "n": B64.encode(unsigned(n)), "e": B64.encode(unsigned(e))})
    } else if oid == EC_PUBLIC_KEY {
        let (curve, _) = expect(params, 0x06).ok_or_else(bad)?;
        if curve != PRIME256V1 || key.len() != 65 || key[0] != 4 {
            return Err("only EC keys on P-256 (ECC_NIST_P256) are supported".into());
        }
        json!({"kty": "EC", "crv": "P-256", "x": B64.encode(&key[1..33]), "y": B64.encode(&key[33..])})
    } else {
        return Err(bad());
    };
    let alg = if jwk["kty"] == "RSA" {
        JwsAlg::Rs256
    } else {
        JwsAlg::Es256
    };
    let kid = thumbprint(&jwk);
    jwk["kid"] = json!(kid);
    jwk["alg"] = json!(alg.name());
    jwk["use"] = json!("sig");
    Ok((jwk, alg))
}

/// RFC 7638: SHA-256 over the required members in lexicographic order, base64url.
pub fn thumbprint(jwk: &Value) -> String {
    let s = |k: &str| jwk[k].as_str().unwrap_or_default().to_string();
    let canonical = if jwk["kty"] == "RSA" {
        format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, s("e"), s("n"))
    } else {
        format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            s("crv"),
            s("x"),
            s("y")
        )
    };
    B64.encode(Sha256::digest(canonical.as_bytes()))
}

/// An ECDSA signature from DER `SEQUENCE { r INTEGER, s INTEGER }` to JWS's 64-byte `r‖s`.
pub fn ecdsa_der_to_raw(der: &[u8]) -> Option<Vec<u8>> {
    let (seq, _) = expect(der, 0x30)?;
    let (r, rest) = expect(seq, 0x02)?;
    let (s, _) = expect(rest, 0x02)?;
    let mut out = vec![0u8; 64];
    for (int, at) in [(unsigned(r), 0), (unsigned(s), 32)] {
        if int.len() > 32 {
            return None;
        }
        out[at + 32 - int.len()..at + 32].copy_from_slice(int);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_7638_example_key_has_the_rfc_thumbprint() {
        // RFC 7638 §3.1.
        let jwk = json!({"kty": "RSA", "e": "AQAB", "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"});
        assert_eq!(
            thumbprint(&jwk),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn an_ecdsa_der_signature_becomes_raw_r_and_s() {
        // r with a leading 0x00 (high bit set), s short (leading zero bytes dropped in DER).
        let mut r = vec![0x00, 0x80];
        r.extend([1u8; 31]);
        let s = vec![0x05; 30];
        let mut der = vec![0x30, (2 + r.len() + 2 + s.len()) as u8, 0x02, r.len() as u8];
        der.extend(&r);
        der.extend([0x02, s.len() as u8]);
        der.extend(&s);
        let raw = ecdsa_der_to_raw(&der).unwrap();
        assert_eq!(raw.len(), 64);
        assert_eq!(&raw[..32], &r[1..]);
        assert_eq!(&raw[32..34], &[0, 0]);
        assert_eq!(&raw[34..], &s[..]);
        assert!(ecdsa_der_to_raw(&[0x30, 0x02, 0x05, 0x00]).is_none());
    }

    #[test]
    fn a_key_that_is_not_rsa_or_p256_is_refused_clearly() {
        let err = from_spki(b"not der").unwrap_err();
        assert!(err.contains("SubjectPublicKeyInfo"), "{err}");
    }
}
