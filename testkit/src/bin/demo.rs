//! Runs one real rotation on the embedded local stack and prints what happened (never values).
//!
//! moto plays Secrets Manager, the Cognito simulator plays the identity provider, and the
//! conductor invokes the real rotation handler the way Secrets Manager does.

use std::collections::BTreeMap;

use agentcore_rotator_testkit::stack::LocalStack;
use serde_json::json;

fn short(v: &str) -> &str {
    &v[..v.len().min(8)]
}

fn print_versions(title: &str, stages: &BTreeMap<String, Vec<String>>) {
    println!("  {title}");
    for (version, labels) in stages {
        println!("    version {}…  {}", short(version), labels.join(", "));
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    agentcore_rotator::logging::init();
    println!("agentcore-rotator demo: one rotation on the local stack\n");
    let stack = LocalStack::start();
    println!("  moto (Secrets Manager)  {}", stack.moto.endpoint);
    println!("  Cognito simulator       {}\n", stack.cognito.endpoint());

    let f = stack.cognito_fixture(json!({})).await;
    println!("  user pool               {}", f.pool_id);
    println!("  app client              {}", f.client_id);
    println!("  secret                  {}", f.secret_arn);
    println!(
        "  binding tag             {}=cognito:{}/{}",
        agentcore_rotator::rotation::binding::BINDING_TAG,
        f.pool_id,
        f.client_id
    );
    print_versions("before:", &stack.stages(&f.secret_arn).await);
    println!(
        "    upstream secrets: {}\n",
        stack
            .cognito
            .secret_ids(&f.pool_id, &f.client_id)
            .join(", ")
    );

    let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
    let run = conductor.rotate(&f.secret_arn).await;
    println!(
        "  new version (ClientRequestToken) {}… ({} attempt(s))",
        short(&run.token),
        run.attempts
    );
    for s in &run.steps {
        match &s.result {
            Ok(outcome) => println!("    {:<13} {outcome}", s.step.as_str()),
            Err(e) => println!("    {:<13} FAILED: {e}", s.step.as_str()),
        }
    }
    if !run.succeeded {
        eprintln!("\nrotation failed");
        std::process::exit(1);
    }

    let current = stack.doc(&f.secret_arn, "AWSCURRENT").await;
    let previous = stack.doc(&f.secret_arn, "AWSPREVIOUS").await;
    let value = |d: &serde_json::Value| d["clientSecret"].as_str().unwrap_or_default().to_string();
    println!();
    print_versions("after:", &stack.stages(&f.secret_arn).await);
    println!(
        "    upstream secrets: {}",
        stack
            .cognito
            .secret_ids(&f.pool_id, &f.client_id)
            .join(", ")
    );
    println!(
        "    IdP accepts AWSCURRENT: {}   AWSPREVIOUS (grace period): {}",
        stack.cognito.accepts(&f.client_id, &value(&current)),
        stack.cognito.accepts(&f.client_id, &value(&previous)),
    );
    println!("\nrotation succeeded");
}
