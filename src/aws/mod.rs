//! Adapters over AWS SDK clients: the only modules (with `upstream::cognito`) that see SDK types.

pub mod agentcore;
pub mod call_counter;
pub mod secrets_inventory;
pub mod secrets_manager;

use aws_config::SdkConfig;

/// Loads the standard AWS configuration (credential chain, Region, `AWS_ENDPOINT_URL_*`).
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// The rotation function as `src/bin/rotation.rs` runs it: configuration, the Secrets Manager
/// store, the IdP adapters and the AgentCore hooks, from the loaded SDK configuration and an
/// environment lookup. The one place it is wired (the testkit runs the same).
pub fn rotator_from_lookup(
    sdk: &SdkConfig,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<crate::rotation::Rotator, Box<dyn std::error::Error + Send + Sync>> {
    let config = crate::config::Config::from_lookup(&lookup)?;
    let agentcore = agentcore::hooks_from_lookup(sdk, &lookup)?;
    let upstreams = crate::upstream::cognito::AwsUpstreams::new(sdk.clone())
        .with_cognito_domain_url(config.cognito_domain_url.clone());
    Ok(crate::rotation::Rotator::new(
        std::sync::Arc::new(secrets_manager::SecretsManagerStore::new(sdk)),
        std::sync::Arc::new(upstreams),
        config,
    )
    .with_agentcore(agentcore))
}
