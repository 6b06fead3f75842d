//! What the emulator remembers: providers, workload identities, issued workload tokens and the
//! test knobs. Secret *values* are never held here; MANAGED values live in moto like the
//! service's own secrets do.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use super::oauth2_config::VendorConfig;

/// The kinds of outbound credential provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    Oauth2,
    ApiKey,
    Payment,
}

impl ProviderKind {
    /// Path segment of the AgentCore-owned secret name and of the provider ARN.
    pub(crate) fn managed_segment(self) -> &'static str {
        match self {
            ProviderKind::Oauth2 => "oauth2",
            ProviderKind::ApiKey => "apikey",
            ProviderKind::Payment => "payment",
        }
    }

    pub(crate) fn arn_resource(self) -> &'static str {
        match self {
            ProviderKind::Oauth2 => "oauth2credentialprovider",
            ProviderKind::ApiKey => "apikeycredentialprovider",
            ProviderKind::Payment => "paymentcredentialprovider",
        }
    }

    /// JSON key the emulator uses inside the AgentCore-owned (MANAGED) secret.
    pub(crate) fn managed_json_key(self) -> &'static str {
        match self {
            ProviderKind::Oauth2 => "client_secret",
            ProviderKind::ApiKey => "api_key",
            ProviderKind::Payment => "secret",
        }
    }
}

/// `Status` values of the control-plane model (OAuth2 providers report it; the emulator also
/// tracks it for API-key providers so a failed one refuses to resolve).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderStatus {
    Creating,
    Ready,
    Updating,
    Deleting,
    CreateFailed,
    UpdateFailed,
    DeleteFailed,
}

impl ProviderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderStatus::Creating => "CREATING",
            ProviderStatus::Ready => "READY",
            ProviderStatus::Updating => "UPDATING",
            ProviderStatus::Deleting => "DELETING",
            ProviderStatus::CreateFailed => "CREATE_FAILED",
            ProviderStatus::UpdateFailed => "UPDATE_FAILED",
            ProviderStatus::DeleteFailed => "DELETE_FAILED",
        }
    }

    pub fn is_failed(self) -> bool {
        matches!(
            self,
            ProviderStatus::CreateFailed
                | ProviderStatus::UpdateFailed
                | ProviderStatus::DeleteFailed
        )
    }
}

/// Where a provider's secret lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoredSecret {
    /// AgentCore-owned secret `bedrock-agentcore-identity!default/<kind>/<name>`.
    Managed { arn: String },
    /// Customer secret named by `secretId` (resolved to its ARN at create/update) and `jsonKey`.
    External { arn: String, json_key: String },
}

