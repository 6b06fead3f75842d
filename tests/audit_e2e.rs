//! The drift audit end to end on the local stack: moto (Secrets Manager, KMS, Security Hub),
//! the AgentCore Identity emulator and the Cognito simulator, reached by the real SDK clients
//! through endpoint configuration only; and the operator CLI binary against the same stack.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;

use agentcore_rotator::audit::engine::Collected;
use agentcore_rotator::audit::{AuditConfig, Trigger};
use agentcore_rotator::aws::call_counter::CallCounter;
use agentcore_rotator::aws::AwsUpstreams;
use agentcore_rotator::findings::Finding;
use agentcore_rotator_testkit::agentcore::{ProviderKind, ProviderStatus};
use agentcore_rotator_testkit::moto::{ACCOUNT_ID, REGION};
use agentcore_rotator_testkit::providers::{
    create_external_oauth2, provider_arn, EXAMPLE_DISCOVERY,
};
use agentcore_rotator_testkit::stack::{CognitoFixture, LocalStack};
use serde_json::{json, Value};

/// An EXTERNAL provider over `secret` (a JSON document with `clientSecret`) whose IdP is never
/// contacted.
async fn external_to(stack: &LocalStack, name: &str, secret: &str, client_id: &str) {
    let control = stack.agentcore_control();
    create_external_oauth2(
        &control,
        name,
        client_id,
        EXAMPLE_DISCOVERY,
        secret,
        "clientSecret",
    )
    .await;
}

struct Setup {
    stack: LocalStack,
    healthy: CognitoFixture,
    broken: CognitoFixture,
    deleted: CognitoFixture,
}

/// A rotated, readable secret with a provider (healthy); a secret without policy or rotation,
/// with an out-of-band upstream secret and a provider reading a missing key (broken); a provider
/// whose secret was deleted; a MANAGED provider; a failed provider on the healthy secret.
async fn setup() -> Setup {
    let stack = LocalStack::start();
    let healthy = stack
        .cognito_fixture(json!({"rotation": {"gracePeriodHours": 24}}))
        .await;
    stack.allow_agentcore(&healthy.secret_arn).await;
    let run = stack
        .conductor(stack.rotator(LocalStack::fast_config()))
        .rotate(&healthy.secret_arn)
        .await;
    assert!(run.succeeded, "{:?}", run.last_error());
    stack
        .external_oauth2("healthy", &healthy, &healthy.client_id, "clientSecret")
        .await;
    stack
        .external_oauth2("failing", &healthy, &healthy.client_id, "clientSecret")
        .await;
    stack.agentcore.set_provider_status(
        ProviderKind::Oauth2,
        "failing",
        ProviderStatus::UpdateFailed,
        Some("secret could not be read"),
    );

    let broken = stack.cognito_fixture(json!({})).await;
    stack
        .external_oauth2("wrong-key", &broken, &broken.client_id, "client_secret")
        .await;
    stack.cognito.add_secret_out_of_band(
        &broken.pool_id,
        &broken.client_id,
        "OutOfBandSecretValue_0123456789",
    );

    let deleted = stack.cognito_fixture(json!({})).await;
    stack.allow_agentcore(&deleted.secret_arn).await;
    stack
        .external_oauth2("dangling", &deleted, &deleted.client_id, "clientSecret")
        .await;
    stack
        .sm
        .delete_secret()
        .secret_id(&deleted.secret_arn)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("DeleteSecret");
    stack.managed_oauth2("managed", &healthy).await;
    Setup {
        stack,
        healthy,
        broken,
        deleted,
    }
}

