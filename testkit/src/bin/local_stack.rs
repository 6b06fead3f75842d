//! Keeps a local stack running for manual work with `cargo lambda watch` / `cargo lambda invoke`:
//! starts moto and the Cognito simulator, creates a Cognito client and its secret, begins a
//! rotation (the AWSPENDING placeholder Secrets Manager would create), writes one event per step
//! to `target/local-events/`, prints the environment the function needs, and waits for Ctrl-C.

use agentcore_rotator::event::Step;
use agentcore_rotator_testkit::moto::repo_root;
use agentcore_rotator_testkit::stack::LocalStack;
use serde_json::json;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let stack = LocalStack::start();
    let f = stack.cognito_fixture(json!({})).await;
    let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
    let token = conductor.begin(&f.secret_arn).await;

    let dir = repo_root().join("target").join("local-events");
    std::fs::create_dir_all(&dir).expect("create target/local-events");
    for step in Step::ALL {
        let event =
            json!({"Step": step.as_str(), "SecretId": f.secret_arn, "ClientRequestToken": token});
        let path = dir.join(format!("{}.json", step.as_str()));
        std::fs::write(&path, serde_json::to_string_pretty(&event).unwrap()).expect("write event");
    }

    println!("# local stack is up; in another shell:");
    for (key, value) in stack.aws_env() {
        println!("export {key}={value}");
    }
    println!("cargo lambda watch   # then, in a third shell, step by step:");
    for step in Step::ALL {
        println!(
            "cargo lambda invoke rotation --data-file target/local-events/{}.json",
            step.as_str()
        );
    }
    println!("# secret {}  (Ctrl-C stops the stack)", f.secret_arn);
    tokio::signal::ctrl_c().await.expect("wait for Ctrl-C");
}
