//! What the AgentCore service principal would meet when it reads a secret: whether it exists,
//! deletion schedule, resource policy and KMS key. Read by the rotator with its own role; the
//! policies are then evaluated for the service principal ([`super::policy`]).

use async_trait::async_trait;

use super::discovery::AgentCoreError;

/// The secret's encryption key, as far as the service principal is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyFacts {
    /// The AWS managed key (`aws/secretsmanager`): usable by the service without a grant.
    AwsManaged,
    /// A customer managed key and its key policy (`None`: could not be read).
    Customer {
        key_arn: String,
        policy: Option<String>,
    },
    /// The key no longer exists: nobody can decrypt.
    Missing { key_id: String },
}

/// Metadata and policies of one secret; never its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessFacts {
    /// The secret's full ARN as Secrets Manager reports it.
    pub arn: String,
    pub scheduled_for_deletion: bool,
    pub resource_policy: Option<String>,
    pub key: KeyFacts,
}

/// Reads [`AccessFacts`].
#[async_trait]
pub trait SecretAccess: Send + Sync {
    /// `Ok(None)` when no secret answers to `secret_id`.
    async fn facts(&self, secret_id: &str) -> Result<Option<AccessFacts>, AgentCoreError>;
}
