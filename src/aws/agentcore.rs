//! Adapters for AgentCore Identity: provider discovery (control plane) and the data-plane probe.

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::SdkConfig;
use aws_sdk_bedrockagentcore as data;
use aws_sdk_bedrockagentcorecontrol as control;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use control::types::{Oauth2ProviderConfigOutput, SecretSourceType};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::agentcore::discovery::{
    AgentCoreError, ProviderDirectory, ProviderKind, ProviderRef, SecretSource,
};
use crate::agentcore::probe::{DataPlane, ProbeFailure};
use crate::agentcore::settings::AgentCoreSettings;
use crate::aws::call_counter::CallCounter;
use crate::secrets::ValueHash;

/// Model maximum page sizes: fewest List calls against a low, undocumented TPS quota.
const OAUTH2_PAGE_SIZE: i32 = 20;
const API_KEY_PAGE_SIZE: i32 = 100;
const PAYMENT_PAGE_SIZE: i32 = 20;

/// The SDK's standard retry (exponential back-off with jitter, throttling-aware), explicit so
/// the throttling budget is visible and configurable.
pub fn retry_config(settings: &AgentCoreSettings) -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(settings.max_attempts)
        .with_initial_backoff(settings.initial_backoff)
}

pub(super) fn error<E>(operation: &'static str, err: &E) -> AgentCoreError
where
    E: ProvideErrorMetadata + std::error::Error,
{
    AgentCoreError {
        operation,
        message: super::errors::error_summary(err),
    }
}

/// The control-plane client every AgentCore adapter reads through: the explicit retry, and
/// every attempt counted by `counter` when given.
pub(super) fn control_client(
    sdk: &SdkConfig,
    settings: &AgentCoreSettings,
    counter: Option<&CallCounter>,
) -> control::Client {
    let mut conf = control::config::Builder::from(sdk).retry_config(retry_config(settings));
    if let Some(c) = counter {
        conf = conf.interceptor(c.clone());
    }
    control::Client::from_conf(conf.build())
}

/// Lists and gets every credential provider of both kinds: Gets start while later List pages
/// are still being read, with at most `concurrency` in flight.
#[derive(Clone)]
pub struct AgentCoreDirectory {
    client: control::Client,
    concurrency: usize,
}

impl AgentCoreDirectory {
    pub fn new(sdk: &SdkConfig, settings: &AgentCoreSettings) -> Self {
        Self::counted(sdk, settings, None)
    }

    /// With every attempt counted by `counter` (the audit summary's per-operation counts).
    pub fn counted(
        sdk: &SdkConfig,
        settings: &AgentCoreSettings,
        counter: Option<&CallCounter>,
    ) -> Self {
        Self {
            client: control_client(sdk, settings, counter),
            concurrency: settings.concurrency.max(1),
        }
    }

    /// Sends names page by page: list items carry no reference, and names keep memory small.
    async fn list_names(
        &self,
        names: mpsc::Sender<(ProviderKind, String)>,
    ) -> Result<(), AgentCoreError> {
        macro_rules! send_pages {
            ($list:ident, $page:expr, $kind:expr, $op:literal) => {
                let mut items = self
                    .client
                    .$list()
                    .max_results($page)
                    .into_paginator()
                    .items()
                    .send();
                while let Some(item) = items.next().await {
                    let item = item.map_err(|e| error($op, &e))?;
                    if names.send(($kind, item.name().to_string())).await.is_err() {
                        return Ok(());
                    }
                }
            };
        }
        send_pages!(
            list_oauth2_credential_providers,
            OAUTH2_PAGE_SIZE,
            ProviderKind::Oauth2,
            "ListOauth2CredentialProviders"
        );
        send_pages!(
            list_api_key_credential_providers,
            API_KEY_PAGE_SIZE,
            ProviderKind::ApiKey,
            "ListApiKeyCredentialProviders"
        );
        send_pages!(
            list_payment_credential_providers,
            PAYMENT_PAGE_SIZE,
            ProviderKind::Payment,
            "ListPaymentCredentialProviders"
        );
        Ok(())
    }

    /// Gets each name as it arrives, `concurrency` at a time, and sends what it finds.
    async fn get_each(
        &self,
        mut names: mpsc::Receiver<(ProviderKind, String)>,
        found: mpsc::Sender<ProviderRef>,
    ) -> Result<(), AgentCoreError> {
        let mut in_flight = JoinSet::new();
        let mut listing = true;
        loop {
            tokio::select! {
                name = names.recv(), if listing && in_flight.len() < self.concurrency => match name {
                    Some((kind, name)) => {
                        in_flight.spawn(get_provider(self.client.clone(), kind, name));
                    }
                    None => listing = false,
                },
                Some(joined) = in_flight.join_next(), if !in_flight.is_empty() => {
                    let result = joined.map_err(|e| AgentCoreError {
                        operation: "GetCredentialProvider",
                        message: format!("task failed: {e}"),
                    })?;
                    for p in result? {
                        if found.send(p).await.is_err() {
                            return Ok(());
                        }
                    }
                }
                else => return Ok(()),
            }
        }
    }
}

#[async_trait]
impl ProviderDirectory for AgentCoreDirectory {
    async fn providers(&self) -> Result<Vec<ProviderRef>, AgentCoreError> {
        let (tx, mut rx) = mpsc::channel(self.concurrency * 4);
        let collect = async move {
            let mut found = Vec::new();
            while let Some(p) = rx.recv().await {
                found.push(p);
            }
            found
        };
        let (discovered, mut found) = tokio::join!(self.each_provider(tx), collect);
        discovered?;
        found.sort_by(|a, b| (a.kind, &a.name, a.slot).cmp(&(b.kind, &b.name, b.slot)));
        Ok(found)
    }

    async fn each_provider(&self, found: mpsc::Sender<ProviderRef>) -> Result<(), AgentCoreError> {
        let (names_tx, names_rx) = mpsc::channel(self.concurrency * 4);
        // Dropping the JoinSet (on error or when `found` closes) aborts the Gets in flight.
        tokio::try_join!(self.list_names(names_tx), self.get_each(names_rx, found))?;
        Ok(())
    }
}

/// One Get, mapped at once so the response body is dropped: one entry per reference (none when
/// the provider was deleted since it was listed).
async fn get_provider(
    client: control::Client,
    kind: ProviderKind,
    name: String,
) -> Result<Vec<ProviderRef>, AgentCoreError> {
    fn gone<E: ProvideErrorMetadata>(e: &E) -> bool {
        e.code() == Some("ResourceNotFoundException")
    }
    match kind {
        ProviderKind::Oauth2 => match client
            .get_oauth2_credential_provider()
            .name(&name)
            .send()
            .await
        {
            Ok(out) => Ok(vec![ProviderRef {
                kind,
                name: out.name().to_string(),
                arn: out.credential_provider_arn().to_string(),
                vendor: Some(out.credential_provider_vendor().as_str().to_string()),
                slot: None,
                source: source(out.client_secret_source()),
                secret_arn: out.client_secret_arn().map(|s| s.secret_arn().to_string()),
                json_key: out.client_secret_json_key().map(str::to_string),
                status: out.status().map(|s| s.as_str().to_string()),
                failure_reason: out.failure_reason().map(str::to_string),
                client_id: out.oauth2_provider_config_output().and_then(client_id),
            }]),
            Err(e) if gone(&e) => Ok(Vec::new()),
            Err(e) => Err(error("GetOauth2CredentialProvider", &e)),
        },
        ProviderKind::ApiKey => match client
            .get_api_key_credential_provider()
            .name(&name)
            .send()
            .await
        {
            Ok(out) => Ok(vec![ProviderRef {
                kind,
                name: out.name().to_string(),
                arn: out.credential_provider_arn().to_string(),
                vendor: None,
                slot: None,
                source: source(out.api_key_secret_source()),
                secret_arn: out.api_key_secret_arn().map(|s| s.secret_arn().to_string()),
                json_key: out.api_key_secret_json_key().map(str::to_string),
                status: None,
                failure_reason: None,
                client_id: None,
            }]),
            Err(e) if gone(&e) => Ok(Vec::new()),
            Err(e) => Err(error("GetApiKeyCredentialProvider", &e)),
        },
        ProviderKind::Payment => match client
            .get_payment_credential_provider()
            .name(&name)
            .send()
            .await
        {
            Ok(out) => Ok(payment_references(&out)),
            Err(e) if gone(&e) => Ok(Vec::new()),
            Err(e) => Err(error("GetPaymentCredentialProvider", &e)),
        },
    }
}

/// A payment provider's references, one entry each (a reference the configuration does not
/// hold is left out; an unknown vendor configuration yields none).
fn payment_references(
    out: &control::operation::get_payment_credential_provider::GetPaymentCredentialProviderOutput,
) -> Vec<ProviderRef> {
    use control::types::{PaymentProviderConfigurationOutput as C, Secret};
    type Slot<'a> = (
        &'static str,
        Option<&'a Secret>,
        Option<&'a str>,
        Option<&'a SecretSourceType>,
    );
    let slots: Vec<Slot<'_>> = match out.provider_configuration_output() {
        Some(C::CoinbaseCdpConfiguration(c)) => vec![
            (
                "apiKeySecret",
                c.api_key_secret_arn(),
                c.api_key_secret_json_key(),
                c.api_key_secret_source(),
            ),
            (
                "walletSecret",
                c.wallet_secret_arn(),
                c.wallet_secret_json_key(),
                c.wallet_secret_source(),
            ),
        ],
        Some(C::StripePrivyConfiguration(c)) => vec![
            (
                "appSecret",
                c.app_secret_arn(),
                c.app_secret_json_key(),
                c.app_secret_source(),
            ),
            (
                "authorizationPrivateKey",
                c.authorization_private_key_arn(),
                c.authorization_private_key_json_key(),
                c.authorization_private_key_source(),
            ),
        ],
        _ => {
            tracing::warn!(
                provider = %out.name(),
                vendor = %out.credential_provider_vendor().as_str(),
                "payment provider of a vendor this version does not know: its references are not checked"
            );
            Vec::new()
        }
    };
    slots
        .into_iter()
        .filter(|(_, arn, _, source)| arn.is_some() || source.is_some())
        .map(|(slot, arn, key, src)| ProviderRef {
            kind: ProviderKind::Payment,
            name: out.name().to_string(),
            arn: out.credential_provider_arn().to_string(),
            vendor: Some(out.credential_provider_vendor().as_str().to_string()),
            slot: Some(slot),
            source: source(src),
            secret_arn: arn.map(|s| s.secret_arn().to_string()),
            json_key: key.map(str::to_string),
            status: None,
            failure_reason: None,
            client_id: None,
        })
        .collect()
}

