//! Microsoft Entra ID end to end on the local stack: moto (Secrets Manager) behind the testkit's
//! outbound-federation front (STS `GetWebIdentityToken`), the Entra simulator, the production IdP
//! wiring (the management app signs in with an AWS-signed token through a federated identity
//! credential), and the real handler driven by the conductor.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use agentcore_rotator::event::Step;
use agentcore_rotator_testkit::conductor::FaultPlan;
use agentcore_rotator_testkit::faulty_store::{Call, FaultyStore};
use agentcore_rotator_testkit::idp::entra::ops;
use agentcore_rotator_testkit::idp::rig::{EntraFixture, EntraRig, ENTRA_TENANT};
use agentcore_rotator_testkit::stack::LocalStack;
use common::CapturedLogs;
use serde_json::json;

async fn assert_no_leak(
    stack: &LocalStack,
    rig: &EntraRig,
    f: &EntraFixture,
    logs: &CapturedLogs,
    errors: &[String],
) {
    let mut values = stack.stored_secret_values(&f.secret_arn, &[]).await;
    values.extend(rig.sim.secret_values(ENTRA_TENANT, &f.app_id));
    common::assert_no_leak(logs, &values, errors);
}

fn key_ids(rig: &EntraRig, f: &EntraFixture) -> Vec<String> {
    rig.sim
        .passwords(ENTRA_TENANT, &f.app_id)
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

/// After one rotation: AWSCURRENT holds the password Entra generated (with its keyId and our
/// label), the portal password is AWSPREVIOUS and still accepted.
async fn assert_rotated_once(stack: &LocalStack, rig: &EntraRig, f: &EntraFixture, token: &str) {
    let current = stack.doc(&f.secret_arn, "AWSCURRENT").await;
    let value = current["clientSecret"].as_str().unwrap();
    assert_ne!(value, f.initial_value);
    let key_id = current["clientSecretId"].as_str().unwrap();
    let passwords = rig.sim.passwords(ENTRA_TENANT, &f.app_id);
    let ours = passwords.iter().find(|(id, _)| id == key_id).expect("live");
    assert_eq!(
        ours.1.as_deref(),
        Some(format!("agentcore-rotator {token}").as_str())
    );
    assert_eq!(current["description"], "research agent outbound client");
    assert_eq!(
        stack.doc(&f.secret_arn, "AWSPREVIOUS").await["clientSecret"],
        f.initial_value.as_str()
    );
    assert!(rig.sim.accepts(ENTRA_TENANT, &f.app_id, value));
    assert!(rig.sim.accepts(ENTRA_TENANT, &f.app_id, &f.initial_value));
    assert_eq!(passwords.len(), 2, "{passwords:?}");
}

#[tokio::test]
async fn a_full_rotation_adds_an_entra_password_signed_in_by_aws_federation() {
    let (logs, _g) = CapturedLogs::install();
    let stack = LocalStack::start();
    let rig = EntraRig::start(&stack);
    let f = rig.fixture(&stack, json!({})).await;
    let conductor = stack.conductor(rig.rotator(&stack, LocalStack::fast_config()));
    let run = conductor.rotate(&f.secret_arn).await;
    assert!(run.succeeded, "{:?}", run.last_error());
    assert_eq!(run.attempts, 1);
    assert_rotated_once(&stack, &rig, &f, &run.token).await;
    assert_eq!(rig.sim.calls(ops::ADD_PASSWORD), 1);
    assert_eq!(
        rig.sim.admin_tokens_issued(),
        1,
        "one management token, cached"
    );
    let issued = rig.federation.issued();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0]["aud"], "api://AzureADTokenExchange");
    assert_eq!(
        issued[0]["exp"].as_u64().unwrap() - issued[0]["iat"].as_u64().unwrap(),
        300
    );
    assert_no_leak(&stack, &rig, &f, &logs, &run.errors()).await;
}

#[tokio::test]
async fn every_step_twice_adds_once() {
    let (logs, _g) = CapturedLogs::install();
    let stack = LocalStack::start();
    let rig = EntraRig::start(&stack);
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
    assert_eq!(run.steps[1].result.as_deref(), Ok("already-done"));
    assert_rotated_once(&stack, &rig, &f, &run.token).await;
    assert_eq!(rig.sim.calls(ops::ADD_PASSWORD), 1);
    assert_no_leak(&stack, &rig, &f, &logs, &run.errors()).await;
}

#[tokio::test]
async fn a_crash_after_any_step_is_recovered_by_retrying_the_whole_sequence() {
    let (logs, _g) = CapturedLogs::install();
    let stack = LocalStack::start();
    let rig = EntraRig::start(&stack);
    for step in Step::ALL {
        let f = rig.fixture(&stack, json!({})).await;
        let before = rig.sim.calls(ops::ADD_PASSWORD);
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
        assert_rotated_once(&stack, &rig, &f, &run.token).await;
        assert_eq!(
            rig.sim.calls(ops::ADD_PASSWORD) - before,
            1,
            "{step}: one add"
        );
        assert_no_leak(&stack, &rig, &f, &logs, &run.errors()).await;
    }
}

