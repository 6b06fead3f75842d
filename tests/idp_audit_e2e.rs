//! The audit's upstream rules (UPS-*) at the other IdPs, end to end: a provider references a
//! secret rotated at the IdP simulator by the real rotator, the `Auditor` lists the upstream
//! secrets through the production adapters (admin access by a KMS-signed assertion), and each
//! rule fires on the broken state it describes and stays quiet on the healthy secret.

mod common;

use std::sync::Arc;

use agentcore_rotator::audit::engine::Collected;
use agentcore_rotator::audit::{AuditConfig, Trigger};
use agentcore_rotator::config::IdpAdmin;
use agentcore_rotator::event::Step;
use agentcore_rotator::findings::Finding;
use agentcore_rotator_testkit::faulty_store::{Call, FaultyStore};
use agentcore_rotator_testkit::idp::rig::{
    with_origins, EntraFixture, EntraRig, KeycloakFixture, KeycloakRig, OktaFixture, OktaRig,
    ENTRA_TENANT, KEYCLOAK_REALM,
};
use agentcore_rotator_testkit::providers::create_external_oauth2;
use agentcore_rotator_testkit::stack::LocalStack;
use common::CapturedLogs;
use serde_json::json;

const UPS: [&str; 6] = [
    "UPS-001", "UPS-002", "UPS-003", "UPS-004", "UPS-005", "UPS-006",
];

/// Active findings of a full audit with the token probe on, through `admin` (the IdP at `origin`).
async fn audit(stack: &LocalStack, admin: &IdpAdmin, origin: &str) -> Vec<Finding> {
    audit_via(stack, stack.moto.sdk_config(), admin, origin).await
}

/// [`audit`] with the upstreams reaching AWS through `aws` (the federation front, for Entra).
async fn audit_via(
    stack: &LocalStack,
    aws: aws_config::SdkConfig,
    admin: &IdpAdmin,
    origin: &str,
) -> Vec<Finding> {
    let out = Arc::new(Collected::default());
    let mut config = AuditConfig {
        token_probe: true,
        max_probes: 100,
        probe_interval: std::time::Duration::ZERO,
        ..AuditConfig::default()
    };
    config.origins = with_origins(config.origins, &[origin]);
    config.idp_admin = admin.clone();
    let upstreams = stack.idp_upstreams_via(aws, admin, &config.origins);
    let auditor = stack
        .auditor(out.clone(), config, None)
        .with_upstreams(Arc::new(upstreams));
    auditor
        .run(&Trigger::parse(&json!({})).unwrap(), None)
        .await
        .expect("audit");
    out.take().into_iter().filter(Finding::is_active).collect()
}

fn fired<'a>(findings: &'a [Finding], rule: &str, resource: &str) -> Option<&'a Finding> {
    findings
        .iter()
        .find(|f| f.rule_id() == rule && f.resources().iter().any(|r| r.arn_or_id() == resource))
}

fn quiet(findings: &[Finding], resource: &str) {
    for rule in UPS {
        if let Some(f) = fired(findings, rule, resource) {
            panic!("{rule} fired on {resource}: {}", f.description());
        }
    }
}

/// A rotated Keycloak client, referenced by provider `name`, readable by AgentCore.
async fn referenced(
    stack: &LocalStack,
    rig: &KeycloakRig,
    name: &str,
    policy: bool,
    patch: serde_json::Value,
    rotate: bool,
) -> KeycloakFixture {
    let f = rig.fixture(stack, policy, patch).await;
    stack.allow_agentcore(&f.secret_arn).await;
    create_external_oauth2(
        &stack.agentcore_control(),
        name,
        &f.client_id,
        &format!(
            "{}/.well-known/openid-configuration",
            rig.sim.issuer(KEYCLOAK_REALM)
        ),
        &f.secret_arn,
        "clientSecret",
    )
    .await;
    if rotate {
        let run = stack
            .conductor(rig.rotator(stack, LocalStack::fast_config()))
            .rotate(&f.secret_arn)
            .await;
        assert!(run.succeeded, "{:?}", run.last_error());
    }
    f
}

fn client(f: &KeycloakFixture) -> String {
    format!("keycloak:{KEYCLOAK_REALM}/{}", f.client_id)
}

