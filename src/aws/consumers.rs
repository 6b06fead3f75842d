//! Consumer accounts through assumed roles: one AgentCore directory per role in
//! `ROTATOR_CONSUMER_ROLE_ARNS`, with credentials from `sts:AssumeRole` (external id, session
//! `agentcore-rotator`), refreshed by the SDK's provider as they expire. The role is assumed on
//! first use, so building the function stays synchronous and cheap.

use std::sync::Arc;

use async_trait::async_trait;
use aws_config::sts::AssumeRoleProvider;
use aws_config::SdkConfig;
use aws_sdk_sts::config::SharedCredentialsProvider;
use aws_smithy_async::rt::sleep::default_async_sleep;
use aws_smithy_async::time::SharedTimeSource;
use tokio::sync::OnceCell;

use super::agentcore::AgentCoreDirectory;
use crate::agentcore::accounts::{AccountsDirectory, Consumer};
use crate::agentcore::settings::{role_account, AgentCoreSettings};
use crate::agentcore::{AgentCoreError, ProviderDirectory, ProviderRef};

/// AgentCore of one consumer account, read with the role assumed there.
struct AssumedDirectory {
    role: String,
    agentcore_sdk: SdkConfig,
    sts_sdk: SdkConfig,
    settings: AgentCoreSettings,
    directory: OnceCell<AgentCoreDirectory>,
}

impl AssumedDirectory {
    async fn directory(&self) -> &AgentCoreDirectory {
        self.directory
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
                let sdk = self
                    .agentcore_sdk
                    .to_builder()
                    .credentials_provider(SharedCredentialsProvider::new(provider.build().await))
                    .build();
                AgentCoreDirectory::new(&sdk, &self.settings)
            })
            .await
    }
}

#[async_trait]
impl ProviderDirectory for AssumedDirectory {
    async fn providers(&self) -> Result<Vec<ProviderRef>, AgentCoreError> {
        self.directory().await.providers().await
    }
}

/// `local` alone when no consumer role is configured; else the local directory and one per
/// consumer account. `sts_sdk` reaches STS with the function's own credentials.
pub fn with_consumers(
    local: Arc<dyn ProviderDirectory>,
    agentcore_sdk: &SdkConfig,
    sts_sdk: &SdkConfig,
    settings: &AgentCoreSettings,
) -> Arc<dyn ProviderDirectory> {
    if settings.consumer_roles.is_empty() {
        return local;
    }
    let consumers = settings
        .consumer_roles
        .iter()
        .map(|role| Consumer {
            account: role_account(role).unwrap_or_default().to_string(),
            role_arn: role.clone(),
            directory: Arc::new(AssumedDirectory {
                role: role.clone(),
                agentcore_sdk: agentcore_sdk.clone(),
                sts_sdk: sts_sdk.clone(),
                settings: settings.clone(),
                directory: OnceCell::new(),
            }),
        })
        .collect();
    Arc::new(AccountsDirectory::new(
        local,
        consumers,
        settings.unreachable,
    ))
}
