//! End to end on the local stack: moto (Secrets Manager), the Cognito simulator, the real
//! handler driven by the conductor the way Secrets Manager drives a rotation function.

mod common;

use std::time::Duration;

use agentcore_rotator::event::Step;
use agentcore_rotator::rotation::handler;
use agentcore_rotator_testkit::conductor::FaultPlan;
use agentcore_rotator_testkit::stack::{CognitoFixture, LocalStack};
use common::CapturedLogs;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;

async fn assert_no_leak(
    stack: &LocalStack,
    f: &CognitoFixture,
    logs: &CapturedLogs,
    errors: &[String],
) {
    common::assert_no_leak(logs, &stack.secret_values(&[f], &[]).await, errors);
}

/// Asserts the state after one successful rotation of a fresh fixture.
async fn assert_rotated_once(stack: &LocalStack, f: &CognitoFixture, token: &str) {
    let stages = stack.stages(&f.secret_arn).await;
    assert_eq!(stages[token], vec!["AWSCURRENT".to_string()], "{stages:?}");
    assert!(
        stages
            .values()
            .any(|s| s == &vec!["AWSPREVIOUS".to_string()]),
        "{stages:?}"
    );
    assert!(!stages.values().flatten().any(|s| s == "AWSPENDING"));
    let current = stack.doc(&f.secret_arn, "AWSCURRENT").await;
    let new_value = current["clientSecret"].as_str().unwrap();
    assert_ne!(new_value, f.initial_value);
    assert_eq!(new_value.len(), 64);
    assert!(new_value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    assert_eq!(
        current["description"], "payments agent outbound client",
        "foreign keys kept"
    );
    assert_eq!(current["clientId"], f.client_id.as_str());
    assert_eq!(
        current["rotationState"]["upstreamIdsBefore"],
        json!([f.initial_secret_id])
    );
    let previous = stack.doc(&f.secret_arn, "AWSPREVIOUS").await;
    assert_eq!(previous["clientSecret"], f.initial_value.as_str());
    // Zero downtime: both secrets live until the grace period ends.
    assert_eq!(stack.cognito.secret_ids(&f.pool_id, &f.client_id).len(), 2);
    assert!(stack.cognito.accepts(&f.client_id, new_value));
    assert!(stack.cognito.accepts(&f.client_id, &f.initial_value));
}

#[tokio::test]
async fn a_full_rotation_promotes_a_new_upstream_secret_and_keeps_the_old_one_live() {
    let (logs, _g) = CapturedLogs::install();
    let stack = LocalStack::start();
    let f = stack.cognito_fixture(json!({})).await;
    let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
    let run = conductor.rotate(&f.secret_arn).await;
    assert!(run.succeeded, "{:?}", run.last_error());
    assert_eq!(run.attempts, 1);
    assert!(
        run.steps.iter().all(|s| s.result.as_deref() == Ok("done")),
        "{:?}",
        run.steps
    );
    assert_rotated_once(&stack, &f, &run.token).await;
    assert_eq!(stack.cognito.calls("AddUserPoolClientSecret"), 1);
    assert_eq!(stack.cognito.calls("DeleteUserPoolClientSecret"), 0);
    let text = logs.text();
    for step in Step::ALL {
        assert!(
            text.lines().any(|l| l.contains("rotation step finished")
                && l.contains(step.as_str())
                && l.contains(&f.secret_arn)
                && l.contains(&run.token)),
            "one log line per step with ARN and token: {step}"
        );
    }
    assert_no_leak(&stack, &f, &logs, &[]).await;
}

#[tokio::test]
async fn every_step_invoked_twice_changes_nothing_the_second_time() {
    let (logs, _g) = CapturedLogs::install();
    let stack = LocalStack::start();
    let f = stack.cognito_fixture(json!({})).await;
    let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
    let run = conductor
        .rotate_with(
            &f.secret_arn,
            FaultPlan {
                invoke_twice: true,
                ..Default::default()
            },
        )
        .await;
    assert!(run.succeeded, "{:?}", run.last_error());
    let outcomes: Vec<_> = run
        .steps
        .iter()
        .map(|s| (s.step, s.result.clone().unwrap()))
        .collect();
    assert_eq!(outcomes[1], (Step::CreateSecret, "already-done".into()));
    assert_eq!(outcomes[3], (Step::SetSecret, "already-done".into()));
    assert_eq!(outcomes[7], (Step::FinishSecret, "already-current".into()));
    assert_rotated_once(&stack, &f, &run.token).await;
    assert_eq!(stack.cognito.calls("AddUserPoolClientSecret"), 1);
    assert_eq!(
        stack.stages(&f.secret_arn).await.len(),
        2,
        "no extra versions"
    );
    assert_no_leak(&stack, &f, &logs, &run.errors()).await;
}

#[tokio::test]
async fn a_crash_after_any_step_is_recovered_by_retrying_the_whole_sequence() {
    let (logs, _g) = CapturedLogs::install();
    let stack = LocalStack::start();
    for step in Step::ALL {
        let f = stack.cognito_fixture(json!({})).await;
        let adds_before = stack.cognito.calls("AddUserPoolClientSecret");
        let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
        let run = conductor
            .rotate_with(
                &f.secret_arn,
                FaultPlan {
                    crash_after: Some(step),
                    ..Default::default()
                },
            )
            .await;
        assert!(run.succeeded, "{step}: {:?}", run.last_error());
        assert_eq!(run.attempts, 2, "{step}");
        assert_rotated_once(&stack, &f, &run.token).await;
        assert_eq!(
            stack.cognito.calls("AddUserPoolClientSecret") - adds_before,
            1,
            "{step}: one upstream add"
        );
        assert_no_leak(&stack, &f, &logs, &run.errors()).await;
    }
}

#[tokio::test]
async fn an_idp_failure_in_set_secret_is_retried_and_the_rotation_completes() {
    let stack = LocalStack::start();
    let f = stack.cognito_fixture(json!({})).await;
    stack.cognito.fail_next_add("InternalErrorException");
    let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
    let run = conductor.rotate(&f.secret_arn).await;
    assert!(run.succeeded, "{:?}", run.last_error());
    assert_eq!(run.attempts, 2);
    let first_error = run.errors().remove(0);
    assert!(
        first_error.contains("AddUserPoolClientSecret"),
        "{first_error}"
    );
    assert_rotated_once(&stack, &f, &run.token).await;
}

#[tokio::test]
async fn rotation_disabled_is_refused_and_nothing_changes() {
    let stack = LocalStack::start();
    let f = stack.cognito_fixture(json!({})).await;
    let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
    let before = stack.stages(&f.secret_arn).await;
    let err = conductor
        .invoke(
            &f.secret_arn,
            "00000000-0000-0000-0000-000000000001",
            Step::CreateSecret,
        )
        .await
        .unwrap_err();
    assert!(err.contains("rotation is not enabled"), "{err}");
    assert_eq!(stack.stages(&f.secret_arn).await, before);
    assert_eq!(stack.cognito.calls("ListUserPoolClientSecrets"), 0);
}

#[tokio::test]
async fn a_token_that_is_not_a_version_is_refused_and_nothing_changes() {
    let stack = LocalStack::start();
    let f = stack.cognito_fixture(json!({})).await;
    let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
    conductor.begin(&f.secret_arn).await;
    let before = stack.stages(&f.secret_arn).await;
    for step in Step::ALL {
        let err = conductor
            .invoke(&f.secret_arn, "not-a-version-of-this-secret", step)
            .await
            .unwrap_err();
        assert!(err.contains("ClientRequestToken is not a version"), "{err}");
    }
    assert_eq!(stack.stages(&f.secret_arn).await, before);
}

#[tokio::test]
async fn awspending_on_another_version_reports_an_incomplete_previous_rotation() {
    let stack = LocalStack::start();
    let f = stack.cognito_fixture(json!({})).await;
    let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
    let token = conductor.begin(&f.secret_arn).await;
    // A stray version from an earlier, unfinished rotation takes AWSPENDING.
    stack
        .sm
        .put_secret_value()
        .secret_id(&f.secret_arn)
        .client_request_token("stray-version-000000000000000000001")
        .secret_string(stack.doc(&f.secret_arn, "AWSCURRENT").await.to_string())
        .version_stages("AWSPENDING")
        .send()
        .await
        .unwrap();
    let before = stack.stages(&f.secret_arn).await;
    let err = conductor
        .invoke(&f.secret_arn, &token, Step::CreateSecret)
        .await
        .unwrap_err();
    assert!(err.contains("previous rotation is not complete"), "{err}");
    assert!(err.contains("stray-version-000000000000000000001"), "{err}");
    assert_eq!(stack.stages(&f.secret_arn).await, before);
}

#[tokio::test]
async fn malformed_documents_fail_create_secret_naming_the_problem_and_change_nothing() {
    let (logs, _g) = CapturedLogs::install();
    let stack = LocalStack::start();
    let cases: Vec<(&str, StoredValue)> = vec![
        ("not JSON", StoredValue::Text("plain-text-secret-value-123".into())),
        ("binary", StoredValue::Binary(b"\x00\x01binary".to_vec())),
        ("missing field `clientId`", StoredValue::Text(json!({"clientSecret": "abcdefgh12345678", "rotation": {"idp": "cognito", "userPoolId": "us-east-1_X", "tokenEndpoint": "https://x/t"}}).to_string())),
        ("`rotation.userPoolId`", StoredValue::Text(json!({"clientId": "c", "clientSecret": "abcdefgh12345678", "rotation": {"idp": "cognito", "tokenEndpoint": "https://x/t"}}).to_string())),
        ("`rotation.scopes` must be", StoredValue::Text(json!({"clientId": "c", "clientSecret": "abcdefgh12345678", "rotation": {"idp": "cognito", "userPoolId": "us-east-1_X", "tokenEndpoint": "https://x/t", "scopes": "a b"}}).to_string())),
    ];
    let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
    for (expect, value) in cases {
        let mut req = stack
            .sm
            .create_secret()
            .name(format!("agentcore/bad/{}", uuid_like()));
        req = match value {
            StoredValue::Text(t) => req.secret_string(t),
            StoredValue::Binary(b) => req.secret_binary(aws_smithy_types::Blob::new(b)),
        };
        let arn = req.send().await.unwrap().arn().unwrap().to_string();
        let token = conductor.begin(&arn).await;
        let before = stack.stages(&arn).await;
        let err = conductor
            .invoke(&arn, &token, Step::CreateSecret)
            .await
            .unwrap_err();
        assert!(
            err.contains("failed to read the AWSCURRENT version"),
            "{err}"
        );
        assert!(err.contains(expect), "{expect}: {err}");
        assert!(!err.contains("abcdefgh12345678") && !err.contains("plain-text-secret-value-123"));
        assert_eq!(stack.stages(&arn).await, before);
        let pending = stack
            .sm
            .get_secret_value()
            .secret_id(&arn)
            .version_id(&token)
            .send()
            .await;
        assert!(pending.is_err(), "no value stored for the pending version");
    }
    assert_eq!(stack.cognito.calls("ListUserPoolClientSecrets"), 0);
    logs.assert_free_of(&["abcdefgh12345678", "plain-text-secret-value-123"]);
}

enum StoredValue {
    Text(String),
    Binary(Vec<u8>),
}

fn uuid_like() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

#[tokio::test]
async fn a_secret_the_idp_rejects_fails_test_secret_and_leaves_awscurrent_working() {
    let (logs, _g) = CapturedLogs::install();
    let stack = LocalStack::start();
    let f = stack.cognito_fixture(json!({})).await;
    let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
    let token = conductor.begin(&f.secret_arn).await;
    for step in [Step::CreateSecret, Step::SetSecret] {
        conductor.invoke(&f.secret_arn, &token, step).await.unwrap();
    }
    // An administrator revokes the new secret before it is tested.
    let new_id = stack
        .cognito
        .secret_ids(&f.pool_id, &f.client_id)
        .into_iter()
        .find(|id| id != &f.initial_secret_id)
        .unwrap();
    stack
        .cognito
        .revoke_out_of_band(&f.pool_id, &f.client_id, &new_id);
    let err = conductor
        .invoke(&f.secret_arn, &token, Step::TestSecret)
        .await
        .unwrap_err();
    assert!(
        err.contains("testSecret failed") && err.contains("invalid_client"),
        "{err}"
    );
    let stages = stack.stages(&f.secret_arn).await;
    assert_eq!(stages[&token], vec!["AWSPENDING".to_string()]);
    assert_eq!(
        stack.doc(&f.secret_arn, "AWSCURRENT").await["clientSecret"],
        f.initial_value.as_str()
    );
    assert!(stack.cognito.accepts(&f.client_id, &f.initial_value));
    assert_no_leak(&stack, &f, &logs, &[err]).await;
}

#[tokio::test]
async fn propagation_delay_inside_the_probe_budget_passes() {
    let stack = LocalStack::start();
    let f = stack.cognito_fixture(json!({})).await;
    stack
        .cognito
        .set_propagation_delay(Duration::from_millis(600));
    let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
    let run = conductor.rotate(&f.secret_arn).await;
    assert!(run.succeeded, "{:?}", run.last_error());
    assert_eq!(run.attempts, 1);
    assert!(
        stack.cognito.calls("oauth2/token") > 1,
        "the probe retried while the secret propagated"
    );
}

#[tokio::test]
async fn propagation_delay_beyond_the_probe_budget_fails_cleanly() {
    let stack = LocalStack::start();
    let f = stack.cognito_fixture(json!({})).await;
    stack
        .cognito
        .set_propagation_delay(Duration::from_secs(120));
    let mut config = LocalStack::fast_config();
    config.probe_budget = Duration::from_millis(700);
    let mut conductor = stack.conductor(stack.rotator(config));
    conductor.max_attempts = 2;
    let run = conductor.rotate(&f.secret_arn).await;
    assert!(!run.succeeded);
    let err = run.last_error().unwrap();
    assert!(
        err.contains("invalid_client") && err.contains("attempt"),
        "{err}"
    );
    assert!(run.steps.iter().all(|s| s.step != Step::FinishSecret));
    assert_eq!(
        stack.doc(&f.secret_arn, "AWSCURRENT").await["clientSecret"],
        f.initial_value.as_str()
    );
    assert_eq!(
        stack.cognito.secret_ids(&f.pool_id, &f.client_id).len(),
        2,
        "retries did not add more secrets"
    );
    assert!(stack.cognito.accepts(&f.client_id, &f.initial_value));
}

#[tokio::test]
async fn throttling_and_server_errors_at_the_token_endpoint_are_retried() {
    let stack = LocalStack::start();
    let f = stack.cognito_fixture(json!({})).await;
    stack.cognito.fail_token_requests(&[429, 503, 500]);
    let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
    let run = conductor.rotate(&f.secret_arn).await;
    assert!(run.succeeded, "{:?}", run.last_error());
    assert_eq!(stack.cognito.calls("oauth2/token"), 4);
}

#[tokio::test]
async fn a_second_rotation_removes_the_superseded_secret_only_after_its_grace_period() {
    let stack = LocalStack::start();
    // Grace period of one hour: the second rotation must refuse to drop AWSPREVIOUS's secret.
    let f = stack
        .cognito_fixture(json!({"rotation": {"gracePeriodHours": 1}}))
        .await;
    let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
    let first = conductor.rotate(&f.secret_arn).await;
    assert!(first.succeeded, "{:?}", first.last_error());
    let current_after_first = stack.doc(&f.secret_arn, "AWSCURRENT").await;
    let ids_after_first = stack.cognito.secret_ids(&f.pool_id, &f.client_id);
    let second = conductor.rotate(&f.secret_arn).await;
    assert!(!second.succeeded);
    assert!(
        second.last_error().unwrap().contains("grace period"),
        "{:?}",
        second.last_error()
    );
    assert_eq!(
        stack.cognito.secret_ids(&f.pool_id, &f.client_id),
        ids_after_first,
        "nothing removed"
    );
    assert_eq!(
        stack.doc(&f.secret_arn, "AWSCURRENT").await,
        current_after_first
    );

    // Once the grace period has passed (a clock two hours ahead), the same rotation completes,
    // removing the AWSPREVIOUS secret and never the AWSCURRENT one.
    let later = std::time::SystemTime::now() + Duration::from_secs(2 * 3600);
    let conductor = stack.conductor(
        stack
            .rotator(LocalStack::fast_config())
            .with_clock(std::sync::Arc::new(move || later)),
    );
    let retried = conductor
        .run_steps(&f.secret_arn, &second.token, FaultPlan::default())
        .await;
    assert!(retried.succeeded, "{:?}", retried.last_error());
    let ids = stack.cognito.secret_ids(&f.pool_id, &f.client_id);
    assert!(
        !ids.contains(&f.initial_secret_id),
        "superseded secret removed"
    );
    assert_eq!(ids.len(), 2);
    let current_value = current_after_first["clientSecret"].as_str().unwrap();
    assert!(
        stack.cognito.accepts(&f.client_id, current_value),
        "the old AWSCURRENT is now AWSPREVIOUS and still live"
    );
    let new_current = stack.doc(&f.secret_arn, "AWSCURRENT").await;
    assert!(stack
        .cognito
        .accepts(&f.client_id, new_current["clientSecret"].as_str().unwrap()));
    assert_eq!(
        stack.doc(&f.secret_arn, "AWSPREVIOUS").await,
        current_after_first
    );
}

#[tokio::test]
async fn three_rotations_in_a_row_keep_exactly_current_and_previous_live() {
    let stack = LocalStack::start();
    let f = stack.cognito_fixture(json!({})).await;
    let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
    for _ in 0..3 {
        let run = conductor.rotate(&f.secret_arn).await;
        assert!(run.succeeded, "{:?}", run.last_error());
        let current = stack.doc(&f.secret_arn, "AWSCURRENT").await;
        let previous = stack.doc(&f.secret_arn, "AWSPREVIOUS").await;
        assert!(stack
            .cognito
            .accepts(&f.client_id, current["clientSecret"].as_str().unwrap()));
        assert!(stack
            .cognito
            .accepts(&f.client_id, previous["clientSecret"].as_str().unwrap()));
        assert_eq!(stack.cognito.secret_ids(&f.pool_id, &f.client_id).len(), 2);
    }
}

#[tokio::test]
async fn an_unknown_current_secret_id_with_two_live_secrets_is_never_guessed() {
    let stack = LocalStack::start();
    let f = stack.cognito_fixture(json!({"clientSecretId": null})).await;
    stack.cognito.add_secret_out_of_band(
        &f.pool_id,
        &f.client_id,
        "someone_elses_secret_value_0001",
    );
    let before = stack.cognito.secret_ids(&f.pool_id, &f.client_id);
    let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
    let run = conductor.rotate(&f.secret_arn).await;
    assert!(!run.succeeded);
    assert!(
        run.last_error().unwrap().contains("set clientSecretId"),
        "{:?}",
        run.last_error()
    );
    assert_eq!(stack.cognito.secret_ids(&f.pool_id, &f.client_id), before);
}

#[tokio::test]
async fn the_token_endpoint_can_be_discovered_from_the_issuer_and_post_auth_works() {
    let stack = LocalStack::start();
    let pool_probe = stack.cognito_fixture(json!({})).await;
    let issuer = stack.cognito.issuer(&pool_probe.pool_id);
    let f = stack
        .cognito_fixture(json!({"rotation": {"tokenEndpoint": null, "issuer": issuer, "clientAuthentication": "client_secret_post"}}))
        .await;
    // The fixture made a new pool; point the issuer at it.
    let issuer = stack.cognito.issuer(&f.pool_id);
    let mut doc = stack.doc(&f.secret_arn, "AWSCURRENT").await;
    doc["rotation"]["issuer"] = json!(issuer);
    stack.put_current(&f.secret_arn, &doc).await;
    let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
    let run = conductor.rotate(&f.secret_arn).await;
    assert!(run.succeeded, "{:?}", run.last_error());
}

#[tokio::test]
async fn the_rotation_token_is_passed_through_and_never_logged() {
    let (logs, _g) = CapturedLogs::install();
    let stack = LocalStack::start();
    let f = stack.cognito_fixture(json!({})).await;
    let rotator = stack.rotator(LocalStack::fast_config());
    let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
    let token = conductor.begin(&f.secret_arn).await;
    let rotation_token = "rotation-token-value-7f3a9c2e";
    for step in Step::ALL {
        let payload = json!({"Step": step.as_str(), "SecretId": f.secret_arn, "ClientRequestToken": token, "RotationToken": rotation_token});
        let out = handler::handle(&rotator, LambdaEvent::new(payload, Context::default())).await;
        let out = out.unwrap_or_else(|e| panic!("{step}: {e}"));
        assert!(!out.to_string().contains(rotation_token));
    }
    assert_eq!(
        stack
            .version_with(&f.secret_arn, "AWSCURRENT")
            .await
            .as_deref(),
        Some(token.as_str())
    );
    logs.assert_free_of(&[rotation_token]);
    assert_no_leak(&stack, &f, &logs, &[]).await;
}

/// `LogLevel: TRACE` in the template reaches the functions as `AWS_LAMBDA_LOG_LEVEL=TRACE`. At
/// TRACE `lambda_runtime` logs every raw event (RotationToken included; emitted here with its
/// target and message, since the handler is called directly) and the AWS SDK traces requests
/// (bodies too with `LOG_SIGNABLE_BODY=true`); the functions' subscriber keeps other crates at
/// DEBUG. The second, unfiltered layer is what a plain TRACE subscriber (lambda_runtime's
/// default) writes.
#[tokio::test]
async fn at_trace_level_the_functions_logs_carry_no_secret_value_or_rotation_token() {
    use agentcore_rotator::logging::{layer, LogSettings};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::Layer;

    let (ours, plain) = (CapturedLogs::default(), CapturedLogs::default());
    let settings = LogSettings::from_lookup(|k| match k {
        "AWS_LAMBDA_LOG_LEVEL" => Some("TRACE".into()),
        "AWS_LAMBDA_LOG_FORMAT" => Some("JSON".into()),
        _ => None,
    });
    let subscriber = tracing_subscriber::registry()
        .with(layer(&settings, ours.clone()))
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(plain.clone())
                .with_filter(tracing::level_filters::LevelFilter::TRACE),
        );
    let _g = tracing::subscriber::set_default(subscriber);
    let stack = LocalStack::start();
    let f = stack.cognito_fixture(json!({})).await;
    let rotator = stack.rotator(LocalStack::fast_config());
    let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
    let token = conductor.begin(&f.secret_arn).await;
    let rotation_token = "rotation-token-value-5d1e0b7a";
    for step in Step::ALL {
        let payload = json!({"Step": step.as_str(), "SecretId": f.secret_arn, "ClientRequestToken": token, "RotationToken": rotation_token});
        // What lambda_runtime logs for every invocation before calling the handler.
        tracing::trace!(target: "lambda_runtime::layers::api_response", body = %payload, "raw JSON event received from Lambda");
        let out = handler::handle(&rotator, LambdaEvent::new(payload, Context::default())).await;
        out.unwrap_or_else(|e| panic!("{step}: {e}"));
    }
    let new_value = stack.doc(&f.secret_arn, "AWSCURRENT").await["clientSecret"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        plain.text().contains(rotation_token),
        "a plain TRACE subscriber logs the raw event, RotationToken included"
    );
    assert!(
        ours.text().contains("rotation step finished"),
        "our own logs are kept"
    );
    ours.assert_free_of(&[rotation_token, &new_value, &f.initial_value]);
}

#[tokio::test]
async fn a_malformed_event_is_rejected_with_a_clear_error() {
    let stack = LocalStack::start();
    let rotator = stack.rotator(LocalStack::fast_config());
    for (payload, expect) in [
        (
            json!({"Step": "rotateSecret", "SecretId": "s", "ClientRequestToken": "t"}),
            "unknown rotation step",
        ),
        (
            json!({"SecretId": "s", "ClientRequestToken": "t"}),
            "missing field `Step`",
        ),
        (json!("just a string"), "malformed rotation event"),
    ] {
        let err = handler::handle(&rotator, LambdaEvent::new(payload, Context::default()))
            .await
            .unwrap_err();
        assert!(err.to_string().contains(expect), "{err}");
    }
}

#[test]
#[should_panic(expected = "leaked")]
fn the_leak_check_itself_catches_a_logged_secret() {
    let (logs, _g) = CapturedLogs::install();
    tracing::info!(value = "super-secret-value-123", "oops");
    logs.assert_free_of(&["super-secret-value-123"]);
}
