//! The Keycloak simulator against Keycloak's contract: the official admin client
//! (`@keycloak/keycloak-admin-client`, driven by `testkit/contract/keycloak/driver.mjs`) runs the
//! client-secret operations the rotator uses and must read what the simulator answers; the token
//! endpoint and the admin assertion check are exercised over plain HTTP.

use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agentcore_rotator_testkit::idp::assertion::TestSigner;
use agentcore_rotator_testkit::idp::keycloak::{ops, KeycloakSim, JWT_BEARER, MASKED};
use agentcore_rotator_testkit::moto::{ensure_setup, repo_root};
use base64::prelude::{Engine, BASE64_STANDARD};
use reqwest::StatusCode;
use serde_json::{json, Value};

const REALM: &str = "agents";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn http() -> reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(reqwest::Client::new).clone()
}

/// `application/x-www-form-urlencoded` serialisation of one value.
fn form_urlencode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn basic(id_part: &str, secret_part: &str) -> String {
    format!(
        "Basic {}",
        BASE64_STANDARD.encode(format!("{id_part}:{secret_part}"))
    )
}

/// POSTs a form to the token endpoint: (status, headers, body as JSON or Null).
async fn token_request(
    sim: &KeycloakSim,
    realm: &str,
    authorization: Option<&str>,
    form: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut req = http().post(sim.token_endpoint(realm)).form(form);
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    let resp = req.send().await.expect("token request");
    let (status, headers) = (resp.status(), resp.headers().clone());
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

async fn post_secret(
    sim: &KeycloakSim,
    realm: &str,
    client_id: &str,
    secret: &str,
) -> (StatusCode, Value) {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", secret),
    ];
    let (status, _, body) = token_request(sim, realm, None, &form).await;
    (status, body)
}

