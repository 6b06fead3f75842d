//! The token probe against oidc-provider, an independent, OpenID Certified OAuth server whose
//! client-authentication rules we did not write.

use std::time::Duration;

use agentcore_rotator::http::{Origin, OriginPolicy};
use agentcore_rotator::secret_doc::{ClientAuth, TokenEndpoint};
use agentcore_rotator::sensitive::SecretString;
use agentcore_rotator::upstream::token_probe::{
    ProbeEndpoint, ProbeError, ProbeRequest, TokenProbe,
};
use agentcore_rotator_testkit::oidc::{AuthMethod, OidcClient, OidcServer};

const AWKWARD_SECRET: &str = "a+b/c=d:e%f g-Secret-Value_0123456789";

fn server() -> OidcServer {
    OidcServer::start(&[
        OidcClient::new(
            "basic-client",
            AWKWARD_SECRET,
            AuthMethod::ClientSecretBasic,
        ),
        OidcClient::new("post-client", AWKWARD_SECRET, AuthMethod::ClientSecretPost),
    ])
}

/// As on a local stack: loopback http allowed, and the server's origin (the one the endpoint
/// names) on the allowlist.
fn probe(endpoint: &TokenEndpoint) -> TokenProbe {
    let (TokenEndpoint::Url(url) | TokenEndpoint::Issuer(url)) = endpoint;
    let origin = Origin::of(&reqwest::Url::parse(url).expect("a URL")).expect("an origin");
    TokenProbe::new(
        Duration::from_millis(400),
        Duration::from_millis(50),
        OriginPolicy {
            allowed: vec![origin],
            allow_loopback_http: true,
        },
    )
}

async fn run(
    endpoint: &TokenEndpoint,
    client_id: &str,
    secret: &str,
    scopes: &[String],
    auth: ClientAuth,
) -> Result<agentcore_rotator::upstream::token_probe::ProbeSuccess, ProbeError> {
    probe(endpoint)
        .probe(&ProbeRequest {
            endpoint: ProbeEndpoint::Document(endpoint),
            client_id,
            client_secret: &SecretString::new(secret),
            scopes,
            auth,
        })
        .await
}

#[tokio::test]
async fn basic_auth_with_reserved_characters_in_the_secret_is_accepted() {
    let s = server();
    let endpoint = TokenEndpoint::Issuer(s.issuer.clone());
    let ok = run(
        &endpoint,
        "basic-client",
        AWKWARD_SECRET,
        &["api:read".into()],
        ClientAuth::ClientSecretBasic,
    )
    .await
    .expect("RFC 6749 §2.3.1 encoding is what oidc-provider decodes");
    assert_eq!(ok.attempts, 1);
    assert_eq!(ok.token_endpoint, s.token_endpoint(), "found by discovery");
}

#[tokio::test]
async fn client_secret_post_is_accepted() {
    let s = server();
    let endpoint = TokenEndpoint::Url(s.token_endpoint().to_string());
    run(
        &endpoint,
        "post-client",
        AWKWARD_SECRET,
        &[],
        ClientAuth::ClientSecretPost,
    )
    .await
    .expect("client_secret_post");
}

#[tokio::test]
async fn a_wrong_secret_is_reported_as_invalid_client_after_the_retry_budget() {
    let s = server();
    let endpoint = TokenEndpoint::Url(s.token_endpoint().to_string());
    let err = run(
        &endpoint,
        "basic-client",
        "wrong-secret-value-0000000",
        &[],
        ClientAuth::ClientSecretBasic,
    )
    .await
    .unwrap_err();
    match &err {
        ProbeError::InvalidClient { attempts, .. } => {
            assert!(*attempts > 1, "retried for propagation")
        }
        other => panic!("expected invalid_client, got {other}"),
    }
    assert!(err.to_string().contains("invalid_client"));
    assert!(!err.to_string().contains("wrong-secret-value"));
}

#[tokio::test]
async fn a_refused_scope_fails_at_once_without_blaming_the_secret() {
    let s = server();
    let endpoint = TokenEndpoint::Url(s.token_endpoint().to_string());
    let err = run(
        &endpoint,
        "post-client",
        AWKWARD_SECRET,
        &["openid".into()],
        ClientAuth::ClientSecretPost,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, ProbeError::Refused { error, .. } if error == "invalid_scope"),
        "{err}"
    );
}

#[tokio::test]
async fn discovery_from_an_issuer_without_metadata_fails_naming_both_locations_tried() {
    let s = server();
    let endpoint = TokenEndpoint::Issuer(format!("{}/tenant-a", s.issuer));
    let err = run(
        &endpoint,
        "post-client",
        AWKWARD_SECRET,
        &[],
        ClientAuth::ClientSecretPost,
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ProbeError::Discovery { .. }), "{msg}");
    assert!(
        msg.contains("/tenant-a/.well-known/openid-configuration"),
        "{msg}"
    );
    assert!(
        msg.contains("/.well-known/oauth-authorization-server/tenant-a"),
        "{msg}"
    );
}
