//! The Entra ID simulator against Microsoft's contract: the official Graph SDK (`msgraph-sdk`,
//! driven by `testkit/contract/entra/driver.py`) reads, adds and removes application passwords and
//! must parse every answer and error; the v2.0 token endpoint (client secrets and federated
//! credentials) is exercised over plain HTTP, with the federation issuer served by the testkit's
//! STS front (its keys fetched over HTTP, as Entra does).

use std::process::Command;
use std::time::Duration;

use agentcore_rotator_testkit::idp::assertion::TestSigner;
use agentcore_rotator_testkit::idp::aws_federation::AwsFederation;
use agentcore_rotator_testkit::idp::entra::{ops, roles, EntraSim, EXCHANGE_AUDIENCE, JWT_BEARER};
use agentcore_rotator_testkit::moto::{contract_python, repo_root, sdk_config_for, Moto, REGION};
use reqwest::StatusCode;
use serde_json::{json, Value};

const TENANT: &str = "contoso.onmicrosoft.com";
const ROLE: &str = "arn:aws:iam::123456789012:role/agentcore-rotator-rotation";

fn run_driver(args: &[&str]) -> Value {
    let out = Command::new(contract_python())
        .arg(repo_root().join("testkit/contract/entra/driver.py"))
        .args(args)
        .output()
        .expect("run the Graph SDK driver (scripts/setup creates .venv-contract)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "driver failed: {stderr}");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("driver output is not JSON ({e}): {stderr}"))
}

#[test]
fn msgraph_sdk_reads_every_answer_of_the_application_password_api() {
    let sim = EntraSim::start();
    let (object_id, app_id) = sim.create_application(TENANT, "research agent");
    sim.add_password_out_of_band(TENANT, &app_id, "portal");
    let (forbidden, _) = sim.create_application(TENANT, "not ours");
    let (policy, policy_app) = sim.create_application(TENANT, "policy bound");
    sim.set_password_addition_blocked(TENANT, &policy_app, true);
    // The caller owns its apps; it may not write the one it does not own.
    let caller = "tests";
    sim.add_owner(TENANT, &app_id, caller);
    sim.add_owner(TENANT, &policy_app, caller);
    let token = sim.admin_token_for_tests(TENANT, &[roles::READ_WRITE_OWNED_BY, roles::READ_ALL]);
    // The first read meets a 429 with Retry-After, which the SDK's retry handler waits out.
    sim.fail_admin_calls(&[429]);
    let out = run_driver(&[
        sim.graph_url(),
        &token,
        &object_id,
        &app_id,
        &forbidden,
        &policy,
    ]);

    assert_eq!(out["get"]["id"], object_id.as_str(), "{out}");
    assert_eq!(out["get"]["app_id"], app_id.as_str());
    assert_eq!(out["get"]["passwords"][0]["display_name"], "portal");
    assert_eq!(
        out["get"]["passwords"][0]["secret_text"],
        Value::Null,
        "never listed"
    );
    assert_eq!(out["get_by_app_id"]["id"], object_id.as_str());

    let added = &out["add"];
    let secret = added["secret_text"].as_str().expect("secretText once");
    assert_eq!(secret.len(), 40);
    assert_eq!(added["hint"], &secret[..3]);
    assert_eq!(added["display_name"], "agentcore-rotator contract");
    assert!(added["end"]
        .as_str()
        .is_some_and(|e| e > added["start"].as_str().unwrap()));

    let listed = out["list"]["passwords"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|c| c["secret_text"].is_null()));
    assert_eq!(out["list"]["display_name"], Value::Null, "$select honoured");
    assert_eq!(out["after_remove"].as_array().unwrap().len(), 1);

    assert_eq!(out["remove_unknown"]["status"], 400);
    assert_eq!(out["not_found"]["status"], 404);
    assert_eq!(out["not_found"]["code"], "Request_ResourceNotFound");
    assert_eq!(out["forbidden"]["status"], 403);
    assert_eq!(out["forbidden"]["code"], "Authorization_RequestDenied");
    assert_eq!(out["policy"]["status"], 400);
    assert!(out["policy"]["message"]
        .as_str()
        .unwrap()
        .contains("policy"));
    assert_eq!(out["after_throttle"]["id"], object_id.as_str());
    assert_eq!(
        sim.calls(ops::GET_APPLICATION),
        7,
        "six reads, the throttled one retried once"
    );
}

