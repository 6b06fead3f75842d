//! Conformance of the AgentCore Identity emulator: the real SDK clients, endpoint changed only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agentcore_rotator_testkit::agentcore::{
    managed_secret_name, AgentCoreEmulator, ProviderKind, ProviderStatus, ResolveReason,
};
use agentcore_rotator_testkit::moto::{sdk_config_for, Moto, ACCOUNT_ID, REGION};
use agentcore_rotator_testkit::providers::agentcore_read_policy;
use aws_config::retry::RetryConfig;
use aws_sdk_bedrockagentcore::operation::get_resource_api_key::GetResourceApiKeyError;
use aws_sdk_bedrockagentcore::types::Oauth2FlowType;
use aws_sdk_bedrockagentcorecontrol::types::{
    CredentialProviderVendorType as Vendor, CustomOauth2ProviderConfigInput,
    IncludedOauth2ProviderConfigInput, Oauth2Discovery, Oauth2ProviderConfigInput, SecretReference,
    SecretSourceType, Status,
};
use base64::Engine;
use serde_json::json;

type Control = aws_sdk_bedrockagentcorecontrol::Client;
type Data = aws_sdk_bedrockagentcore::Client;

struct Env {
    emu: AgentCoreEmulator,
    control: Control,
    data: Data,
    sm: aws_sdk_secretsmanager::Client,
    kms: aws_sdk_kms::Client,
}