#[tokio::test]
async fn a_full_audit_on_the_local_stack_fires_each_broken_reference_and_stays_quiet_on_the_healthy_one(
) {
    let s = setup().await;
    let counter = CallCounter::new();
    let out = Arc::new(Collected::default());
    let auditor = s
        .stack
        .auditor(out.clone(), AuditConfig::default(), Some(&counter))
        .with_upstreams(Arc::new(AwsUpstreams::counted(
            s.stack.cognito_sdk_config(),
            &counter,
        )))
        .with_meter(Arc::new(counter.clone()));
    let outcome = auditor
        .run(&Trigger::parse(&json!({})).unwrap(), None)
        .await
        .unwrap();
    let findings = out.take();
    let rules = common::by_rule(&findings);
    let has = |rule: &str, resource: &str| rules.get(rule).is_some_and(|r| r.contains(resource));

    assert!(has("REF-001", &provider_arn("dangling")), "{rules:?}");
    assert!(has("REF-003", &provider_arn("wrong-key")));
    assert!(has("REF-005", &s.broken.secret_arn));
    assert!(has("SEC-001", &s.broken.secret_arn));
    assert!(has("UPS-001", &s.broken.secret_arn));
    assert!(has("REF-007", &provider_arn("failing")));
    // REF-011 ("provider is MANAGED") is REF-008 since the two became one rule.
    assert!(has("REF-008", &provider_arn("managed")));
    // The healthy secret and its healthy provider raise nothing.
    for f in findings.iter().filter(|f| f.is_active()) {
        let ids: Vec<&str> = f.resources().iter().map(|r| r.arn_or_id()).collect();
        assert!(
            !ids.contains(&provider_arn("healthy").as_str()),
            "{}: {}",
            f.rule_id(),
            f.description()
        );
        if ids.contains(&s.healthy.secret_arn.as_str()) {
            assert_eq!(
                f.rule_id(),
                "REF-007",
                "only the failed provider: {}",
                f.description()
            );
        }
    }
    assert!(findings
        .iter()
        .all(|f| !f.description().contains(&s.healthy.initial_value)));

    let summary = outcome.summary();
    assert_eq!(summary.oauth2_providers, 5);
    assert_eq!(summary.secrets, 3);
    // Metadata from ListSecrets; DescribeSecret only for the force-deleted secret the
    // listing cannot return (moto resolves it as not found); values batched, one policy per
    // readable secret.
    assert!(summary.api_calls.contains_key("ListSecrets"));
    assert_eq!(
        summary.api_calls.get("DescribeSecret"),
        Some(&1),
        "{:?}",
        summary.api_calls
    );
    assert_eq!(summary.api_calls.get("GetResourcePolicy"), Some(&2));
    assert_eq!(summary.api_calls.get("BatchGetSecretValue"), Some(&1));
    assert!(
        summary
            .api_calls
            .get("GetSecretValue")
            .is_some_and(|n| *n <= 2),
        "AWSPREVIOUS of the rotated secret only"
    );
    // AgentCore and Cognito calls are counted too: one List page, one Get per provider, one
    // upstream list per rotator document (the broken and the healthy secret).
    assert_eq!(
        summary.api_calls.get("ListOauth2CredentialProviders"),
        Some(&1)
    );
    assert_eq!(
        summary.api_calls.get("GetOauth2CredentialProvider"),
        Some(&5)
    );
    assert_eq!(
        summary.api_calls.get("ListUserPoolClientSecrets"),
        Some(&2),
        "{:?}",
        summary.api_calls
    );
    assert!(
        summary.api_calls_total as f64 <= 1.1 * summary.lower_bound as f64,
        "{summary:?}"
    );
    let _ = &s.deleted;
}

fn cli(s: &LocalStack, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_agentcore-rotator"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(s.aws_env())
        .output()
        .expect("run agentcore-rotator");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_cli_prints_a_table_shows_progress_and_exits_by_severity() {
    let s = setup().await;
    let (code, stdout, stderr) = cli(&s.stack, &["audit"]);
    assert_eq!(
        code, 1,
        "HIGH findings fail the default --fail-on high\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("SEVERITY")
            && stdout.contains("REF-001")
            && stdout.contains(&provider_arn("dangling")),
        "{stdout}"
    );
    assert!(
        stdout.contains("audited 5 provider(s) and 3 secret(s)"),
        "{stdout}"
    );
    assert!(stderr.contains("audit: auditing secrets 3/3"), "{stderr}");
    assert!(
        !stdout.contains(&s.healthy.initial_value) && !stderr.contains(&s.healthy.initial_value)
    );

    let (code, stdout, _) = cli(
        &s.stack,
        &[
            "audit",
            "--secret",
            &s.healthy.secret_arn,
            "--format",
            "json",
            "--fail-on",
            "critical",
        ],
    );
    assert_eq!(code, 0, "{stdout}");
    let doc: Value = serde_json::from_str(&stdout).expect("JSON output");
    let rules: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["ruleId"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        ["REF-007"],
        "only the failed provider on the healthy secret"
    );
    assert_eq!(doc["summary"]["secrets"], 1);

    let (code, _, stderr) = cli(&s.stack, &["audit", "--format", "xml"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("usage:"));
}

/// Security Hub's SDK conversions need more than the 2 MB test-thread stack in debug builds.
#[test]
fn a_fixed_reference_is_archived_in_security_hub_on_the_next_audit() {
    std::thread::Builder::new()
        .stack_size(16 * 1024 * 1024)
        .spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(archived_in_security_hub())
        })
        .unwrap()
        .join()
        .unwrap();
}

