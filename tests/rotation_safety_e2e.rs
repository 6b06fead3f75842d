//! Regression tests for the rotation-safety review (issue #14), on the local stack: moto, the
//! Cognito simulator, the real handler driven by the conductor. Each fails on the code before
//! the fix; the comment above each says what the old code did.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use agentcore_rotator::event::Step;
use agentcore_rotator::rotation::binding::BINDING_TAG;
use agentcore_rotator_testkit::faulty_store::{Call, FaultyStore};
use agentcore_rotator_testkit::stack::{CognitoFixture, LocalStack};
use serde_json::{json, Value};

/// Secret ids live at the IdP, sorted.
fn live(stack: &LocalStack, f: &CognitoFixture) -> Vec<String> {
    let mut ids = stack.cognito.secret_ids(&f.pool_id, &f.client_id);
    ids.sort();
    ids
}

// ------------------------------------------------------------------ 1. binding

/// Before: the user pool and client came from the document alone; the owner of any in-scope
/// secret could point it at another team's client, rotate, and read a secret that client
/// accepts from their own AWSCURRENT (and the capacity rule deleted the victim's other secret).
#[tokio::test]
async fn a_document_pointing_at_another_teams_client_is_refused_and_the_victim_is_untouched() {
    let stack = LocalStack::start();
    let f = stack.cognito_fixture(json!({})).await;
    let (victim, _, victim_value) = stack.cognito.create_client(&f.pool_id, &["agents/invoke"]);
    let victim_before = stack.cognito.secret_ids(&f.pool_id, &victim);
    // The attacker may write versions of their own secret, not read or tag it.
    let mut doc = stack.doc(&f.secret_arn, "AWSCURRENT").await;
    doc["clientId"] = json!(victim);
    doc["clientSecretId"] = Value::Null;
    stack.put_current(&f.secret_arn, &doc).await;
    let current_before = stack.version_with(&f.secret_arn, "AWSCURRENT").await;

    let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
    let run = conductor.rotate(&f.secret_arn).await;
    assert!(!run.succeeded);
    let err = run.last_error().unwrap();
    assert!(err.contains(BINDING_TAG), "{err}");
    assert!(
        err.contains(&format!("cognito:{}/{}", f.pool_id, f.client_id)),
        "{err}"
    );
    assert!(
        err.contains(&format!("cognito:{}/{victim}", f.pool_id)),
        "{err}"
    );
    assert_eq!(stack.cognito.secret_ids(&f.pool_id, &victim), victim_before);
    assert_eq!(stack.cognito.calls("AddUserPoolClientSecret"), 0);
    assert_eq!(stack.cognito.calls("DeleteUserPoolClientSecret"), 0);
    assert_eq!(
        stack.version_with(&f.secret_arn, "AWSCURRENT").await,
        current_before
    );
    assert!(stack.cognito.accepts(&victim, &victim_value));
    // Nothing the attacker can read holds a value the victim client accepts.
    for value in stack.client_secret_values(&f).await {
        assert!(!stack.cognito.accepts(&victim, &value) || value == victim_value);
    }
}

#[tokio::test]
async fn an_unbound_secret_is_refused_with_the_command_that_binds_it_and_nothing_changes() {
    let stack = LocalStack::start();
    let f = stack.cognito_fixture(json!({})).await;
    stack
        .sm
        .untag_resource()
        .secret_id(&f.secret_arn)
        .tag_keys(BINDING_TAG)
        .send()
        .await
        .unwrap();
    let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
    let run = conductor.rotate(&f.secret_arn).await;
    assert!(!run.succeeded);
    let err = run.last_error().unwrap();
    assert!(
        err.contains("tag-resource") && err.contains(BINDING_TAG),
        "{err}"
    );
    assert_eq!(stack.cognito.calls("ListUserPoolClientSecrets"), 0);
    assert_eq!(live(&stack, &f), vec![f.initial_secret_id.clone()]);
}

// ------------------------------------------------------------------ 2. capacity evidence

