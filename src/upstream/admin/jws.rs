//! Client assertions (RFC 7523) signed by a key the rotator can use but never read.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde_json::json;

use super::AssertionSource;
use crate::sensitive::SecretString;
use crate::upstream::generate::{random_secret, WORD_ALPHABET};
use crate::upstream::UpstreamError;

/// How long an assertion is good for: long enough for one token request.
const LIFETIME_SECS: u64 = 300;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwsAlg {
    Rs256,
    Es256,
}

impl JwsAlg {
    pub fn name(self) -> &'static str {
        match self {
            JwsAlg::Rs256 => "RS256",
            JwsAlg::Es256 => "ES256",
        }
    }
}

/// A signing key held elsewhere (AWS KMS): the JWS algorithm, the key id published in the JWK,
/// and a signature over the JWS signing input (ES256: raw `r‖s`, as JWS wants).
#[async_trait]
pub trait Signer: Send + Sync {
    fn alg(&self) -> JwsAlg;
    fn kid(&self) -> &str;
    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, UpstreamError>;
}

/// `private_key_jwt`: `iss` = `sub` = the admin client id, `aud` = the token endpoint, a short
/// `exp` and a fresh `jti`.
pub struct SignedAssertion {
    signer: Arc<dyn Signer>,
    client_id: String,
}

impl SignedAssertion {
    pub fn new(signer: Arc<dyn Signer>, client_id: impl Into<String>) -> Self {
        Self {
            signer,
            client_id: client_id.into(),
        }
    }
}

/// The JWS signing input for `claims` under `alg`/`kid`.
pub fn signing_input(alg: JwsAlg, kid: &str, claims: &serde_json::Value) -> String {
    let header = json!({"alg": alg.name(), "typ": "JWT", "kid": kid});
    format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    )
}

#[async_trait]
impl AssertionSource for SignedAssertion {
    async fn assertion(&self, audience: &str) -> Result<SecretString, UpstreamError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = json!({
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": audience,
            "iat": now,
            "exp": now + LIFETIME_SECS,
            "jti": random_secret(WORD_ALPHABET, 32)
                .map_err(|e| UpstreamError::Setup(e.to_string()))?
                .expose(),
        });
        let input = signing_input(self.signer.alg(), self.signer.kid(), &claims);
        let sig = self.signer.sign(input.as_bytes()).await?;
        Ok(SecretString::new(format!("{input}.{}", B64.encode(sig))))
    }
}