#[tokio::test]
async fn a_crash_between_addpassword_and_the_store_removes_the_lost_password_and_adds_another() {
    let (logs, _g) = CapturedLogs::install();
    let stack = LocalStack::start();
    let rig = EntraRig::start(&stack);
    let f = rig.fixture(&stack, json!({})).await;
    let failed = Arc::new(AtomicBool::new(false));
    let once = failed.clone();
    let store = FaultyStore::new(stack.store(), move |call| {
        matches!(call, Call::Put) && !once.swap(true, Ordering::SeqCst)
    });
    let conductor = stack.conductor(rig.rotator_over(&stack, store, LocalStack::fast_config()));
    let run = conductor.rotate(&f.secret_arn).await;
    assert!(failed.load(Ordering::SeqCst));
    assert!(run.succeeded, "{:?}", run.last_error());
    assert_eq!(run.attempts, 2);
    assert_eq!(
        rig.sim.calls(ops::ADD_PASSWORD),
        2,
        "the lost value cannot be read back"
    );
    assert_eq!(
        rig.sim.calls(ops::REMOVE_PASSWORD),
        1,
        "the unrecorded password was removed"
    );
    assert_rotated_once(&stack, &rig, &f, &run.token).await;
    assert_no_leak(&stack, &rig, &f, &logs, &run.errors()).await;
}

#[tokio::test]
async fn app_management_policies_are_named_and_nothing_changes() {
    let (logs, _g) = CapturedLogs::install();
    let stack = LocalStack::start();
    let rig = EntraRig::start(&stack);
    for (policy, block) in [("passwordAddition", true), ("passwordLifetime", false)] {
        let f = rig.fixture(&stack, json!({})).await;
        if block {
            rig.sim
                .set_password_addition_blocked(ENTRA_TENANT, &f.app_id, true);
        } else {
            rig.sim.set_max_password_lifetime(
                ENTRA_TENANT,
                &f.app_id,
                Some(Duration::from_secs(86_400)),
            );
        }
        let conductor = stack.conductor(rig.rotator(&stack, LocalStack::fast_config()));
        let token = conductor.begin(&f.secret_arn).await;
        let before = stack.stages(&f.secret_arn).await;
        let err = conductor
            .invoke(&f.secret_arn, &token, Step::CreateSecret)
            .await
            .unwrap_err();
        assert!(
            err.contains(policy) && err.contains("app management policy"),
            "{err}"
        );
        assert_eq!(stack.stages(&f.secret_arn).await, before);
        assert_eq!(key_ids(&rig, &f), vec![f.initial_key_id.clone()]);
        assert_no_leak(&stack, &rig, &f, &logs, &[err]).await;
    }
}

#[tokio::test]
async fn propagation_delay_inside_the_budget_passes_and_beyond_it_awscurrent_keeps_working() {
    let stack = LocalStack::start();
    let rig = EntraRig::start(&stack);
    let f = rig.fixture(&stack, json!({})).await;
    rig.sim.set_propagation_delay(Duration::from_millis(600));
    let conductor = stack.conductor(rig.rotator(&stack, LocalStack::fast_config()));
    let run = conductor.rotate(&f.secret_arn).await;
    assert!(run.succeeded, "{:?}", run.last_error());

    let g = rig.fixture(&stack, json!({})).await;
    rig.sim.set_propagation_delay(Duration::from_secs(120));
    let mut config = LocalStack::fast_config();
    config.probe_budget = Duration::from_millis(600);
    let mut conductor = stack.conductor(rig.rotator(&stack, config));
    conductor.max_attempts = 2;
    let run = conductor.rotate(&g.secret_arn).await;
    assert!(!run.succeeded);
    assert!(run.last_error().unwrap().contains("invalid_client"));
    assert_eq!(
        stack.doc(&g.secret_arn, "AWSCURRENT").await["clientSecret"],
        g.initial_value.as_str()
    );
    assert!(rig.sim.accepts(ENTRA_TENANT, &g.app_id, &g.initial_value));
    assert_eq!(
        rig.sim.calls(ops::ADD_PASSWORD),
        2,
        "the retry did not add another"
    );
}