async fn archived_in_security_hub() {
    use agentcore_rotator::aws::security_hub_history::SecurityHubHistory;
    use agentcore_rotator::findings::{Emitters, SecurityHubSink};
    let stack = LocalStack::start();
    let f = stack.cognito_fixture(json!({})).await;
    stack
        .external_oauth2("unreadable", &f, &f.client_id, "clientSecret")
        .await;
    let sdk = stack.moto.sdk_config();
    let emitters = Arc::new(Emitters::new(vec![Box::new(SecurityHubSink::new(
        aws_sdk_securityhub::Client::new(&sdk),
    ))]));
    let auditor = stack
        .auditor(emitters, AuditConfig::default(), None)
        .with_history(Arc::new(SecurityHubHistory::new(&sdk, None)));
    let trigger = Trigger::parse(&json!({"scope": {"secretIds": [f.secret_arn.clone()]}})).unwrap();
    let first = auditor.run(&trigger, None).await.unwrap();
    assert!(
        first.summary().active.get("HIGH").is_some_and(|n| *n >= 1),
        "{:?}",
        first.summary()
    );
    stack.allow_agentcore(&f.secret_arn).await;
    let second = auditor.run(&trigger, None).await.unwrap();
    assert_eq!(second.summary().resolved, 1, "{:?}", second.summary());
    let findings = aws_sdk_securityhub::Client::new(&sdk)
        .get_findings()
        .send()
        .await
        .unwrap();
    let ours: Vec<_> = findings
        .findings()
        .iter()
        .filter(|x| {
            x.resources()
                .iter()
                .any(|r| r.id() == Some(f.secret_arn.as_str()))
        })
        .filter(|x| x.generator_id() == Some("REF-005"))
        .collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].record_state().map(|s| s.as_str()), Some("ARCHIVED"));
    assert_eq!(
        ours[0]
            .compliance()
            .and_then(|c| c.status())
            .map(|s| s.as_str()),
        Some("PASSED")
    );
}

/// A secret with rotation enabled through `function` (moto requires it to exist then).
async fn rotated_secret(stack: &LocalStack, name: &str, function: &str) -> String {
    let arn = stack
        .sm
        .create_secret()
        .name(name)
        .secret_string(
            json!({"clientId": name, "clientSecret": "sec004-value-0123456789"}).to_string(),
        )
        .send()
        .await
        .expect("CreateSecret")
        .arn()
        .unwrap()
        .to_string();
    stack.allow_agentcore(&arn).await;
    stack
        .sm
        .rotate_secret()
        .secret_id(&arn)
        .rotation_lambda_arn(function)
        .rotation_rules(
            aws_sdk_secretsmanager::types::RotationRulesType::builder()
                .automatically_after_days(30)
                .build(),
        )
        .rotate_immediately(false)
        .send()
        .await
        .expect("RotateSecret");
    arn
}

#[tokio::test]
async fn a_rotation_function_that_no_longer_exists_fires_sec_004_and_an_existing_one_does_not() {
    let stack = LocalStack::start();
    let run = std::process::id();
    let lambda = aws_sdk_lambda::Client::new(&stack.moto.sdk_config());
    let gone = lambda
        .create_function()
        .function_name(format!("audit-gone-{run}"))
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .role(format!(
            "arn:aws:iam::{ACCOUNT_ID}:role/rotation-placeholder"
        ))
        .handler("bootstrap")
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_smithy_types::Blob::new(b"not run".to_vec()))
                .build(),
        )
        .send()
        .await
        .expect("CreateFunction")
        .function_arn()
        .unwrap()
        .to_string();
    let orphaned = rotated_secret(&stack, &format!("sec004/{run}/orphaned"), &gone).await;
    let kept = rotated_secret(
        &stack,
        &format!("sec004/{run}/kept"),
        &stack.moto.rotation_lambda_arn,
    )
    .await;
    lambda
        .delete_function()
        .function_name(&gone)
        .send()
        .await
        .expect("DeleteFunction");
    external_to(
        &stack,
        &format!("sec004-orphaned-{run}"),
        &orphaned,
        "sec004/orphaned",
    )
    .await;
    external_to(&stack, &format!("sec004-kept-{run}"), &kept, "sec004/kept").await;

    let counter = CallCounter::new();
    let out = Arc::new(Collected::default());
    let auditor = stack
        .auditor(out.clone(), AuditConfig::default(), Some(&counter))
        .with_meter(Arc::new(counter.clone()));
    let outcome = auditor
        .run(&Trigger::parse(&json!({})).unwrap(), None)
        .await
        .unwrap();
    let rules = common::by_rule(&out.take());
    let sec004 = rules.get("SEC-004").cloned().unwrap_or_default();
    assert!(sec004.contains(&orphaned), "{rules:?}");
    assert!(!sec004.contains(&kept), "{rules:?}");
    let summary = outcome.summary();
    // One GetFunctionConcurrency per distinct function (not GetFunction, which would return
    // the function's environment and code URL); metadata from ListSecrets, not DescribeSecret.
    assert_eq!(
        summary.api_calls.get("GetFunctionConcurrency"),
        Some(&2),
        "{:?}",
        summary.api_calls
    );
    assert!(summary.api_calls.contains_key("ListSecrets"));
    assert_eq!(summary.api_calls.get("DescribeSecret"), None);
    assert!(
        summary.api_calls_total as f64 <= 1.1 * summary.lower_bound as f64,
        "{summary:?}"
    );
}