/// Providers created before EXTERNAL existed report no source: they are MANAGED.
fn source(s: Option<&SecretSourceType>) -> SecretSource {
    match s {
        Some(SecretSourceType::External) => SecretSource::External,
        _ => SecretSource::Managed,
    }
}

fn client_id(config: &Oauth2ProviderConfigOutput) -> Option<String> {
    use Oauth2ProviderConfigOutput as C;
    match config {
        C::AtlassianOauth2ProviderConfig(c) => c.client_id(),
        C::CustomOauth2ProviderConfig(c) => c.client_id(),
        C::GithubOauth2ProviderConfig(c) => c.client_id(),
        C::GoogleOauth2ProviderConfig(c) => c.client_id(),
        C::IncludedOauth2ProviderConfig(c) => c.client_id(),
        C::LinkedinOauth2ProviderConfig(c) => c.client_id(),
        C::MicrosoftOauth2ProviderConfig(c) => c.client_id(),
        C::SalesforceOauth2ProviderConfig(c) => c.client_id(),
        C::SlackOauth2ProviderConfig(c) => c.client_id(),
        _ => None,
    }
    .map(str::to_string)
}

/// The data plane, as the configured workload identity.
#[derive(Clone)]
pub struct AgentCoreDataPlane {
    client: data::Client,
    workload_name: String,
}

