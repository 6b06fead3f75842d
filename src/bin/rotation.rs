//! The Secrets Manager rotation Lambda.

use agentcore_rotator::aws::{load_sdk_config, rotator_from_lookup};
use agentcore_rotator::rotation::handler;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    agentcore_rotator::logging::init();
    let sdk = load_sdk_config().await;
    let rotator = rotator_from_lookup(&sdk, |k| std::env::var(k).ok())?;
    let rotator = &rotator;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler::handle(rotator, event).await
    }))
    .await
}
