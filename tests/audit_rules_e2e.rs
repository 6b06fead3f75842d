//! Audit rules that the unit tests only see as hand-made snapshots, end to end on the local
//! stack: UPS-001 after a rotation, UPS-002, UPS-003, UPS-004 (the opt-in token probe), UPS-005,
//! SEC-002, SEC-003, SEC-005 and REF-012. Each test builds a real setup (moto, the Cognito simulator through the real Cognito
//! API, the AgentCore emulator, rotations by the conductor), runs the `Auditor` and checks that
//! the rule names the broken resource and stays quiet on a healthy rotated secret.
//!
//! What this stack cannot reach, and what is tested instead:
//! - SEC-003's overdue branch (NextRotationDate more than a day ago) cannot fire here: moto
//!   stamps NextRotationDate from its own clock (now + AutomaticallyAfterDays) and cannot move it.
//!   The stray-AWSPENDING branch fires with `ROTATOR_AUDIT_PENDING_STALE_MINUTES` at 0.
//! - UPS-002 cannot be reached through the Cognito API: Cognito caps an app client at two
//!   secrets and the rule allows `min(cap, model)` = 2, so the IdP refuses the third secret the
//!   rule needs (the test shows the refusal). The extra secret is added with the simulator's
//!   out-of-band hook, a state real Cognito does not produce; the rule matters for IdPs without
//!   that cap.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use agentcore_rotator::audit::engine::Collected;
use agentcore_rotator::audit::{AuditConfig, Trigger};
use agentcore_rotator::aws::call_counter::CallCounter;
use agentcore_rotator::event::Step;
use agentcore_rotator::findings::Finding;
use agentcore_rotator::rotation::binding::BINDING_TAG;
use agentcore_rotator_testkit::providers::provider_arn;
use agentcore_rotator_testkit::stack::{CognitoFixture, LocalStack};
use aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata;
use serde_json::{json, Value};

use common::CapturedLogs;

/// The rules this file covers; a healthy rotated secret raises none of them.
const RULES: [&str; 8] = [
    "UPS-002", "UPS-003", "UPS-004", "UPS-005", "SEC-002", "SEC-003", "SEC-005", "REF-012",
];

/// The provider of the healthy counterpart in every test.
const HEALTHY: &str = "healthy";

// ---------------------------------------------------------------------------------------------
// Setup

/// A Cognito client and its secret document (merged with `patch`), readable by AgentCore and
/// rotated once by the real rotator.
async fn rotated(stack: &LocalStack, patch: Value) -> CognitoFixture {
    let f = stack.cognito_fixture(patch).await;
    stack.allow_agentcore(&f.secret_arn).await;
    let run = stack
        .conductor(stack.rotator(LocalStack::fast_config()))
        .rotate(&f.secret_arn)
        .await;
    assert!(run.succeeded, "{:?}", run.last_error());
    f
}

/// The healthy counterpart: rotated, inside a 24 h grace period, with provider [`HEALTHY`]
/// naming the document's client.
async fn healthy(stack: &LocalStack) -> CognitoFixture {
    let f = rotated(stack, json!({"rotation": {"gracePeriodHours": 24}})).await;
    stack
        .external_oauth2(HEALTHY, &f, &f.client_id, "clientSecret")
        .await;
    f
}

/// The upstream-client resource the UPS rules name.
fn upstream_client(f: &CognitoFixture, client_id: &str) -> String {
    format!("cognito:{}/{client_id}", f.pool_id)
}

/// The real Cognito client, pointed at the simulator as the product's is.
fn cognito_api(stack: &LocalStack) -> aws_sdk_cognitoidentityprovider::Client {
    aws_sdk_cognitoidentityprovider::Client::new(&stack.cognito_sdk_config())
}

async fn live_ids(
    idp: &aws_sdk_cognitoidentityprovider::Client,
    f: &CognitoFixture,
) -> Vec<String> {
    idp.list_user_pool_client_secrets()
        .user_pool_id(&f.pool_id)
        .client_id(&f.client_id)
        .send()
        .await
        .expect("ListUserPoolClientSecrets")
        .client_secrets()
        .iter()
        .filter_map(|s| s.client_secret_id().map(str::to_string))
        .collect()
}

