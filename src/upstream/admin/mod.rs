//! How the rotator authenticates to an IdP's management API without a stored secret of its own:
//! OAuth `client_credentials` with a client assertion (RFC 7523) that is either signed by an AWS
//! KMS key the rotator can use but never read (Okta, Keycloak) or an AWS-signed web identity
//! token from IAM outbound identity federation (Entra ID). The access token is cached for the
//! invocation until shortly before it expires and is never logged.

pub mod jwk;
pub mod jws;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::Mutex;

use super::UpstreamError;
use crate::http::{self, BODY_LIMIT};
use crate::sensitive::SecretString;

/// RFC 7523 §2.2.
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// A cached token is renewed this long before it expires.
const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// A bearer token for the IdP's management API.
#[async_trait]
pub trait AdminCredential: Send + Sync {
    async fn bearer(&self) -> Result<SecretString, UpstreamError>;
}

/// A client assertion for a token endpoint (`audience`).
#[async_trait]
pub trait AssertionSource: Send + Sync {
    async fn assertion(&self, audience: &str) -> Result<SecretString, UpstreamError>;
}

/// `client_credentials` with a client assertion, cached until shortly before expiry.
pub struct ClientCredentials {
    http: reqwest::Client,
    token_url: String,
    /// The `aud` of the assertion: the token endpoint (Okta, Keycloak) or a fixed exchange
    /// audience (Entra's `api://AzureADTokenExchange`).
    audience: String,
    client_id: String,
    scope: Option<String>,
    source: Arc<dyn AssertionSource>,
    cached: Mutex<Option<(SecretString, Instant)>>,
}

impl ClientCredentials {
    pub fn new(
        http: reqwest::Client,
        token_url: impl Into<String>,
        audience: impl Into<String>,
        client_id: impl Into<String>,
        scope: Option<String>,
        source: Arc<dyn AssertionSource>,
    ) -> Self {
        Self {
            http,
            token_url: token_url.into(),
            audience: audience.into(),
            client_id: client_id.into(),
            scope,
            source,
            cached: Mutex::new(None),
        }
    }

    async fn fetch(&self) -> Result<(SecretString, Instant), UpstreamError> {
        const OP: &str = "admin token request";
        let assertion = self.source.assertion(&self.audience).await?;
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_assertion_type", JWT_BEARER_ASSERTION),
            ("client_assertion", assertion.expose()),
        ];
        if let Some(scope) = &self.scope {
            form.push(("scope", scope.as_str()));
        }
        let started = Instant::now();
        let response = self
            .http
            .post(&self.token_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| UpstreamError::Call {
                operation: OP,
                message: http::describe(&e),
            })?;
        if let Some(redirect) = http::redirect_summary(&response) {
            return Err(UpstreamError::Call {
                operation: OP,
                message: format!("the token endpoint answered with a redirect ({redirect}); redirects are never followed"),
            });
        }
        let status = response.status();
        let body =
            http::read_capped(response, BODY_LIMIT)
                .await
                .map_err(|e| UpstreamError::Call {
                    operation: OP,
                    message: e.to_string(),
                })?;
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        if !status.is_success() {
            let text = |k: &str| json.get(k).and_then(|v| v.as_str()).unwrap_or("");
            let detail = format!("{} {}", text("error"), text("error_description"));
            return Err(UpstreamError::AccessDenied {
                operation: OP,
                message: format!(
                    "the IdP refused the rotator's admin client {} (HTTP {}): {}; check that its public key (agentcore-rotator idp-key jwk) or federated credential is registered and that it may call the management API",
                    self.client_id,
                    status.as_u16(),
                    super::rest::printable_detail(detail.trim())
                ),
            });
        }
        let token = json
            .get("access_token")
            .and_then(|v| v.as_str())
            .filter(|t| !t.is_empty())
            .ok_or(UpstreamError::Call {
                operation: OP,
                message: "the token response has no access_token".into(),
            })?;
        let lifetime = json
            .get("expires_in")
            .and_then(|v| v.as_u64())
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(300));
        let renew_at = started + lifetime.saturating_sub(RENEW_BEFORE);
        Ok((SecretString::new(token.to_string()), renew_at))
    }
}

#[async_trait]
impl AdminCredential for ClientCredentials {
    async fn bearer(&self) -> Result<SecretString, UpstreamError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, renew_at)) = cached.as_ref() {
            if Instant::now() < *renew_at {
                return Ok(token.clone());
            }
        }
        let fresh = self.fetch().await?;
        let token = fresh.0.clone();
        *cached = Some(fresh);
        Ok(token)
    }
}
