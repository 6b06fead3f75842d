//! Okta end to end on the local stack: moto (Secrets Manager, KMS for the service app's
//! assertion), the Okta simulator, the production IdP wiring, and the real handler driven by the
//! conductor the way Secrets Manager drives a rotation function.

mod common;

use std::time::Duration;

use agentcore_rotator::event::Step;
use agentcore_rotator_testkit::conductor::FaultPlan;
use agentcore_rotator_testkit::idp::assertion::TestSigner;
use agentcore_rotator_testkit::idp::okta::ops;
use agentcore_rotator_testkit::idp::rig::{OktaFixture, OktaRig, OKTA_ADMIN_CLIENT};
use agentcore_rotator_testkit::stack::LocalStack;
use common::CapturedLogs;
use serde_json::json;

async fn assert_no_leak(
    stack: &LocalStack,
    rig: &OktaRig,
    f: &OktaFixture,
    logs: &CapturedLogs,
    errors: &[String],
) {
    let mut values = stack.stored_secret_values(&f.secret_arn, &[]).await;
    values.extend(rig.sim.active_values(&f.app_id));
    common::assert_no_leak(logs, &values, errors);
}

fn active(rig: &OktaRig, f: &OktaFixture) -> Vec<String> {
    rig.sim
        .secrets(&f.app_id)
        .into_iter()
        .filter(|(_, status)| status == "ACTIVE")
        .map(|(id, _)| id)
        .collect()
}

/// After one rotation: AWSCURRENT holds a new 64-character value Okta accepts, the initial one is
/// AWSPREVIOUS and still accepted, two ACTIVE secrets.
async fn assert_rotated_once(stack: &LocalStack, rig: &OktaRig, f: &OktaFixture) {
    let current = stack.doc(&f.secret_arn, "AWSCURRENT").await;
    let value = current["clientSecret"].as_str().unwrap();
    assert_ne!(value, f.initial_value);
    assert_eq!(value.len(), 64);
    assert_eq!(current["description"], "research agent outbound client");
    assert_eq!(
        stack.doc(&f.secret_arn, "AWSPREVIOUS").await["clientSecret"],
        f.initial_value.as_str()
    );
    assert!(rig.sim.accepts("default", &f.app_id, value));
    assert!(rig.sim.accepts("default", &f.app_id, &f.initial_value));
    assert_eq!(active(rig, f).len(), 2);
    assert!(!stack
        .stages(&f.secret_arn)
        .await
        .values()
        .flatten()
        .any(|s| s == "AWSPENDING"));
}

#[tokio::test]
async fn a_full_rotation_adds_a_chosen_secret_at_okta_and_keeps_the_old_one_active() {
    let (logs, _g) = CapturedLogs::install();
    let stack = LocalStack::start();
    let rig = OktaRig::start(&stack).await;
    let f = rig.fixture(&stack, json!({})).await;
    let conductor = stack.conductor(rig.rotator(&stack, LocalStack::fast_config()));
    let run = conductor.rotate(&f.secret_arn).await;
    assert!(run.succeeded, "{:?}", run.last_error());
    assert_eq!(run.attempts, 1);
    assert_rotated_once(&stack, &rig, &f).await;
    assert_eq!(rig.sim.calls(ops::CREATE_SECRET), 1);
    assert_eq!(rig.sim.admin_tokens_issued(), 1, "one admin token, cached");
    assert_no_leak(&stack, &rig, &f, &logs, &run.errors()).await;
}

#[tokio::test]
async fn every_step_twice_creates_once() {
    let (logs, _g) = CapturedLogs::install();
    let stack = LocalStack::start();
    let rig = OktaRig::start(&stack).await;
    let f = rig.fixture(&stack, json!({})).await;
    let conductor = stack.conductor(rig.rotator(&stack, LocalStack::fast_config()));
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
    assert_eq!(
        run.steps[3].result.as_deref(),
        Ok("already-done"),
        "{:?}",
        run.steps
    );
    assert_rotated_once(&stack, &rig, &f).await;
    assert_eq!(rig.sim.calls(ops::CREATE_SECRET), 1);
    assert_no_leak(&stack, &rig, &f, &logs, &run.errors()).await;
}

