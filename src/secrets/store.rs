//! The Secrets Manager port the rotation steps use (reads and writes of versions and stages).
//! The real adapter is [`crate::aws::secrets_manager::SecretsManagerStore`].

use async_trait::async_trait;

use super::meta::SecretMeta;

use crate::event::RotationToken;
use crate::sensitive::SecretString;

pub const AWSCURRENT: &str = "AWSCURRENT";
pub const AWSPENDING: &str = "AWSPENDING";
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";

/// Which version to read. Every read names a stage or a version id: an unqualified read can
/// return a stale version on some implementations.
#[derive(Clone, Copy, Debug)]
pub enum VersionRef<'a> {
    Stage(&'a str),
    IdAndStage(&'a str, &'a str),
    /// A version by id alone: one that may carry no label (an abandoned rotation's).
    Id(&'a str),
}

/// One version as ListSecretVersionIds lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct VersionInfo {
    pub id: String,
    pub stages: Vec<String>,
    pub created: Option<std::time::SystemTime>,
}

/// A stored value: text, or binary (which the rotator does not handle).
#[derive(Debug)]
pub enum Payload {
    Text(SecretString),
    Binary,
}

impl Payload {
    pub fn text(&self) -> Option<&SecretString> {
        match self {
            Payload::Text(s) => Some(s),
            Payload::Binary => None,
        }
    }
}

#[derive(Clone, Debug, thiserror::Error)]
#[error("secrets manager {operation} failed: {message}")]
pub struct StoreError {
    pub operation: &'static str,
    pub message: String,
}

#[async_trait]
pub trait SecretStore: Send + Sync {
    async fn describe(&self, secret_id: &str) -> Result<SecretMeta, StoreError>;
    /// `None` when no value exists there (e.g. the AWSPENDING placeholder before createSecret).
    async fn get_value(
        &self,
        secret_id: &str,
        version: VersionRef<'_>,
    ) -> Result<Option<Payload>, StoreError>;
    /// Stores `value` as version `token` labelled AWSPENDING.
    async fn put_pending(
        &self,
        secret_id: &str,
        token: &str,
        value: &SecretString,
        rotation_token: Option<&RotationToken>,
    ) -> Result<(), StoreError>;
    /// Every version, labelled or not (ListSecretVersionIds with deprecated versions).
    async fn list_versions(&self, secret_id: &str) -> Result<Vec<VersionInfo>, StoreError>;
    /// UpdateSecretVersionStage.
    async fn update_stage(
        &self,
        secret_id: &str,
        stage: &str,
        move_to: Option<&str>,
        remove_from: Option<&str>,
    ) -> Result<(), StoreError>;
}
