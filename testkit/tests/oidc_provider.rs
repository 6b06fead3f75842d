//! The oidc-provider harness is a real OAuth 2.0 server: these tests pin down the token-endpoint
//! contract (status codes, error bodies, client authentication encoding) that the token probe is
//! tested against. The contract is written out at the top of `testkit/src/oidc.rs`.

use agentcore_rotator_testkit::oidc::{AuthMethod, OidcClient, OidcServer, DEFAULT_SCOPES};
use base64::prelude::{Engine, BASE64_STANDARD};
use reqwest::header::{HeaderMap, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;
use std::sync::OnceLock;

/// Has every character RFC 6749 §2.3.1 makes interesting: `+ / = : %` and a space. Its `%` is
/// followed by two hex digits, so a server that form-decodes it raw gets a different string
/// (`+` → space, `%41` → `A`) rather than an encoding error.
const SPECIAL_SECRET: &str = "s3cr+t/k3y=v4l:u%41e with space";
/// Its form-urlencoded form, spelled out so the expectation does not rest on our encoder alone.
const SPECIAL_SECRET_FORM_ENCODED: &str = "s3cr%2Bt%2Fk3y%3Dv4l%3Au%2541e+with+space";
/// A `%` not followed by two hex digits: undecodable when sent raw.
const BARE_PERCENT_SECRET: &str = "100% sure+/=:x y";

/// Clients of the shared server. Their registered methods matter only where a test says so.
const BASIC_CLIENT: &str = "basic-client";
const POST_CLIENT: &str = "post-client";
/// Registered with [`SPECIAL_SECRET`] too: the client_id is encoded like the secret.
const SPECIAL_ID_CLIENT: &str = "id:with/special+chars";
/// Registered with [`BARE_PERCENT_SECRET`].
const PERCENT_CLIENT: &str = "percent-client";

/// One server for the whole file (each start costs Node about half a CPU-second); requests do
/// not change what later requests get, so tests share it. It exits with this test process.
fn server() -> &'static OidcServer {
    static SERVER: OnceLock<OidcServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        OidcServer::start(&[
            OidcClient::new(BASIC_CLIENT, SPECIAL_SECRET, AuthMethod::ClientSecretBasic),
            OidcClient::new(POST_CLIENT, SPECIAL_SECRET, AuthMethod::ClientSecretPost),
            OidcClient::new(
                SPECIAL_ID_CLIENT,
                SPECIAL_SECRET,
                AuthMethod::ClientSecretBasic,
            ),
            OidcClient::new(
                PERCENT_CLIENT,
                BARE_PERCENT_SECRET,
                AuthMethod::ClientSecretBasic,
            ),
        ])
    })
}

/// `application/x-www-form-urlencoded` serialisation of one value (WHATWG URL §5.2): ASCII
/// alphanumerics and `*-._` stay, a space becomes `+`, every other byte is `%XX`.
fn form_urlencode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `Basic base64(enc(id) ":" enc(secret))` with `enc` = form-urlencoding (RFC 6749 §2.3.1).
fn basic_rfc6749(client_id: &str, client_secret: &str) -> String {
    basic_of(&form_urlencode(client_id), &form_urlencode(client_secret))
}

/// `Basic base64(id ":" secret)` of the strings exactly as given.
fn basic_of(id_part: &str, secret_part: &str) -> String {
    format!(
        "Basic {}",
        BASE64_STANDARD.encode(format!("{id_part}:{secret_part}"))
    )
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

/// Sends a token request and returns status, headers and the JSON body.
async fn send(request: RequestBuilder) -> (StatusCode, HeaderMap, Value) {
    let response = request.send().await.expect("token endpoint reachable");
    let status = response.status();
    let headers = response.headers().clone();
    assert_eq!(
        headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()),
        Some("application/json; charset=utf-8"),
        "every token endpoint answer is JSON"
    );
    assert_eq!(
        headers.get(CACHE_CONTROL).and_then(|v| v.to_str().ok()),
        Some("no-store"),
        "every token endpoint answer is no-store"
    );
    let body = response.json::<Value>().await.expect("JSON body");
    (status, headers, body)
}