/// An admin API call with a bearer: (status, headers, body as JSON or Null).
async fn admin_call(
    method: reqwest::Method,
    url: &str,
    bearer: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let resp = http()
        .request(method, url)
        .bearer_auth(bearer)
        .send()
        .await
        .expect("admin request");
    let (status, headers) = (resp.status(), resp.headers().clone());
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

fn secret_url(sim: &KeycloakSim, realm: &str, client_id: &str) -> String {
    format!(
        "{}/clients/{}/client-secret",
        sim.admin_url(realm),
        sim.client_uuid(realm, client_id)
    )
}

async fn regenerate(sim: &KeycloakSim, realm: &str, client_id: &str) -> String {
    let url = secret_url(sim, realm, client_id);
    let (status, _, body) =
        admin_call(reqwest::Method::POST, &url, &sim.admin_token_for_tests()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["type"], "secret");
    body["value"].as_str().expect("a value").to_string()
}

// ---------------------------------------------------------------------------------------------
// The official admin client

/// Runs the driver with `cfg` and returns its `steps`; fails (never skips) when Node or the
/// library is missing.
fn run_driver(cfg: &Value) -> Value {
    let dir = repo_root().join("testkit/contract/keycloak");
    let sdk = dir.join("node_modules/@keycloak/keycloak-admin-client/package.json");
    if !sdk.exists() {
        ensure_setup();
    }
    assert!(
        sdk.exists(),
        "@keycloak/keycloak-admin-client is not installed under {}: run scripts/setup",
        dir.display()
    );
    let out = Command::new("node")
        .arg(dir.join("driver.mjs"))
        .env("KC_CONTRACT", cfg.to_string())
        .output()
        .expect("failed to run node (Node.js 20+ must be on PATH; run scripts/setup)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "driver failed: {stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "driver output is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    report["steps"].clone()
}

fn ok<'a>(steps: &'a Value, name: &str) -> &'a Value {
    let s = &steps[name];
    assert!(
        s.get("ok").is_some(),
        "step {name} failed: {}",
        s.get("error").unwrap_or(&Value::Null)
    );
    &s["ok"]
}

/// Asserts the step failed with the library's NetworkError carrying `status` and `message`.
fn failed(steps: &Value, name: &str, status: u16, message: &str) -> Value {
    let e = steps[name]
        .get("error")
        .unwrap_or_else(|| panic!("step {name} should have failed: {}", steps[name]));
    assert_eq!(e["name"], "NetworkError", "{name}: {e}");
    assert_eq!(e["status"], status, "{name}: {e}");
    assert_eq!(e["message"], message, "{name}: {e}");
    e["data"].clone()
}

#[test]
fn the_official_admin_client_reads_regenerates_and_invalidates_secrets() {
    let sim = KeycloakSim::start();
    let (plain_uuid, plain_initial) = sim.create_client(REALM, "plain");
    let (rot_uuid, rot_initial) = sim.create_client(REALM, "rotating");
    sim.enable_secret_rotation(REALM, "rotating", Duration::from_secs(3600));
    let chosen = "chosen-by-the-caller_0123456789abcdef";
    let steps = run_driver(&json!({
        "baseUrl": sim.base_url(),
        "realm": REALM,
        "token": sim.admin_token_for_tests(),
        "noRoleToken": sim.admin_token_with_roles(REALM, &[]),
        "plainClientId": "plain",
        "rotatingClientId": "rotating",
        "unknownId": "00000000-0000-4000-8000-000000000000",
        "missingRealm": "no-such-realm",
        "chosenSecret": chosen,
    }));

    // Reads: the UUID, the secret and its creation time; nothing rotated.
    let found = ok(&steps, "plain.find")
        .as_array()
        .expect("an array")
        .clone();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], plain_uuid.as_str());
    assert_eq!(found[0]["clientId"], "plain");
    assert_eq!(found[0]["secret"], plain_initial.as_str());
    assert_eq!(found[0]["clientAuthenticatorType"], "client-secret");
    let created: i64 = found[0]["attributes"]["client.secret.creation.time"]
        .as_str()
        .expect("creation time")
        .parse()
        .unwrap();
    assert!((created - now()).abs() < 60);
    assert!(found[0]["attributes"]
        .get("client.secret.rotated")
        .is_none());
    assert_eq!(
        ok(&steps, "plain.findOne")["secret"],
        plain_initial.as_str()
    );
    assert_eq!(
        ok(&steps, "plain.getClientSecret"),
        &json!({"type": "secret", "value": plain_initial})
    );

    // Regenerate without the policy: a new server-chosen value replaces the old one.
    let generated = ok(&steps, "plain.generateNewClientSecret");
    assert_eq!(generated["type"], "secret");
    let plain_new = generated["value"].as_str().expect("value").to_string();
    assert_eq!(plain_new.len(), 32);
    assert!(plain_new.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_ne!(plain_new, plain_initial);
    assert_eq!(
        ok(&steps, "plain.getClientSecret.after")["value"],
        plain_new.as_str()
    );
    let after = &ok(&steps, "plain.find.after")[0];
    assert_eq!(after["secret"], plain_new.as_str());
    assert!(after["attributes"].get("client.secret.rotated").is_none());
    // 204s come back as the library's empty string.
    assert_eq!(ok(&steps, "plain.invalidateSecret"), "");
    // A PUT with a caller-chosen secret replaces it in place.
    assert_eq!(ok(&steps, "plain.update"), "");
    assert_eq!(
        ok(&steps, "plain.getClientSecret.afterUpdate")["value"],
        chosen
    );
    assert!(sim.accepts(REALM, "plain", chosen));
    assert!(!sim.accepts(REALM, "plain", &plain_new));
    assert!(!sim.accepts(REALM, "plain", &plain_initial));

    // With the policy: the old secret is kept as the rotated one, one at a time.
    assert_eq!(
        ok(&steps, "rot.getClientSecret")["value"],
        rot_initial.as_str()
    );
    let r1 = ok(&steps, "rot.generateNewClientSecret.1")["value"]
        .as_str()
        .unwrap()
        .to_string();
    let one = ok(&steps, "rot.findOne.1");
    assert_eq!(one["id"], rot_uuid.as_str());
    assert_eq!(one["secret"], r1.as_str());
    let attrs = &one["attributes"];
    assert_eq!(attrs["client.secret.rotated"], rot_initial.as_str());
    let rotated_expiry: i64 = attrs["client.secret.rotated.expiration.time"]
        .as_str()
        .expect("rotated expiration")
        .parse()
        .unwrap();
    assert!((rotated_expiry - (now() + 3600)).abs() < 60);
    assert!(attrs.get("client.secret.rotated.creation.time").is_some());
    assert!(attrs.get("client.secret.expiration.time").is_some());
    let r2 = ok(&steps, "rot.generateNewClientSecret.2")["value"]
        .as_str()
        .unwrap()
        .to_string();
    let two = &ok(&steps, "rot.find.2")[0];
    assert_eq!(two["secret"], r2.as_str());
    assert_eq!(two["attributes"]["client.secret.rotated"], r1.as_str());
    assert_eq!(ok(&steps, "rot.invalidateSecret"), "");
    let gone = ok(&steps, "rot.findOne.afterInvalidate");
    assert!(gone["attributes"].get("client.secret.rotated").is_none());
    assert_eq!(ok(&steps, "rot.invalidateSecret.again"), "");
    assert!(sim.accepts(REALM, "rotating", &r2));
    assert!(!sim.accepts(REALM, "rotating", &r1));
    assert!(!sim.accepts(REALM, "rotating", &rot_initial));

    // Errors as the library surfaces them.
    assert_eq!(ok(&steps, "unknown.findOne"), &Value::Null);
    for name in [
        "unknown.getClientSecret",
        "unknown.generateNewClientSecret",
        "unknown.invalidateSecret",
    ] {
        let data = failed(&steps, name, 404, "Could not find client");
        assert_eq!(data, json!({"error": "Could not find client"}));
    }
    assert_eq!(ok(&steps, "unknown.find"), &json!([]));
    failed(&steps, "missingRealm.find", 404, "Realm not found.");
    failed(&steps, "badToken.find", 401, "HTTP 401 Unauthorized");
    for name in [
        "noRole.find",
        "noRole.getClientSecret",
        "noRole.generateNewClientSecret",
    ] {
        failed(&steps, name, 403, "HTTP 403 Forbidden");
    }
    // Keycloak's own defect on this one route: a missing role is a 500.
    let data = failed(&steps, "noRole.invalidateSecret", 500, "unknown_error");
    assert_eq!(
        data["error_description"],
        "For more on this error consult the server log."
    );

    assert_eq!(sim.calls(ops::REGENERATE_SECRET), 5);
    assert_eq!(sim.calls(ops::DELETE_ROTATED), 5);
}