#[tokio::test]
async fn a_federated_assertion_entra_rejects_is_a_clear_error_and_nothing_changes() {
    let (logs, _g) = CapturedLogs::install();
    let stack = LocalStack::start();
    let rig = EntraRig::start(&stack);
    let f = rig.fixture(&stack, json!({})).await;
    // The function runs under another role than the federated credential names.
    rig.federation
        .set_subject("arn:aws:iam::123456789012:role/someone-else");
    let conductor = stack.conductor(rig.rotator(&stack, LocalStack::fast_config()));
    let token = conductor.begin(&f.secret_arn).await;
    let before = stack.stages(&f.secret_arn).await;
    let err = conductor
        .invoke(&f.secret_arn, &token, Step::CreateSecret)
        .await
        .unwrap_err();
    assert!(
        err.contains("refused the rotator's admin client")
            && err.contains(&rig.management_app)
            && err.contains("700213"),
        "{err}"
    );
    assert_eq!(rig.sim.calls(ops::ADD_PASSWORD), 0);
    assert_eq!(stack.stages(&f.secret_arn).await, before);
    assert_no_leak(&stack, &rig, &f, &logs, &[err]).await;
}

#[tokio::test]
async fn outbound_federation_disabled_says_how_to_enable_it() {
    let stack = LocalStack::start();
    let rig = EntraRig::start(&stack);
    let f = rig.fixture(&stack, json!({})).await;
    rig.federation.set_enabled(false);
    let conductor = stack.conductor(rig.rotator(&stack, LocalStack::fast_config()));
    let token = conductor.begin(&f.secret_arn).await;
    let err = conductor
        .invoke(&f.secret_arn, &token, Step::CreateSecret)
        .await
        .unwrap_err();
    assert!(
        err.contains("enable-outbound-web-identity-federation"),
        "{err}"
    );
    assert_eq!(rig.sim.calls(ops::TOKEN), 0, "nothing sent to Entra");
}

#[tokio::test]
async fn an_application_the_management_app_does_not_own_is_refused_with_what_to_grant() {
    let stack = LocalStack::start();
    let rig = EntraRig::start(&stack);
    let f = rig.fixture(&stack, json!({})).await;
    let (_, stranger) = rig.sim.create_application(ENTRA_TENANT, "not owned");
    let doc = json!({
        "clientId": stranger,
        "clientSecret": "whatever-0123456789",
        "rotation": {"idp": "entra", "tenantId": ENTRA_TENANT, "scopes": ["https://graph.microsoft.com/.default"]}
    });
    let arn = stack.bound_secret(&doc).await;
    let conductor = stack.conductor(rig.rotator(&stack, LocalStack::fast_config()));
    let token = conductor.begin(&arn).await;
    let err = conductor
        .invoke(&arn, &token, Step::CreateSecret)
        .await
        .unwrap_err();
    assert!(
        err.contains("Application.ReadWrite.OwnedBy") && err.contains("owner"),
        "{err}"
    );
    let _ = f;
}

#[tokio::test]
async fn a_second_rotation_after_the_grace_period_removes_the_superseded_password() {
    let stack = LocalStack::start();
    let rig = EntraRig::start(&stack);
    let f = rig.fixture(&stack, json!({})).await;
    let conductor = stack.conductor(rig.rotator(&stack, LocalStack::fast_config()));
    assert!(conductor.rotate(&f.secret_arn).await.succeeded);
    let first = stack.doc(&f.secret_arn, "AWSCURRENT").await["clientSecret"]
        .as_str()
        .unwrap()
        .to_string();
    let run = conductor.rotate(&f.secret_arn).await;
    assert!(run.succeeded, "{:?}", run.last_error());
    assert!(!rig.sim.accepts(ENTRA_TENANT, &f.app_id, &f.initial_value));
    assert!(rig.sim.accepts(ENTRA_TENANT, &f.app_id, &first));
    assert_eq!(key_ids(&rig, &f).len(), 2);
}

#[tokio::test]
async fn a_password_lost_by_an_abandoned_rotation_is_removed_by_the_next_one() {
    let stack = LocalStack::start();
    let rig = EntraRig::start(&stack);
    let f = rig.fixture(&stack, json!({})).await;
    let store = FaultyStore::new(stack.store(), |call| matches!(call, Call::Put));
    let crashing = stack.conductor(rig.rotator_over(&stack, store, LocalStack::fast_config()));
    let abandoned = crashing.begin(&f.secret_arn).await;
    crashing
        .invoke(&f.secret_arn, &abandoned, Step::CreateSecret)
        .await
        .unwrap_err();
    assert_eq!(key_ids(&rig, &f).len(), 2, "the lost password is live");
    // An operator gives up on that rotation (cancel-rotate-secret, then removes AWSPENDING).
    stack
        .sm
        .update_secret_version_stage()
        .secret_id(&f.secret_arn)
        .version_stage("AWSPENDING")
        .remove_from_version_id(&abandoned)
        .send()
        .await
        .unwrap();
    let conductor = stack.conductor(rig.rotator(&stack, LocalStack::fast_config()));
    let run = conductor.rotate(&f.secret_arn).await;
    assert!(run.succeeded, "{:?}", run.last_error());
    assert_eq!(rig.sim.calls(ops::REMOVE_PASSWORD), 1);
    assert_rotated_once(&stack, &rig, &f, &run.token).await;
}
