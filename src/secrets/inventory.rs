//! The read-only Secrets Manager and KMS port the audit and the rotation's reference checks
//! share (the adapter is [`crate::aws::secrets_reader::SecretsReader`]). Errors are short codes,
//! never values.

use async_trait::async_trait;

use super::facts::Lookup;
use super::meta::SecretMeta;
use super::store::{Payload, VersionRef};

/// BatchGetSecretValue takes at most this many ids per call.
pub const BATCH_SIZE: usize = 20;

/// ListSecrets page size (the model maximum).
pub const LIST_PAGE: usize = 100;

/// A read that failed: the service's error code (e.g. `AccessDeniedException`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}")]
pub struct ReadError {
    pub code: String,
}

impl From<&str> for ReadError {
    fn from(code: &str) -> Self {
        Self { code: code.into() }
    }
}

impl From<String> for ReadError {
    fn from(code: String) -> Self {
        Self { code }
    }
}

/// One ListSecrets page, reduced to metadata.
#[derive(Clone, Debug, Default)]
pub struct SecretPage {
    pub secrets: Vec<SecretMeta>,
    pub next: Option<String>,
}

/// A KMS key as far as the AgentCore principal is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyPolicyRead {
    /// An AWS managed key: usable through Secrets Manager without a grant.
    AwsManaged,
    Customer {
        key_arn: String,
        policy: Option<String>,
    },
    /// The key does not exist: nobody can decrypt.
    Missing,
}

#[async_trait]
pub trait SecretInventory: Send + Sync {
    async fn describe(&self, secret_id: &str) -> Lookup;
    /// Whether [`SecretInventory::list_page`] is implemented.
    fn lists(&self) -> bool {
        false
    }
    /// One ListSecrets page (planned deletions included). `Err` (e.g. denied): the audit
    /// describes each referenced secret instead.
    async fn list_page(&self, _next: Option<String>) -> Result<SecretPage, ReadError> {
        Err("ListSecretsUnsupported".into())
    }
    /// AWSCURRENT of each `(arn, AWSCURRENT version id)`, in as few calls as permissions allow.
    /// One result per input, in order; `Ok(None)` when there is no value.
    async fn current_values(
        &self,
        secrets: &[(String, Option<String>)],
    ) -> Vec<Result<Option<Payload>, ReadError>>;
    /// `Ok(None)` when no value exists there.
    async fn value_at(
        &self,
        arn: &str,
        version: VersionRef<'_>,
    ) -> Result<Option<Payload>, ReadError>;
    /// `Ok(None)` when the secret has no resource policy.
    async fn resource_policy(&self, arn: &str) -> Result<Option<String>, ReadError>;
    /// The key's policy (an alias is resolved first, and an AWS managed alias answered
    /// without reading a policy).
    async fn key_policy(&self, key_id: &str) -> Result<KeyPolicyRead, ReadError>;
    /// Whether a key is AWS managed (`Ok(None)`: it does not exist). Asked only when a key
    /// named by ARN has a policy that does not let the service decrypt.
    async fn key_is_aws_managed(&self, _key_id: &str) -> Result<Option<bool>, ReadError> {
        Ok(Some(false))
    }
    /// Whether a Lambda function exists (`None`: cannot tell).
    async fn function_exists(&self, _arn: &str) -> Option<bool> {
        None
    }
}