/// Before: a failed read of AWSPREVIOUS (`.ok().flatten()`) became "no previous version", and
/// its upstream secret was deleted as an orphan inside its grace period.
#[tokio::test]
async fn a_throttled_read_of_awsprevious_never_turns_its_secret_into_an_orphan() {
    let stack = LocalStack::start();
    let f = stack
        .cognito_fixture(json!({"rotation": {"gracePeriodHours": 1}}))
        .await;
    // Someone rotated by hand: a second secret upstream, and a new AWSCURRENT naming it,
    // created just now (grace period running for the initial secret, now AWSPREVIOUS).
    let manual_value = "manually_rotated_secret_value_0001";
    let manual = stack
        .cognito
        .add_secret_out_of_band(&f.pool_id, &f.client_id, manual_value);
    let mut doc = stack.doc(&f.secret_arn, "AWSCURRENT").await;
    doc["clientSecret"] = json!(manual_value);
    doc["clientSecretId"] = json!(manual);
    doc["rotationState"] = json!({
        "upstreamIdsBefore": [f.initial_secret_id],
        "createdAt": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
    });
    stack.put_current(&f.secret_arn, &doc).await;

    let store = FaultyStore::new(
        stack.store(),
        |call| matches!(call, Call::Get(v) if v.ends_with("AWSPREVIOUS")),
    );
    let mut conductor =
        stack.conductor(stack.rotator_over(store.clone(), LocalStack::fast_config()));
    conductor.max_attempts = 1;
    let run = conductor.rotate(&f.secret_arn).await;
    assert!(!run.succeeded);
    assert!(
        run.last_error().unwrap().contains("Throttling"),
        "{:?}",
        run.last_error()
    );
    assert!(store
        .calls()
        .iter()
        .any(|(c, failed)| *failed && matches!(c, Call::Get(_))));
    assert!(
        live(&stack, &f).contains(&f.initial_secret_id),
        "AWSPREVIOUS's secret kept"
    );
    assert_eq!(stack.cognito.calls("DeleteUserPoolClientSecret"), 0);

    // Once the read works, the grace period is what stops the rotation.
    let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
    let retry = conductor
        .run_steps(&f.secret_arn, &run.token, Default::default())
        .await;
    assert!(!retry.succeeded);
    assert!(
        retry.last_error().unwrap().contains("grace period"),
        "{:?}",
        retry.last_error()
    );
    assert!(live(&stack, &f).contains(&f.initial_secret_id));
    assert!(stack.cognito.accepts(&f.client_id, manual_value));
}

/// Before: a wrong or stale `clientSecretId` made AWSCURRENT's lineage "absent", and the oldest
/// live secret — AWSCURRENT's own — was deleted as an orphan.
#[tokio::test]
async fn a_stale_client_secret_id_at_the_cap_removes_nothing_and_awscurrent_keeps_working() {
    let stack = LocalStack::start();
    let f = stack
        .cognito_fixture(json!({"clientSecretId": "cs-stale-not-live-0001"}))
        .await;
    stack.cognito.add_secret_out_of_band(
        &f.pool_id,
        &f.client_id,
        "someone_elses_secret_value_00001",
    );
    let before = live(&stack, &f);
    let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
    let run = conductor.rotate(&f.secret_arn).await;
    assert!(!run.succeeded);
    let err = run.last_error().unwrap();
    assert!(
        err.contains("nothing is removed") && err.contains("set clientSecretId"),
        "{err}"
    );
    assert_eq!(live(&stack, &f), before);
    assert!(stack.cognito.accepts(&f.client_id, &f.initial_value));
    assert_eq!(stack.cognito.calls("DeleteUserPoolClientSecret"), 0);
}

/// Before: any live secret no version matched was deleted first ("orphan") — including a
/// secret someone else added at the IdP and uses.
#[tokio::test]
async fn a_secret_no_version_accounts_for_is_never_removed_and_the_error_names_it() {
    let stack = LocalStack::start();
    let f = stack.cognito_fixture(json!({})).await;
    let foreign = stack.cognito.add_secret_out_of_band(
        &f.pool_id,
        &f.client_id,
        "someone_elses_secret_value_00002",
    );
    let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
    let run = conductor.rotate(&f.secret_arn).await;
    assert!(!run.succeeded);
    let err = run.last_error().unwrap();
    assert!(
        err.contains(&foreign) && err.contains("no version of this secret accounts for"),
        "{err}"
    );
    assert!(live(&stack, &f).contains(&foreign));
    assert!(stack.cognito.accepts(&f.client_id, &f.initial_value));
    // Removed by its owner, the rotation goes through.
    stack
        .cognito
        .revoke_out_of_band(&f.pool_id, &f.client_id, &foreign);
    let retry = conductor
        .run_steps(&f.secret_arn, &run.token, Default::default())
        .await;
    assert!(retry.succeeded, "{:?}", retry.last_error());
}

// ------------------------------------------------------------------ 4. abandoned rotations

