//! AgentCore Identity emulator (control plane and data plane), faithful enough that the real
//! `aws-sdk-bedrockagentcorecontrol` and `aws-sdk-bedrockagentcore` clients run against it
//! unchanged: point their endpoint at [`AgentCoreEmulator::endpoint`].
//!
//! Secrets live in moto: MANAGED providers in AgentCore-owned secrets
//! (`bedrock-agentcore-identity!default/<oauth2|apikey>/<name>`), EXTERNAL providers in the
//! customer's secret, read at every data-plane call the way the service principal would.
//!
//! Where the service's behaviour is undocumented the emulator chooses (the data plane's
//! error mapping is in `data_plane::reason_error`):
//! - EXTERNAL `secretId` that DescribeSecret cannot find, or that is scheduled for deletion,
//!   fails create/update with ValidationException naming `<config>.secretId` in `fieldList`.
//!   A foreign-Region ARN is accepted at create (looked up in its Region) and refused at read.
//! - EXTERNAL together with a non-empty `clientSecret`/`apiKey` is a ValidationException
//!   (the Rust SDK's always-sent empty `clientSecret` is accepted).
//! - List defaults to the model maximum page size (20 OAuth2, 100 API key).
//! - No token caching: every M2M call goes to the token endpoint.

mod api_key_providers;
mod data_plane;
mod errors;
mod gateways;
mod input;
mod m2m;
mod oauth2_config;
mod oauth2_providers;
mod paging;
mod payment_providers;
mod policy;
mod resolve;
mod secrets;
mod server;
mod state;
mod workloads;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use resolve::{resolve_secret_reference, ResolveReason, ResolvedSecret, SERVICE_PRINCIPAL};
pub use secrets::managed_secret_name;
pub use state::{ProviderKind, ProviderStatus};

use state::{Ctx, State};

/// A running emulator. Dropping it stops the server.
pub struct AgentCoreEmulator {
    endpoint: String,
    region: String,
    ctx: Arc<Ctx>,
    tenancy: Arc<server::Tenancy>,
    runtime: tokio::runtime::Handle,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl fmt::Debug for AgentCoreEmulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentCoreEmulator")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl AgentCoreEmulator {
    /// Serves on 127.0.0.1:<ephemeral> from its own thread and runtime, reaching Secrets
    /// Manager and KMS at `moto_endpoint` in `region`.
    pub fn start(moto_endpoint: &str, region: &str, account: &str) -> AgentCoreEmulator {
        let (moto, reg, acct) = (
            moto_endpoint.to_string(),
            region.to_string(),
            account.to_string(),
        );
        let (shutdown, rx) = tokio::sync::oneshot::channel();
        let (endpoint, tenancy, runtime) = server::spawn(
            move |account: &str| {
                let config = crate::moto::sdk_config_for(&moto, &reg);
                Ctx {
                    state: Default::default(),
                    sm: aws_sdk_secretsmanager::Client::new(&config),
                    kms: aws_sdk_kms::Client::new(&config),
                    http: reqwest::Client::builder()
                        .timeout(Duration::from_secs(10))
                        .build()
                        .expect("HTTP client for token endpoints"),
                    moto_endpoint: moto.clone(),
                    region: reg.clone(),
                    account: account.to_string(),
                }
            },
            acct,
            (moto_endpoint.to_string(), region.to_string()),
            rx,
        );
        AgentCoreEmulator {
            ctx: tenancy.default_ctx().clone(),
            tenancy,
            endpoint,
            region: region.to_string(),
            runtime,
            shutdown: Some(shutdown),
        }
    }

    /// Base URL for both SDK clients (`endpoint_url`).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// SDK configuration for either AgentCore client, pointed at this emulator.
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        crate::moto::sdk_config_for(&self.endpoint, &self.region)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.ctx.state()
    }

    /// Registers a workload identity (no-op when it exists), as CreateWorkloadIdentity does.
    pub fn create_workload_identity(&self, name: &str) {
        workloads::register(&mut self.state(), name, Vec::new());
    }

    /// Puts a provider into `status` (e.g. UPDATE_FAILED) with a failureReason, as if the
    /// service had given up on it. Returns false when there is no such provider.
    pub fn set_provider_status(
        &self,
        kind: ProviderKind,
        name: &str,
        status: ProviderStatus,
        failure_reason: Option<&str>,
    ) -> bool {
        let mut state = self.state();
        let reason = failure_reason.map(str::to_string);
        match kind {
            ProviderKind::Oauth2 => state.oauth2.get_mut(name).map(|p| {
                p.status = status;
                p.failure_reason = reason;
            }),
            ProviderKind::ApiKey => state.api_keys.get_mut(name).map(|p| {
                p.status = status;
                p.failure_reason = reason;
            }),
            // Payment providers have no status in the API.
            ProviderKind::Payment => None,
        }
        .is_some()
    }

    /// Refuses every request signed with credentials of `account` (AccessDeniedException), as
    /// for a role there without AgentCore permissions.
    pub fn deny_account(&self, account: &str) {
        self.tenancy
            .denied
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(account.to_string());
    }

    /// Answers the next `n` requests (any operation) with ThrottlingException.
    pub fn throttle_next(&self, n: u64) {
        self.state().knobs.throttle_next = n;
    }

    /// Throttles this fraction of requests, deterministically (0.5 = every second one).
    pub fn throttle_fraction(&self, fraction: f64) {
        self.state().knobs.throttle_fraction = fraction.clamp(0.0, 1.0);
    }

    pub fn clear_throttling(&self) {
        self.state().knobs.clear_throttling();
    }

    /// Answers every call of `operation` (e.g. "GetOauth2CredentialProvider") with
    /// AccessDeniedException until [`allow`](Self::allow).
    pub fn deny(&self, operation: &str) {
        self.state().knobs.denied.insert(operation.to_string());
    }

    pub fn allow(&self, operation: &str) {
        self.state().knobs.denied.remove(operation);
    }

    /// Requests received for `operation`, throttled and denied ones included.
    pub fn calls(&self, operation: &str) -> u64 {
        self.state()
            .knobs
            .calls
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    pub fn call_counts(&self) -> BTreeMap<String, u64> {
        self.state().knobs.calls.clone()
    }

    pub fn reset_call_counts(&self) {
        self.state().knobs.calls.clear();
    }

    /// Why the last M2M token request failed at the IdP (status and OAuth error code only):
    /// the data plane itself answers a generic ValidationException.
    pub fn last_token_error(&self) -> Option<String> {
        self.state().knobs.last_token_error.clone()
    }

    /// Resolves a provider's secret exactly as GetResourceApiKey / GetResourceOauth2Token do.
    pub async fn resolve(
        &self,
        kind: ProviderKind,
        name: &str,
    ) -> Result<ResolvedSecret, ResolveReason> {
        let (ctx, name) = (self.ctx.clone(), name.to_string());
        // Runs on the emulator's runtime, where its SDK clients live.
        self.runtime
            .spawn(async move { resolve::resolve_provider(&ctx, kind, &name).await })
            .await
            .map_err(|e| ResolveReason::Backend(e.to_string()))?
    }
}

impl Drop for AgentCoreEmulator {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