async fn delete_upstream(
    idp: &aws_sdk_cognitoidentityprovider::Client,
    f: &CognitoFixture,
    secret_id: &str,
) {
    idp.delete_user_pool_client_secret()
        .user_pool_id(&f.pool_id)
        .client_id(&f.client_id)
        .client_secret_id(secret_id)
        .send()
        .await
        .expect("DeleteUserPoolClientSecret");
}

// ---------------------------------------------------------------------------------------------
// Audit and assertions

/// The active findings of one full audit.
struct Findings(Vec<Finding>);

/// A full audit of the stack (every provider of this stack's emulator) with `config`.
async fn audit(stack: &LocalStack, config: AuditConfig) -> Findings {
    audit_by(stack, config, json!({})).await.0
}

/// An audit of the stack started by `trigger`: its active findings and the Secrets Manager, KMS
/// Lambda and AgentCore calls it made, by operation.
async fn audit_by(
    stack: &LocalStack,
    config: AuditConfig,
    trigger: Value,
) -> (Findings, BTreeMap<String, u64>) {
    let out = Arc::new(Collected::default());
    let counter = CallCounter::new();
    let auditor = stack
        .auditor(out.clone(), config, Some(&counter))
        .with_upstreams(Arc::new(stack.upstreams()))
        .with_meter(Arc::new(counter));
    let outcome = auditor
        .run(&Trigger::parse(&trigger).unwrap(), None)
        .await
        .expect("audit");
    let calls = outcome.summary().api_calls.clone();
    (
        Findings(out.take().into_iter().filter(Finding::is_active).collect()),
        calls,
    )
}

impl Findings {
    /// The finding of `rule` that names `resource`, if any.
    fn of(&self, rule: &str, resource: &str) -> Option<&Finding> {
        self.0.iter().find(|f| {
            f.rule_id() == rule && f.resources().iter().any(|r| r.arn_or_id() == resource)
        })
    }

    /// The finding of `rule` naming every one of `resources`; panics with the whole list if none.
    fn expect(&self, rule: &str, resources: &[&str]) -> &Finding {
        self.0
            .iter()
            .find(|f| {
                f.rule_id() == rule
                    && resources
                        .iter()
                        .all(|want| f.resources().iter().any(|r| r.arn_or_id() == *want))
            })
            .unwrap_or_else(|| panic!("no {rule} naming {resources:?}; findings: {self}"))
    }

    fn assert_quiet(&self, rules: &[&str], resource: &str) {
        for rule in rules {
            if let Some(f) = self.of(rule, resource) {
                panic!("{rule} fired on {resource}: {}", f.description());
            }
        }
    }

    /// None of `rules` names the healthy secret or its provider.
    fn assert_healthy_quiet(&self, rules: &[&str], healthy: &CognitoFixture) {
        self.assert_quiet(rules, &healthy.secret_arn);
        self.assert_quiet(rules, &provider_arn(HEALTHY));
    }

    /// No finding carries any of `values`.
    fn assert_free_of(&self, values: &[String]) {
        for f in &self.0 {
            for v in values {
                assert!(
                    !f.description().contains(v.as_str()) && !f.title().contains(v.as_str()),
                    "{} carries a secret value",
                    f.rule_id()
                );
            }
        }
    }
}

impl std::fmt::Display for Findings {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for f in &self.0 {
            let names: Vec<&str> = f.resources().iter().map(|r| r.arn_or_id()).collect();
            writeln!(out, "\n  {} {names:?}", f.rule_id())?;
        }
        Ok(())
    }
}

fn check_logs(logs: &CapturedLogs, values: &[String]) {
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    logs.assert_free_of(&refs);
}

// ---------------------------------------------------------------------------------------------
// UPS-002

