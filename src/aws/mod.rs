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