#[tokio::test]
async fn keycloak_ups_rules_fire_on_each_broken_state_and_stay_quiet_on_a_healthy_secret() {
    let (logs, _g) = CapturedLogs::install();
    let stack = LocalStack::start();
    let rig = KeycloakRig::start(&stack).await;
    let healthy = referenced(
        &stack,
        &rig,
        "kc-healthy",
        true,
        json!({"gracePeriodHours": 24}),
        true,
    )
    .await;
    // Regenerated outside the rotator: a live secret no version holds.
    let orphaned = referenced(&stack, &rig, "kc-orphaned", true, json!({}), true).await;
    rig.sim
        .regenerate_out_of_band(KEYCLOAK_REALM, &orphaned.client_id);
    // Replaced in place (no overlap): AWSCURRENT is no longer accepted.
    let replaced = referenced(&stack, &rig, "kc-replaced", true, json!({}), true).await;
    rig.sim.set_secret_out_of_band(
        KEYCLOAK_REALM,
        &replaced.client_id,
        "replaced-by-hand-0123456789",
    );
    // Grace period 0: AWSPREVIOUS's secret is still valid as Keycloak's rotated secret after it.
    let stale = referenced(&stack, &rig, "kc-stale", true, json!({}), true).await;
    // A cut-over profile, rotated without the policy.
    let cutover = referenced(
        &stack,
        &rig,
        "kc-cutover",
        false,
        json!({"cutover": true}),
        true,
    )
    .await;
    let findings = audit(&stack, &rig.admin, rig.sim.base_url()).await;

    quiet(&findings, &healthy.secret_arn);
    quiet(&findings, &client(&healthy));
    let f = fired(&findings, "UPS-001", &client(&orphaned))
        .unwrap_or_else(|| panic!("no UPS-001: {findings:#?}"));
    assert!(f.description().contains("kc-"), "{}", f.description());
    assert!(
        fired(&findings, "UPS-004", &client(&orphaned)).is_none(),
        "AWSCURRENT's secret is still valid as the rotated one"
    );
    assert!(fired(&findings, "UPS-004", &client(&replaced)).is_some());
    assert!(fired(&findings, "UPS-006", &client(&cutover)).is_some());
    assert!(fired(&findings, "UPS-006", &client(&healthy)).is_none());
    assert!(
        fired(&findings, "UPS-003", &client(&stale)).is_some(),
        "{findings:#?}"
    );

    let mut values = Vec::new();
    for f in [&healthy, &orphaned, &replaced, &cutover, &stale] {
        values.extend(stack.stored_secret_values(&f.secret_arn, &[]).await);
        values.push(rig.sim.current_secret(KEYCLOAK_REALM, &f.client_id));
    }
    for f in &findings {
        for v in &values {
            assert!(
                !f.description().contains(v.as_str()),
                "{} carries a secret",
                f.rule_id()
            );
        }
    }
    common::assert_no_leak(&logs, &values, &[]);
}

#[tokio::test]
async fn a_keycloak_client_that_does_not_exist_fires_ups_005() {
    let stack = LocalStack::start();
    let rig = KeycloakRig::start(&stack).await;
    let f = referenced(&stack, &rig, "kc-ghost", true, json!({}), false).await;
    // The client is deleted at Keycloak (the simulator drops it; the document still names it).
    rig.sim.delete_client(KEYCLOAK_REALM, &f.client_id);
    let findings = audit(&stack, &rig.admin, rig.sim.base_url()).await;
    assert!(
        fired(&findings, "UPS-005", &client(&f)).is_some(),
        "{findings:#?}"
    );
}

/// A rotated Okta app, referenced by provider `name`, readable by AgentCore.
async fn okta_referenced(
    stack: &LocalStack,
    rig: &OktaRig,
    name: &str,
    patch: serde_json::Value,
) -> OktaFixture {
    let f = rig.fixture(stack, patch).await;
    stack.allow_agentcore(&f.secret_arn).await;
    create_external_oauth2(
        &stack.agentcore_control(),
        name,
        &f.app_id,
        &format!(
            "{}/oauth2/default/.well-known/openid-configuration",
            rig.sim.org_url()
        ),
        &f.secret_arn,
        "clientSecret",
    )
    .await;
    let run = stack
        .conductor(rig.rotator(stack, LocalStack::fast_config()))
        .rotate(&f.secret_arn)
        .await;
    assert!(run.succeeded, "{:?}", run.last_error());
    f
}