#[tokio::test]
async fn ups_002_fires_when_the_client_has_more_live_secrets_than_the_model_and_clears_once_deleted(
) {
    let (logs, _guard) = CapturedLogs::install();
    let stack = LocalStack::start();
    let healthy = healthy(&stack).await;
    let crowded = rotated(&stack, json!({"rotation": {"gracePeriodHours": 24}})).await;
    stack
        .external_oauth2("crowded", &crowded, &crowded.client_id, "clientSecret")
        .await;
    let idp = cognito_api(&stack);
    assert_eq!(
        live_ids(&idp, &crowded).await.len(),
        2,
        "AWSPREVIOUS's and AWSCURRENT's"
    );

    // Cognito itself refuses a third secret ...
    let refused = idp
        .add_user_pool_client_secret()
        .user_pool_id(&crowded.pool_id)
        .client_id(&crowded.client_id)
        .send()
        .await
        .expect_err("a third secret through the Cognito API");
    assert_eq!(refused.code(), Some("LimitExceededException"));
    // ... so it arrives out of band (see the note at the top of the file).
    let extra_value = "ExtraSecretAddedElsewhere_0123456789";
    let extra =
        stack
            .cognito
            .add_secret_out_of_band(&crowded.pool_id, &crowded.client_id, extra_value);

    let findings = audit(&stack, AuditConfig::default()).await;
    let f = findings.expect(
        "UPS-002",
        &[
            &crowded.secret_arn,
            &upstream_client(&crowded, &crowded.client_id),
        ],
    );
    assert!(
        f.description().contains("3 live secrets"),
        "{}",
        f.description()
    );
    findings.assert_healthy_quiet(&RULES, &healthy);

    // Deleting the extra one at the IdP is the fix: the next audit is quiet.
    delete_upstream(&idp, &crowded, &extra).await;
    let after = audit(&stack, AuditConfig::default()).await;
    after.assert_quiet(&["UPS-002"], &crowded.secret_arn);

    let values = stack
        .secret_values(&[&healthy, &crowded], &[extra_value])
        .await;
    findings.assert_free_of(&values);
    check_logs(&logs, &values);
}

// ---------------------------------------------------------------------------------------------
// UPS-001 after a rotation

#[tokio::test]
async fn ups_001_fires_for_a_secret_added_at_the_idp_after_the_rotation() {
    let (logs, _guard) = CapturedLogs::install();
    let stack = LocalStack::start();
    let healthy = healthy(&stack).await;
    let f = stack
        .cognito_fixture(json!({"rotation": {"gracePeriodHours": 24}}))
        .await;
    stack.allow_agentcore(&f.secret_arn).await;
    stack
        .external_oauth2("tampered", &f, &f.client_id, "clientSecret")
        .await;
    let idp = cognito_api(&stack);
    let before = live_ids(&idp, &f).await;
    let run = stack
        .conductor(stack.rotator(LocalStack::fast_config()))
        .rotate(&f.secret_arn)
        .await;
    assert!(run.succeeded, "{:?}", run.last_error());
    // The superseded secret is removed early, then someone adds one through the real API:
    // one live secret belongs to AWSCURRENT, the other to nobody.
    for id in &before {
        delete_upstream(&idp, &f, id).await;
    }
    let current = live_ids(&idp, &f).await;
    assert_eq!(current.len(), 1, "AWSCURRENT's");
    let orphan_value = "AddedByHandAfterTheRotation_0123456789";
    idp.add_user_pool_client_secret()
        .user_pool_id(&f.pool_id)
        .client_id(&f.client_id)
        .client_secret(orphan_value)
        .send()
        .await
        .expect("AddUserPoolClientSecret");
    let orphan = live_ids(&idp, &f)
        .await
        .into_iter()
        .find(|id| !current.contains(id))
        .expect("the added secret");

    let findings = audit(&stack, AuditConfig::default()).await;
    let ups001 = findings.expect("UPS-001", &[&f.secret_arn]);
    assert!(
        ups001.description().contains(&orphan) && !ups001.description().contains(&current[0]),
        "{}",
        ups001.description()
    );
    findings.assert_healthy_quiet(&["UPS-001"], &healthy);
    // AWSCURRENT's own secret is still known: nothing says it is gone.
    findings.assert_quiet(&["UPS-004", "UPS-005"], &f.secret_arn);

    let values = stack.secret_values(&[&healthy, &f], &[orphan_value]).await;
    findings.assert_free_of(&values);
    check_logs(&logs, &values);
}

// ---------------------------------------------------------------------------------------------
// UPS-003

