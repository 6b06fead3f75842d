//! Keycloak end to end on the local stack: moto (Secrets Manager, KMS for the admin client
//! assertion), the Keycloak simulator, the production IdP wiring, and the real handler driven by
//! the conductor the way Secrets Manager drives a rotation function.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use agentcore_rotator::event::Step;
use agentcore_rotator::sensitive::SecretString;
use agentcore_rotator::upstream::keycloak::secret_id;
use agentcore_rotator_testkit::conductor::FaultPlan;
use agentcore_rotator_testkit::faulty_store::{Call, FaultyStore};
use agentcore_rotator_testkit::idp::assertion::TestSigner;
use agentcore_rotator_testkit::idp::keycloak::ops;
use agentcore_rotator_testkit::idp::rig::{
    KeycloakFixture, KeycloakRig, KEYCLOAK_ADMIN_CLIENT, KEYCLOAK_REALM,
};
use agentcore_rotator_testkit::stack::LocalStack;
use aws_sdk_kms::types::KeySpec;
use common::CapturedLogs;
use serde_json::json;

async fn assert_no_leak(
    stack: &LocalStack,
    rig: &KeycloakRig,
    f: &KeycloakFixture,
    logs: &CapturedLogs,
    errors: &[String],
) {
    let mut values = stack.stored_secret_values(&f.secret_arn, &[]).await;
    values.push(rig.sim.current_secret(KEYCLOAK_REALM, &f.client_id));
    common::assert_no_leak(logs, &values, errors);
}

/// After one rotation: AWSCURRENT holds Keycloak's current secret (with its id), the initial
/// secret is AWSPREVIOUS and still accepted as Keycloak's rotated secret.
async fn assert_rotated_once(stack: &LocalStack, rig: &KeycloakRig, f: &KeycloakFixture) {
    let current = stack.doc(&f.secret_arn, "AWSCURRENT").await;
    let value = current["clientSecret"].as_str().unwrap();
    assert_ne!(value, f.initial_value);
    assert_eq!(value, rig.sim.current_secret(KEYCLOAK_REALM, &f.client_id));
    assert_eq!(
        current["clientSecretId"],
        secret_id(&SecretString::new(value.to_string())).as_str()
    );
    assert_eq!(current["description"], "research agent outbound client");
    let previous = stack.doc(&f.secret_arn, "AWSPREVIOUS").await;
    assert_eq!(previous["clientSecret"], f.initial_value.as_str());
    assert_eq!(
        rig.sim
            .rotated_secret(KEYCLOAK_REALM, &f.client_id)
            .as_deref(),
        Some(f.initial_value.as_str()),
        "zero downtime: the previous secret stays valid as Keycloak's rotated secret"
    );
    assert!(rig.sim.accepts(KEYCLOAK_REALM, &f.client_id, value));
    assert!(rig
        .sim
        .accepts(KEYCLOAK_REALM, &f.client_id, &f.initial_value));
    assert!(!stack
        .stages(&f.secret_arn)
        .await
        .values()
        .flatten()
        .any(|s| s == "AWSPENDING"));
}

#[tokio::test]
async fn a_full_rotation_regenerates_at_keycloak_and_keeps_the_old_secret_as_the_rotated_one() {
    let (logs, _g) = CapturedLogs::install();
    let stack = LocalStack::start();
    let rig = KeycloakRig::start(&stack).await;
    let f = rig.fixture(&stack, true, json!({})).await;
    let conductor = stack.conductor(rig.rotator(&stack, LocalStack::fast_config()));
    let run = conductor.rotate(&f.secret_arn).await;
    assert!(run.succeeded, "{:?}", run.last_error());
    assert_eq!(run.attempts, 1);
    assert_rotated_once(&stack, &rig, &f).await;
    assert_eq!(rig.sim.calls(ops::REGENERATE_SECRET), 1);
    assert_eq!(rig.sim.admin_tokens_issued(), 1, "one admin token, cached");
    assert_no_leak(&stack, &rig, &f, &logs, &run.errors()).await;
}