#[tokio::test]
async fn okta_ups_rules_fire_on_each_broken_state_and_stay_quiet_on_a_healthy_secret() {
    let (logs, _g) = CapturedLogs::install();
    let stack = LocalStack::start();
    let rig = OktaRig::start(&stack).await;
    let okta = |f: &OktaFixture| format!("okta:{}/{}", f.app_id, f.app_id);
    let healthy = okta_referenced(
        &stack,
        &rig,
        "okta-healthy",
        json!({"gracePeriodHours": 24}),
    )
    .await;
    // AWSPREVIOUS's secret is deleted by hand and someone adds their own: an orphan.
    let orphaned = okta_referenced(
        &stack,
        &rig,
        "okta-orphaned",
        json!({"gracePeriodHours": 24}),
    )
    .await;
    let previous = rig.sim.secrets(&orphaned.app_id)[0].0.clone();
    let token = rig.sim.api_token();
    let http = reqwest::Client::new();
    let base = format!(
        "{}/api/v1/apps/{}/credentials/secrets/{previous}",
        rig.sim.org_url(),
        orphaned.app_id
    );
    for (method, url) in [
        (
            reqwest::Method::POST,
            format!("{base}/lifecycle/deactivate"),
        ),
        (reqwest::Method::DELETE, base.clone()),
    ] {
        let r = http
            .request(method, url)
            .header("authorization", format!("SSWS {token}"))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    }
    rig.sim
        .add_secret_out_of_band(&orphaned.app_id, "hand-made-active-secret-0123", true);
    // Past its grace period, AWSPREVIOUS's secret is still ACTIVE (grace 0).
    let stale = okta_referenced(&stack, &rig, "okta-stale", json!({})).await;
    // AWSCURRENT's secret deactivated in the console: Okta no longer accepts it.
    let revoked = okta_referenced(
        &stack,
        &rig,
        "okta-revoked",
        json!({"gracePeriodHours": 24}),
    )
    .await;
    let newest = rig.sim.secrets(&revoked.app_id)[1].0.clone();
    let r = http
        .post(format!(
            "{}/api/v1/apps/{}/credentials/secrets/{newest}/lifecycle/deactivate",
            rig.sim.org_url(),
            revoked.app_id
        ))
        .header("authorization", format!("SSWS {token}"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    // A document naming an app Okta does not have.
    let ghost_app = "0oaGhostApp000000001";
    let ghost_doc = json!({
        "clientId": ghost_app,
        "clientSecret": "a-secret-of-a-deleted-app-0123",
        "rotation": {"idp": "okta", "appId": ghost_app}
    });
    let ghost = stack.bound_secret(&ghost_doc).await;
    stack.allow_agentcore(&ghost).await;
    create_external_oauth2(
        &stack.agentcore_control(),
        "okta-ghost",
        ghost_app,
        &format!(
            "{}/oauth2/default/.well-known/openid-configuration",
            rig.sim.org_url()
        ),
        &ghost,
        "clientSecret",
    )
    .await;
    let findings = audit(&stack, &rig.admin, rig.sim.org_url()).await;
    assert!(
        fired(&findings, "UPS-004", &okta(&revoked)).is_some(),
        "{findings:#?}"
    );
    let ghost_client = format!("okta:{ghost_app}/{ghost_app}");
    assert!(
        fired(&findings, "UPS-005", &ghost_client).is_some(),
        "{findings:#?}"
    );

    quiet(&findings, &healthy.secret_arn);
    quiet(&findings, &okta(&healthy));
    assert!(
        fired(&findings, "UPS-001", &okta(&orphaned)).is_some(),
        "{findings:#?}"
    );
    assert!(
        fired(&findings, "UPS-003", &okta(&stale)).is_some(),
        "{findings:#?}"
    );
    let mut values = Vec::new();
    for f in [&healthy, &orphaned, &stale, &revoked] {
        values.extend(stack.stored_secret_values(&f.secret_arn, &[]).await);
        values.extend(rig.sim.active_values(&f.app_id));
    }
    for f in &findings {
        for v in &values {
            assert!(
                !f.description().contains(v.as_str()),
                "{} carries a secret",
                f.rule_id()
            );
        }
    }
    common::assert_no_leak(&logs, &values, &[]);
}

/// A rotated Entra application, referenced by provider `name`, readable by AgentCore.
async fn entra_referenced(
    stack: &LocalStack,
    rig: &EntraRig,
    name: &str,
    patch: serde_json::Value,
) -> EntraFixture {
    let f = rig.fixture(stack, patch).await;
    stack.allow_agentcore(&f.secret_arn).await;
    create_external_oauth2(
        &stack.agentcore_control(),
        name,
        &f.app_id,
        &format!(
            "{}/{ENTRA_TENANT}/v2.0/.well-known/openid-configuration",
            rig.sim.login_url()
        ),
        &f.secret_arn,
        "clientSecret",
    )
    .await;
    let run = stack
        .conductor(rig.rotator(stack, LocalStack::fast_config()))
        .rotate(&f.secret_arn)
        .await;
    assert!(run.succeeded, "{:?}", run.last_error());
    f
}

#[tokio::test]
async fn entra_ups_rules_fire_on_each_broken_state_and_stay_quiet_on_a_healthy_secret() {
    let (logs, _g) = CapturedLogs::install();
    let stack = LocalStack::start();
    let rig = EntraRig::start(&stack);
    let entra = |f: &EntraFixture| format!("entra:{ENTRA_TENANT}/{}", f.app_id);
    let healthy = entra_referenced(
        &stack,
        &rig,
        "entra-healthy",
        json!({"gracePeriodHours": 24}),
    )
    .await;
    // A password added in the portal: an orphan.
    let orphaned = entra_referenced(
        &stack,
        &rig,
        "entra-orphaned",
        json!({"gracePeriodHours": 24}),
    )
    .await;
    rig.sim
        .add_password_out_of_band(ENTRA_TENANT, &orphaned.app_id, "someone's");
    // AWSCURRENT's password removed in the portal: the IdP no longer accepts it.
    let revoked = entra_referenced(
        &stack,
        &rig,
        "entra-revoked",
        json!({"gracePeriodHours": 24}),
    )
    .await;
    let current_key = stack.doc(&revoked.secret_arn, "AWSCURRENT").await["clientSecretId"]
        .as_str()
        .unwrap()
        .to_string();
    let graph = reqwest::Client::new();
    let token = rig
        .sim
        .admin_token_for_tests(ENTRA_TENANT, &["Application.ReadWrite.All"]);
    let r = graph
        .post(format!(
            "{}/v1.0/applications(appId='{}')/removePassword",
            rig.sim.graph_url(),
            revoked.app_id
        ))
        .bearer_auth(&token)
        .json(&json!({"keyId": current_key}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    // Grace period 0: AWSPREVIOUS's password is still live after it.
    let stale = entra_referenced(&stack, &rig, "entra-stale", json!({})).await;
    // A rotation that crashed between addPassword and the store left a labelled password.
    let crashed = entra_referenced(
        &stack,
        &rig,
        "entra-crashed",
        json!({"gracePeriodHours": 24}),
    )
    .await;
    let store = FaultyStore::new(stack.store(), |call| matches!(call, Call::Put));
    let crashing = stack.conductor(rig.rotator_over(&stack, store, LocalStack::fast_config()));
    let token = crashing.begin(&crashed.secret_arn).await;
    crashing
        .invoke(&crashed.secret_arn, &token, Step::CreateSecret)
        .await
        .unwrap_err();
    let findings = audit_via(&stack, rig.aws(), &rig.admin, rig.sim.login_url()).await;

    let lost = fired(&findings, "UPS-001", &entra(&crashed)).expect("the lost password");
    assert!(
        lost.description().contains("labelled by agentcore-rotator"),
        "{}",
        lost.description()
    );
    assert!(
        !fired(&findings, "UPS-001", &entra(&orphaned))
            .unwrap()
            .description()
            .contains("labelled"),
        "a portal password is not ours"
    );
    quiet(&findings, &healthy.secret_arn);
    quiet(&findings, &entra(&healthy));
    assert!(
        fired(&findings, "UPS-001", &entra(&orphaned)).is_some(),
        "{findings:#?}"
    );
    // Entra has no cap: three live passwords where the model allows two.
    assert!(
        fired(&findings, "UPS-002", &entra(&orphaned)).is_some(),
        "{findings:#?}"
    );
    assert!(
        fired(&findings, "UPS-004", &entra(&revoked)).is_some(),
        "{findings:#?}"
    );
    assert!(
        fired(&findings, "UPS-003", &entra(&stale)).is_some(),
        "{findings:#?}"
    );
    let mut values = Vec::new();
    for f in [&healthy, &orphaned, &revoked, &stale, &crashed] {
        values.extend(stack.stored_secret_values(&f.secret_arn, &[]).await);
        values.extend(rig.sim.secret_values(ENTRA_TENANT, &f.app_id));
    }
    for f in &findings {
        for v in &values {
            assert!(
                !f.description().contains(v.as_str()),
                "{} carries a secret",
                f.rule_id()
            );
        }
    }
    common::assert_no_leak(&logs, &values, &[]);
}

#[tokio::test]
async fn an_entra_application_that_does_not_exist_fires_ups_005() {
    let stack = LocalStack::start();
    let rig = EntraRig::start(&stack);
    let ghost = "0f0f0f0f-1111-2222-3333-444444444444";
    let doc = json!({
        "clientId": ghost,
        "clientSecret": "deleted-app-secret-0123456789",
        "rotation": {"idp": "entra", "tenantId": ENTRA_TENANT, "scopes": ["https://graph.microsoft.com/.default"]}
    });
    let arn = stack.bound_secret(&doc).await;
    stack.allow_agentcore(&arn).await;
    create_external_oauth2(
        &stack.agentcore_control(),
        "entra-ghost",
        ghost,
        &format!(
            "{}/{ENTRA_TENANT}/v2.0/.well-known/openid-configuration",
            rig.sim.login_url()
        ),
        &arn,
        "clientSecret",
    )
    .await;
    let findings = audit_via(&stack, rig.aws(), &rig.admin, rig.sim.login_url()).await;
    assert!(
        fired(
            &findings,
            "UPS-005",
            &format!("entra:{ENTRA_TENANT}/{ghost}")
        )
        .is_some(),
        "{findings:#?}"
    );
}