impl AgentCoreDataPlane {
    pub fn new(sdk: &SdkConfig, settings: &AgentCoreSettings, workload_name: &str) -> Self {
        let conf = data::config::Builder::from(sdk)
            .retry_config(retry_config(settings))
            .build();
        Self {
            client: data::Client::from_conf(conf),
            workload_name: workload_name.to_string(),
        }
    }

    async fn workload_token(&self) -> Result<String, ProbeFailure> {
        self.client
            .get_workload_access_token()
            .workload_name(&self.workload_name)
            .send()
            .await
            .map(|out| out.workload_access_token().to_string())
            .map_err(|e| probe_failure("GetWorkloadAccessToken", &e))
    }
}

fn probe_failure<E>(operation: &'static str, err: &E) -> ProbeFailure
where
    E: ProvideErrorMetadata + std::error::Error,
{
    let e = error(operation, err);
    ProbeFailure {
        operation,
        code: e.message,
        transient: crate::agentcore::probe::is_transient_code(err.code()),
    }
}

#[async_trait]
impl DataPlane for AgentCoreDataPlane {
    async fn api_key_hash(&self, provider: &str) -> Result<ValueHash, ProbeFailure> {
        let token = self.workload_token().await?;
        self.client
            .get_resource_api_key()
            .workload_identity_token(token)
            .resource_credential_provider_name(provider)
            .send()
            .await
            .map(|out| ValueHash::of(out.api_key()))
            .map_err(|e| probe_failure("GetResourceApiKey", &e))
    }

    async fn oauth2_m2m(&self, provider: &str, scopes: &[String]) -> Result<(), ProbeFailure> {
        let token = self.workload_token().await?;
        let out = self
            .client
            .get_resource_oauth2_token()
            .workload_identity_token(token)
            .resource_credential_provider_name(provider)
            .set_scopes(Some(scopes.to_vec()))
            .oauth2_flow(data::types::Oauth2FlowType::M2M)
            .send()
            .await
            .map_err(|e| probe_failure("GetResourceOauth2Token", &e))?;
        if out.access_token().is_some_and(|t| !t.is_empty()) {
            Ok(())
        } else {
            Err(ProbeFailure {
                operation: "GetResourceOauth2Token",
                code: "no access token in the response".into(),
                transient: false,
            })
        }
    }
}