/// The drift-audit Lambda as deployed: production wiring (`secrets_inventory::auditor`), the
/// handler, a deadline that allows one wave per invocation, and the continuation travelling as
/// a real EventBridge event (bus → rule → queue here, bus → rule → function in the template).
#[tokio::test]
async fn a_lambda_audit_that_runs_out_of_time_continues_through_eventbridge() {
    use agentcore_rotator::audit::handler;
    use agentcore_rotator::aws::auditor;
    use agentcore_rotator_testkit::findings_route::BusToQueue;
    use lambda_runtime::{Context, LambdaEvent};

    let stack = LocalStack::start();
    let run = std::process::id();
    let mut secrets = Vec::new();
    for i in 0..5 {
        // The last one names the wrong key: one REF-003 for its provider, reported once.
        let key = if i == 4 { "secret" } else { "clientSecret" };
        let arn = stack
            .sm
            .create_secret()
            .name(format!("continued/{run}/s{i}"))
            .secret_string(json!({"clientId": format!("c{i}"), key: "x-value-0123"}).to_string())
            .send()
            .await
            .expect("CreateSecret")
            .arn
            .unwrap();
        stack.allow_agentcore(&arn).await;
        external_to(&stack, &format!("continued-{i}"), &arn, &format!("c{i}")).await;
        secrets.push(arn);
    }
    let route = BusToQueue::create().await;
    let mut env: BTreeMap<&str, String> = stack.aws_env().into_iter().collect();
    env.insert("ROTATOR_FINDINGS_EVENT_BUS", route.bus.clone());
    let out = Arc::new(Collected::default());
    let mut lambda = auditor(
        &stack.moto.sdk_config(),
        &stack.agentcore.sdk_config(),
        |k| env.get(k).cloned(),
        out.clone(),
        &CallCounter::new(),
    )
    .expect("wiring");
    lambda.config_mut().wave_size = 2;
    lambda.config_mut().time_margin = std::time::Duration::from_secs(3600);

    let mut payload = json!({});
    let mut statuses = Vec::new();
    let mut audited = 0;
    for _ in 0..6 {
        let mut context = Context::default();
        context.invoked_function_arn =
            format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:drift-audit");
        context.deadline = (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            + 60_000) as u64;
        let response = handler::handle(&lambda, "Ns", LambdaEvent::new(payload, context))
            .await
            .expect("invocation");
        audited += response["summary"]["secrets"].as_u64().unwrap();
        statuses.push(response["status"].as_str().unwrap().to_string());
        if response["status"] == "complete" {
            break;
        }
        assert_eq!(response["continuationScheduled"], true, "{response}");
        // What the continuation rule would deliver to the function: the event itself.
        let events = route.receive(1).await;
        let next = events
            .into_iter()
            .find(|e| e["detail-type"] == "Drift Audit Continuation")
            .expect("a continuation event on the bus");
        assert_eq!(next["detail"]["continuation"], response["continuation"]);
        payload = next;
    }
    assert_eq!(statuses, ["continued", "continued", "complete"]);
    assert_eq!(audited, 5, "each secret once");
    let findings = out.take();
    let ref003: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.rule_id() == "REF-003")
        .collect();
    assert_eq!(ref003.len(), 1, "{findings:?}");
    assert!(ref003[0]
        .resources()
        .iter()
        .any(|r| r.arn_or_id() == provider_arn("continued-4")));
}
