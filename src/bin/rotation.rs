//! The Secrets Manager rotation Lambda.

use std::sync::Arc;

use agentcore_rotator::aws::agentcore::hooks_from_lookup;
use agentcore_rotator::aws::{load_sdk_config, secrets_manager::SecretsManagerStore};
use agentcore_rotator::config::Config;
use agentcore_rotator::rotation::{handler, Rotator};
use agentcore_rotator::upstream::cognito::AwsUpstreams;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    agentcore_rotator::logging::init();
    let config = Config::from_env()?;
    let sdk = load_sdk_config().await;
    let agentcore = hooks_from_lookup(&sdk, |k| std::env::var(k).ok())?;
    let rotator = Rotator::new(
        Arc::new(SecretsManagerStore::new(&sdk)),
        Arc::new(AwsUpstreams::new(sdk).with_cognito_domain_url(config.cognito_domain_url.clone())),
        config,
    )
    .with_agentcore(agentcore);
    let rotator = &rotator;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler::handle(rotator, event).await
    }))
    .await
}
