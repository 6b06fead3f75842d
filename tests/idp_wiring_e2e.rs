//! The other IdPs through the production wiring in a process of its own: the `rotation-step`
//! binary builds the rotation function from its environment only (`ROTATOR_*` settings and
//! `AWS_ENDPOINT_URL_*`), exactly as `src/bin/rotation.rs` does, and the conductor runs a whole
//! rotation with it at each simulator. Proves that the configuration a deployment sets (the
//! template's parameters) is all each adapter needs.

use std::collections::BTreeMap;

use agentcore_rotator::upstream::vendors::Vendor;
use agentcore_rotator_testkit::conductor::{Conductor, Invoker, StepProcess};
use agentcore_rotator_testkit::idp::rig::{
    EntraRig, KeycloakRig, OktaRig, ENTRA_TENANT, KEYCLOAK_ADMIN_CLIENT, KEYCLOAK_REALM,
};
use agentcore_rotator_testkit::idp::vendors::VendorSim;
use agentcore_rotator_testkit::stack::LocalStack;
use serde_json::json;

/// The function's environment: the stack's AWS endpoints, fast probe settings, and `extra`.
fn function_env(stack: &LocalStack, extra: &[(&str, String)]) -> Vec<(String, String)> {
    let mut env: BTreeMap<String, String> = stack
        .aws_env()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    env.insert("ROTATOR_PROBE_BUDGET_SECONDS".into(), "5".into());
    env.insert("ROTATOR_PROBE_INITIAL_BACKOFF_MS".into(), "50".into());
    env.insert("ROTATOR_AGENTCORE_REFERENCES".into(), "off".into());
    for (k, v) in extra {
        env.insert(k.to_string(), v.clone());
    }
    env.into_iter().collect()
}

fn conductor(stack: &LocalStack, env: Vec<(String, String)>) -> Conductor {
    Conductor::with_invoker(
        stack.sm.clone(),
        stack.moto.rotation_lambda_arn.clone(),
        Invoker::Process(StepProcess::new(env)),
    )
}

#[tokio::test]
async fn keycloak_okta_and_entra_rotate_with_only_the_deployments_settings() {
    let stack = LocalStack::start();

    let kc = KeycloakRig::start(&stack).await;
    let f = kc.fixture(&stack, true, json!({})).await;
    let env = function_env(
        &stack,
        &[
            ("ROTATOR_IDP_SIGNING_KEY_ID", kc.key_id.clone()),
            ("ROTATOR_KEYCLOAK_URL", kc.sim.base_url().to_string()),
            (
                "ROTATOR_KEYCLOAK_ADMIN_CLIENT_ID",
                KEYCLOAK_ADMIN_CLIENT.to_string(),
            ),
        ],
    );
    let run = conductor(&stack, env).rotate(&f.secret_arn).await;
    assert!(run.succeeded, "keycloak: {:?}", run.last_error());
    let current = stack.doc(&f.secret_arn, "AWSCURRENT").await;
    assert_eq!(
        current["clientSecret"],
        kc.sim.current_secret(KEYCLOAK_REALM, &f.client_id).as_str()
    );

    let okta = OktaRig::start(&stack).await;
    let f = okta.fixture(&stack, json!({})).await;
    let okta_admin = okta.admin.okta.clone().unwrap();
    let env = function_env(
        &stack,
        &[
            (
                "ROTATOR_IDP_SIGNING_KEY_ID",
                okta.admin.signing_key_id.clone().unwrap(),
            ),
            ("ROTATOR_OKTA_ORG_URL", okta_admin.url),
            ("ROTATOR_OKTA_ADMIN_CLIENT_ID", okta_admin.client_id),
        ],
    );
    let run = conductor(&stack, env).rotate(&f.secret_arn).await;
    assert!(run.succeeded, "okta: {:?}", run.last_error());
    let value = stack.doc(&f.secret_arn, "AWSCURRENT").await["clientSecret"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(okta.sim.accepts("default", &f.app_id, &value));

    let entra = EntraRig::start(&stack);
    let f = entra.fixture(&stack, json!({})).await;
    let env = function_env(
        &stack,
        &[
            (
                "AWS_ENDPOINT_URL_STS",
                entra.federation.endpoint().to_string(),
            ),
            (
                "ROTATOR_ENTRA_ADMIN_CLIENT_ID",
                entra.management_app.clone(),
            ),
            ("ROTATOR_ENTRA_LOGIN_URL", entra.sim.login_url().to_string()),
            ("ROTATOR_ENTRA_GRAPH_URL", entra.sim.graph_url().to_string()),
        ],
    );
    let run = conductor(&stack, env).rotate(&f.secret_arn).await;
    assert!(run.succeeded, "entra: {:?}", run.last_error());
    let value = stack.doc(&f.secret_arn, "AWSCURRENT").await["clientSecret"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(entra.sim.accepts(ENTRA_TENANT, &f.app_id, &value));
    assert!(
        entra.federation.issued().len() >= 2,
        "each step process that calls Graph signs in anew: no token outlives its process"
    );
}

#[tokio::test]
async fn a_staged_vendor_is_reached_through_its_configured_endpoint() {
    let stack = LocalStack::start();
    let vendors = VendorSim::start();
    vendors.register(Vendor::Github, "gh-app", "first-github-secret-0123");
    vendors.add_secret(Vendor::Github, "gh-app", "second-github-secret-0123");
    let doc = json!({
        "clientId": "gh-app",
        "clientSecret": "first-github-secret-0123",
        "rotation": {"idp": "staged", "vendor": "github"}
    });
    let arn = stack.bound_secret(&doc).await;
    stack.schedule_rotation(&arn).await;
    let mut staged = doc.clone();
    staged["clientSecret"] = json!("second-github-secret-0123");
    stack
        .sm
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(staged.to_string())
        .version_stages("AGENTCORE_ROTATOR_STAGED")
        .send()
        .await
        .unwrap();
    let env = function_env(
        &stack,
        &[(
            "ROTATOR_VENDOR_TOKEN_URL_GITHUB",
            vendors.token_url(Vendor::Github),
        )],
    );
    let run = conductor(&stack, env).rotate(&arn).await;
    assert!(run.succeeded, "{:?}", run.last_error());
    assert_eq!(
        stack.doc(&arn, "AWSCURRENT").await["clientSecret"],
        "second-github-secret-0123"
    );
    assert!(vendors.calls(Vendor::Github) >= 1);
}
