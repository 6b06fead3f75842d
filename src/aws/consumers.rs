//! Consumer accounts through assumed roles: per role in `ROTATOR_CONSUMER_ROLE_ARNS`, AgentCore
//! read with credentials from `sts:AssumeRole` (external id, session `agentcore-rotator`),
//! refreshed by the SDK's provider as they expire — its credential providers (for the checks)
//! and its gateways (for the blast radius). The role is assumed on first use, so building the
//! function stays synchronous and cheap.

use std::sync::Arc;

use async_trait::async_trait;
use aws_config::sts::AssumeRoleProvider;
use aws_config::SdkConfig;
use aws_sdk_sts::config::SharedCredentialsProvider;
use aws_smithy_async::rt::sleep::default_async_sleep;
use aws_smithy_async::time::SharedTimeSource;
use tokio::sync::OnceCell;

use super::agentcore::AgentCoreDirectory;
use super::gateways::AgentCoreGateways;
use crate::agentcore::accounts::{AccountsDirectory, Consumer};
use crate::agentcore::gateways::{GatewayDirectory, GatewayMap};
use crate::agentcore::settings::{role_account, AgentCoreSettings};
use crate::agentcore::{AgentCoreError, ProviderDirectory, ProviderRef};

/// AgentCore of one consumer account, reached with the role assumed there.
struct Assumed {
    role: String,
    agentcore_sdk: SdkConfig,
    sts_sdk: SdkConfig,
    settings: AgentCoreSettings,
    sdk: OnceCell<SdkConfig>,
}

impl Assumed {
    /// The AgentCore configuration with the assumed role's credentials.
    async fn sdk(&self) -> &SdkConfig {
        self.sdk
            .get_or_init(|| async {
                // The credentials cache needs a clock and a sleep; a configuration built by
                // hand (not by `aws_config::load`) may lack them.
                let mut sts = self.sts_sdk.to_builder();
                if self.sts_sdk.time_source().is_none() {
                    sts.set_time_source(Some(SharedTimeSource::default()));
                }
                if self.sts_sdk.sleep_impl().is_none() {
                    sts.set_sleep_impl(default_async_sleep());
                }
                let mut provider = AssumeRoleProvider::builder(&self.role)
                    .session_name("agentcore-rotator")
                    .configure(&sts.build());
                if let Some(id) = &self.settings.consumer_external_id {
                    provider = provider.external_id(id);
                }
                self.agentcore_sdk
                    .to_builder()
                    .credentials_provider(SharedCredentialsProvider::new(provider.build().await))
                    .build()
            })
            .await
    }
}

/// The consumer account's credential providers.
struct AssumedProviders(Arc<Assumed>, OnceCell<AgentCoreDirectory>);

#[async_trait]
impl ProviderDirectory for AssumedProviders {
    async fn providers(&self) -> Result<Vec<ProviderRef>, AgentCoreError> {
        let a = &self.0;
        self.1
            .get_or_init(|| async { AgentCoreDirectory::new(a.sdk().await, &a.settings) })
            .await
            .providers()
            .await
    }
}

/// The consumer account's gateway targets.
struct AssumedGateways(Arc<Assumed>, OnceCell<AgentCoreGateways>);

#[async_trait]
impl GatewayDirectory for AssumedGateways {
    async fn targets(&self) -> Result<GatewayMap, AgentCoreError> {
        let a = &self.0;
        self.1
            .get_or_init(|| async { AgentCoreGateways::new(a.sdk().await, &a.settings, None) })
            .await
            .targets()
            .await
    }
}

/// The local gateways and every consumer account's: a consumer's provider is used by that
/// account's gateway targets. A consumer whose gateways cannot be read is logged and left out
/// (the blast radius is secondary information); a local failure is the caller's to handle.
struct AccountsGateways {
    local: Arc<dyn GatewayDirectory>,
    consumers: Vec<(String, Arc<dyn GatewayDirectory>)>,
}

#[async_trait]
impl GatewayDirectory for AccountsGateways {
    async fn targets(&self) -> Result<GatewayMap, AgentCoreError> {
        let mut map = self.local.targets().await?;
        for (account, directory) in &self.consumers {
            match directory.targets().await {
                Ok(more) => {
                    map.reads += more.reads;
                    map.targets.extend(more.targets);
                }
                Err(e) => {
                    tracing::warn!(account = %account, error = %e, "consumer account's gateways not read; its targets are left out of the blast radius")
                }
            }
        }
        Ok(map)
    }
}

fn assumed(
    agentcore_sdk: &SdkConfig,
    sts_sdk: &SdkConfig,
    settings: &AgentCoreSettings,
) -> Vec<(String, String, Arc<Assumed>)> {
    settings
        .consumer_roles
        .iter()
        .map(|role| {
            let account = role_account(role).unwrap_or_default().to_string();
            let access = Arc::new(Assumed {
                role: role.clone(),
                agentcore_sdk: agentcore_sdk.clone(),
                sts_sdk: sts_sdk.clone(),
                settings: settings.clone(),
                sdk: OnceCell::new(),
            });
            (account, role.clone(), access)
        })
        .collect()
}

/// `local` and `local_gateways` alone when no consumer role is configured; else each joined by
/// one per consumer account, both reached through the same assumed role. `sts_sdk` reaches STS
/// with the function's own credentials.
pub fn with_consumers(
    local: Arc<dyn ProviderDirectory>,
    local_gateways: Arc<dyn GatewayDirectory>,
    agentcore_sdk: &SdkConfig,
    sts_sdk: &SdkConfig,
    settings: &AgentCoreSettings,
) -> (Arc<dyn ProviderDirectory>, Arc<dyn GatewayDirectory>) {
    if settings.consumer_roles.is_empty() {
        return (local, local_gateways);
    }
    let accounts = assumed(agentcore_sdk, sts_sdk, settings);
    let consumers = accounts
        .iter()
        .map(|(account, role, access)| Consumer {
            account: account.clone(),
            role_arn: role.clone(),
            directory: Arc::new(AssumedProviders(access.clone(), OnceCell::new())),
        })
        .collect();
    let gateways = AccountsGateways {
        local: local_gateways,
        consumers: accounts
            .into_iter()
            .map(|(account, _, access)| {
                (
                    account,
                    Arc::new(AssumedGateways(access, OnceCell::new())) as Arc<dyn GatewayDirectory>,
                )
            })
            .collect(),
    };
    (
        Arc::new(AccountsDirectory::new(
            local,
            consumers,
            settings.unreachable,
        )),
        Arc::new(gateways),
    )
}