#[tokio::test]
async fn a_crash_after_any_step_is_recovered_by_retrying_the_whole_sequence() {
    let (logs, _g) = CapturedLogs::install();
    let stack = LocalStack::start();
    let rig = OktaRig::start(&stack).await;
    for step in Step::ALL {
        let f = rig.fixture(&stack, json!({})).await;
        let before = rig.sim.calls(ops::CREATE_SECRET);
        let conductor = stack.conductor(rig.rotator(&stack, LocalStack::fast_config()));
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
        assert_rotated_once(&stack, &rig, &f).await;
        assert_eq!(
            rig.sim.calls(ops::CREATE_SECRET) - before,
            1,
            "{step}: one create"
        );
        assert_no_leak(&stack, &rig, &f, &logs, &run.errors()).await;
    }
}

#[tokio::test]
async fn at_the_cap_an_inactive_leftover_is_deleted_first_and_awscurrents_secret_never() {
    let stack = LocalStack::start();
    let rig = OktaRig::start(&stack).await;
    let f = rig.fixture(&stack, json!({})).await;
    let leftover =
        rig.sim
            .add_secret_out_of_band(&f.app_id, "an-old-inactive-secret-0123456789", false);
    let conductor = stack.conductor(rig.rotator(&stack, LocalStack::fast_config()));
    let run = conductor.rotate(&f.secret_arn).await;
    assert!(run.succeeded, "{:?}", run.last_error());
    let ids: Vec<String> = rig
        .sim
        .secrets(&f.app_id)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert!(!ids.contains(&leftover), "the INACTIVE secret made room");
    assert_rotated_once(&stack, &rig, &f).await;
}

#[tokio::test]
async fn at_the_cap_with_an_active_secret_no_version_accounts_for_nothing_is_removed() {
    let stack = LocalStack::start();
    let rig = OktaRig::start(&stack).await;
    let f = rig.fixture(&stack, json!({})).await;
    let foreign =
        rig.sim
            .add_secret_out_of_band(&f.app_id, "someone-elses-active-secret-0123", true);
    let conductor = stack.conductor(rig.rotator(&stack, LocalStack::fast_config()));
    let token = conductor.begin(&f.secret_arn).await;
    conductor
        .invoke(&f.secret_arn, &token, Step::CreateSecret)
        .await
        .unwrap();
    let err = conductor
        .invoke(&f.secret_arn, &token, Step::SetSecret)
        .await
        .unwrap_err();
    assert!(err.contains(&foreign) || err.contains("maximum"), "{err}");
    assert_eq!(active(&rig, &f).len(), 2, "both ACTIVE secrets untouched");
    assert!(rig.sim.accepts("default", &f.app_id, &f.initial_value));
    assert_eq!(
        stack.doc(&f.secret_arn, "AWSCURRENT").await["clientSecret"],
        f.initial_value.as_str()
    );
}

#[tokio::test]
async fn a_second_rotation_after_the_grace_period_deactivates_and_deletes_awsprevious_secret() {
    let stack = LocalStack::start();
    let rig = OktaRig::start(&stack).await;
    let f = rig.fixture(&stack, json!({})).await;
    let conductor = stack.conductor(rig.rotator(&stack, LocalStack::fast_config()));
    assert!(conductor.rotate(&f.secret_arn).await.succeeded);
    let first = stack.doc(&f.secret_arn, "AWSCURRENT").await["clientSecret"]
        .as_str()
        .unwrap()
        .to_string();
    let run = conductor.rotate(&f.secret_arn).await;
    assert!(run.succeeded, "{:?}", run.last_error());
    assert!(!rig.sim.accepts("default", &f.app_id, &f.initial_value));
    assert!(rig.sim.accepts("default", &f.app_id, &first));
    assert_eq!(rig.sim.secrets(&f.app_id).len(), 2);
    assert!(rig.sim.calls(ops::DEACTIVATE_SECRET) >= 1);
    assert!(rig.sim.calls(ops::DELETE_SECRET) >= 1);
}

