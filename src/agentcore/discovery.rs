//! Which credential providers exist and what each references.

use async_trait::async_trait;
use tokio::sync::mpsc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProviderKind {
    Oauth2,
    ApiKey,
    /// Payment credential providers (CoinbaseCDP, StripePrivy): up to two references each.
    Payment,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretSource {
    /// AgentCore keeps the value in a secret it owns; not under customer control.
    Managed,
    /// The provider reads a customer-owned secret (`secretId` + `jsonKey`).
    External,
}

/// One reference of a provider as `Get*CredentialProvider` describes it (never a secret value).
/// OAuth2 and API-key providers hold one reference; a payment provider holds two and is
/// listed once per reference, so every check, finding and confirmation works per reference.
#[derive(Clone, Debug, PartialEq)]
pub struct ProviderRef {
    pub kind: ProviderKind,
    pub name: String,
    pub arn: String,
    pub vendor: Option<String>,
    /// Which of a payment provider's references this is (`apiKeySecret`, `walletSecret`,
    /// `appSecret`, `authorizationPrivateKey`); `None` for the only one of the other kinds.
    pub slot: Option<&'static str>,
    pub source: SecretSource,
    /// `clientSecretArn.secretArn` / `apiKeySecretArn.secretArn` / `<slot>Arn.secretArn`.
    pub secret_arn: Option<String>,
    /// `clientSecretJsonKey` / `apiKeySecretJsonKey` / `<slot>JsonKey`.
    pub json_key: Option<String>,
    /// OAuth2 only: READY, CREATING, …, *_FAILED.
    pub status: Option<String>,
    pub failure_reason: Option<String>,
    /// OAuth2 only: the client id in the vendor configuration.
    pub client_id: Option<String>,
}

impl ProviderRef {
    pub fn is_failed(&self) -> bool {
        self.status
            .as_deref()
            .is_some_and(|s| s.ends_with("_FAILED"))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("agentcore {operation} failed: {message}")]
pub struct AgentCoreError {
    pub operation: &'static str,
    pub message: String,
}

/// Lists every credential provider of every kind with its references (one Get per provider:
/// list items carry no reference).
#[async_trait]
pub trait ProviderDirectory: Send + Sync {
    /// Every provider reference, sorted by kind, name and slot.
    async fn providers(&self) -> Result<Vec<ProviderRef>, AgentCoreError>;

    /// Sends each provider to `found` as soon as it is described, so a caller can start on its
    /// secret while discovery goes on. Stops early, without error, when `found` is closed.
    async fn each_provider(&self, found: mpsc::Sender<ProviderRef>) -> Result<(), AgentCoreError> {
        for p in self.providers().await? {
            if found.send(p).await.is_err() {
                break;
            }
        }
        Ok(())
    }
}