async fn token_request(
    sim: &EntraSim,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .post(sim.token_endpoint(TENANT))
        .form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn client_secrets_prove_themselves_once_propagated_with_a_default_scope() {
    let sim = EntraSim::start();
    let (_, app) = sim.create_application(TENANT, "agent");
    let (_, secret) = sim.add_password_out_of_band(TENANT, &app, "portal");
    let scope = [
        ("grant_type", "client_credentials"),
        ("scope", "https://graph.microsoft.com/.default"),
    ];
    let (s, body) = token_request(&sim, Some((&app, &secret)), &scope).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let post = [
        ("grant_type", "client_credentials"),
        ("scope", "api://agent/.default"),
        ("client_id", app.as_str()),
        ("client_secret", secret.as_str()),
    ];
    assert_eq!(token_request(&sim, None, &post).await.0, StatusCode::OK);
    let (s, body) = token_request(&sim, Some((&app, "wrong")), &scope).await;
    assert_eq!(
        (s, body["error_codes"][0].as_u64()),
        (StatusCode::UNAUTHORIZED, Some(7000215))
    );
    assert_eq!(body["error"], "invalid_client");
    let (s, body) = token_request(
        &sim,
        Some((&app, &secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(
        (s, body["error_codes"][0].as_u64()),
        (StatusCode::BAD_REQUEST, Some(900144))
    );
    let (s, body) = token_request(
        &sim,
        Some((&app, &secret)),
        &[("grant_type", "client_credentials"), ("scope", "User.Read")],
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );

    sim.set_propagation_delay(Duration::from_millis(300));
    let token = sim.admin_token_for_tests(TENANT, &[roles::READ_WRITE_ALL]);
    let added: Value = reqwest::Client::new()
        .post(format!(
            "{}/v1.0/applications(appId='{app}')/addPassword",
            sim.graph_url()
        ))
        .bearer_auth(&token)
        .json(&json!({"passwordCredential": {"displayName": "new"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new = added["secretText"].as_str().unwrap();
    let (s, _) = token_request(&sim, Some((&app, new)), &scope).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "not yet propagated");
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        token_request(&sim, Some((&app, new)), &scope).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn federated_credentials_accept_only_the_matching_issuer_subject_audience_and_keys() {
    let moto = Moto::shared();
    let fed = AwsFederation::start(&moto.endpoint, ROLE);
    let sim = EntraSim::start();
    let (_, mgmt) = sim.create_application(TENANT, "agentcore-rotator");
    sim.grant_app_roles(TENANT, &mgmt, &[roles::READ_WRITE_OWNED_BY]);
    sim.add_federated_credential(TENANT, &mgmt, fed.issuer(), ROLE, EXCHANGE_AUDIENCE);
    let sts = aws_sdk_sts::Client::new(&sdk_config_for(fed.endpoint(), REGION));
    let aws_token = |audience: &'static str| {
        let sts = sts.clone();
        async move {
            sts.get_web_identity_token()
                .audience(audience)
                .signing_algorithm("RS256")
                .send()
                .await
                .unwrap()
                .web_identity_token()
                .unwrap()
                .to_string()
        }
    };
    let exchange = |jwt: String| {
        let mgmt = mgmt.clone();
        let sim = &sim;
        async move {
            let form = [
                ("grant_type", "client_credentials".to_string()),
                ("scope", format!("{}/.default", sim.graph_url())),
                ("client_id", mgmt),
                ("client_assertion_type", JWT_BEARER.to_string()),
                ("client_assertion", jwt),
            ];
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            token_request(sim, None, &form).await
        }
    };
    let good = aws_token(EXCHANGE_AUDIENCE).await;
    let (s, body) = exchange(good.clone()).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(sim.admin_tokens_issued(), 1);
    let (s, body) = exchange(good).await;
    assert_eq!(
        (s, body["error_codes"][0].as_u64()),
        (StatusCode::UNAUTHORIZED, Some(700027)),
        "replayed jti: {body}"
    );

    let (s, body) = exchange(aws_token("api://SomethingElse").await).await;
    assert_eq!(
        (s, body["error_codes"][0].as_u64()),
        (StatusCode::BAD_REQUEST, Some(700212)),
        "audience"
    );
    fed.set_subject("arn:aws:iam::123456789012:role/someone-else");
    let (s, body) = exchange(aws_token(EXCHANGE_AUDIENCE).await).await;
    assert_eq!(
        (s, body["error_codes"][0].as_u64()),
        (StatusCode::BAD_REQUEST, Some(700213)),
        "subject"
    );
    fed.set_subject(ROLE);

    // Right issuer, subject and audience, signed by another key: the fetched JWKS says no.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let forged = TestSigner::new().sign(&json!({
        "iss": fed.issuer(), "sub": ROLE, "aud": EXCHANGE_AUDIENCE,
        "iat": now, "exp": now + 300, "jti": "forged-1"
    }));
    let (s, body) = exchange(forged).await;
    assert_eq!(
        (s, body["error_codes"][0].as_u64()),
        (StatusCode::UNAUTHORIZED, Some(700027)),
        "{body}"
    );
    assert_eq!(sim.admin_tokens_issued(), 1);
}
