//! The one home of production wiring: the rotation function, its AgentCore hooks and the drift
//! audit, built from the standard AWS configuration and an environment lookup. Both Lambdas,
//! the CLI and the testkit call these, so what is tested is what is deployed.

use std::sync::Arc;

use aws_config::retry::RetryConfig;
use aws_config::SdkConfig;

use super::agentcore::{AgentCoreDataPlane, AgentCoreDirectory};
use super::call_counter::CallCounter;
use super::continuer::EventBridgeContinuer;
use super::gateways::AgentCoreGateways;
use super::metrics::CloudWatchMetrics;
use super::secrets_manager::SecretsManagerStore;
use super::secrets_reader::SecretsReader;
use super::security_hub_history::SecurityHubHistory;
use crate::agentcore::{AgentCoreHooks, AgentCoreSettings, DataPlane};
use crate::audit::{AuditConfig, Auditor};
use crate::aws::AwsUpstreams;
use crate::config::Config;
use crate::findings::{Emitters, EmittersConfig, FindingsError};
use crate::rotation::Rotator;

/// The rotation function as `src/bin/rotation.rs` runs it: configuration, the Secrets Manager
/// store, the IdP adapters and the AgentCore hooks, from the loaded SDK configuration and an
/// environment lookup. The one place it is wired (the testkit runs the same).
pub fn rotator_from_lookup(
    sdk: &SdkConfig,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Rotator, Box<dyn std::error::Error + Send + Sync>> {
    let config = Config::from_lookup(&lookup)?;
    let agentcore = hooks_from_lookup(sdk, &lookup)?;
    let upstreams = AwsUpstreams::new(sdk.clone())
        .with_cognito_domain_url(config.cognito_domain_url.clone())
        .with_idp_admin(&config.idp_admin, &config.origins);
    Ok(Rotator::new(
        Arc::new(SecretsManagerStore::new(sdk)),
        Arc::new(upstreams),
        config,
    )
    .with_agentcore(agentcore))
}

/// Configuration errors while wiring the hooks.
#[derive(Debug, thiserror::Error)]
pub enum HooksError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Findings(#[from] FindingsError),
}

/// Hooks for [`crate::rotation::Rotator::with_agentcore`] from the standard AWS configuration
/// and `lookup` (settings: [`AgentCoreSettings::from_lookup`]; findings:
/// [`EmittersConfig::from_lookup`]). `None` when `ROTATOR_AGENTCORE_REFERENCES=off`.
pub fn hooks_from_lookup(
    sdk: &SdkConfig,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<AgentCoreHooks>, HooksError> {
    let settings = AgentCoreSettings::from_lookup(&lookup)?;
    if !settings.enabled {
        return Ok(None);
    }
    let emitters = Emitters::from_config(sdk, &EmittersConfig::from_lookup(&lookup)?);
    Ok(Some(hooks(sdk, sdk, &settings, emitters)))
}

/// Hooks with AgentCore reached through `agentcore_sdk` and Secrets Manager/KMS through
/// `secrets_sdk` (the same configuration in Lambda; separate endpoints in local stacks).
pub fn hooks(
    agentcore_sdk: &SdkConfig,
    secrets_sdk: &SdkConfig,
    settings: &AgentCoreSettings,
    emitters: Emitters,
) -> AgentCoreHooks {
    // Consumer accounts' providers and gateways join the local ones (same assumed role).
    let (directory, gateways) = super::consumers::with_consumers(
        Arc::new(AgentCoreDirectory::new(agentcore_sdk, settings)),
        Arc::new(AgentCoreGateways::new(agentcore_sdk, settings, None)),
        agentcore_sdk,
        secrets_sdk,
        settings,
    );
    AgentCoreHooks {
        directory,
        secrets: Arc::new(SecretsReader::with_retry(
            secrets_sdk,
            None,
            RetryConfig::standard(),
        )),
        data_plane: settings.workload_name.as_deref().map(|w| {
            Arc::new(AgentCoreDataPlane::new(agentcore_sdk, settings, w)) as Arc<dyn DataPlane>
        }),
        gateways: Some(gateways),
        emitters: Arc::new(emitters),
    }
}

/// The audit engine wired to AWS from the standard configuration and `lookup`: AgentCore
/// discovery (`ROTATOR_AGENTCORE_*`), Secrets Manager/KMS, Cognito, Security Hub history when
/// `ROTATOR_SECURITY_HUB` is on, continuation events on `ROTATOR_FINDINGS_EVENT_BUS`.
/// `agentcore_sdk` may differ from `sdk` (local stacks serve AgentCore elsewhere).
pub fn auditor(
    sdk: &SdkConfig,
    agentcore_sdk: &SdkConfig,
    lookup: impl Fn(&str) -> Option<String>,
    publish: Arc<dyn crate::audit::engine::Publish>,
    counter: &CallCounter,
) -> Result<crate::audit::Auditor, String> {
    let config = AuditConfig::from_lookup(&lookup).map_err(|e| e.to_string())?;
    let cognito_domain_url = config.cognito_domain_url.clone();
    let (idp_admin, origins) = (config.idp_admin.clone(), config.origins.clone());
    let settings = AgentCoreSettings::from_lookup(&lookup).map_err(|e| e.to_string())?;
    let findings = EmittersConfig::from_lookup(&lookup).map_err(|e| e.to_string())?;
    let region = sdk
        .region()
        .map(|r| r.to_string())
        .ok_or("no AWS Region configured (set AWS_REGION)")?;
    let mut auditor = Auditor::new(
        Arc::new(AgentCoreDirectory::counted(
            agentcore_sdk,
            &settings,
            Some(counter),
        )),
        Arc::new(SecretsReader::new(sdk, Some(counter))),
        publish,
        region,
        config,
    )
    .with_upstreams(Arc::new(
        AwsUpstreams::counted(sdk.clone(), counter)
            .with_cognito_domain_url(cognito_domain_url)
            .with_idp_admin(&idp_admin, &origins),
    ))
    .with_gateways(Arc::new(AgentCoreGateways::new(
        agentcore_sdk,
        &settings,
        Some(counter),
    )))
    .with_canary(Arc::new(CloudWatchMetrics::new(sdk, Some(counter))))
    .with_meter(Arc::new(counter.clone()))
    .with_account(lookup("ROTATOR_ACCOUNT_ID").filter(|a| !a.trim().is_empty()));
    if findings.security_hub {
        auditor = auditor.with_history(Arc::new(SecurityHubHistory::new(sdk, Some(counter))));
    }
    if findings.event_bus_name.is_some() {
        auditor = auditor.with_continuer(Arc::new(EventBridgeContinuer::new(
            sdk,
            findings.event_bus_name.clone(),
        )));
    }
    Ok(auditor)
}