/// Before: after setSecret and an abandoned rotation, AWSCURRENT matched two live secrets,
/// every later rotation failed "cannot tell which" and the abandoned secret stayed live.
#[tokio::test]
async fn an_abandoned_rotation_does_not_block_the_next_and_its_secret_is_removed() {
    let stack = LocalStack::start();
    let f = stack.cognito_fixture(json!({})).await;
    let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
    // A first rotation, so AWSCURRENT's document names no clientSecretId.
    assert!(conductor.rotate(&f.secret_arn).await.succeeded);
    let current = stack.doc(&f.secret_arn, "AWSCURRENT").await;
    let current_value = current["clientSecret"].as_str().unwrap().to_string();

    // A second rotation gets through setSecret, then is abandoned: the operator cancels it and
    // removes AWSPENDING from its version, as Secrets Manager's troubleshooting guide says.
    let abandoned = conductor.begin(&f.secret_arn).await;
    for step in [Step::CreateSecret, Step::SetSecret] {
        conductor
            .invoke(&f.secret_arn, &abandoned, step)
            .await
            .unwrap();
    }
    let abandoned_value = stack.doc(&f.secret_arn, "AWSPENDING").await["clientSecret"]
        .as_str()
        .unwrap()
        .to_string();
    stack
        .sm
        .update_secret_version_stage()
        .secret_id(&f.secret_arn)
        .version_stage("AWSPENDING")
        .remove_from_version_id(&abandoned)
        .send()
        .await
        .unwrap();
    assert!(stack.cognito.accepts(&f.client_id, &abandoned_value));

    let next = conductor.rotate(&f.secret_arn).await;
    assert!(next.succeeded, "{:?}", next.last_error());
    assert!(
        !stack.cognito.accepts(&f.client_id, &abandoned_value),
        "abandoned secret removed"
    );
    assert!(
        stack.cognito.accepts(&f.client_id, &current_value),
        "AWSPREVIOUS's kept"
    );
    let new_current = stack.doc(&f.secret_arn, "AWSCURRENT").await;
    assert!(stack
        .cognito
        .accepts(&f.client_id, new_current["clientSecret"].as_str().unwrap()));
    assert_eq!(live(&stack, &f).len(), 2);
    assert_eq!(
        new_current["rotationState"]["leftoverUpstreamIds"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

// ------------------------------------------------------------------ 5. document integers

/// Before: `gracePeriodHours * 3600` overflowed (a panic in debug builds, a wrap in release).
#[tokio::test]
async fn an_overflowing_grace_period_is_a_clear_error_and_changes_nothing() {
    let stack = LocalStack::start();
    let f = stack
        .cognito_fixture(json!({"rotation": {"gracePeriodHours": u64::MAX}}))
        .await;
    let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
    let before = stack.stages(&f.secret_arn).await;
    let token = conductor.begin(&f.secret_arn).await;
    let err = conductor
        .invoke(&f.secret_arn, &token, Step::CreateSecret)
        .await
        .unwrap_err();
    assert!(err.contains("rotation.gracePeriodHours"), "{err}");
    assert_eq!(
        stack.stages(&f.secret_arn).await.len(),
        before.len() + 1,
        "only the placeholder"
    );
    assert_eq!(stack.cognito.calls("ListUserPoolClientSecrets"), 0);
}

// ------------------------------------------------------------------ 6. the document's endpoint

/// A loopback listener that counts the connections it accepts (and answers none).
async fn counting_listener() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (origin, accepted)
}

/// Before: `rotation.tokenEndpoint` / `rotation.issuer` could be any URL, and testSecret sent
/// the freshly generated client secret there. A principal allowed to write a version (but not to
/// read it) received the next client secret at the next rotation.
#[tokio::test]
async fn a_document_naming_a_token_endpoint_outside_the_allowlist_sends_nothing_and_promotes_nothing(
) {
    let stack = LocalStack::start();
    for field in ["tokenEndpoint", "issuer"] {
        let (origin, accepted) = counting_listener().await;
        let url = format!("{origin}/oauth2/token");
        let f = stack
            .cognito_fixture(json!({"rotation": {field: url}}))
            .await;
        let before = stack.version_with(&f.secret_arn, "AWSCURRENT").await;
        let mut conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
        conductor.max_attempts = 1;
        let run = conductor.rotate(&f.secret_arn).await;
        assert!(!run.succeeded);
        let err = run.last_error().unwrap();
        assert!(err.contains(&format!("rotation.{field}")), "{err}");
        assert!(
            err.contains(stack.cognito.endpoint()),
            "the allowlist is printed: {err}"
        );
        assert!(
            run.steps.iter().all(|s| s.step != Step::FinishSecret),
            "{:?}",
            run.steps
        );
        assert_eq!(accepted.load(Ordering::SeqCst), 0, "{field}: nothing sent");
        assert_eq!(
            stack.version_with(&f.secret_arn, "AWSCURRENT").await,
            before
        );
        for value in stack.client_secret_values(&f).await {
            assert!(!err.contains(&value));
        }
    }
}
