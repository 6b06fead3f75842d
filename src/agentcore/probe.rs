//! The data-plane probe: ask AgentCore Identity itself for the credential, as an agent would.

use async_trait::async_trait;

use crate::secrets::ValueHash;

/// A data-plane call that failed: the operation and the service's error code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{operation} failed: {code}")]
pub struct ProbeFailure {
    pub operation: &'static str,
    pub code: String,
    /// Throttling, a server error or a lost answer: says nothing about the provider, so it must
    /// never decide a rollback.
    pub transient: bool,
}

/// Error codes that say the service could not answer now, not that the request was wrong.
pub fn is_transient_code(code: Option<&str>) -> bool {
    match code {
        // No service error at all: the request or its answer was lost (timeout, reset).
        None => true,
        Some(c) => matches!(
            c,
            "ThrottlingException"
                | "TooManyRequestsException"
                | "RequestLimitExceeded"
                | "ServiceUnavailableException"
                | "ServiceUnavailable"
                | "InternalServerException"
                | "InternalFailure"
                | "InternalServerError"
        ),
    }
}

/// GetWorkloadAccessToken, then GetResourceApiKey / GetResourceOauth2Token (M2M), for the
/// workload identity the rotator is configured with.
#[async_trait]
pub trait DataPlane: Send + Sync {
    /// The hash of the API key the provider hands out (the key itself is dropped at once).
    async fn api_key_hash(&self, provider: &str) -> Result<ValueHash, ProbeFailure>;
    /// Whether the provider obtains an M2M access token (the token is dropped at once).
    async fn oauth2_m2m(&self, provider: &str, scopes: &[String]) -> Result<(), ProbeFailure>;
}