#[tokio::test]
async fn ups_003_fires_when_awsprevious_outlives_its_grace_period_from_the_document_or_the_default()
{
    let (logs, _guard) = CapturedLogs::install();
    let stack = LocalStack::start();
    let healthy = healthy(&stack).await;
    // gracePeriodHours 0 in the document: over as soon as the rotation created AWSCURRENT.
    let lapsed = rotated(&stack, json!({"rotation": {"gracePeriodHours": 0}})).await;
    stack
        .external_oauth2("lapsed", &lapsed, &lapsed.client_id, "clientSecret")
        .await;
    // No gracePeriodHours: ROTATOR_DEFAULT_GRACE_PERIOD_HOURS decides.
    let defaulted = rotated(&stack, json!({"rotation": {"gracePeriodHours": null}})).await;
    stack
        .external_oauth2(
            "defaulted",
            &defaulted,
            &defaulted.client_id,
            "clientSecret",
        )
        .await;
    let idp = cognito_api(&stack);
    for f in [&lapsed, &defaulted] {
        // The rotation keeps AWSPREVIOUS's upstream secret; only the next one removes it.
        assert!(live_ids(&idp, f).await.contains(&f.initial_secret_id));
    }

    // A default grace period of 0: both lapsed; the healthy document's own 24 h still wins.
    let zero_default = audit(
        &stack,
        AuditConfig {
            default_grace_period: Duration::ZERO,
            ..AuditConfig::default()
        },
    )
    .await;
    for f in [&lapsed, &defaulted] {
        let finding = zero_default.expect(
            "UPS-003",
            &[&f.secret_arn, &upstream_client(f, &f.client_id)],
        );
        assert!(
            finding.description().contains(&f.initial_secret_id),
            "names the secret behind AWSPREVIOUS: {}",
            finding.description()
        );
    }
    zero_default.assert_healthy_quiet(&RULES, &healthy);

    // The default 24 h: only the document that says 0 has lapsed.
    let standard = audit(&stack, AuditConfig::default()).await;
    standard.expect("UPS-003", &[&lapsed.secret_arn]);
    standard.assert_quiet(&["UPS-003"], &defaulted.secret_arn);
    standard.assert_healthy_quiet(&RULES, &healthy);

    // Deleting the superseded secret at the IdP is the fix.
    delete_upstream(&idp, &lapsed, &lapsed.initial_secret_id).await;
    let fixed = audit(&stack, AuditConfig::default()).await;
    fixed.assert_quiet(&["UPS-003"], &lapsed.secret_arn);

    let values = stack
        .secret_values(&[&healthy, &lapsed, &defaulted], &[])
        .await;
    zero_default.assert_free_of(&values);
    check_logs(&logs, &values);
}

// ---------------------------------------------------------------------------------------------
// UPS-004

#[tokio::test]
async fn ups_004_fires_only_when_probing_is_on_and_the_idp_rejects_awscurrent() {
    let (logs, _guard) = CapturedLogs::install();
    let stack = LocalStack::start();
    let healthy = healthy(&stack).await;
    let revoked = rotated(&stack, json!({"rotation": {"gracePeriodHours": 24}})).await;
    stack
        .external_oauth2("revoked", &revoked, &revoked.client_id, "clientSecret")
        .await;
    let probing = AuditConfig {
        token_probe: true,
        probe_interval: Duration::from_millis(10),
        origins: stack.origin_policy(),
        ..AuditConfig::default()
    };

    // Before anything is revoked the probe runs for both secrets and the IdP accepts both.
    let tokens = stack.cognito.calls("oauth2/token");
    let accepted = audit(&stack, probing.clone()).await;
    assert_eq!(
        stack.cognito.calls("oauth2/token") - tokens,
        2,
        "one client_credentials request per rotator secret, each accepted at once"
    );
    accepted.assert_quiet(&["UPS-004"], &revoked.secret_arn);
    accepted.assert_healthy_quiet(&RULES, &healthy);

    // An administrator deletes AWSCURRENT's secret at the IdP (the initial one, AWSPREVIOUS's,
    // stays, so Cognito allows it).
    let idp = cognito_api(&stack);
    let current: Vec<String> = live_ids(&idp, &revoked)
        .await
        .into_iter()
        .filter(|id| *id != revoked.initial_secret_id)
        .collect();
    assert_eq!(
        current.len(),
        1,
        "the secret the rotation added: {current:?}"
    );
    delete_upstream(&idp, &revoked, &current[0]).await;
    let doc = stack.doc(&revoked.secret_arn, "AWSCURRENT").await;
    let current_value = doc["clientSecret"].as_str().unwrap();
    assert!(!stack.cognito.accepts(&revoked.client_id, current_value));

    // Probe off (the default): no token request, so no UPS-004 either way.
    let tokens = stack.cognito.calls("oauth2/token");
    let off = audit(&stack, AuditConfig::default()).await;
    assert_eq!(stack.cognito.calls("oauth2/token"), tokens, "no probe ran");
    off.assert_quiet(&["UPS-004"], &revoked.secret_arn);

    // Probe on: the IdP rejects AWSCURRENT of the revoked secret only.
    let on = audit(&stack, probing).await;
    assert!(stack.cognito.calls("oauth2/token") > tokens);
    let f = on.expect(
        "UPS-004",
        &[
            &revoked.secret_arn,
            &upstream_client(&revoked, &revoked.client_id),
        ],
    );
    assert!(
        f.description().contains("invalid_client"),
        "{}",
        f.description()
    );
    on.assert_healthy_quiet(&RULES, &healthy);

    let values = stack.secret_values(&[&healthy, &revoked], &[]).await;
    on.assert_free_of(&values);
    check_logs(&logs, &values);
}