/// A POST to the shared server's token endpoint.
fn token_request() -> RequestBuilder {
    http().post(server().token_endpoint())
}

/// `grant_type=client_credentials`, client authentication left to the caller.
fn client_credentials() -> RequestBuilder {
    token_request().form(&[("grant_type", "client_credentials")])
}

/// client_credentials with `Authorization: <authorization>`.
fn client_credentials_with(authorization: String) -> RequestBuilder {
    client_credentials().header(AUTHORIZATION, authorization)
}

/// client_credentials with client_secret_post.
fn client_credentials_post(client_id: &str, client_secret: &str) -> RequestBuilder {
    token_request().form(&[
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", client_secret),
    ])
}

fn assert_issued_token(status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::OK, "body: {body}");
    let token = body["access_token"].as_str().expect("access_token string");
    assert_eq!(token.len(), 43, "an opaque token: {token}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    assert!(
        body.get("error").is_none(),
        "a success carries no error: {body}"
    );
}

fn assert_invalid_client(status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::UNAUTHORIZED, "body: {body}");
    assert_eq!(
        body,
        &serde_json::json!({
            "error": "invalid_client",
            "error_description": "client authentication failed",
        })
    );
}

fn www_authenticate(headers: &HeaderMap) -> Option<&str> {
    headers.get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok())
}

fn basic_challenge(issuer: &str) -> String {
    format!(
        "Basic realm=\"{issuer}\", error=\"invalid_client\", error_description=\"client authentication failed\""
    )
}

#[tokio::test]
async fn discovery_document_publishes_the_token_endpoint_and_both_secret_auth_methods() {
    let server = server();
    assert_eq!(
        server.issuer,
        format!("http://127.0.0.1:{}", server.port),
        "issuer is the loopback origin"
    );

    let response = http()
        .get(server.discovery_url())
        .send()
        .await
        .expect("discovery reachable");
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.json().await.expect("discovery is JSON");

    assert_eq!(doc["issuer"], server.issuer.as_str());
    assert_eq!(doc["token_endpoint"], server.token_endpoint());
    assert_eq!(server.token_endpoint(), format!("{}/token", server.issuer));
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post"])
    );
    let grants = doc["grant_types_supported"]
        .as_array()
        .expect("grant types");
    assert!(
        grants.contains(&Value::from("client_credentials")),
        "{grants:?}"
    );
    let scopes = doc["scopes_supported"].as_array().expect("scopes");
    for scope in DEFAULT_SCOPES {
        assert!(scopes.contains(&Value::from(*scope)), "{scopes:?}");
    }
}

#[tokio::test]
async fn client_secret_basic_succeeds_when_id_and_secret_are_form_urlencoded_before_base64() {
    assert_eq!(form_urlencode(SPECIAL_SECRET), SPECIAL_SECRET_FORM_ENCODED);
    let header = basic_of(BASIC_CLIENT, SPECIAL_SECRET_FORM_ENCODED);
    assert_eq!(header, basic_rfc6749(BASIC_CLIENT, SPECIAL_SECRET));

    let (status, headers, body) = send(client_credentials_with(header)).await;
    assert_issued_token(status, &body);
    assert!(
        body.get("scope").is_none(),
        "no scope requested, none echoed: {body}"
    );
    assert_eq!(www_authenticate(&headers), None);
}

#[tokio::test]
async fn client_secret_basic_form_urlencodes_the_client_id_too() {
    let (status, _, body) = send(client_credentials_with(basic_rfc6749(
        SPECIAL_ID_CLIENT,
        SPECIAL_SECRET,
    )))
    .await;
    assert_issued_token(status, &body);

    // Raw, the id's `:` splits it early: the server looks up a client that does not exist.
    let (status, _, body) = send(client_credentials_with(basic_of(
        SPECIAL_ID_CLIENT,
        SPECIAL_SECRET_FORM_ENCODED,
    )))
    .await;
    assert_invalid_client(status, &body);
}

