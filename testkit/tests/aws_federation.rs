//! The outbound identity federation stand-in against the AWS SDK: the real STS client gets a
//! token from it, the token verifies against the JWKS its discovery document names (fetched over
//! HTTP, as an IdP does), and other AWS calls pass through to moto.

use agentcore_rotator_testkit::idp::assertion::{verify, Expect, ReplayGuard};
use agentcore_rotator_testkit::idp::aws_federation::AwsFederation;
use agentcore_rotator_testkit::moto::{sdk_config_for, Moto, REGION};
use aws_sdk_sts::error::ProvideErrorMetadata;
use serde_json::Value;

const ROLE: &str = "arn:aws:iam::123456789012:role/agentcore-rotator-rotation";
const AUDIENCE: &str = "api://AzureADTokenExchange";

async fn keys(issuer: &str) -> Vec<Value> {
    let http = reqwest::Client::new();
    let discovery: Value = http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], issuer);
    let jwks: Value = http
        .get(discovery["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_sts_client_gets_a_token_that_verifies_against_the_issuers_jwks() {
    let moto = Moto::shared();
    let fed = AwsFederation::start(&moto.endpoint, ROLE);
    let sts = aws_sdk_sts::Client::new(&sdk_config_for(fed.endpoint(), REGION));
    let out = sts
        .get_web_identity_token()
        .audience(AUDIENCE)
        .signing_algorithm("RS256")
        .duration_seconds(300)
        .send()
        .await
        .expect("GetWebIdentityToken");
    let token = out.web_identity_token().unwrap();
    assert!(out.expiration().is_some());
    let claims = verify(
        token,
        &keys(fed.issuer()).await,
        &Expect {
            audiences: &[AUDIENCE],
            issuer: Some(fed.issuer()),
            subject: Some(ROLE),
        },
        &ReplayGuard::default(),
    )
    .expect("verifies");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        300
    );
    assert_eq!(fed.issued().len(), 1);

    // Out-of-range duration and a disabled account answer as STS does.
    let err = sts
        .get_web_identity_token()
        .audience(AUDIENCE)
        .signing_algorithm("RS256")
        .duration_seconds(7200)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationError"));
    fed.set_enabled(false);
    let err = sts
        .get_web_identity_token()
        .audience(AUDIENCE)
        .signing_algorithm("RS256")
        .send()
        .await
        .unwrap_err();
    assert!(err
        .as_service_error()
        .is_some_and(|e| e.is_outbound_web_identity_federation_disabled_exception()));
}

#[tokio::test]
async fn other_aws_calls_pass_through_to_moto() {
    let moto = Moto::shared();
    let fed = AwsFederation::start(&moto.endpoint, ROLE);
    let sdk = sdk_config_for(fed.endpoint(), REGION);
    let kms = aws_sdk_kms::Client::new(&sdk);
    let key = kms
        .create_key()
        .send()
        .await
        .expect("CreateKey through the front");
    let id = key.key_metadata().unwrap().key_id();
    let direct = aws_sdk_kms::Client::new(&moto.sdk_config());
    direct
        .describe_key()
        .key_id(id)
        .send()
        .await
        .expect("the key is in moto");
    let identity = aws_sdk_sts::Client::new(&sdk)
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity from moto");
    assert_eq!(identity.account(), Some("123456789012"));
}