// ---------------------------------------------------------------------------------------------
// UPS-005

#[tokio::test]
async fn ups_005_fires_when_the_documents_client_does_not_exist_at_the_idp() {
    let (logs, _guard) = CapturedLogs::install();
    let stack = LocalStack::start();
    let healthy = healthy(&stack).await;
    // The pool exists; the client the document (and its provider) names does not.
    let missing_client = "client-deleted-at-the-idp";
    let ghost = stack
        .cognito_fixture(json!({"clientId": missing_client}))
        .await;
    stack.allow_agentcore(&ghost.secret_arn).await;
    stack
        .external_oauth2("ghost", &ghost, missing_client, "clientSecret")
        .await;

    let findings = audit(&stack, AuditConfig::default()).await;
    findings.expect(
        "UPS-005",
        &[&ghost.secret_arn, &upstream_client(&ghost, missing_client)],
    );
    // A missing client is one finding, not a cascade of upstream ones.
    findings.assert_quiet(
        &["UPS-001", "UPS-002", "UPS-003", "UPS-004"],
        &ghost.secret_arn,
    );
    findings.assert_healthy_quiet(&RULES, &healthy);

    let values = stack.secret_values(&[&healthy, &ghost], &[]).await;
    findings.assert_free_of(&values);
    check_logs(&logs, &values);
}

// ---------------------------------------------------------------------------------------------
// SEC-002

#[tokio::test]
async fn sec_002_fires_past_the_maximum_age_for_rotated_and_never_rotated_secrets() {
    let (logs, _guard) = CapturedLogs::install();
    let stack = LocalStack::start();
    let healthy = healthy(&stack).await;
    let never = stack.cognito_fixture(json!({})).await;
    stack.allow_agentcore(&never.secret_arn).await;
    stack
        .external_oauth2("never-rotated", &never, &never.client_id, "clientSecret")
        .await;

    // moto stamps CreatedDate and LastRotatedDate in whole seconds (rounded down), so by the
    // time the audit runs both secrets are older than a millisecond.
    let strict = audit(
        &stack,
        AuditConfig {
            max_secret_age: Duration::from_millis(1),
            ..AuditConfig::default()
        },
    )
    .await;
    let aged = strict.expect("SEC-002", &[&healthy.secret_arn]);
    assert!(
        aged.description().contains("last rotated"),
        "{}",
        aged.description()
    );
    let created = strict.expect("SEC-002", &[&never.secret_arn]);
    assert!(
        created.description().contains("created and never rotated"),
        "{}",
        created.description()
    );
    // Nothing but the age changed for the healthy secret.
    let others: Vec<&str> = RULES.into_iter().filter(|r| *r != "SEC-002").collect();
    strict.assert_healthy_quiet(&others, &healthy);

    // The default 90 days: neither is too old.
    let standard = audit(&stack, AuditConfig::default()).await;
    standard.assert_quiet(&["SEC-002"], &never.secret_arn);
    standard.assert_healthy_quiet(&RULES, &healthy);

    let values = stack.secret_values(&[&healthy, &never], &[]).await;
    strict.assert_free_of(&values);
    check_logs(&logs, &values);
}

// ---------------------------------------------------------------------------------------------
// SEC-003 (only its quiet side is reachable; see the note at the top of the file)