// ---------------------------------------------------------------------------------------------
// Token endpoint

/// Has every character RFC 6749 §2.3.1 makes interesting; `%41` decodes to `A` when sent raw.
const SPECIAL_SECRET: &str = "s3cr+t/k3y=v4l:u%41e with space";

#[tokio::test]
async fn client_credentials_take_form_decoded_basic_and_post() {
    let sim = KeycloakSim::start();
    sim.create_client(REALM, "svc");
    sim.set_secret_out_of_band(REALM, "svc", SPECIAL_SECRET);

    let encoded = basic(&form_urlencode("svc"), &form_urlencode(SPECIAL_SECRET));
    let grant = [("grant_type", "client_credentials")];
    let (status, headers, body) = token_request(&sim, REALM, Some(&encoded), &grant).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["access_token"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["refresh_expires_in"], 0);
    assert_eq!(body["not-before-policy"], 0);
    assert_eq!(headers["cache-control"], "no-store");

    // Sent raw, `+` decodes to a space and `%41` to `A`: a different secret.
    let raw = basic("svc", SPECIAL_SECRET);
    let (status, _, body) = token_request(&sim, REALM, Some(&raw), &grant).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "unauthorized_client");

    let (status, body) = post_secret(&sim, REALM, "svc", SPECIAL_SECRET).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(sim.calls(ops::TOKEN), 3);
}

#[tokio::test]
async fn a_wrong_secret_is_unauthorized_client_and_an_unknown_client_invalid_client() {
    let sim = KeycloakSim::start();
    let (_, secret) = sim.create_client(REALM, "svc");
    let (status, body) = post_secret(&sim, REALM, "svc", "not-the-secret").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"error": "unauthorized_client", "error_description": "Invalid client or Invalid client credentials"})
    );
    let (status, body) = post_secret(&sim, REALM, "nobody", &secret).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"error": "invalid_client", "error_description": "Invalid client or Invalid client credentials"})
    );
    // A client of another realm is unknown here; an unknown realm is a 404.
    sim.create_client("elsewhere", "other");
    let (status, _) = post_secret(&sim, REALM, "other", &secret).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = post_secret(&sim, "no-such-realm", "svc", &secret).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"error": "Realm does not exist"}));
}