#[tokio::test]
async fn client_secret_basic_also_accepts_percent_20_for_a_space() {
    let percent20 = SPECIAL_SECRET_FORM_ENCODED.replace('+', "%20");
    let (status, _, body) = send(client_credentials_with(basic_of(BASIC_CLIENT, &percent20))).await;
    assert_issued_token(status, &body);
}

#[tokio::test]
async fn client_secret_basic_with_the_raw_secret_is_rejected_as_invalid_client() {
    // reqwest's basic_auth base64-encodes `id:secret` as is, without form-urlencoding.
    let request = client_credentials().basic_auth(BASIC_CLIENT, Some(SPECIAL_SECRET));
    let (status, headers, body) = send(request).await;
    assert_invalid_client(status, &body);
    assert_eq!(
        www_authenticate(&headers),
        Some(basic_challenge(&server().issuer).as_str())
    );
}

#[tokio::test]
async fn client_secret_basic_with_a_raw_secret_holding_a_bare_percent_is_rejected_as_invalid_request(
) {
    let (status, headers, body) = send(client_credentials_with(basic_of(
        PERCENT_CLIENT,
        BARE_PERCENT_SECRET,
    )))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "body: {body}");
    assert_eq!(
        body,
        serde_json::json!({
            "error": "invalid_request",
            "error_description":
                "client_id and client_secret in the authorization header are not properly encoded",
        })
    );
    assert_eq!(www_authenticate(&headers), None, "only 401s are challenged");

    let (status, _, body) = send(client_credentials_with(basic_rfc6749(
        PERCENT_CLIENT,
        BARE_PERCENT_SECRET,
    )))
    .await;
    assert_issued_token(status, &body);
}

#[tokio::test]
async fn client_secret_post_succeeds_with_id_and_secret_in_the_form_body() {
    let (status, headers, body) = send(client_credentials_post(POST_CLIENT, SPECIAL_SECRET)).await;
    assert_issued_token(status, &body);
    assert_eq!(www_authenticate(&headers), None);
}

#[tokio::test]
async fn a_wrong_secret_is_rejected_as_invalid_client_with_401() {
    let (status, headers, body) = send(client_credentials_with(basic_rfc6749(
        BASIC_CLIENT,
        "not-the-secret",
    )))
    .await;
    assert_invalid_client(status, &body);
    assert_eq!(
        www_authenticate(&headers),
        Some(basic_challenge(&server().issuer).as_str()),
        "a failed Basic attempt is challenged"
    );

    let (status, headers, body) =
        send(client_credentials_post(POST_CLIENT, "not-the-secret")).await;
    assert_invalid_client(status, &body);
    assert_eq!(
        www_authenticate(&headers),
        None,
        "no challenge without an Authorization header"
    );
}

#[tokio::test]
async fn an_unknown_client_is_indistinguishable_from_a_wrong_secret() {
    let (status, headers, body) = send(client_credentials_with(basic_rfc6749(
        "no-such-client",
        SPECIAL_SECRET,
    )))
    .await;
    assert_invalid_client(status, &body);
    assert_eq!(
        www_authenticate(&headers),
        Some(basic_challenge(&server().issuer).as_str())
    );

    let (status, _, body) = send(client_credentials_post("no-such-client", SPECIAL_SECRET)).await;
    assert_invalid_client(status, &body);
}

#[tokio::test]
async fn the_registered_auth_method_is_not_enforced_between_basic_and_post() {
    let (status, _, body) = send(client_credentials_post(BASIC_CLIENT, SPECIAL_SECRET)).await;
    assert_issued_token(status, &body);

    let (status, _, body) = send(client_credentials_with(basic_rfc6749(
        POST_CLIENT,
        SPECIAL_SECRET,
    )))
    .await;
    assert_issued_token(status, &body);
}