#[tokio::test]
async fn sec_003_fires_on_a_pending_rotation_past_the_threshold_and_not_on_one_in_progress() {
    let (logs, _guard) = CapturedLogs::install();
    let stack = LocalStack::start();
    let healthy = healthy(&stack).await;
    let in_flight = stack
        .cognito_fixture(json!({"rotation": {"gracePeriodHours": 24}}))
        .await;
    stack.allow_agentcore(&in_flight.secret_arn).await;
    stack
        .external_oauth2(
            "in-flight",
            &in_flight,
            &in_flight.client_id,
            "clientSecret",
        )
        .await;
    // Secrets Manager has begun a rotation; createSecret stored the new document under
    // AWSPENDING and setSecret pushed its secret upstream; testSecret and finishSecret are to come.
    let conductor = stack.conductor(stack.rotator(LocalStack::fast_config()));
    let token = conductor.begin(&in_flight.secret_arn).await;
    for step in [Step::CreateSecret, Step::SetSecret] {
        conductor
            .invoke(&in_flight.secret_arn, &token, step)
            .await
            .unwrap_or_else(|e| panic!("{step}: {e}"));
    }
    assert_eq!(
        stack.stages(&in_flight.secret_arn).await.get(&token),
        Some(&vec!["AWSPENDING".to_string()]),
        "AWSPENDING sits on a version apart from AWSCURRENT"
    );
    assert_eq!(live_ids(&cognito_api(&stack), &in_flight).await.len(), 2);

    let findings = audit(&stack, AuditConfig::default()).await;
    // Fresh (LastChangedDate within the hour), so not a stuck rotation; and AWSPENDING's
    // upstream secret is accounted for, neither an orphan nor an extra.
    findings.assert_quiet(
        &["SEC-003", "UPS-001", "UPS-002", "UPS-003"],
        &in_flight.secret_arn,
    );
    findings.assert_healthy_quiet(&RULES, &healthy);

    // The same AWSPENDING past the staleness threshold is a rotation that failed.
    let stale = audit(
        &stack,
        AuditConfig {
            pending_stale_after: Duration::ZERO,
            ..AuditConfig::default()
        },
    )
    .await;
    let sec003 = stale.expect("SEC-003", &[&in_flight.secret_arn]);
    assert!(
        sec003.description().contains("AWSPENDING"),
        "{}",
        sec003.description()
    );
    stale.assert_healthy_quiet(&["SEC-003"], &healthy);

    let values = stack.secret_values(&[&healthy, &in_flight], &[]).await;
    findings.assert_free_of(&values);
    stale.assert_free_of(&values);
    check_logs(&logs, &values);
}

// ---------------------------------------------------------------------------------------------
// REF-012

#[tokio::test]
async fn ref_012_fires_for_the_provider_whose_client_id_differs_from_the_documents() {
    let (logs, _guard) = CapturedLogs::install();
    let stack = LocalStack::start();
    let healthy = healthy(&stack).await;
    let shared = stack.cognito_fixture(json!({})).await;
    stack.allow_agentcore(&shared.secret_arn).await;
    // Two providers over the same secret: one names the document's client, one another
    // (existing) client, the healthy one's.
    stack
        .external_oauth2("aligned", &shared, &shared.client_id, "clientSecret")
        .await;
    stack
        .external_oauth2("mismatched", &shared, &healthy.client_id, "clientSecret")
        .await;

    let findings = audit(&stack, AuditConfig::default()).await;
    let f = findings.expect(
        "REF-012",
        &[&provider_arn("mismatched"), &shared.secret_arn],
    );
    assert!(
        f.description().contains(&healthy.client_id) && f.description().contains(&shared.client_id),
        "names both client ids: {}",
        f.description()
    );
    findings.assert_quiet(&["REF-012"], &provider_arn("aligned"));
    findings.assert_healthy_quiet(&RULES, &healthy);

    let values = stack.secret_values(&[&healthy, &shared], &[]).await;
    findings.assert_free_of(&values);
    check_logs(&logs, &values);
}

// ---------------------------------------------------------------------------------------------
// SEC-005