#[tokio::test]
async fn the_grant_type_is_checked_before_the_client() {
    let sim = KeycloakSim::start();
    sim.create_client(REALM, "svc");
    let (status, _, body) = token_request(&sim, REALM, None, &[("client_id", "svc")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": "invalid_request", "error_description": "Missing form parameter: grant_type"})
    );
    let form = [("grant_type", "urn:example:nothing"), ("client_id", "svc")];
    let (status, _, body) = token_request(&sim, REALM, None, &form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn without_the_policy_a_regenerate_stops_the_old_secret_at_once() {
    let sim = KeycloakSim::start();
    let (_, old) = sim.create_client(REALM, "svc");
    let new = regenerate(&sim, REALM, "svc").await;
    assert_eq!(
        post_secret(&sim, REALM, "svc", &new).await.0,
        StatusCode::OK
    );
    assert_eq!(
        post_secret(&sim, REALM, "svc", &old).await.0,
        StatusCode::UNAUTHORIZED
    );
    let url = format!("{}/rotated", secret_url(&sim, REALM, "svc"));
    let (status, _, body) =
        admin_call(reqwest::Method::GET, &url, &sim.admin_token_for_tests()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"error": "Client does not have a rotated secret"})
    );
}

#[tokio::test]
async fn with_the_policy_both_secrets_work_until_the_rotated_one_expires() {
    let sim = KeycloakSim::start();
    let (_, first) = sim.create_client(REALM, "svc");
    sim.enable_secret_rotation(REALM, "svc", Duration::from_millis(300));
    let second = regenerate(&sim, REALM, "svc").await;
    for s in [&first, &second] {
        assert_eq!(post_secret(&sim, REALM, "svc", s).await.0, StatusCode::OK);
    }
    let url = format!("{}/rotated", secret_url(&sim, REALM, "svc"));
    let admin = sim.admin_token_for_tests();
    let (status, headers, body) = admin_call(reqwest::Method::GET, &url, &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"type": "secret", "value": first}));
    assert_eq!(headers["cache-control"], "no-cache");

    // Past its expiry the rotated secret stops authenticating but is still readable.
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        post_secret(&sim, REALM, "svc", &first).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post_secret(&sim, REALM, "svc", &second).await.0,
        StatusCode::OK
    );
    let (status, _, body) = admin_call(reqwest::Method::GET, &url, &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["value"], first.as_str());

    // A later regenerate replaces the rotated one; the knob expires it without waiting.
    sim.enable_secret_rotation(REALM, "svc", Duration::from_secs(3600));
    let third = regenerate(&sim, REALM, "svc").await;
    assert_eq!(
        sim.rotated_secret(REALM, "svc").as_deref(),
        Some(second.as_str())
    );
    assert!(sim.accepts(REALM, "svc", &second) && sim.accepts(REALM, "svc", &third));
    assert!(!sim.accepts(REALM, "svc", &first));
    sim.expire_rotated_secret(REALM, "svc");
    assert!(!sim.accepts(REALM, "svc", &second));
    let (status, _, _) = admin_call(reqwest::Method::DELETE, &url, &admin).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(sim.rotated_secret(REALM, "svc"), None);
}

#[tokio::test]
async fn a_new_secret_works_only_after_the_propagation_delay() {
    let sim = KeycloakSim::start();
    let (_, old) = sim.create_client(REALM, "svc");
    sim.enable_secret_rotation(REALM, "svc", Duration::from_secs(3600));
    sim.set_propagation_delay(Duration::from_millis(300));
    let new = regenerate(&sim, REALM, "svc").await;
    assert_eq!(
        post_secret(&sim, REALM, "svc", &new).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post_secret(&sim, REALM, "svc", &old).await.0,
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        post_secret(&sim, REALM, "svc", &new).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn injected_token_faults_come_first_and_429_says_when_to_retry() {
    let sim = KeycloakSim::start();
    let (_, secret) = sim.create_client(REALM, "svc");
    sim.fail_token_requests(&[429, 503]);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "svc"),
        ("client_secret", secret.as_str()),
    ];
    let (status, headers, _) = token_request(&sim, REALM, None, &form).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "1");
    let (status, _, _) = token_request(&sim, REALM, None, &form).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, _, _) = token_request(&sim, REALM, None, &form).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sim.calls(ops::TOKEN), 3);
}