#[tokio::test]
async fn propagation_delay_inside_the_budget_passes_and_beyond_it_awscurrent_keeps_working() {
    let stack = LocalStack::start();
    let rig = OktaRig::start(&stack).await;
    let f = rig.fixture(&stack, json!({})).await;
    rig.sim.set_propagation_delay(Duration::from_millis(600));
    let conductor = stack.conductor(rig.rotator(&stack, LocalStack::fast_config()));
    let run = conductor.rotate(&f.secret_arn).await;
    assert!(run.succeeded, "{:?}", run.last_error());
    assert!(rig.sim.calls(ops::APP_TOKEN) > 1, "the probe retried");

    let g = rig.fixture(&stack, json!({})).await;
    rig.sim.set_propagation_delay(Duration::from_secs(120));
    let mut config = LocalStack::fast_config();
    config.probe_budget = Duration::from_millis(600);
    let mut conductor = stack.conductor(rig.rotator(&stack, config));
    conductor.max_attempts = 2;
    let run = conductor.rotate(&g.secret_arn).await;
    assert!(!run.succeeded);
    let err = run.last_error().unwrap();
    assert!(err.contains("invalid_client"), "{err}");
    assert_eq!(
        stack.doc(&g.secret_arn, "AWSCURRENT").await["clientSecret"],
        g.initial_value.as_str()
    );
    assert!(rig.sim.accepts("default", &g.app_id, &g.initial_value));
}

#[tokio::test]
async fn throttled_admin_calls_are_retried_after_oktas_reset_time() {
    let stack = LocalStack::start();
    let rig = OktaRig::start(&stack).await;
    let f = rig.fixture(&stack, json!({})).await;
    rig.sim.fail_admin_calls(&[429]);
    let conductor = stack.conductor(rig.rotator(&stack, LocalStack::fast_config()));
    let run = conductor.rotate(&f.secret_arn).await;
    assert!(run.succeeded, "{:?}", run.last_error());
    assert_eq!(run.attempts, 1);
    assert_rotated_once(&stack, &rig, &f).await;
}

#[tokio::test]
async fn an_admin_assertion_okta_rejects_is_a_clear_error_and_nothing_changes() {
    let (logs, _g) = CapturedLogs::install();
    let stack = LocalStack::start();
    let rig = OktaRig::start(&stack).await;
    // The service app is registered with another key than the rotator's KMS key.
    rig.sim.register_admin_client(
        OKTA_ADMIN_CLIENT,
        TestSigner::new().jwk(),
        &["okta.apps.manage"],
    );
    let f = rig.fixture(&stack, json!({})).await;
    let conductor = stack.conductor(rig.rotator(&stack, LocalStack::fast_config()));
    let token = conductor.begin(&f.secret_arn).await;
    let before = stack.stages(&f.secret_arn).await;
    let err = conductor
        .invoke(&f.secret_arn, &token, Step::CreateSecret)
        .await
        .unwrap_err();
    assert!(
        err.contains("refused the rotator's admin client")
            && err.contains(OKTA_ADMIN_CLIENT)
            && err.contains("idp-key jwk"),
        "{err}"
    );
    assert_eq!(rig.sim.calls(ops::CREATE_SECRET), 0);
    assert_eq!(stack.stages(&f.secret_arn).await, before);
    assert_eq!(active(&rig, &f).len(), 1);
    assert_no_leak(&stack, &rig, &f, &logs, &[err]).await;
}

#[tokio::test]
async fn a_service_app_without_the_manage_scope_is_told_which_scope_it_lacks() {
    let stack = LocalStack::start();
    let rig = OktaRig::start_with(&stack, &["okta.apps.read"]).await;
    let f = rig.fixture(&stack, json!({})).await;
    let conductor = stack.conductor(rig.rotator(&stack, LocalStack::fast_config()));
    let token = conductor.begin(&f.secret_arn).await;
    let err = conductor
        .invoke(&f.secret_arn, &token, Step::CreateSecret)
        .await
        .unwrap_err();
    assert!(
        err.contains("invalid_scope") || err.contains("okta.apps.manage"),
        "{err}"
    );
    assert_eq!(rig.sim.calls(ops::CREATE_SECRET), 0);
}
