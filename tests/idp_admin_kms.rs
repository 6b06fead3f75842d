//! The admin client assertion signed by AWS KMS (moto's `Sign`/`GetPublicKey`): what the rotator
//! publishes as its JWK verifies what it signs, for both key types an IdP accepts, with an
//! independent verifier (ring, in the testkit).

use agentcore_rotator::aws::kms_signer::KmsSigner;
use agentcore_rotator::upstream::admin::jws::{SignedAssertion, Signer};
use agentcore_rotator::upstream::admin::AssertionSource;
use agentcore_rotator::upstream::UpstreamError;
use agentcore_rotator_testkit::idp::assertion::{verify, Expect, ReplayGuard};
use agentcore_rotator_testkit::idp::rig::signing_key;
use agentcore_rotator_testkit::stack::LocalStack;
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use std::sync::Arc;

const AUDIENCE: &str = "https://sso.example.com/realms/agents/protocol/openid-connect/token";

#[tokio::test]
async fn assertions_signed_in_kms_verify_against_the_published_jwk() {
    let stack = LocalStack::start();
    for (spec, alg, kty) in [
        (KeySpec::EccNistP256, "ES256", "EC"),
        (KeySpec::Rsa2048, "RS256", "RSA"),
    ] {
        let (key_id, jwk) = signing_key(&stack, spec.clone()).await;
        assert_eq!(jwk["kty"], kty, "{spec:?}");
        assert_eq!(jwk["alg"], alg, "{spec:?}");
        assert!(jwk.get("d").is_none(), "a public key only");
        let kms = aws_sdk_kms::Client::new(&stack.moto.sdk_config());
        let signer = Arc::new(KmsSigner::load(kms, &key_id).await.unwrap());
        assert_eq!(signer.kid(), jwk["kid"].as_str().unwrap());
        let assertion = SignedAssertion::new(signer, "agentcore-rotator")
            .assertion(AUDIENCE)
            .await
            .unwrap();
        let replay = ReplayGuard::default();
        let expect = Expect {
            audiences: &[AUDIENCE],
            issuer: Some("agentcore-rotator"),
            subject: Some("agentcore-rotator"),
        };
        let claims = verify(
            assertion.expose(),
            std::slice::from_ref(&jwk),
            &expect,
            &replay,
        )
        .unwrap_or_else(|e| panic!("{spec:?}: {e}"));
        assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());
        // The same assertion is good once.
        assert!(verify(
            assertion.expose(),
            std::slice::from_ref(&jwk),
            &expect,
            &replay
        )
        .is_err());
        // Another audience is not accepted.
        let other = Expect {
            audiences: &["https://elsewhere.example.com/token"],
            ..expect
        };
        let fresh = SignedAssertion::new(
            Arc::new(
                KmsSigner::load(aws_sdk_kms::Client::new(&stack.moto.sdk_config()), &key_id)
                    .await
                    .unwrap(),
            ),
            "agentcore-rotator",
        )
        .assertion(AUDIENCE)
        .await
        .unwrap();
        assert!(verify(fresh.expose(), &[jwk], &other, &ReplayGuard::default()).is_err());
    }
}

#[tokio::test]
async fn a_key_that_cannot_sign_jws_is_a_setup_error_saying_which_key_to_create() {
    let stack = LocalStack::start();
    let kms = aws_sdk_kms::Client::new(&stack.moto.sdk_config());
    let symmetric = kms
        .create_key()
        .key_usage(KeyUsageType::EncryptDecrypt)
        .send()
        .await
        .unwrap();
    let key_id = symmetric.key_metadata().unwrap().key_id().to_string();
    let err = KmsSigner::load(kms.clone(), &key_id).await.err().unwrap();
    let UpstreamError::Setup(message) = &err else {
        panic!("{err}")
    };
    assert!(message.contains(&key_id), "{message}");
    assert!(
        message.contains("RSA_2048") || message.contains("GetPublicKey"),
        "{message}"
    );
    let missing = KmsSigner::load(kms, "alias/does-not-exist")
        .await
        .err()
        .unwrap();
    assert!(
        missing.to_string().contains("kms:GetPublicKey"),
        "{missing}"
    );
}

fn cli(stack: &LocalStack, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_agentcore-rotator"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(stack.aws_env())
        .output()
        .expect("run agentcore-rotator");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_cli_prints_the_jwk_to_register_and_refuses_a_key_that_cannot_sign() {
    let stack = LocalStack::start();
    let (key_id, jwk) = signing_key(&stack, KeySpec::Rsa2048).await;
    let (code, stdout, stderr) = cli(&stack, &["idp-key", "jwk", "--key-id", &key_id]);
    assert_eq!(code, 0, "{stderr}");
    let printed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(printed, jwk);
    let (code, stdout, _) = cli(&stack, &["idp-key", "jwk", "--key-id", &key_id, "--jwks"]);
    assert_eq!(code, 0);
    let set: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(set["keys"][0], jwk);

    let kms = aws_sdk_kms::Client::new(&stack.moto.sdk_config());
    let symmetric = kms.create_key().send().await.unwrap();
    let id = symmetric.key_metadata().unwrap().key_id();
    let (code, stdout, stderr) = cli(&stack, &["idp-key", "jwk", "--key-id", id]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(stderr.contains("ECC_NIST_P256"), "{stderr}");
    let (code, _, stderr) = cli(&stack, &["idp-key", "jwk"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--key-id"), "{stderr}");
}