#[tokio::test]
async fn discovery_names_the_realm_issuer_and_its_token_endpoint() {
    let sim = KeycloakSim::start();
    sim.create_realm(REALM);
    let url = format!("{}/.well-known/openid-configuration", sim.issuer(REALM));
    let doc: Value = http().get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["issuer"], sim.issuer(REALM).as_str());
    assert_eq!(doc["token_endpoint"], sim.token_endpoint(REALM).as_str());
    assert_eq!(
        doc["jwks_uri"],
        format!("{}/protocol/openid-connect/certs", sim.issuer(REALM)).as_str()
    );
    let methods = doc["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    for m in [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    ] {
        assert!(methods.iter().any(|x| x == m), "{m} missing");
    }
    let jwks = http()
        .get(doc["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.status(), StatusCode::OK);
    let missing = http()
        .get(format!(
            "{}/.well-known/openid-configuration",
            sim.issuer("no-such-realm")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------------------------------------
// Admin authentication: a signed-JWT admin client and the bearers it gets

const ADMIN: &str = "rotator-admin";

fn assertion_claims(aud: Value, jti: &str) -> Value {
    json!({
        "iss": ADMIN, "sub": ADMIN, "aud": aud,
        "iat": now(), "exp": now() + 60, "jti": jti,
    })
}

async fn assertion_grant(sim: &KeycloakSim, jwt: &str) -> (StatusCode, Value) {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", jwt),
    ];
    let (status, _, body) = token_request(sim, REALM, None, &form).await;
    (status, body)
}

fn admin_sim(roles: &[&str]) -> (KeycloakSim, TestSigner) {
    let sim = KeycloakSim::start();
    let signer = TestSigner::new();
    sim.register_admin_client(REALM, ADMIN, signer.jwk(), roles);
    sim.create_client(REALM, "svc");
    (sim, signer)
}

#[tokio::test]
async fn a_good_assertion_gets_a_bearer_that_the_admin_api_accepts() {
    let (sim, signer) = admin_sim(&["manage-clients"]);
    let clients = format!("{}/clients?clientId=svc", sim.admin_url(REALM));
    for (n, aud) in [sim.token_endpoint(REALM), sim.issuer(REALM)]
        .into_iter()
        .enumerate()
    {
        let jwt = signer.sign(&assertion_claims(json!(aud), &format!("ok-{n}")));
        let (status, body) = assertion_grant(&sim, &jwt).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["token_type"], "Bearer");
        let bearer = body["access_token"].as_str().unwrap();
        let (status, _, list) = admin_call(reqwest::Method::GET, &clients, bearer).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list[0]["secret"], sim.current_secret(REALM, "svc").as_str());
    }
    assert_eq!(sim.admin_tokens_issued(), 2);
}

#[tokio::test]
async fn bad_assertions_are_refused_and_nothing_is_issued() {
    let (sim, signer) = admin_sim(&["manage-clients"]);
    let other = TestSigner::new();
    let aud = json!(sim.token_endpoint(REALM));
    let signed_jwt_failure = |body: &Value, reason: &str| {
        assert_eq!(body["error"], "invalid_client", "{body}");
        let d = body["error_description"].as_str().unwrap_or_default();
        assert!(
            d.starts_with("Client authentication with signed JWT failed: ") && d.contains(reason),
            "{reason}: {d}"
        );
    };

    let wrong_key = other.sign(&assertion_claims(aud.clone(), "k"));
    let (status, body) = assertion_grant(&sim, &wrong_key).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    signed_jwt_failure(&body, "signature");

    let mut expired = assertion_claims(aud.clone(), "e");
    expired["exp"] = json!(now() - 600);
    let (status, body) = assertion_grant(&sim, &signer.sign(&expired)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    signed_jwt_failure(&body, "expired");

    let mut stale = assertion_claims(aud.clone(), "s");
    stale["iat"] = json!(now() - 600);
    let (status, body) = assertion_grant(&sim, &signer.sign(&stale)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    signed_jwt_failure(&body, "issued too far in the past");

    let wrong_aud = signer.sign(&assertion_claims(
        json!("https://elsewhere.example/token"),
        "a",
    ));
    let (status, body) = assertion_grant(&sim, &wrong_aud).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    signed_jwt_failure(&body, "audience");

    let both = json!([sim.issuer(REALM), sim.token_endpoint(REALM)]);
    let (status, body) = assertion_grant(&sim, &signer.sign(&assertion_claims(both, "m"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    signed_jwt_failure(&body, "Multiple audiences not allowed");

    // iss ≠ sub: not the client's own assertion; the flow ends with no client.
    let mut foreign = assertion_claims(aud.clone(), "f");
    foreign["iss"] = json!("https://some-other-issuer.example");
    let (status, body) = assertion_grant(&sim, &signer.sign(&foreign)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");

    // One use per jti.
    let good = signer.sign(&assertion_claims(aud.clone(), "once"));
    assert_eq!(assertion_grant(&sim, &good).await.0, StatusCode::OK);
    let (status, body) = assertion_grant(&sim, &good).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    signed_jwt_failure(&body, "jti");
    assert_eq!(sim.admin_tokens_issued(), 1);

    // An admin client cannot use a secret, and a secret client cannot use an assertion.
    let (status, _) = post_secret(&sim, REALM, ADMIN, "anything").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let mut as_svc = assertion_claims(aud, "svc");
    as_svc["iss"] = json!("svc");
    as_svc["sub"] = json!("svc");
    let (status, _) = assertion_grant(&sim, &signer.sign(&as_svc)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(sim.admin_tokens_issued(), 1);
}

#[tokio::test]
async fn admin_calls_need_a_live_bearer_holding_manage_clients() {
    let (sim, signer) = admin_sim(&["view-clients"]);
    let secret = secret_url(&sim, REALM, "svc");
    let clients = format!("{}/clients?clientId=svc", sim.admin_url(REALM));

    // view-clients lists clients with the secrets masked, and may not read or change them.
    let jwt = signer.sign(&assertion_claims(json!(sim.token_endpoint(REALM)), "v"));
    let (_, body) = assertion_grant(&sim, &jwt).await;
    let viewer = body["access_token"].as_str().unwrap().to_string();
    let (status, _, list) = admin_call(reqwest::Method::GET, &clients, &viewer).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list[0]["secret"], MASKED);
    assert_eq!(list[0]["access"]["manage"], false);
    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let (status, _, body) = admin_call(method, &secret, &viewer).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body, json!({"error": "HTTP 403 Forbidden"}));
    }

    // A rotated client's own token and another realm's admin hold no role here.
    let (_, svc_secret) = sim.create_client(REALM, "svc2");
    let (_, body) = post_secret(&sim, REALM, "svc2", &svc_secret).await;
    let svc_token = body["access_token"].as_str().unwrap();
    assert_eq!(
        admin_call(reqwest::Method::GET, &clients, svc_token)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let foreign = sim.admin_token_with_roles("elsewhere", &["manage-clients"]);
    assert_eq!(
        admin_call(reqwest::Method::GET, &secret, &foreign).await.0,
        StatusCode::FORBIDDEN
    );

    // Expired bearers are 401, with Keycloak's body and no challenge header.
    sim.expire_tokens();
    let (status, headers, body) = admin_call(reqwest::Method::GET, &clients, &viewer).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, json!({"error": "HTTP 401 Unauthorized"}));
    assert!(headers.get("www-authenticate").is_none());

    // The lifespan knob shows in expires_in.
    sim.set_token_lifespan(Duration::from_secs(60));
    let jwt = signer.sign(&assertion_claims(json!(sim.token_endpoint(REALM)), "l"));
    assert_eq!(assertion_grant(&sim, &jwt).await.1["expires_in"], 60);
}

#[tokio::test]
async fn injected_admin_faults_precede_authentication_and_are_counted() {
    let sim = KeycloakSim::start();
    sim.create_client(REALM, "svc");
    let url = secret_url(&sim, REALM, "svc");
    let admin = sim.admin_token_for_tests();
    sim.fail_admin_calls(&[503, 429]);
    assert_eq!(
        admin_call(reqwest::Method::GET, &url, &admin).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let (status, headers, _) = admin_call(reqwest::Method::GET, &url, &admin).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "1");
    let (status, _, body) = admin_call(reqwest::Method::GET, &url, &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["value"], sim.current_secret(REALM, "svc").as_str());
    assert_eq!(sim.calls(ops::GET_SECRET), 3);
}
