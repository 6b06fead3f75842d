//! The identity provider that issues the OAuth client secret ("upstream"): one trait for every
//! IdP, one file per IdP, and the logic that maps upstream secrets onto secret versions.

pub mod admin;
pub mod cognito;
pub mod entra;
pub mod generate;
pub mod keycloak;
pub mod lineage;
pub mod okta;
pub mod rest;
pub mod staged;
pub mod token_probe;
pub mod vendors;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::secret_doc::RotationProfile;
use crate::sensitive::SecretString;

/// What an IdP allows, so the rotation steps can adapt without knowing which IdP it is.
#[derive(Clone, Debug, PartialEq)]
pub struct Capabilities {
    /// We choose the value (generate locally, store AWSPENDING first, push in setSecret);
    /// otherwise the IdP generates it in createSecret.
    pub value_chosen_by_caller: bool,
    /// Alphabet and length our generated values must use.
    pub value_alphabet: &'static [u8],
    pub value_length: usize,
    /// How many secrets may be live at once (`None`: no practical cap).
    pub max_live_secrets: Option<usize>,
}

/// One live upstream secret, as the IdP lists it (never its value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamSecret {
    pub id: String,
    pub created: Option<SystemTime>,
    /// The label the IdP keeps with the secret (Entra's `displayName`), where it keeps one: how a
    /// secret created by a rotation that crashed before storing it is recognised as ours.
    pub label: Option<String>,
}

/// The label of secrets a rotation creates: the prefix and the rotation's ClientRequestToken.
pub const LABEL_PREFIX: &str = "agentcore-rotator ";

pub fn label_for(token: &str) -> String {
    format!("{LABEL_PREFIX}{token}")
}

/// The ClientRequestToken in a label this rotator wrote.
pub fn token_in_label(label: &str) -> Option<&str> {
    label.strip_prefix(LABEL_PREFIX).filter(|t| !t.is_empty())
}

/// What a new upstream secret is created with.
pub struct NewSecret<'a> {
    /// The value, when [`Capabilities::value_chosen_by_caller`].
    pub value: Option<&'a SecretString>,
    /// [`label_for`] the rotation's token, for IdPs that keep a label.
    pub label: &'a str,
    /// How long it should stay valid at most, for IdPs that set an expiry (Entra `endDateTime`).
    pub expires_after: Duration,
    /// The value AWSCURRENT holds, for IdPs whose secrets can be read back and compared
    /// (Keycloak): never sent anywhere, never logged.
    pub current: Option<&'a SecretString>,
}

/// The client whose secrets are rotated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRef {
    pub client_id: String,
}

/// A secret just created upstream. `value` is set only when the IdP generated it.
#[derive(Debug)]
pub struct AddedSecret {
    pub id: String,
    pub value: Option<SecretString>,
}

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("identity provider refused {operation}: the client already has the maximum number of secrets")]
    CapacityExceeded { operation: &'static str },
    #[error("identity provider has no client {client_id} (or the caller may not see it)")]
    ClientNotFound { client_id: String },
    #[error("identity provider denied {operation}: {message}")]
    AccessDenied {
        operation: &'static str,
        message: String,
    },
    #[error("identity provider call {operation} failed: {message}")]
    Call {
        operation: &'static str,
        message: String,
    },
    #[error("identity provider throttled {operation}{}", .retry_after_secs.map(|s| format!(" (retry after {s} s)")).unwrap_or_default())]
    Throttled {
        operation: &'static str,
        retry_after_secs: Option<u64>,
    },
    #[error("identity provider policy {policy} refused {operation}: {message}")]
    Policy {
        operation: &'static str,
        policy: String,
        message: String,
    },
    #[error("rotation profile does not fit this identity provider: {0}")]
    Profile(String),
    #[error("{0}")]
    Setup(String),
}

#[async_trait]
pub trait Upstream: Send + Sync {
    fn capabilities(&self) -> &Capabilities;
    /// The token endpoint, derived from the IdP coordinates (never from the document), for
    /// proving a secret when the document names none.
    async fn token_endpoint(&self) -> Result<String, UpstreamError>;
    async fn list_secrets(&self, client: &ClientRef) -> Result<Vec<UpstreamSecret>, UpstreamError>;
    /// Creates a secret.
    async fn add_secret(
        &self,
        client: &ClientRef,
        new: &NewSecret<'_>,
    ) -> Result<AddedSecret, UpstreamError>;
    /// Removes a secret. Adapters for IdPs that only delete inactive secrets (Okta) deactivate
    /// first, so callers never see that step. Removing one that is already gone succeeds, so
    /// retries are harmless. (Propagation delay is not a capability: `testSecret` retries within
    /// `ROTATOR_PROBE_BUDGET_SECONDS` whatever the IdP.)
    async fn remove_secret(&self, client: &ClientRef, secret_id: &str)
        -> Result<(), UpstreamError>;
}

/// Finds the upstream adapter for a document's rotation profile.
#[async_trait]
pub trait UpstreamDirectory: Send + Sync {
    async fn upstream_for(
        &self,
        profile: &RotationProfile,
    ) -> Result<Arc<dyn Upstream>, UpstreamError>;
}