fn env() -> Env {
    let moto = Moto::shared();
    let emu = AgentCoreEmulator::start(&moto.endpoint, REGION, ACCOUNT_ID);
    let control = Control::new(&emu.sdk_config());
    let data = Data::new(&emu.sdk_config());
    Env {
        emu,
        control,
        data,
        sm: aws_sdk_secretsmanager::Client::new(&moto.sdk_config()),
        kms: aws_sdk_kms::Client::new(&moto.sdk_config()),
    }
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// A customer secret holding `document`, readable by AgentCore; returns its ARN.
async fn customer_secret(sm: &aws_sdk_secretsmanager::Client, document: &str) -> String {
    let arn = sm
        .create_secret()
        .name(unique("customer"))
        .secret_string(document)
        .send()
        .await
        .expect("create secret")
        .arn()
        .expect("arn")
        .to_string();
    sm.put_resource_policy()
        .secret_id(&arn)
        .resource_policy(agentcore_read_policy())
        .send()
        .await
        .expect("put resource policy");
    arn
}

fn reference(secret_id: &str, json_key: &str) -> SecretReference {
    SecretReference::builder()
        .secret_id(secret_id)
        .json_key(json_key)
        .build()
        .expect("reference")
}

/// Custom OAuth2 config referencing an EXTERNAL secret, discovered at `discovery_url`.
fn custom_external(
    client_id: &str,
    discovery_url: &str,
    secret_id: &str,
) -> Oauth2ProviderConfigInput {
    Oauth2ProviderConfigInput::CustomOauth2ProviderConfig(
        CustomOauth2ProviderConfigInput::builder()
            .client_id(client_id)
            .oauth_discovery(Oauth2Discovery::DiscoveryUrl(discovery_url.to_string()))
            .client_secret_source(SecretSourceType::External)
            .client_secret_config(reference(secret_id, "client_secret"))
            .build(),
    )
}

async fn create_external_api_key(env: &Env, name: &str, secret_id: &str, json_key: &str) {
    env.control
        .create_api_key_credential_provider()
        .name(name)
        .api_key_secret_source(SecretSourceType::External)
        .api_key_secret_config(reference(secret_id, json_key))
        .send()
        .await
        .expect("create API-key provider");
}

async fn workload_token(env: &Env) -> String {
    let workload = unique("agent");
    env.emu.create_workload_identity(&workload);
    env.data
        .get_workload_access_token()
        .workload_name(&workload)
        .send()
        .await
        .expect("workload access token")
        .workload_access_token()
        .to_string()
}

async fn fetch_api_key(
    env: &Env,
    provider: &str,
) -> Result<String, aws_sdk_bedrockagentcore::error::SdkError<GetResourceApiKeyError>> {
    let token = workload_token(env).await;
    env.data
        .get_resource_api_key()
        .workload_identity_token(token)
        .resource_credential_provider_name(provider)
        .send()
        .await
        .map(|out| out.api_key().to_string())
}

// ---------------------------------------------------------------- control plane

#[tokio::test(flavor = "multi_thread")]
async fn external_oauth2_provider_reports_the_secret_arn_its_secret_id_resolves_to() {
    let env = env();
    let secret_arn = customer_secret(&env.sm, r#"{"client_secret":"s1"}"#).await;
    let secret_name = env
        .sm
        .describe_secret()
        .secret_id(&secret_arn)
        .send()
        .await
        .unwrap()
        .name()
        .unwrap()
        .to_string();
    let name = unique("oauth");

    let created = env
        .control
        .create_oauth2_credential_provider()
        .name(&name)
        .credential_provider_vendor(Vendor::CustomOauth2)
        .oauth2_provider_config_input(custom_external(
            "client-1",
            "https://idp.example/.well-known/openid-configuration",
            &secret_name,
        ))
        .send()
        .await
        .expect("create");
    assert_eq!(
        created.client_secret_arn().unwrap().secret_arn(),
        secret_arn
    );
    assert_eq!(
        created.client_secret_source(),
        Some(&SecretSourceType::External)
    );
    assert_eq!(created.client_secret_json_key(), Some("client_secret"));
    assert_eq!(created.status(), Some(&Status::Ready));
    assert_eq!(
        created.credential_provider_arn(),
        format!("arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT_ID}:token-vault/default/oauth2credentialprovider/{name}")
    );

    let got = env
        .control
        .get_oauth2_credential_provider()
        .name(&name)
        .send()
        .await
        .expect("get");
    assert_eq!(got.credential_provider_vendor(), &Vendor::CustomOauth2);
    assert_eq!(got.client_secret_arn().unwrap().secret_arn(), secret_arn);
    assert!(got.created_time().secs() > 0);
    assert_eq!(got.created_time(), got.last_updated_time());
    assert!(got
        .callback_url()
        .unwrap()
        .contains("/identities/oauth2/callback/"));
    let custom = got
        .oauth2_provider_config_output()
        .unwrap()
        .as_custom_oauth2_provider_config()
        .expect("custom config");
    assert_eq!(custom.client_id(), Some("client-1"));
    assert_eq!(
        custom
            .oauth_discovery()
            .unwrap()
            .as_discovery_url()
            .unwrap(),
        "https://idp.example/.well-known/openid-configuration"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn managed_oauth2_provider_keeps_its_client_secret_in_an_agentcore_owned_secret_until_deleted(
) {
    let env = env();
    let name = unique("managed");
    let config = Oauth2ProviderConfigInput::IncludedOauth2ProviderConfig(
        IncludedOauth2ProviderConfigInput::builder()
            .client_id("cognito-client")
            .client_secret("managed-value")
            .issuer("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool")
            .build()
            .unwrap(),
    );
    let created = env
        .control
        .create_oauth2_credential_provider()
        .name(&name)
        .credential_provider_vendor(Vendor::CognitoOauth2)
        .oauth2_provider_config_input(config)
        .send()
        .await
        .expect("create");
    assert_eq!(
        created.client_secret_source(),
        Some(&SecretSourceType::Managed)
    );
    let managed_arn = created
        .client_secret_arn()
        .unwrap()
        .secret_arn()
        .to_string();
    let managed_name = managed_secret_name(ProviderKind::Oauth2, &name);
    assert!(managed_arn.contains(&format!(":secret:{managed_name}-")));
    let included = created
        .oauth2_provider_config_output()
        .unwrap()
        .as_included_oauth2_provider_config()
        .expect("included config");
    assert_eq!(
        included.oauth_discovery().unwrap().as_discovery_url().unwrap(),
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool/.well-known/openid-configuration"
    );
    let resolved = env
        .emu
        .resolve(ProviderKind::Oauth2, &name)
        .await
        .expect("resolves");
    assert_eq!(resolved.expose_secret(), "managed-value");
    assert_eq!(format!("{resolved:?}"), "ResolvedSecret(<redacted>)");

    env.control
        .delete_oauth2_credential_provider()
        .name(&name)
        .send()
        .await
        .expect("delete");
    let gone = env
        .sm
        .describe_secret()
        .secret_id(&managed_arn)
        .send()
        .await;
    assert!(gone
        .unwrap_err()
        .into_service_error()
        .is_resource_not_found_exception());
    let err = env
        .control
        .get_oauth2_credential_provider()
        .name(&name)
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_resource_not_found_exception());
}

#[tokio::test(flavor = "multi_thread")]
async fn updating_an_oauth2_provider_replaces_its_secret_reference_and_bumps_last_updated_time() {
    let env = env();
    let first = customer_secret(&env.sm, r#"{"client_secret":"a"}"#).await;
    let second = customer_secret(&env.sm, r#"{"client_secret":"b"}"#).await;
    let name = unique("oauth");
    let discovery = "https://idp.example/.well-known/openid-configuration";
    env.control
        .create_oauth2_credential_provider()
        .name(&name)
        .credential_provider_vendor(Vendor::CustomOauth2)
        .oauth2_provider_config_input(custom_external("c", discovery, &first))
        .send()
        .await
        .expect("create");
    tokio::time::sleep(Duration::from_millis(20)).await;

    let updated = env
        .control
        .update_oauth2_credential_provider()
        .name(&name)
        .credential_provider_vendor(Vendor::CustomOauth2)
        .oauth2_provider_config_input(custom_external("c2", discovery, &second))
        .send()
        .await
        .expect("update");
    assert_eq!(updated.client_secret_arn().unwrap().secret_arn(), second);
    assert!(updated.last_updated_time() > updated.created_time());
    let resolved = env.emu.resolve(ProviderKind::Oauth2, &name).await.unwrap();
    assert_eq!(resolved.expose_secret(), "b");

    let missing = env
        .control
        .update_oauth2_credential_provider()
        .name(unique("nobody"))
        .credential_provider_vendor(Vendor::CustomOauth2)
        .oauth2_provider_config_input(custom_external("c", discovery, &second))
        .send()
        .await
        .unwrap_err();
    assert!(missing
        .into_service_error()
        .is_resource_not_found_exception());
}

#[tokio::test(flavor = "multi_thread")]
async fn api_key_providers_support_create_get_update_and_delete_for_both_secret_sources() {
    let env = env();
    let name = unique("key");
    let created = env
        .control
        .create_api_key_credential_provider()
        .name(&name)
        .api_key("managed-key")
        .send()
        .await
        .expect("create managed");
    assert!(created
        .api_key_secret_arn()
        .unwrap()
        .secret_arn()
        .contains(&managed_secret_name(ProviderKind::ApiKey, &name)));
    assert_eq!(
        created.api_key_secret_source(),
        Some(&SecretSourceType::Managed)
    );
    assert_eq!(
        created.credential_provider_arn(),
        format!("arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT_ID}:token-vault/default/apikeycredentialprovider/{name}")
    );
    let managed_arn = created
        .api_key_secret_arn()
        .unwrap()
        .secret_arn()
        .to_string();

    let external = customer_secret(&env.sm, r#"{"api_key":"external-key"}"#).await;
    let updated = env
        .control
        .update_api_key_credential_provider()
        .name(&name)
        .api_key_secret_source(SecretSourceType::External)
        .api_key_secret_config(reference(&external, "api_key"))
        .send()
        .await
        .expect("update to external");
    assert_eq!(updated.api_key_secret_arn().unwrap().secret_arn(), external);
    assert_eq!(updated.api_key_secret_json_key(), Some("api_key"));
    // Moving to EXTERNAL retires the AgentCore-owned secret.
    let retired = env
        .sm
        .describe_secret()
        .secret_id(&managed_arn)
        .send()
        .await;
    assert!(retired.is_err());

    let got = env
        .control
        .get_api_key_credential_provider()
        .name(&name)
        .send()
        .await
        .expect("get");
    assert_eq!(
        got.api_key_secret_source(),
        Some(&SecretSourceType::External)
    );
    assert!(got.last_updated_time() >= got.created_time());
    assert_eq!(fetch_api_key(&env, &name).await.unwrap(), "external-key");

    env.control
        .delete_api_key_credential_provider()
        .name(&name)
        .send()
        .await
        .expect("delete");
    let err = env
        .control
        .get_api_key_credential_provider()
        .name(&name)
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_resource_not_found_exception());
    let err = env
        .control
        .delete_api_key_credential_provider()
        .name(&name)
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_resource_not_found_exception());
}

#[tokio::test(flavor = "multi_thread")]
async fn sdk_paginators_walk_every_page_of_both_provider_lists() {
    let env = env();
    let secret = customer_secret(&env.sm, r#"{"client_secret":"x","api_key":"y"}"#).await;
    let mut oauth_names = Vec::new();
    let mut key_names = Vec::new();
    for i in 0..12 {
        let name = format!("p{i:02}-{}", unique("page"));
        env.control
            .create_oauth2_credential_provider()
            .name(&name)
            .credential_provider_vendor(Vendor::CustomOauth2)
            .oauth2_provider_config_input(custom_external("c", "https://idp.example/d", &secret))
            .send()
            .await
            .expect("create oauth2");
        create_external_api_key(&env, &name, &secret, "api_key").await;
        oauth_names.push(name.clone());
        key_names.push(name);
    }
    env.emu.reset_call_counts();

    let listed: Vec<String> = env
        .control
        .list_oauth2_credential_providers()
        .max_results(5)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .expect("oauth2 pages")
        .iter()
        .map(|p| p.name().to_string())
        .collect();
    assert_eq!(listed, oauth_names);
    assert_eq!(env.emu.calls("ListOauth2CredentialProviders"), 3);

    let listed: Vec<String> = env
        .control
        .list_api_key_credential_providers()
        .into_paginator()
        .page_size(7)
        .items()
        .send()
        .try_collect()
        .await
        .expect("api-key pages")
        .iter()
        .map(|p| p.name().to_string())
        .collect();
    assert_eq!(listed, key_names);
    assert_eq!(env.emu.calls("ListApiKeyCredentialProviders"), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn max_results_outside_the_model_bounds_is_a_validation_exception() {
    let env = env();
    for bad in [0, 21] {
        let err = env
            .control
            .list_oauth2_credential_providers()
            .max_results(bad)
            .send()
            .await
            .unwrap_err();
        assert!(err.into_service_error().is_validation_exception(), "{bad}");
    }
    let err = env
        .control
        .list_api_key_credential_providers()
        .max_results(101)
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_validation_exception());
    let fine = env
        .control
        .list_api_key_credential_providers()
        .max_results(100)
        .send()
        .await
        .expect("100 is allowed");
    assert!(fine.next_token().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_provider_with_the_same_name_is_a_conflict() {
    let env = env();
    let name = unique("dup");
    let create = || {
        env.control
            .create_api_key_credential_provider()
            .name(&name)
            .api_key("k")
            .send()
    };
    create().await.expect("first create");
    let err = create().await.unwrap_err();
    assert!(err.into_service_error().is_conflict_exception());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_external_reference_to_a_missing_secret_is_rejected_with_validation_exception() {
    let env = env();
    let err = env
        .control
        .create_api_key_credential_provider()
        .name(unique("missing"))
        .api_key_secret_source(SecretSourceType::External)
        .api_key_secret_config(reference("no-such-secret-anywhere", "api_key"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    use aws_sdk_bedrockagentcorecontrol::operation::create_api_key_credential_provider::CreateApiKeyCredentialProviderError as E;
    let E::ValidationException(err) = err else {
        panic!("expected ValidationException, got {err:?}");
    };
    assert_eq!(err.field_list()[0].name(), "apiKeySecretConfig.secretId");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_external_source_without_a_secret_config_is_rejected_with_validation_exception() {
    let env = env();
    let err = env
        .control
        .create_oauth2_credential_provider()
        .name(unique("incomplete"))
        .credential_provider_vendor(Vendor::CustomOauth2)
        .oauth2_provider_config_input(Oauth2ProviderConfigInput::CustomOauth2ProviderConfig(
            CustomOauth2ProviderConfigInput::builder()
                .client_id("c")
                .oauth_discovery(Oauth2Discovery::DiscoveryUrl(
                    "https://idp.example/d".into(),
                ))
                .client_secret_source(SecretSourceType::External)
                .build(),
        ))
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_validation_exception());
}

#[tokio::test(flavor = "multi_thread")]
async fn sdk_retries_ride_out_throttling_once_it_clears() {
    let env = env();
    let retrying = Control::from_conf(
        aws_sdk_bedrockagentcorecontrol::config::Builder::from(&env.emu.sdk_config())
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(1)),
            )
            .build(),
    );
    env.emu.throttle_next(2);
    retrying
        .list_oauth2_credential_providers()
        .send()
        .await
        .expect("third attempt succeeds");
    assert_eq!(env.emu.calls("ListOauth2CredentialProviders"), 3);

    env.emu.throttle_fraction(0.5);
    for _ in 0..4 {
        retrying
            .list_api_key_credential_providers()
            .send()
            .await
            .expect("retries absorb every-other throttling");
    }
    env.emu.clear_throttling();
    assert!(env.emu.calls("ListApiKeyCredentialProviders") > 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_retries_disabled_throttling_surfaces_as_throttling_exception() {
    let env = env();
    let single_shot = Control::from_conf(
        aws_sdk_bedrockagentcorecontrol::config::Builder::from(&env.emu.sdk_config())
            .retry_config(RetryConfig::disabled())
            .build(),
    );
    env.emu.throttle_next(1);
    let err = single_shot
        .get_api_key_credential_provider()
        .name("anything")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_throttling_exception());
    assert_eq!(env.emu.calls("GetApiKeyCredentialProvider"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_denied_operation_answers_access_denied_and_is_still_counted() {
    let env = env();
    env.emu.deny("ListOauth2CredentialProviders");
    let err = env
        .control
        .list_oauth2_credential_providers()
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_access_denied_exception());
    env.emu.allow("ListOauth2CredentialProviders");
    env.control
        .list_oauth2_credential_providers()
        .send()
        .await
        .expect("allowed again");
    assert_eq!(env.emu.calls("ListOauth2CredentialProviders"), 2);
    assert_eq!(env.emu.call_counts().len(), 1);
}

// ---------------------------------------------------------------- data plane: API keys

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_external_api_key_resolves_to_the_current_value_after_each_rotation() {
    let env = env();
    let secret = customer_secret(&env.sm, r#"{"api_key":"v1","other":"kept"}"#).await;
    let name = unique("key");
    create_external_api_key(&env, &name, &secret, "api_key").await;
    assert_eq!(fetch_api_key(&env, &name).await.unwrap(), "v1");

    env.sm
        .put_secret_value()
        .secret_id(&secret)
        .secret_string(r#"{"api_key":"v2","other":"kept"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(fetch_api_key(&env, &name).await.unwrap(), "v2");
    let resolved = env.emu.resolve(ProviderKind::ApiKey, &name).await.unwrap();
    assert_eq!(resolved.expose_secret(), "v2");
    assert_eq!(env.emu.calls("GetResourceApiKey"), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_workloads_and_invalid_tokens_are_refused() {
    let env = env();
    let err = env
        .data
        .get_workload_access_token()
        .workload_name("never-registered")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_resource_not_found_exception());
    let err = env
        .data
        .get_resource_api_key()
        .workload_identity_token("forged")
        .resource_credential_provider_name("whatever")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_access_denied_exception());

    let created = env
        .control
        .create_workload_identity()
        .name(unique("wl"))
        .send()
        .await
        .expect("CreateWorkloadIdentity");
    assert!(created
        .workload_identity_arn()
        .contains(":workload-identity-directory/default/workload-identity/"));
    env.data
        .get_workload_access_token()
        .workload_name(created.name())
        .send()
        .await
        .expect("token for a workload created on the control plane");
}

/// Asserts the emulator's resolver and the data plane agree that `provider` is broken.
async fn assert_broken(
    env: &Env,
    provider: &str,
    reason: ResolveReason,
    modelled: fn(&GetResourceApiKeyError) -> bool,
) {
    assert_eq!(
        env.emu.resolve(ProviderKind::ApiKey, provider).await,
        Err(reason.clone())
    );
    let err = fetch_api_key(env, provider)
        .await
        .unwrap_err()
        .into_service_error();
    assert!(modelled(&err), "{reason:?} came back as {err:?}");
    assert!(err.to_string().contains(reason.code()), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reference_to_a_force_deleted_secret_fails_as_secret_not_found() {
    let env = env();
    let secret = customer_secret(&env.sm, r#"{"api_key":"v"}"#).await;
    let name = unique("key");
    create_external_api_key(&env, &name, &secret, "api_key").await;
    env.sm
        .delete_secret()
        .secret_id(&secret)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    assert_broken(&env, &name, ResolveReason::SecretNotFound, |e| {
        e.is_resource_not_found_exception()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reference_to_a_secret_scheduled_for_deletion_fails() {
    let env = env();
    let secret = customer_secret(&env.sm, r#"{"api_key":"v"}"#).await;
    let name = unique("key");
    create_external_api_key(&env, &name, &secret, "api_key").await;
    env.sm
        .delete_secret()
        .secret_id(&secret)
        .recovery_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert_broken(
        &env,
        &name,
        ResolveReason::SecretScheduledForDeletion,
        |e| e.is_validation_exception(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reference_whose_json_key_is_absent_fails() {
    let env = env();
    let secret = customer_secret(&env.sm, r#"{"api_key":"v"}"#).await;
    let name = unique("key");
    create_external_api_key(&env, &name, &secret, "apiKey").await;
    assert_broken(&env, &name, ResolveReason::JsonKeyMissing, |e| {
        e.is_validation_exception()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reference_whose_json_key_is_empty_or_not_a_string_fails() {
    let env = env();
    for document in [
        r#"{"api_key":""}"#,
        r#"{"api_key":42}"#,
        r#"{"api_key":{"v":"x"}}"#,
    ] {
        let secret = customer_secret(&env.sm, document).await;
        let name = unique("key");
        create_external_api_key(&env, &name, &secret, "api_key").await;
        assert_broken(&env, &name, ResolveReason::ValueNotString, |e| {
            e.is_validation_exception()
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reference_to_a_plain_text_or_binary_secret_fails_as_not_json() {
    let env = env();
    let text = customer_secret(&env.sm, "just-a-string").await;
    let name = unique("key");
    create_external_api_key(&env, &name, &text, "api_key").await;
    assert_broken(&env, &name, ResolveReason::NotJson, |e| {
        e.is_validation_exception()
    })
    .await;

    let binary = env
        .sm
        .create_secret()
        .name(unique("binary"))
        .secret_binary(aws_sdk_secretsmanager::primitives::Blob::new(vec![
            0u8, 1, 2,
        ]))
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    env.sm
        .put_resource_policy()
        .secret_id(&binary)
        .resource_policy(agentcore_read_policy())
        .send()
        .await
        .unwrap();
    let name = unique("key");
    create_external_api_key(&env, &name, &binary, "api_key").await;
    assert_broken(&env, &name, ResolveReason::NotJson, |e| {
        e.is_validation_exception()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reference_to_a_secret_in_another_region_fails_as_cross_region() {
    let env = env();
    let west =
        aws_sdk_secretsmanager::Client::new(&sdk_config_for(&Moto::shared().endpoint, "us-west-2"));
    let secret = customer_secret(&west, r#"{"api_key":"v"}"#).await;
    assert!(secret.contains(":us-west-2:"));
    let name = unique("key");
    create_external_api_key(&env, &name, &secret, "api_key").await;
    assert_broken(&env, &name, ResolveReason::CrossRegion, |e| {
        e.is_validation_exception()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_without_a_resource_policy_for_agentcore_is_unreadable() {
    let env = env();
    let secret = env
        .sm
        .create_secret()
        .name(unique("nopolicy"))
        .secret_string(r#"{"api_key":"v"}"#)
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    let name = unique("key");
    create_external_api_key(&env, &name, &secret, "api_key").await;
    assert_broken(&env, &name, ResolveReason::ResourcePolicyDenies, |e| {
        e.is_access_denied_exception()
    })
    .await;

    // A wildcard action grants the read, as it does in IAM (this assertion was inverted when the
    // emulator stopped treating `secretsmanager:*` as no grant).
    let wildcard =
        agentcore_read_policy().replace("secretsmanager:GetSecretValue", "secretsmanager:*");
    env.sm
        .put_resource_policy()
        .secret_id(&secret)
        .resource_policy(wildcard)
        .send()
        .await
        .unwrap();
    assert!(env.emu.resolve(ProviderKind::ApiKey, &name).await.is_ok());
    // An action that does not cover the read still denies it.
    let other = agentcore_read_policy()
        .replace("secretsmanager:GetSecretValue", "secretsmanager:Describe*");
    env.sm
        .put_resource_policy()
        .secret_id(&secret)
        .resource_policy(other)
        .send()
        .await
        .unwrap();
    assert_eq!(
        env.emu.resolve(ProviderKind::ApiKey, &name).await,
        Err(ResolveReason::ResourcePolicyDenies)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_managed_key_must_let_agentcore_decrypt() {
    let env = env();
    let key_policy = |agentcore: bool| {
        let mut statements = vec![json!({
            "Sid": "root", "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT_ID}:root")},
            "Action": "kms:*", "Resource": "*"
        })];
        if agentcore {
            statements.push(json!({
                "Sid": "agentcore", "Effect": "Allow",
                "Principal": {"Service": "bedrock-agentcore.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*"
            }));
        }
        json!({"Version": "2012-10-17", "Statement": statements}).to_string()
    };
    for (agentcore_may_decrypt, expected) in
        [(false, Err(ResolveReason::KmsPolicyDenies)), (true, Ok(()))]
    {
        let key = env
            .kms
            .create_key()
            .policy(key_policy(agentcore_may_decrypt))
            .send()
            .await
            .unwrap()
            .key_metadata()
            .unwrap()
            .arn()
            .unwrap()
            .to_string();
        let secret = env
            .sm
            .create_secret()
            .name(unique("cmk"))
            .kms_key_id(&key)
            .secret_string(r#"{"api_key":"v"}"#)
            .send()
            .await
            .unwrap()
            .arn()
            .unwrap()
            .to_string();
        env.sm
            .put_resource_policy()
            .secret_id(&secret)
            .resource_policy(agentcore_read_policy())
            .send()
            .await
            .unwrap();
        let name = unique("key");
        create_external_api_key(&env, &name, &secret, "api_key").await;
        match expected {
            Err(reason) => {
                assert_broken(&env, &name, reason, |e| e.is_access_denied_exception()).await
            }
            Ok(()) => assert_eq!(fetch_api_key(&env, &name).await.unwrap(), "v"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_in_a_failed_status_does_not_resolve_and_shows_its_failure_reason() {
    let env = env();
    let secret = customer_secret(&env.sm, r#"{"api_key":"v","client_secret":"c"}"#).await;
    let name = unique("failed");
    create_external_api_key(&env, &name, &secret, "api_key").await;
    assert!(env.emu.set_provider_status(
        ProviderKind::ApiKey,
        &name,
        ProviderStatus::UpdateFailed,
        Some("secret unreadable")
    ));
    assert_broken(&env, &name, ResolveReason::ProviderFailed, |e| {
        e.is_validation_exception()
    })
    .await;

    env.control
        .create_oauth2_credential_provider()
        .name(&name)
        .credential_provider_vendor(Vendor::CustomOauth2)
        .oauth2_provider_config_input(custom_external("c", "https://idp.example/d", &secret))
        .send()
        .await
        .unwrap();
    env.emu.set_provider_status(
        ProviderKind::Oauth2,
        &name,
        ProviderStatus::CreateFailed,
        Some("client secret rejected"),
    );
    let got = env
        .control
        .get_oauth2_credential_provider()
        .name(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), Some(&Status::CreateFailed));
    assert_eq!(got.failure_reason(), Some("client secret rejected"));
    assert_eq!(
        env.emu.resolve(ProviderKind::Oauth2, &name).await,
        Err(ResolveReason::ProviderFailed)
    );
}

// ---------------------------------------------------------------- data plane: M2M

/// A token request as the test IdP saw it.
#[derive(Debug, Clone)]
struct Seen {
    authorization: Option<String>,
    form: HashMap<String, String>,
}

struct Idp {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// A tiny OAuth server: discovery plus a token endpoint accepting one client by either
/// client_secret_basic or client_secret_post.
async fn start_idp(
    client_id: &'static str,
    client_secret: &'static str,
    basic_encoded: &'static str,
) -> Idp {
    use axum::routing::{get, post};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let discovery = json!({
        "issuer": url,
        "token_endpoint": format!("{url}/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    });
    let log = seen.clone();
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { axum::Json(discovery) }),
        )
        .route(
            "/token",
            post(
                move |headers: axum::http::HeaderMap,
                      axum::Form(form): axum::Form<HashMap<String, String>>| async move {
                    let authorization = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    log.lock().unwrap().push(Seen {
                        authorization: authorization.clone(),
                        form: form.clone(),
                    });
                    let expected_basic = format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode(basic_encoded)
                    );
                    let by_basic = authorization.as_deref() == Some(expected_basic.as_str());
                    let by_post = form.get("client_id").map(String::as_str) == Some(client_id)
                        && form.get("client_secret").map(String::as_str) == Some(client_secret);
                    let granted = form.get("grant_type").map(String::as_str) == Some("client_credentials")
                        && (by_basic || by_post);
                    if granted {
                        let scope = form.get("scope").cloned().unwrap_or_default();
                        (
                            axum::http::StatusCode::OK,
                            axum::Json(json!({"access_token": format!("token-for[{scope}]"), "token_type": "Bearer"})),
                        )
                    } else {
                        (
                            axum::http::StatusCode::UNAUTHORIZED,
                            axum::Json(json!({"error": "invalid_client", "error_description": "bad credentials"})),
                        )
                    }
                },
            ),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Idp { url, seen }
}

// Characters RFC 6749 §2.3.1 makes the client encode before Basic: space, '+', '/', ':', '%'.
const CLIENT_ID: &str = "agent client";
const CLIENT_SECRET: &str = "s3cr+t/with:colon%";
const BASIC_PAIR: &str = "agent+client:s3cr%2Bt%2Fwith%3Acolon%25";

async fn create_m2m_provider(env: &Env, idp: &Idp, method: Option<&str>) -> String {
    let secret = customer_secret(
        &env.sm,
        &json!({ "client_secret": CLIENT_SECRET }).to_string(),
    )
    .await;
    let name = unique("m2m");
    let mut config = CustomOauth2ProviderConfigInput::builder()
        .client_id(CLIENT_ID)
        .oauth_discovery(Oauth2Discovery::DiscoveryUrl(format!(
            "{}/.well-known/openid-configuration",
            idp.url
        )))
        .client_secret_source(SecretSourceType::External)
        .client_secret_config(reference(&secret, "client_secret"));
    if let Some(m) = method {
        config = config.client_authentication_method(m.into());
    }
    env.control
        .create_oauth2_credential_provider()
        .name(&name)
        .credential_provider_vendor(Vendor::CustomOauth2)
        .oauth2_provider_config_input(Oauth2ProviderConfigInput::CustomOauth2ProviderConfig(
            config.build(),
        ))
        .send()
        .await
        .expect("create m2m provider");
    name
}

async fn m2m_token(
    env: &Env,
    provider: &str,
) -> Result<
    String,
    aws_sdk_bedrockagentcore::error::SdkError<
        aws_sdk_bedrockagentcore::operation::get_resource_oauth2_token::GetResourceOauth2TokenError,
    >,
> {
    let token = workload_token(env).await;
    env.data
        .get_resource_oauth2_token()
        .workload_identity_token(token)
        .resource_credential_provider_name(provider)
        .scopes("api/read")
        .scopes("api/write")
        .oauth2_flow(Oauth2FlowType::M2M)
        .send()
        .await
        .map(|out| out.access_token().unwrap_or_default().to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn m2m_discovers_the_token_endpoint_and_authenticates_with_form_encoded_basic_credentials() {
    let env = env();
    let idp = start_idp(CLIENT_ID, CLIENT_SECRET, BASIC_PAIR).await;
    let name = create_m2m_provider(&env, &idp, None).await;

    let token = m2m_token(&env, &name).await.expect("access token");
    assert_eq!(token, "token-for[api/read api/write]");
    let seen = idp.seen.lock().unwrap()[0].clone();
    assert!(seen.authorization.is_some());
    assert!(!seen.form.contains_key("client_secret"));
}

#[tokio::test(flavor = "multi_thread")]
async fn m2m_sends_the_secret_in_the_body_when_configured_for_client_secret_post() {
    let env = env();
    let idp = start_idp(CLIENT_ID, CLIENT_SECRET, BASIC_PAIR).await;
    let name = create_m2m_provider(&env, &idp, Some("CLIENT_SECRET_POST")).await;

    m2m_token(&env, &name).await.expect("access token");
    let seen = idp.seen.lock().unwrap()[0].clone();
    assert!(seen.authorization.is_none());
    assert_eq!(
        seen.form.get("client_id").map(String::as_str),
        Some(CLIENT_ID)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idp_rejection_comes_back_as_a_generic_validation_exception() {
    let env = env();
    // The IdP expects another secret than the one the provider references.
    let idp = start_idp(
        CLIENT_ID,
        "rotated-elsewhere",
        "agent+client:rotated-elsewhere",
    )
    .await;
    let name = create_m2m_provider(&env, &idp, None).await;

    let err = m2m_token(&env, &name)
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_validation_exception());
    let message = err.to_string();
    assert!(!message.contains("invalid_client") && !message.contains("bad credentials"));
    assert!(!message.contains(CLIENT_SECRET));
    assert_eq!(
        env.emu.last_token_error().as_deref(),
        Some("token endpoint answered HTTP 401 (invalid_client)")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_emulator_error_or_debug_output_contains_a_secret_value() {
    let env = env();
    let secret = customer_secret(&env.sm, r#"{"api_key":"super-secret-value"}"#).await;
    let name = unique("key");
    create_external_api_key(&env, &name, &secret, "wrong_key").await;
    let err = fetch_api_key(&env, &name).await.unwrap_err();
    let printed = format!(
        "{err:?} {}",
        aws_sdk_bedrockagentcore::error::DisplayErrorContext(&err)
    );
    assert!(!printed.contains("super-secret-value"));
    assert!(!format!("{:?}", env.emu).contains("super-secret-value"));
}

// ------------------------------------------------------------------ payment providers, gateways

#[tokio::test]
async fn payment_providers_support_create_get_list_update_and_delete_with_the_sdk_shapes() {
    use aws_sdk_bedrockagentcorecontrol::types::{
        CoinbaseCdpConfigurationInput, PaymentCredentialProviderVendorType as PayVendor,
        PaymentProviderConfigurationInput as PayInput,
        PaymentProviderConfigurationOutput as PayOut,
    };
    let env = env();
    let secret = customer_secret(
        &env.sm,
        r#"{"apiKey":"k-0123456789","wallet":"w-0123456789"}"#,
    )
    .await;
    let config = |wallet_key: &str| {
        PayInput::CoinbaseCdpConfiguration(
            CoinbaseCdpConfigurationInput::builder()
                .api_key_id("organizations/o/apiKeys/k")
                .api_key_secret("")
                .api_key_secret_source(SecretSourceType::External)
                .api_key_secret_config(reference(&secret, "apiKey"))
                .wallet_secret("")
                .wallet_secret_source(SecretSourceType::External)
                .wallet_secret_config(reference(&secret, wallet_key))
                .build()
                .unwrap(),
        )
    };
    let name = unique("pay");
    let created = env
        .control
        .create_payment_credential_provider()
        .name(&name)
        .credential_provider_vendor(PayVendor::CoinbaseCdp)
        .provider_configuration_input(config("wallet"))
        .send()
        .await
        .unwrap();
    assert!(created.credential_provider_arn().starts_with(&format!(
        "arn:aws:acps:{REGION}:{ACCOUNT_ID}:token-vault/default/paymentcredentialprovider/"
    )));
    let got = env
        .control
        .get_payment_credential_provider()
        .name(&name)
        .send()
        .await
        .unwrap();
    let Some(PayOut::CoinbaseCdpConfiguration(c)) = got.provider_configuration_output() else {
        panic!("{got:?}");
    };
    assert_eq!(c.wallet_secret_json_key(), Some("wallet"));
    assert_eq!(
        c.api_key_secret_arn().map(|s| s.secret_arn()),
        Some(secret.as_str())
    );
    assert_eq!(c.wallet_secret_source(), Some(&SecretSourceType::External));
    let listed = env
        .control
        .list_payment_credential_providers()
        .max_results(20)
        .send()
        .await
        .unwrap();
    assert!(listed
        .credential_providers()
        .iter()
        .any(|p| p.name() == name));
    // The model's page size bound, and a missing secret, are refused as the service does.
    let too_big = env
        .control
        .list_payment_credential_providers()
        .max_results(21)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        too_big.into_service_error().meta().code(),
        Some("ValidationException")
    );
    env.control
        .update_payment_credential_provider()
        .name(&name)
        .credential_provider_vendor(PayVendor::CoinbaseCdp)
        .provider_configuration_input(config("apiKey"))
        .send()
        .await
        .unwrap();
    let got = env
        .control
        .get_payment_credential_provider()
        .name(&name)
        .send()
        .await
        .unwrap();
    let Some(PayOut::CoinbaseCdpConfiguration(c)) = got.provider_configuration_output() else {
        panic!("{got:?}");
    };
    assert_eq!(c.wallet_secret_json_key(), Some("apiKey"));
    env.control
        .delete_payment_credential_provider()
        .name(&name)
        .send()
        .await
        .unwrap();
    let gone = env
        .control
        .get_payment_credential_provider()
        .name(&name)
        .send()
        .await
        .unwrap_err();
    assert!(gone.into_service_error().is_resource_not_found_exception());
}

#[tokio::test]
async fn gateway_targets_are_listed_and_described_with_their_credential_provider() {
    use agentcore_rotator_testkit::providers::{create_gateway, create_gateway_target};
    let env = env();
    let secret = customer_secret(&env.sm, r#"{"apiKey":"k-0123456789"}"#).await;
    let provider = unique("gw-key");
    create_external_api_key(&env, &provider, &secret, "apiKey").await;
    let arn = format!(
        "arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT_ID}:token-vault/default/apikeycredentialprovider/{provider}"
    );
    let gateway = create_gateway(&env.control, "tools").await;
    assert!(gateway.starts_with("tools-") && gateway.len() == "tools-".len() + 10);
    for t in ["alpha", "beta", "gamma"] {
        create_gateway_target(&env.control, &gateway, t, &arn).await;
    }
    // The SDK's paginator over ListGatewayTargets, one item per page.
    let mut ids = Vec::new();
    let mut pages = env
        .control
        .list_gateway_targets()
        .gateway_identifier(&gateway)
        .max_results(1)
        .into_paginator()
        .items()
        .send();
    while let Some(t) = pages.next().await {
        ids.push(t.unwrap().target_id().to_string());
    }
    assert_eq!(ids.len(), 3);
    let target = env
        .control
        .get_gateway_target()
        .gateway_identifier(&gateway)
        .target_id(&ids[0])
        .send()
        .await
        .unwrap();
    let uses = target.credential_provider_configurations()[0]
        .credential_provider()
        .and_then(|c| c.as_api_key_credential_provider().ok())
        .map(|p| p.provider_arn().to_string());
    assert_eq!(uses.as_deref(), Some(arn.as_str()));
    assert!(target
        .gateway_arn()
        .ends_with(&format!(":gateway/{gateway}")));
    // An unknown gateway is not found.
    let missing = env
        .control
        .get_gateway_target()
        .gateway_identifier("nope-0123456789")
        .target_id(&ids[0])
        .send()
        .await
        .unwrap_err();
    assert!(missing
        .into_service_error()
        .is_resource_not_found_exception());
    let listed = env.control.list_gateways().send().await.unwrap();
    assert!(listed.items().iter().any(|g| g.gateway_id() == gateway));
}
