//! The admin client assertion's signing key in AWS KMS (`kms:Sign`, `kms:GetPublicKey`): the
//! private key never leaves KMS. The JWS algorithm and `kid` (the RFC 7638 thumbprint of the
//! public JWK) come from `GetPublicKey`, read once.

use async_trait::async_trait;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeyUsageType, MessageType, SigningAlgorithmSpec};
use aws_sdk_kms::Client;
use serde_json::Value;

use super::error_summary;
use crate::upstream::admin::jwk;
use crate::upstream::admin::jws::{JwsAlg, Signer};
use crate::upstream::UpstreamError;

pub struct KmsSigner {
    client: Client,
    key_id: String,
    alg: JwsAlg,
    kid: String,
    jwk: Value,
}

impl KmsSigner {
    /// Reads the public key; fails with what to fix when the key cannot sign JWS.
    pub async fn load(client: Client, key_id: &str) -> Result<Self, UpstreamError> {
        let out = client
            .get_public_key()
            .key_id(key_id)
            .send()
            .await
            .map_err(|e| {
                UpstreamError::Setup(format!(
                "cannot read the public key of the IdP signing key {key_id} (kms:GetPublicKey): {}",
                error_summary(&e)
            ))
            })?;
        let unusable = |why: String| {
            UpstreamError::Setup(format!(
                "the IdP signing key {key_id} cannot sign RS256/ES256 client assertions: {why}; create an RSA_2048 (or larger) or ECC_NIST_P256 SIGN_VERIFY key"
            ))
        };
        if out.key_usage() != Some(&KeyUsageType::SignVerify) {
            return Err(unusable(format!(
                "its key usage is {}",
                out.key_usage().map_or("unknown", |u| u.as_str())
            )));
        }
        let der = out.public_key().map(|b| b.as_ref()).unwrap_or_default();
        let (jwk, alg) = jwk::from_spki(der).map_err(|e| unusable(e.to_string()))?;
        let needed = match alg {
            JwsAlg::Rs256 => SigningAlgorithmSpec::RsassaPkcs1V15Sha256,
            JwsAlg::Es256 => SigningAlgorithmSpec::EcdsaSha256,
        };
        if !out.signing_algorithms().contains(&needed) {
            return Err(unusable(format!("it does not offer {}", needed.as_str())));
        }
        let kid = jwk["kid"].as_str().unwrap_or_default().to_string();
        Ok(Self {
            client,
            key_id: key_id.to_string(),
            alg,
            kid,
            jwk,
        })
    }

    /// The public JWK to register at the IdP (`agentcore-rotator idp-key jwk`).
    pub fn jwk(&self) -> &Value {
        &self.jwk
    }
}

#[async_trait]
impl Signer for KmsSigner {
    fn alg(&self) -> JwsAlg {
        self.alg
    }

    fn kid(&self) -> &str {
        &self.kid
    }

    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, UpstreamError> {
        let algorithm = match self.alg {
            JwsAlg::Rs256 => SigningAlgorithmSpec::RsassaPkcs1V15Sha256,
            JwsAlg::Es256 => SigningAlgorithmSpec::EcdsaSha256,
        };
        let out = self
            .client
            .sign()
            .key_id(&self.key_id)
            .message(Blob::new(message))
            .message_type(MessageType::Raw)
            .signing_algorithm(algorithm)
            .send()
            .await
            .map_err(|e| UpstreamError::AccessDenied {
                operation: "kms:Sign (admin client assertion)",
                message: error_summary(&e),
            })?;
        let sig = out
            .signature()
            .map(|b| b.as_ref().to_vec())
            .unwrap_or_default();
        match self.alg {
            JwsAlg::Rs256 => Ok(sig),
            JwsAlg::Es256 => jwk::ecdsa_der_to_raw(&sig).ok_or(UpstreamError::Call {
                operation: "kms:Sign (admin client assertion)",
                message: "KMS returned an ECDSA signature that is not DER".into(),
            }),
        }
    }
}