impl StoredSecret {
    pub(crate) fn arn(&self) -> &str {
        match self {
            StoredSecret::Managed { arn } | StoredSecret::External { arn, .. } => arn,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Oauth2Provider {
    pub vendor: String,
    pub config: VendorConfig,
    pub secret: StoredSecret,
    pub callback_url: String,
    pub status: ProviderStatus,
    pub failure_reason: Option<String>,
    pub created: f64,
    pub updated: f64,
}

#[derive(Debug, Clone)]
pub(crate) struct ApiKeyProvider {
    pub secret: StoredSecret,
    pub status: ProviderStatus,
    pub failure_reason: Option<String>,
    pub created: f64,
    pub updated: f64,
}

#[derive(Debug, Clone)]
pub(crate) struct PaymentProvider {
    pub vendor: String,
    /// The vendor's identifiers (`apiKeyId`; `appId`, `authorizationId`), not secrets.
    pub ids: Vec<(String, String)>,
    /// Per slot (`apiKeySecret`, `walletSecret`, `appSecret`, `authorizationPrivateKey`).
    pub secrets: Vec<(&'static str, StoredSecret)>,
    pub created: f64,
    pub updated: f64,
}

/// A gateway and its targets (by target id); only what the rotator reads is kept.
#[derive(Debug, Clone)]
pub(crate) struct Gateway {
    pub name: String,
    pub protocol: String,
    pub authorizer: String,
    pub created: f64,
    pub targets: BTreeMap<String, GatewayTarget>,
}

#[derive(Debug, Clone)]
pub(crate) struct GatewayTarget {
    pub name: String,
    pub description: Option<String>,
    pub created: f64,
    pub target_configuration: serde_json::Value,
    /// `credentialProviderConfigurations` as sent.
    pub credentials: serde_json::Value,
}

#[derive(Debug, Clone)]
pub(crate) struct Workload {
    pub return_urls: Vec<String>,
    pub created: f64,
    pub updated: f64,
}

/// Throttling, denial and call counting, applied before any operation runs.
#[derive(Debug, Default)]
pub(crate) struct Knobs {
    pub throttle_next: u64,
    pub throttle_fraction: f64,
    throttle_credit: f64,
    pub denied: HashSet<String>,
    pub calls: BTreeMap<String, u64>,
    pub last_token_error: Option<String>,
}

impl Knobs {
    /// Decides whether this request is throttled. A fraction is applied deterministically
    /// (every 1/f-th request) so tests do not flake.
    pub(crate) fn take_throttle(&mut self) -> bool {
        if self.throttle_next > 0 {
            self.throttle_next -= 1;
            return true;
        }
        if self.throttle_fraction > 0.0 {
            self.throttle_credit += self.throttle_fraction;
            if self.throttle_credit >= 1.0 {
                self.throttle_credit -= 1.0;
                return true;
            }
        }
        false
    }

    pub(crate) fn clear_throttling(&mut self) {
        self.throttle_next = 0;
        self.throttle_fraction = 0.0;
        self.throttle_credit = 0.0;
    }
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub oauth2: BTreeMap<String, Oauth2Provider>,
    pub api_keys: BTreeMap<String, ApiKeyProvider>,
    pub payments: BTreeMap<String, PaymentProvider>,
    /// By gateway id.
    pub gateways: BTreeMap<String, Gateway>,
    /// Names being created right now (moto calls run outside the lock).
    pub reserved: HashSet<(ProviderKind, String)>,
    pub workloads: BTreeMap<String, Workload>,
    /// Workload access token -> workload name.
    pub tokens: HashMap<String, String>,
    pub knobs: Knobs,
}

impl State {
    pub(crate) fn name_taken(&self, kind: ProviderKind, name: &str) -> bool {
        let exists = match kind {
            ProviderKind::Oauth2 => self.oauth2.contains_key(name),
            ProviderKind::ApiKey => self.api_keys.contains_key(name),
            ProviderKind::Payment => self.payments.contains_key(name),
        };
        exists || self.reserved.contains(&(kind, name.to_string()))
    }

    /// Status and secret of a provider, whatever its kind.
    pub(crate) fn provider_secret(
        &self,
        kind: ProviderKind,
        name: &str,
    ) -> Option<(ProviderStatus, StoredSecret)> {
        match kind {
            ProviderKind::Oauth2 => self.oauth2.get(name).map(|p| (p.status, p.secret.clone())),
            ProviderKind::ApiKey => self
                .api_keys
                .get(name)
                .map(|p| (p.status, p.secret.clone())),
            // No data-plane read of payment credentials.
            ProviderKind::Payment => None,
        }
    }
}

/// Everything a request handler needs.
pub(crate) struct Ctx {
    pub state: Mutex<State>,
    pub sm: aws_sdk_secretsmanager::Client,
    pub kms: aws_sdk_kms::Client,
    pub http: reqwest::Client,
    pub moto_endpoint: String,
    pub region: String,
    pub account: String,
}

impl Ctx {
    /// Locks the state; a panic in another handler must not wedge every later test.
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Payment provider ARNs carry the service name `acps` (the API model's pattern).
    pub(crate) fn provider_arn(&self, kind: ProviderKind, name: &str) -> String {
        let service = match kind {
            ProviderKind::Payment => "acps",
            _ => "bedrock-agentcore",
        };
        format!(
            "arn:aws:{service}:{}:{}:token-vault/default/{}/{}",
            self.region,
            self.account,
            kind.arn_resource(),
            name
        )
    }

    pub(crate) fn workload_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:bedrock-agentcore:{}:{}:workload-identity-directory/default/workload-identity/{}",
            self.region, self.account, name
        )
    }
}

/// Seconds since the epoch, the wire format of every AgentCore timestamp.
pub(crate) fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}
