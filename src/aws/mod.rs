//! Adapters over AWS SDK clients: the only modules (with `upstream::cognito`) that see SDK types,
//! and the wiring that builds the product from them.

pub mod agentcore;
pub mod call_counter;
pub mod consumers;
pub mod continuer;
pub mod errors;
pub mod gateways;
pub mod kms_signer;
pub mod metrics;
pub mod secret_meta;
pub mod secrets_manager;
pub mod secrets_reader;
pub mod security_hub_history;
pub mod staging;
pub mod upstreams;
pub mod web_identity;
pub mod wiring;

pub use errors::{error_code, error_summary};
pub use upstreams::AwsUpstreams;
pub use wiring::{auditor, hooks, hooks_from_lookup, rotator_from_lookup};

use aws_config::SdkConfig;

/// Loads the standard AWS configuration (credential chain, Region, `AWS_ENDPOINT_URL_*`).
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}
