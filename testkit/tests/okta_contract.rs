//! The Okta simulator against Okta's contract: Okta's official Python SDK (`okta`, driven by
//! `testkit/contract/okta/driver.py`) runs the app client-secret operations, and its own
//! `private_key_jwt` flow, against the simulator and must parse every answer; the app token
//! endpoint, the admin assertion checks and the rate limiter are exercised over plain HTTP.

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agentcore_rotator_testkit::idp::assertion::TestSigner;
use agentcore_rotator_testkit::idp::common::{rsa_jwk, test_rsa_key};
use agentcore_rotator_testkit::idp::okta::{ops, OktaSim, JWT_BEARER};
use agentcore_rotator_testkit::moto::{contract_python, repo_root};
use reqwest::StatusCode;
use serde_json::{json, Value};

const SERVICE_APP: &str = "0oa-rotator-service";
const KID: &str = "contract-rsa-1";

fn run_driver(sim: &OktaSim, app_id: &str) -> Value {
    let out = Command::new(contract_python())
        .arg(repo_root().join("testkit/contract/okta/driver.py"))
        .args([
            sim.org_url(),
            &sim.api_token(),
            app_id,
            SERVICE_APP,
            repo_root()
                .join("testkit/src/idp/test_rsa_key.der")
                .to_str()
                .unwrap(),
            KID,
        ])
        .output()
        .expect("run the Okta SDK driver (scripts/setup creates .venv-contract)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "driver failed: {stderr}");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("driver output is not JSON ({e}): {stderr}"))
}

#[test]
fn okta_sdk_reads_every_answer_of_the_app_secrets_api_and_its_own_private_key_jwt_is_accepted() {
    let sim = OktaSim::start();
    let (app_id, _) = sim.create_app("contract");
    let key = test_rsa_key();
    sim.register_admin_client(
        SERVICE_APP,
        rsa_jwk(&key, KID),
        &["okta.apps.read", "okta.apps.manage"],
    );
    let out = run_driver(&sim, &app_id);

    let initial = &out["initial"]["secrets"];
    assert_eq!(initial.as_array().unwrap().len(), 1, "{out}");
    assert_eq!(initial[0]["status"], "ACTIVE");
    assert!(initial[0]["id"].as_str().unwrap().starts_with("ocs"));
    assert!(initial[0]["has_links"].as_bool().unwrap());
    assert!(initial[0]["created"].as_str().unwrap().ends_with('Z'));

    let created = &out["create"]["secret"];
    assert_eq!(
        created["client_secret"], out["create"]["chosen"],
        "the value once, in full"
    );
    assert_eq!(created["status"], "ACTIVE");

    let third = &out["third"]["error"];
    assert_eq!(third["status"], 400, "{out}");
    assert_eq!(third["code"], "E0000001");
    assert!(third["causes"][0]
        .as_str()
        .unwrap()
        .contains("maximum number of client secrets"));

    for (step, cause) in [
        ("delete_active", "Deactivate the secret before deleting it"),
        ("deactivate_last_active", "only active client secret"),
    ] {
        let e = &out[step]["error"];
        assert_eq!(e["code"], "E0000001", "{step}: {out}");
        assert!(
            e["causes"][0].as_str().unwrap().contains(cause),
            "{step}: {e}"
        );
    }
    assert_eq!(out["deactivate"]["secret"]["status"], "INACTIVE");
    assert_eq!(out["get"]["secret"]["status"], "INACTIVE");
    assert_ne!(
        out["get"]["secret"]["client_secret"], out["create"]["chosen"],
        "listed values are masked"
    );
    assert_eq!(out["activate"]["secret"]["status"], "ACTIVE");
    assert_eq!(out["delete_inactive"]["error"], Value::Null, "{out}");
    assert_eq!(out["delete_again"]["error"]["code"], "E0000007");
    assert_eq!(out["unknown_app"]["error"]["status"], 404);
    assert_eq!(out["unknown_app"]["error"]["code"], "E0000007");

    let listed = out["oauth_list"]["secrets"].as_array().unwrap();
    assert_eq!(out["oauth_list"]["error"], Value::Null, "{out}");
    assert_eq!(listed.len(), 1, "only the SDK-created secret is left");
    assert_eq!(
        sim.admin_tokens_issued(),
        1,
        "the SDK's own assertion was accepted"
    );
    assert_eq!(sim.calls(ops::CREATE_SECRET), 2);
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn post_form(
    url: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut req = reqwest::Client::new().post(url).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let resp = req.send().await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    (status, headers, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn apps_prove_active_secrets_at_the_custom_server_once_propagated() {
    let sim = OktaSim::start();
    let (app, secret) = sim.create_app("probe");
    let url = sim.token_endpoint("default");
    let cc = [("grant_type", "client_credentials"), ("scope", "agents")];
    let (s, _, body) = post_form(&url, Some((&app, &secret)), &cc).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let post = [
        ("grant_type", "client_credentials"),
        ("client_id", app.as_str()),
        ("client_secret", secret.as_str()),
    ];
    assert_eq!(post_form(&url, None, &post).await.0, StatusCode::OK);
    let (s, _, body) = post_form(&url, Some((&app, "wrong-secret-0123456789")), &cc).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");

    sim.set_propagation_delay(Duration::from_millis(400));
    let inactive = sim.add_secret_out_of_band(&app, "inactive-secret-0123456789", false);
    assert!(inactive.starts_with("ocs"));
    let (s, _, _) = post_form(&url, Some((&app, "inactive-secret-0123456789")), &cc).await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "INACTIVE authenticates nothing"
    );

    let api = reqwest::Client::new();
    let created: Value = api
        .post(format!(
            "{}/api/v1/apps/{app}/credentials/secrets",
            sim.org_url()
        ))
        .header("authorization", format!("SSWS {}", sim.api_token()))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        created["errorCode"], "E0000001",
        "the cap counts INACTIVE secrets"
    );
    let discovery: Value = api
        .get(format!(
            "{}/oauth2/default/.well-known/openid-configuration",
            sim.org_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["token_endpoint"], url);
    let missing = api
        .get(format!(
            "{}/oauth2/nope/.well-known/oauth-authorization-server",
            sim.org_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn service_app_assertions_are_checked_and_tokens_carry_only_granted_scopes() {
    let sim = OktaSim::start();
    let (app, _) = sim.create_app("admin");
    let signer = TestSigner::new();
    sim.register_admin_client(SERVICE_APP, signer.jwk(), &["okta.apps.read"]);
    let aud = sim.admin_token_endpoint();
    let claims = |aud: &str, exp: i64, jti: &str| json!({"iss": SERVICE_APP, "sub": SERVICE_APP, "aud": aud, "iat": now(), "exp": exp, "jti": jti});
    let endpoint = sim.admin_token_endpoint();
    let request = |jwt: String, scope: &'static str| {
        let endpoint = endpoint.clone();
        async move {
            let form = [
                ("grant_type", "client_credentials".to_string()),
                ("scope", scope.to_string()),
                ("client_assertion_type", JWT_BEARER.to_string()),
                ("client_assertion", jwt),
            ];
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_form(&endpoint, None, &form).await
        }
    };
    let good = signer.sign(&claims(&aud, now() + 300, "j-1"));
    let (s, _, body) = request(good.clone(), "okta.apps.read").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let token = body["access_token"].as_str().unwrap().to_string();
    let (s, _, body) = request(good, "okta.apps.read").await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "replayed jti"
    );
    for (jwt, why) in [
        (
            signer.sign(&claims(
                "https://elsewhere/oauth2/v1/token",
                now() + 300,
                "j-2",
            )),
            "audience",
        ),
        (signer.sign(&claims(&aud, now() - 3600, "j-3")), "expired"),
        (
            TestSigner::new().sign(&claims(&aud, now() + 300, "j-4")),
            "another key",
        ),
    ] {
        let (s, _, body) = request(jwt, "okta.apps.read").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{why}: {body}");
        assert_eq!(body["error"], "invalid_client", "{why}");
    }
    let (s, _, body) = request(
        signer.sign(&claims(&aud, now() + 300, "j-5")),
        "okta.apps.manage",
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );

    // A read-only token may list but not create, and says which scope is missing.
    let api = reqwest::Client::new();
    let url = format!("{}/api/v1/apps/{app}/credentials/secrets", sim.org_url());
    let list = api.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(list.status(), StatusCode::OK);
    let create = api
        .post(&url)
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(create.status(), StatusCode::FORBIDDEN);
    let challenge = create.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(challenge.contains("insufficient_scope") && challenge.contains("okta.apps.manage"));
    let body: Value = create.json().await.unwrap();
    assert_eq!(body["errorCode"], "E0000006");
    sim.expire_tokens();
    let expired = api.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    let body: Value = expired.json().await.unwrap();
    assert_eq!(body["errorCode"], "E0000011");
}

#[tokio::test]
async fn the_rate_limiter_answers_like_oktas() {
    let sim = OktaSim::start();
    let (app, _) = sim.create_app("limited");
    sim.fail_admin_calls(&[429]);
    let resp = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/apps/{app}/credentials/secrets",
            sim.org_url()
        ))
        .header("authorization", format!("SSWS {}", sim.api_token()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let reset: i64 = resp.headers()["x-rate-limit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset >= now());
    assert_eq!(resp.headers()["x-rate-limit-remaining"], "0");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errorCode"], "E0000047");
}
