//! An AWS-signed JWT from IAM outbound identity federation (`sts:GetWebIdentityToken`) as the
//! client assertion of the rotator's Entra ID management app: Entra trusts it through a
//! federated identity credential (issuer = the account's outbound federation issuer, subject =
//! the function's role ARN, audience `api://AzureADTokenExchange`). Nothing is stored; the token
//! lives five minutes and is never logged.

use async_trait::async_trait;
use aws_sdk_sts::Client;

use super::error_summary;
use crate::sensitive::SecretString;
use crate::upstream::admin::AssertionSource;
use crate::upstream::UpstreamError;

/// The audience Entra expects of a federated credential's assertion.
pub const ENTRA_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";
/// Entra accepts RS256-signed assertions.
const SIGNING_ALGORITHM: &str = "RS256";
const LIFETIME_SECS: i32 = 300;

pub struct WebIdentityAssertion {
    sts: Client,
}

impl WebIdentityAssertion {
    /// `sts` must use a regional endpoint (the API is not served by the global one).
    pub fn new(sts: Client) -> Self {
        Self { sts }
    }
}

#[async_trait]
impl AssertionSource for WebIdentityAssertion {
    async fn assertion(&self, audience: &str) -> Result<SecretString, UpstreamError> {
        let out = self
            .sts
            .get_web_identity_token()
            .audience(audience)
            .signing_algorithm(SIGNING_ALGORITHM)
            .duration_seconds(LIFETIME_SECS)
            .send()
            .await
            .map_err(|e| {
                let summary = error_summary(&e);
                let hint = if summary.contains("OutboundWebIdentityFederationDisabled") {
                    "; enable it once per account: aws iam enable-outbound-web-identity-federation"
                } else if summary.contains("AccessDenied") {
                    "; the function's role needs sts:GetWebIdentityToken with sts:IdentityTokenAudience = api://AzureADTokenExchange"
                } else {
                    ""
                };
                UpstreamError::AccessDenied {
                    operation: "sts:GetWebIdentityToken (Entra ID federated credential)",
                    message: format!("{summary}{hint}"),
                }
            })?;
        out.web_identity_token()
            .filter(|t| !t.is_empty())
            .map(|t| SecretString::new(t.to_string()))
            .ok_or(UpstreamError::Call {
                operation: "sts:GetWebIdentityToken",
                message: "the answer holds no token".into(),
            })
    }
}