#[tokio::test]
async fn every_step_twice_regenerates_once() {
    let (logs, _g) = CapturedLogs::install();
    let stack = LocalStack::start();
    let rig = KeycloakRig::start(&stack).await;
    let f = rig.fixture(&stack, true, json!({})).await;
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
        run.steps[1].result.as_deref(),
        Ok("already-done"),
        "{:?}",
        run.steps
    );
    assert_rotated_once(&stack, &rig, &f).await;
    assert_eq!(rig.sim.calls(ops::REGENERATE_SECRET), 1);
    assert_eq!(stack.stages(&f.secret_arn).await.len(), 2);
    assert_no_leak(&stack, &rig, &f, &logs, &run.errors()).await;
}

#[tokio::test]
async fn a_crash_after_any_step_is_recovered_by_retrying_the_whole_sequence() {
    let (logs, _g) = CapturedLogs::install();
    let stack = LocalStack::start();
    let rig = KeycloakRig::start(&stack).await;
    for step in Step::ALL {
        let f = rig.fixture(&stack, true, json!({})).await;
        let before = rig.sim.calls(ops::REGENERATE_SECRET);
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
            rig.sim.calls(ops::REGENERATE_SECRET) - before,
            1,
            "{step}: one regenerate"
        );
        assert_no_leak(&stack, &rig, &f, &logs, &run.errors()).await;
    }
}

#[tokio::test]
async fn a_crash_between_the_regenerate_and_the_store_adopts_that_secret_instead_of_dropping_awscurrents(
) {
    let (logs, _g) = CapturedLogs::install();
    let stack = LocalStack::start();
    let rig = KeycloakRig::start(&stack).await;
    let f = rig.fixture(&stack, true, json!({})).await;
    let failed = Arc::new(AtomicBool::new(false));
    let once = failed.clone();
    let store = FaultyStore::new(stack.store(), move |call| {
        matches!(call, Call::Put) && !once.swap(true, Ordering::SeqCst)
    });
    let conductor = stack.conductor(rig.rotator_over(&stack, store, LocalStack::fast_config()));
    let run = conductor.rotate(&f.secret_arn).await;
    assert!(failed.load(Ordering::SeqCst), "the store failed once");
    assert!(run.succeeded, "{:?}", run.last_error());
    assert_eq!(run.attempts, 2);
    assert_eq!(
        rig.sim.calls(ops::REGENERATE_SECRET),
        1,
        "the retry adopted the secret the crashed attempt created"
    );
    assert_rotated_once(&stack, &rig, &f).await;
    assert_no_leak(&stack, &rig, &f, &logs, &run.errors()).await;
}

#[tokio::test]
async fn a_client_without_the_rotation_policy_is_refused_with_how_to_enable_it_and_nothing_changes()
{
    let (logs, _g) = CapturedLogs::install();
    let stack = LocalStack::start();
    let rig = KeycloakRig::start(&stack).await;
    let f = rig.fixture(&stack, false, json!({})).await;
    let conductor = stack.conductor(rig.rotator(&stack, LocalStack::fast_config()));
    let token = conductor.begin(&f.secret_arn).await;
    let before = stack.stages(&f.secret_arn).await;
    let err = conductor
        .invoke(&f.secret_arn, &token, Step::CreateSecret)
        .await
        .unwrap_err();
    assert!(
        err.contains("secret-rotation")
            && err.contains("client policy")
            && err.contains("rotation.cutover"),
        "{err}"
    );
    assert_eq!(rig.sim.calls(ops::REGENERATE_SECRET), 0);
    assert_eq!(
        rig.sim.current_secret(KEYCLOAK_REALM, &f.client_id),
        f.initial_value
    );
    assert_eq!(stack.stages(&f.secret_arn).await, before);
    assert_eq!(
        stack.doc(&f.secret_arn, "AWSCURRENT").await["clientSecret"],
        f.initial_value.as_str()
    );
    assert_no_leak(&stack, &rig, &f, &logs, &[err]).await;
}

