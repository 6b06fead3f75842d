//! One invocation of the rotation function in its own process, wired exactly as
//! `src/bin/rotation.rs` wires it (configuration and endpoints from the environment only), so a
//! test can kill it mid-call like a Lambda that dies. The event is the first argument (or
//! standard input) as JSON; the result is one line on stdout,
//! `rotation-step-result: {"outcome": …}` or `rotation-step-result: {"error": …}`, after the
//! function's own log lines. Exit status 0 on success, 1 on a step error, 2 on bad wiring.

use std::io::Read;
use std::process::ExitCode;

use agentcore_rotator::aws::load_sdk_config;
use agentcore_rotator::rotation::handler;
use agentcore_rotator_testkit::conductor::RESULT_PREFIX;
use agentcore_rotator_testkit::wiring;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> ExitCode {
    agentcore_rotator::logging::init();
    let event = match std::env::args().nth(1) {
        Some(arg) => arg,
        None => {
            let mut input = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut input) {
                return report(json!({"error": format!("cannot read the event: {e}")}), 2);
            }
            input
        }
    };
    let payload: Value = match serde_json::from_str(&event) {
        Ok(v) => v,
        Err(e) => return report(json!({"error": format!("the event is not JSON: {e}")}), 2),
    };
    let rotator = match wiring::rotator(load_sdk_config().await, |k| std::env::var(k).ok()) {
        Ok(r) => r,
        Err(e) => return report(json!({"error": e.to_string()}), 2),
    };
    match handler::handle(&rotator, LambdaEvent::new(payload, Context::default())).await {
        Ok(v) => report(json!({"outcome": v["outcome"]}), 0),
        Err(e) => report(json!({"error": e.to_string()}), 1),
    }
}

fn report(result: Value, code: u8) -> ExitCode {
    println!("{RESULT_PREFIX}{result}");
    ExitCode::from(code)
}
