//! The drift-audit Lambda: wiring only; the engine is `agentcore_rotator::audit`.

use std::sync::Arc;

use agentcore_rotator::audit::handler;
use agentcore_rotator::aws::auditor;
use agentcore_rotator::aws::call_counter::CallCounter;
use agentcore_rotator::aws::load_sdk_config;
use agentcore_rotator::findings::{Emitters, EmittersConfig};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    agentcore_rotator::logging::init();
    let lookup = |k: &str| std::env::var(k).ok();
    let sdk = load_sdk_config().await;
    let findings = EmittersConfig::from_lookup(lookup)?;
    let emitters = Arc::new(Emitters::from_config(&sdk, &findings));
    let counter = CallCounter::new();
    let auditor = auditor(&sdk, &sdk, lookup, emitters, &counter)?;
    let (auditor, namespace) = (&auditor, findings.emf_namespace.as_str());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler::handle(auditor, namespace, event).await
    }))
    .await
}