#[tokio::test]
async fn an_accepted_cutover_rotates_without_the_policy_and_the_old_secret_stops_working() {
    let stack = LocalStack::start();
    let rig = KeycloakRig::start(&stack).await;
    let f = rig.fixture(&stack, false, json!({"cutover": true})).await;
    let conductor = stack.conductor(rig.rotator(&stack, LocalStack::fast_config()));
    let run = conductor.rotate(&f.secret_arn).await;
    assert!(run.succeeded, "{:?}", run.last_error());
    let value = stack.doc(&f.secret_arn, "AWSCURRENT").await["clientSecret"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(rig.sim.accepts(KEYCLOAK_REALM, &f.client_id, &value));
    assert!(!rig
        .sim
        .accepts(KEYCLOAK_REALM, &f.client_id, &f.initial_value));
}

#[tokio::test]
async fn a_new_secret_keycloak_rejects_fails_test_secret_and_awscurrent_keeps_working() {
    let stack = LocalStack::start();
    let rig = KeycloakRig::start(&stack).await;
    let f = rig.fixture(&stack, true, json!({})).await;
    rig.sim.set_propagation_delay(Duration::from_secs(120));
    let mut config = LocalStack::fast_config();
    config.probe_budget = Duration::from_millis(600);
    let mut conductor = stack.conductor(rig.rotator(&stack, config));
    conductor.max_attempts = 2;
    let run = conductor.rotate(&f.secret_arn).await;
    assert!(!run.succeeded);
    let err = run.last_error().unwrap();
    assert!(err.contains("testSecret failed"), "{err}");
    assert!(run.steps.iter().all(|s| s.step != Step::FinishSecret));
    assert_eq!(
        stack.doc(&f.secret_arn, "AWSCURRENT").await["clientSecret"],
        f.initial_value.as_str()
    );
    assert!(rig
        .sim
        .accepts(KEYCLOAK_REALM, &f.client_id, &f.initial_value));
    assert_eq!(
        rig.sim.calls(ops::REGENERATE_SECRET),
        1,
        "the retry adopted the pending secret instead of regenerating again"
    );
}

#[tokio::test]
async fn propagation_delay_inside_the_probe_budget_passes() {
    let stack = LocalStack::start();
    let rig = KeycloakRig::start(&stack).await;
    let f = rig.fixture(&stack, true, json!({})).await;
    rig.sim.set_propagation_delay(Duration::from_millis(600));
    let conductor = stack.conductor(rig.rotator(&stack, LocalStack::fast_config()));
    let run = conductor.rotate(&f.secret_arn).await;
    assert!(run.succeeded, "{:?}", run.last_error());
    assert_eq!(run.attempts, 1);
    assert!(rig.sim.calls(ops::TOKEN) > 3, "the probe retried");
}

#[tokio::test]
async fn throttled_admin_calls_are_retried_within_the_call() {
    let stack = LocalStack::start();
    let rig = KeycloakRig::start(&stack).await;
    let f = rig.fixture(&stack, true, json!({})).await;
    rig.sim.fail_admin_calls(&[429, 503]);
    let conductor = stack.conductor(rig.rotator(&stack, LocalStack::fast_config()));
    let run = conductor.rotate(&f.secret_arn).await;
    assert!(run.succeeded, "{:?}", run.last_error());
    assert_eq!(run.attempts, 1);
    assert_rotated_once(&stack, &rig, &f).await;
}

#[tokio::test]
async fn an_admin_assertion_keycloak_rejects_is_a_clear_error_and_nothing_changes() {
    let (logs, _g) = CapturedLogs::install();
    let stack = LocalStack::start();
    // The admin client is registered with another key than the rotator's KMS key.
    let rig = KeycloakRig::start(&stack).await;
    let stranger = TestSigner::new();
    rig.sim.register_admin_client(
        "other",
        KEYCLOAK_ADMIN_CLIENT,
        stranger.jwk(),
        &["manage-clients"],
    );
    let f = rig.fixture(&stack, true, json!({})).await;
    let mut admin = rig.admin.clone();
    admin.keycloak.as_mut().unwrap().realm = Some("other".into());
    let rotator = stack.rotator_with_idp(&admin, &[rig.sim.base_url()], LocalStack::fast_config());
    let conductor = stack.conductor(rotator);
    let token = conductor.begin(&f.secret_arn).await;
    let err = conductor
        .invoke(&f.secret_arn, &token, Step::CreateSecret)
        .await
        .unwrap_err();
    assert!(
        err.contains("refused the rotator's admin client")
            && err.contains(KEYCLOAK_ADMIN_CLIENT)
            && err.contains("idp-key jwk"),
        "{err}"
    );
    assert_eq!(rig.sim.calls(ops::REGENERATE_SECRET), 0);
    assert_eq!(
        rig.sim.current_secret(KEYCLOAK_REALM, &f.client_id),
        f.initial_value
    );
    assert_no_leak(&stack, &rig, &f, &logs, &[err]).await;
}

#[tokio::test]
async fn an_admin_client_without_manage_clients_is_told_which_role_it_lacks() {
    let stack = LocalStack::start();
    let rig = KeycloakRig::start_with(&stack, KeySpec::Rsa2048, &["view-clients"]).await;
    let f = rig.fixture(&stack, true, json!({})).await;
    let conductor = stack.conductor(rig.rotator(&stack, LocalStack::fast_config()));
    let token = conductor.begin(&f.secret_arn).await;
    let err = conductor
        .invoke(&f.secret_arn, &token, Step::CreateSecret)
        .await
        .unwrap_err();
    assert!(err.contains("manage-clients"), "{err}");
    assert_eq!(rig.sim.calls(ops::REGENERATE_SECRET), 0);
}

#[tokio::test]
async fn a_second_rotation_keeps_the_first_rotations_secret_as_the_rotated_one() {
    let stack = LocalStack::start();
    let rig = KeycloakRig::start(&stack).await;
    let f = rig.fixture(&stack, true, json!({})).await;
    let conductor = stack.conductor(rig.rotator(&stack, LocalStack::fast_config()));
    assert!(conductor.rotate(&f.secret_arn).await.succeeded);
    let first = stack.doc(&f.secret_arn, "AWSCURRENT").await["clientSecret"]
        .as_str()
        .unwrap()
        .to_string();
    let run = conductor.rotate(&f.secret_arn).await;
    assert!(run.succeeded, "{:?}", run.last_error());
    let second = stack.doc(&f.secret_arn, "AWSCURRENT").await["clientSecret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(first, second);
    assert_eq!(
        rig.sim
            .rotated_secret(KEYCLOAK_REALM, &f.client_id)
            .as_deref(),
        Some(first.as_str())
    );
    assert!(!rig
        .sim
        .accepts(KEYCLOAK_REALM, &f.client_id, &f.initial_value));
    assert_eq!(
        stack.doc(&f.secret_arn, "AWSPREVIOUS").await["clientSecret"],
        first.as_str()
    );
}

#[tokio::test]
async fn an_admin_assertion_keycloak_sees_as_expired_is_a_clear_error_and_nothing_changes() {
    let (logs, _g) = CapturedLogs::install();
    let stack = LocalStack::start();
    let rig = KeycloakRig::start(&stack).await;
    let f = rig.fixture(&stack, true, json!({})).await;
    // Keycloak's clock runs an hour ahead: the 5-minute assertion is long expired there.
    rig.sim.set_clock_ahead(Duration::from_secs(3600));
    let conductor = stack.conductor(rig.rotator(&stack, LocalStack::fast_config()));
    let token = conductor.begin(&f.secret_arn).await;
    let before = stack.stages(&f.secret_arn).await;
    let err = conductor
        .invoke(&f.secret_arn, &token, Step::CreateSecret)
        .await
        .unwrap_err();
    assert!(
        err.contains("refused the rotator's admin client") && err.contains("invalid_client"),
        "{err}"
    );
    assert_eq!(rig.sim.admin_tokens_issued(), 0);
    assert_eq!(rig.sim.calls(ops::REGENERATE_SECRET), 0);
    assert_eq!(stack.stages(&f.secret_arn).await, before);
    assert_eq!(
        rig.sim.current_secret(KEYCLOAK_REALM, &f.client_id),
        f.initial_value
    );
    assert_no_leak(&stack, &rig, &f, &logs, &[err]).await;
}