#[tokio::test]
async fn sec_005_fires_for_an_unbound_secret_and_one_whose_document_names_another_client() {
    let (logs, _guard) = CapturedLogs::install();
    let stack = LocalStack::start();
    let healthy = healthy(&stack).await;
    // Three more secrets bound by the administrator (as cognito_fixture does), each read by a
    // provider of its own ...
    let mut fixtures = Vec::new();
    for name in ["unbound", "misbound", "plain"] {
        let f = stack.cognito_fixture(json!({})).await;
        stack.allow_agentcore(&f.secret_arn).await;
        stack
            .external_oauth2(name, &f, &f.client_id, "clientSecret")
            .await;
        fixtures.push(f);
    }
    let [unbound, misbound, plain] = fixtures.try_into().expect("three fixtures");
    // ... then: the binding tag removed from one;
    stack
        .sm
        .untag_resource()
        .secret_id(&unbound.secret_arn)
        .tag_keys(BINDING_TAG)
        .send()
        .await
        .expect("UntagResource");
    // a new AWSCURRENT naming another (more privileged) client of the same pool in the next;
    let (other_client, _, other_value) = stack.cognito.create_client(&misbound.pool_id, &[]);
    let mut doc = stack.doc(&misbound.secret_arn, "AWSCURRENT").await;
    doc["clientId"] = json!(other_client);
    stack
        .sm
        .put_secret_value()
        .secret_id(&misbound.secret_arn)
        .secret_string(doc.to_string())
        .send()
        .await
        .expect("PutSecretValue");
    // and in the last, unbound too, a value that is no rotator document: not the rotator's.
    stack
        .sm
        .put_secret_value()
        .secret_id(&plain.secret_arn)
        .secret_string(
            json!({"clientId": plain.client_id, "clientSecret": plain.initial_value}).to_string(),
        )
        .send()
        .await
        .expect("PutSecretValue");
    stack
        .sm
        .untag_resource()
        .secret_id(&plain.secret_arn)
        .tag_keys(BINDING_TAG)
        .send()
        .await
        .expect("UntagResource");

    // A full audit: metadata, tags included, from ListSecrets.
    let (findings, calls) = audit_by(&stack, AuditConfig::default(), json!({})).await;
    assert_eq!(calls.get("DescribeSecret"), None, "{calls:?}");
    let expected = format!("cognito:{}/{}", unbound.pool_id, unbound.client_id);
    let f = findings.expect("SEC-005", &[&unbound.secret_arn]);
    assert!(
        f.description().contains(&format!(
            "tag-resource --secret-id {} --tags Key={BINDING_TAG},Value={expected}",
            unbound.secret_arn
        )),
        "{}",
        f.description()
    );
    let f = findings.expect("SEC-005", &[&misbound.secret_arn]);
    let bound = format!("cognito:{}/{}", misbound.pool_id, misbound.client_id);
    let named = format!("cognito:{}/{other_client}", misbound.pool_id);
    assert!(
        f.description().contains(&bound)
            && f.description().contains(&named)
            && f.description()
                .contains("have an administrator change the binding"),
        "names both coordinates and the remedy: {}",
        f.description()
    );
    findings.assert_quiet(&["SEC-005"], &plain.secret_arn);
    findings.assert_healthy_quiet(&RULES, &healthy);

    // A targeted audit: metadata, tags included, from DescribeSecret; the same verdicts.
    let (targeted, calls) = audit_by(
        &stack,
        AuditConfig::default(),
        json!({"scope": {"secretIds": [&unbound.secret_arn, &misbound.secret_arn, &plain.secret_arn, &healthy.secret_arn]}}),
    )
    .await;
    assert_eq!(calls.get("ListSecrets"), None, "{calls:?}");
    assert_eq!(calls.get("DescribeSecret"), Some(&4), "{calls:?}");
    targeted.expect("SEC-005", &[&unbound.secret_arn]);
    targeted.expect("SEC-005", &[&misbound.secret_arn]);
    targeted.assert_quiet(&["SEC-005"], &plain.secret_arn);
    targeted.assert_healthy_quiet(&RULES, &healthy);

    // The administrator binds the first secret as the finding says: the next audit is quiet.
    stack
        .sm
        .tag_resource()
        .secret_id(&unbound.secret_arn)
        .tags(
            aws_sdk_secretsmanager::types::Tag::builder()
                .key(BINDING_TAG)
                .value(&expected)
                .build(),
        )
        .send()
        .await
        .expect("TagResource");
    let fixed = audit(&stack, AuditConfig::default()).await;
    fixed.assert_quiet(&["SEC-005"], &unbound.secret_arn);
    fixed.expect("SEC-005", &[&misbound.secret_arn]);

    let values = stack
        .secret_values(
            &[&healthy, &unbound, &misbound, &plain],
            &[other_value.as_str()],
        )
        .await;
    findings.assert_free_of(&values);
    targeted.assert_free_of(&values);
    fixed.assert_free_of(&values);
    check_logs(&logs, &values);
}