#[tokio::test]
async fn credentials_in_both_the_header_and_the_body_are_an_invalid_request() {
    let request = client_credentials_post(BASIC_CLIENT, SPECIAL_SECRET)
        .header(AUTHORIZATION, basic_rfc6749(BASIC_CLIENT, SPECIAL_SECRET));
    let (status, _, body) = send(request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "body: {body}");
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(
        body["error_description"],
        "client authentication must only be provided using one mechanism"
    );
}

#[tokio::test]
async fn no_credentials_at_all_are_an_invalid_request_but_a_bare_client_id_is_invalid_client() {
    let (status, _, body) = send(client_credentials()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "body: {body}");
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(
        body["error_description"],
        "no client authentication mechanism provided"
    );

    let request = token_request().form(&[
        ("grant_type", "client_credentials"),
        ("client_id", POST_CLIENT),
    ]);
    let (status, _, body) = send(request).await;
    assert_invalid_client(status, &body);
}

#[tokio::test]
async fn a_requested_scope_is_echoed_an_unknown_one_dropped_and_an_unregistered_one_refused() {
    let with_scope = |scope: &str| {
        token_request()
            .header(AUTHORIZATION, basic_rfc6749(BASIC_CLIENT, SPECIAL_SECRET))
            .form(&[("grant_type", "client_credentials"), ("scope", scope)])
    };

    let (status, _, body) = send(with_scope("api:read")).await;
    assert_issued_token(status, &body);
    assert_eq!(body["scope"], "api:read");

    let (status, _, body) = send(with_scope("api:read api:unknown")).await;
    assert_issued_token(status, &body);
    assert_eq!(body["scope"], "api:read");

    // `openid` is always a server scope but never registered for our clients.
    let (status, _, body) = send(with_scope("openid")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "body: {body}");
    assert_eq!(
        body,
        serde_json::json!({
            "error": "invalid_scope",
            "error_description": "requested scope is not allowed",
            "scope": "openid",
        })
    );
}

#[tokio::test]
async fn an_authenticated_request_without_grant_type_or_with_another_grant_is_refused() {
    let auth = basic_rfc6749(BASIC_CLIENT, SPECIAL_SECRET);

    let (status, _, body) = send(
        token_request()
            .header(AUTHORIZATION, auth.clone())
            .form(&[("scope", "api:read")]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "body: {body}");
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(
        body["error_description"],
        "missing required parameter 'grant_type'"
    );

    let (status, _, body) = send(
        token_request()
            .header(AUTHORIZATION, auth)
            .form(&[("grant_type", "password")]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "body: {body}");
    assert_eq!(body["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn a_server_started_with_its_own_scopes_advertises_them_and_stops_when_dropped() {
    let own = OidcServer::start_with_scopes(
        &[OidcClient::new(
            "own-client",
            "own secret",
            AuthMethod::ClientSecretPost,
        )],
        &["reports:read"],
    );
    assert_ne!(own.port, server().port, "each server is its own process");
    let discovery = own.discovery_url();
    let doc: Value = http()
        .get(&discovery)
        .send()
        .await
        .expect("discovery reachable")
        .json()
        .await
        .expect("discovery is JSON");
    assert_eq!(
        doc["scopes_supported"],
        serde_json::json!(["reports:read", "openid"])
    );

    drop(own);
    assert!(
        http().get(&discovery).send().await.is_err(),
        "nothing listens on the port once the server is dropped"
    );
}

#[tokio::test]
async fn a_json_body_or_a_non_basic_authorization_scheme_is_an_invalid_request() {
    let request = token_request()
        .header(AUTHORIZATION, basic_rfc6749(BASIC_CLIENT, SPECIAL_SECRET))
        .json(&serde_json::json!({ "grant_type": "client_credentials" }));
    let (status, _, body) = send(request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "body: {body}");
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(
        body["error_description"],
        "only application/x-www-form-urlencoded content-type bodies are supported on POST /token"
    );

    let (status, _, body) = send(client_credentials_with("Bearer not-a-client".into())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "body: {body}");
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(
        body["error_description"],
        "invalid authorization header value format"
    );
}
