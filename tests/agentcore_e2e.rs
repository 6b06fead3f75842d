//! AgentCore credential providers around a rotation, end to end: moto (Secrets Manager, KMS,
//! EventBridge, SQS, Security Hub), the AgentCore Identity emulator and the Cognito simulator,
//! with the real SDK clients pointed at them by endpoint configuration only.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agentcore_rotator::agentcore::accounts::Unreachable;
use agentcore_rotator::agentcore::{AgentCoreSettings, ProviderDirectory, ValueHash};
use agentcore_rotator::aws::agentcore::AgentCoreDirectory;
use agentcore_rotator::aws::hooks;
use agentcore_rotator::aws::secrets_manager::SecretsManagerStore;
use agentcore_rotator::config::Config;
use agentcore_rotator::event::Step;
use agentcore_rotator::findings::{
    EmitReport, Emitters, EmittersConfig, Finding, FindingSink, FindingsError, LogSink, Severity,
};
use agentcore_rotator::rotation::Rotator;
use agentcore_rotator::secrets::store::SecretStore;
use agentcore_rotator_testkit::agentcore::{AgentCoreEmulator, ProviderKind, ProviderStatus};
use agentcore_rotator_testkit::conductor::Conductor;
use agentcore_rotator_testkit::faulty_store::{Call, FaultyStore};
use agentcore_rotator_testkit::findings_route::{unique, BusToQueue};
use agentcore_rotator_testkit::moto::{sdk_config_for, Moto, ACCOUNT_ID, REGION};
use agentcore_rotator_testkit::providers::{
    api_key_provider_arn, create_external_api_key, create_gateway, create_gateway_target,
};
use agentcore_rotator_testkit::security_hub::findings_with_ids;
use agentcore_rotator_testkit::stack::{CognitoFixture, LocalStack};
use async_trait::async_trait;
use aws_sdk_bedrockagentcorecontrol::types::{SecretReference, SecretSourceType};
use common::CapturedLogs;
use serde_json::json;

const WORKLOAD: &str = "rotator-probe";
const API_KEY: &str = "partner-api-key-0123456789abcdef";

/// Every finding the rotator emitted, in order.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Finding>>>);

impl Recorder {
    fn rule_ids(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|f| f.rule_id().to_string())
            .collect()
    }
    fn all(&self) -> Vec<Finding> {
        self.0.lock().unwrap().clone()
    }
}

#[async_trait]
impl FindingSink for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }
    async fn emit(&self, findings: &[Finding]) -> Result<EmitReport, FindingsError> {
        self.0.lock().unwrap().extend_from_slice(findings);
        Ok(EmitReport {
            attempted: findings.len(),
            delivered: findings.len(),
            ..EmitReport::default()
        })
    }
}

fn settings(workload: bool) -> AgentCoreSettings {
    AgentCoreSettings {
        workload_name: workload.then(|| WORKLOAD.to_string()),
        initial_backoff: Duration::from_millis(5),
        ..AgentCoreSettings::default()
    }
}

struct Env {
    stack: LocalStack,
    findings: Recorder,
}

impl Env {
    fn start() -> Env {
        let stack = LocalStack::start();
        stack.agentcore.create_workload_identity(WORKLOAD);
        Env {
            stack,
            findings: Recorder::default(),
        }
    }

    fn conductor_in(&self, region: &str, workload: bool) -> Conductor {
        let emitters = Emitters::new(vec![
            Box::new(LogSink::new()),
            Box::new(self.findings.clone()),
        ]);
        let rotator = self.stack.rotator_with_agentcore(
            LocalStack::fast_config(),
            region,
            &settings(workload),
            emitters,
        );
        let sm =
            aws_sdk_secretsmanager::Client::new(&sdk_config_for(&self.stack.moto.endpoint, region));
        Conductor::new(
            sm,
            self.stack.moto.rotation_lambda_arn.clone(),
            Arc::new(rotator),
        )
    }

    fn conductor(&self) -> Conductor {
        self.conductor_in(REGION, true)
    }

    /// A conductor whose rotator reads and writes Secrets Manager through `store`.
    fn conductor_over(&self, store: Arc<dyn SecretStore>) -> Conductor {
        let emitters = Emitters::new(vec![
            Box::new(LogSink::new()),
            Box::new(self.findings.clone()),
        ]);
        let rotator = self.stack.rotator_with_agentcore_over(
            store,
            LocalStack::fast_config(),
            REGION,
            &settings(true),
            emitters,
        );
        Conductor::new(
            self.stack.sm.clone(),
            self.stack.moto.rotation_lambda_arn.clone(),
            Arc::new(rotator),
        )
    }

    /// A Cognito client secret document that also holds a partner API key, readable by
    /// AgentCore (resource policy for the service principal).
    async fn fixture(&self) -> CognitoFixture {
        let f = self.stack.cognito_fixture(json!({"apiKey": API_KEY})).await;
        self.stack.allow_agentcore(&f.secret_arn).await;
        f
    }

    async fn oauth2_external(&self, name: &str, f: &CognitoFixture, key: &str) {
        self.stack.external_oauth2(name, f, &f.client_id, key).await;
    }

    async fn api_key_external(&self, name: &str, secret_id: &str, key: &str) {
        self.stack.external_api_key(name, secret_id, key).await;
    }

    async fn managed_oauth2(&self, name: &str, f: &CognitoFixture) {
        self.stack.managed_oauth2(name, f).await;
    }

    async fn current_version(&self, secret: &str) -> String {
        self.stack.version_with(secret, "AWSCURRENT").await.unwrap()
    }
}

fn reference(secret_id: &str, key: &str) -> SecretReference {
    SecretReference::builder()
        .secret_id(secret_id)
        .json_key(key)
        .build()
        .unwrap()
}

/// Overwrites the pending version's document (moto lets a token be reused with a new value):
/// a stand-in for any writer that drops a key the providers need.
async fn overwrite_pending(stack: &LocalStack, f: &CognitoFixture, token: &str, drop_key: &str) {
    let mut doc = stack.doc(&f.secret_arn, "AWSPENDING").await;
    doc.as_object_mut().unwrap().remove(drop_key);
    stack
        .sm
        .put_secret_value()
        .secret_id(&f.secret_arn)
        .client_request_token(token)
        .secret_string(doc.to_string())
        .version_stages("AWSPENDING")
        .send()
        .await
        .expect("overwrite AWSPENDING");
}

/// A rotation begun and taken through testSecret, then its pending document loses `apiKey` (which
/// the provider `partner-key` reads), so finishSecret must roll back. Returns the token and the
/// version that was AWSCURRENT.
async fn up_to_a_finish_that_breaks_partner_key(
    env: &Env,
    conductor: &Conductor,
    f: &CognitoFixture,
) -> (String, String) {
    let token = conductor.begin(&f.secret_arn).await;
    let before = env.current_version(&f.secret_arn).await;
    for step in [Step::CreateSecret, Step::SetSecret, Step::TestSecret] {
        conductor.invoke(&f.secret_arn, &token, step).await.unwrap();
    }
    // Pre-flight passed; the document changes before finishSecret.
    overwrite_pending(&env.stack, f, &token, "apiKey").await;
    (token, before)
}

async fn assert_no_leak(env: &Env, f: &CognitoFixture, logs: &CapturedLogs, errors: &[String]) {
    let values = env.stack.secret_values(&[f], &[API_KEY]).await;
    let mut texts = errors.to_vec();
    texts.push(serde_json::to_string(&env.findings.all()).unwrap());
    common::assert_no_leak(logs, &values, &texts);
}

/// A name no other test in this process (or an earlier one on the same moto) uses.

// ------------------------------------------------------------------ healthy references

#[tokio::test]
async fn a_secret_referenced_by_several_providers_rotates_and_each_resolves_the_new_value() {
    let (logs, _g) = CapturedLogs::install();
    let env = Env::start();
    let f = env.fixture().await;
    env.oauth2_external("payments-oauth", &f, "clientSecret")
        .await;
    env.api_key_external("partner-key", &f.secret_arn, "apiKey")
        .await;
    env.managed_oauth2("legacy-managed", &f).await;

    let run = env.conductor().rotate(&f.secret_arn).await;
    assert!(run.succeeded, "{:?}", run.last_error());
    assert_eq!(env.current_version(&f.secret_arn).await, run.token);

    // Only the MANAGED provider is noted; both EXTERNAL ones confirmed.
    assert_eq!(env.findings.rule_ids(), ["REF-008"]);
    let managed = &env.findings.all()[0];
    assert_eq!(managed.severity(), Severity::Informational);
    assert!(managed.description().contains("legacy-managed"));
    assert!(logs.text().contains("MANAGED credential provider"));

    // The data plane was asked, before and after promotion, and resolves the new value.
    assert!(env.stack.agentcore.calls("GetResourceApiKey") >= 2);
    assert!(env.stack.agentcore.calls("GetResourceOauth2Token") >= 2);
    let new_doc = env.stack.doc(&f.secret_arn, "AWSCURRENT").await;
    let oauth = env
        .stack
        .agentcore
        .resolve(ProviderKind::Oauth2, "payments-oauth")
        .await
        .unwrap();
    assert_eq!(oauth.sha256_hex().len(), 64);
    assert_eq!(
        oauth.expose_secret(),
        new_doc["clientSecret"].as_str().unwrap()
    );
    let key = env
        .stack
        .agentcore
        .resolve(ProviderKind::ApiKey, "partner-key")
        .await
        .unwrap();
    assert_eq!(
        format!("{:?}", ValueHash::of(key.expose_secret())),
        format!("{:?}", ValueHash::of(API_KEY))
    );
    assert_no_leak(&env, &f, &logs, &[]).await;
}

// ------------------------------------------------------------------ broken references

/// Rotates and returns the rule ids of the findings.
async fn rotate_expecting_success(env: &Env, f: &CognitoFixture) -> Vec<String> {
    let run = env.conductor().rotate(&f.secret_arn).await;
    assert!(run.succeeded, "{:?}", run.last_error());
    assert_eq!(
        env.current_version(&f.secret_arn).await,
        run.token,
        "not rolled back"
    );
    env.findings.rule_ids()
}

/// Before: any provider whose key AWSPENDING lacked blocked promotion, even when AWSCURRENT
/// lacked it too, so one mistyped provider froze rotation for every reader of the secret.
#[tokio::test]
async fn a_reference_that_is_already_broken_is_reported_as_ref_003_and_does_not_block_rotation() {
    let (logs, _g) = CapturedLogs::install();
    let env = Env::start();
    let f = env.fixture().await;
    env.api_key_external("typo-key", &f.secret_arn, "apikey")
        .await;
    env.api_key_external("good-key", &f.secret_arn, "apiKey")
        .await;
    let run = env.conductor().rotate(&f.secret_arn).await;
    assert!(run.succeeded, "{:?}", run.last_error());
    assert_eq!(env.current_version(&f.secret_arn).await, run.token);
    let ids = env.findings.rule_ids();
    assert!(
        !ids.is_empty() && ids.iter().all(|id| id == "REF-003"),
        "{ids:?}"
    );
    let finding = &env.findings.all()[0];
    assert!(finding.description().contains("typo-key"));
    assert!(finding.description().contains("\"apikey\""));
    assert!(logs
        .text()
        .contains("already broken, reported, not blocking"));
    let resolved = env
        .stack
        .agentcore
        .resolve(ProviderKind::ApiKey, "good-key")
        .await
        .unwrap();
    assert_eq!(resolved.expose_secret(), API_KEY);
    assert_no_leak(&env, &f, &logs, &[]).await;
}

#[tokio::test]
async fn a_missing_resource_policy_is_reported_as_ref_005_and_not_rolled_back() {
    let env = Env::start();
    let f = env.stack.cognito_fixture(json!({"apiKey": API_KEY})).await;
    env.api_key_external("no-policy", &f.secret_arn, "apiKey")
        .await;
    assert_eq!(rotate_expecting_success(&env, &f).await, ["REF-005"]);
}

#[tokio::test]
async fn a_kms_key_policy_without_agentcore_decrypt_is_reported_as_ref_006_only() {
    let env = Env::start();
    let f = env.fixture().await;
    let key = env.stack.root_only_key().await;
    env.stack
        .sm
        .update_secret()
        .secret_id(&f.secret_arn)
        .kms_key_id(&key)
        .send()
        .await
        .unwrap();
    env.api_key_external("cmk-key", &f.secret_arn, "apiKey")
        .await;
    assert_eq!(rotate_expecting_success(&env, &f).await, ["REF-006"]);
    assert!(env.findings.all()[0].description().contains(&key));
}

#[tokio::test]
async fn a_failed_provider_is_reported_as_ref_007_only() {
    let env = Env::start();
    let f = env.fixture().await;
    env.oauth2_external("broken-oauth", &f, "clientSecret")
        .await;
    env.stack.agentcore.set_provider_status(
        ProviderKind::Oauth2,
        "broken-oauth",
        ProviderStatus::UpdateFailed,
        Some("client secret rejected"),
    );
    assert_eq!(rotate_expecting_success(&env, &f).await, ["REF-007"]);
    assert!(env.findings.all()[0]
        .description()
        .contains("client secret rejected"));
}

#[tokio::test]
async fn a_provider_still_pointing_at_a_deleted_secret_of_the_same_name_is_reported_as_ref_001() {
    let env = Env::start();
    let name = format!("agentcore/test/{}", unique("named"));
    let old = env
        .stack
        .sm
        .create_secret()
        .name(&name)
        .secret_string(json!({"apiKey": API_KEY}).to_string())
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    env.api_key_external("stale-arn", &old, "apiKey").await;
    env.stack
        .sm
        .delete_secret()
        .secret_id(&old)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    let f = env
        .stack
        .cognito_fixture_with(&env.stack.sm, &name, json!({"apiKey": API_KEY}))
        .await;
    env.stack.allow_agentcore(&f.secret_arn).await;
    assert_ne!(f.secret_arn, old);
    assert_eq!(rotate_expecting_success(&env, &f).await, ["REF-001"]);
    assert!(env.findings.all()[0].description().contains(&old));
}

#[tokio::test]
async fn a_secret_scheduled_for_deletion_mid_rotation_is_reported_as_ref_002_and_not_promoted() {
    let env = Env::start();
    let f = env.fixture().await;
    env.api_key_external("doomed", &f.secret_arn, "apiKey")
        .await;
    let conductor = env.conductor();
    let token = conductor.begin(&f.secret_arn).await;
    for step in [Step::CreateSecret, Step::SetSecret, Step::TestSecret] {
        conductor.invoke(&f.secret_arn, &token, step).await.unwrap();
    }
    let before = env.current_version(&f.secret_arn).await;
    env.stack
        .sm
        .delete_secret()
        .secret_id(&f.secret_arn)
        .recovery_window_in_days(7)
        .send()
        .await
        .unwrap();
    let err = conductor
        .invoke(&f.secret_arn, &token, Step::FinishSecret)
        .await
        .unwrap_err();
    assert!(err.contains("marked") || err.contains("deleted"), "{err}");
    assert_eq!(env.findings.rule_ids(), ["REF-002"]);
    assert_eq!(env.current_version(&f.secret_arn).await, before);
}

#[tokio::test]
async fn a_provider_referencing_the_secret_from_another_region_is_reported_as_ref_004_only() {
    let env = Env::start();
    let f = env.fixture().await;
    // Providers in us-west-2 that reference the us-east-1 secret.
    let west = AgentCoreEmulator::start(&env.stack.moto.endpoint, "us-west-2", ACCOUNT_ID);
    let west_control = aws_sdk_bedrockagentcorecontrol::Client::new(&west.sdk_config());
    west_control
        .create_api_key_credential_provider()
        .name("far-away")
        .api_key_secret_source(SecretSourceType::External)
        .api_key_secret_config(reference(&f.secret_arn, "apiKey"))
        .send()
        .await
        .expect("create API-key provider in us-west-2");
    let emitters = Emitters::new(vec![Box::new(env.findings.clone())]);
    let rotator = Rotator::new(
        Arc::new(SecretsManagerStore::new(&env.stack.moto.sdk_config())),
        Arc::new(env.stack.upstreams()),
        Config {
            origins: env.stack.origin_policy(),
            ..LocalStack::fast_config()
        },
    )
    .with_agentcore(hooks(
        &west.sdk_config(),
        &env.stack.moto.sdk_config(),
        &settings(false),
        emitters,
    ));
    let run = env.stack.conductor(rotator).rotate(&f.secret_arn).await;
    assert!(run.succeeded, "{:?}", run.last_error());
    assert_eq!(env.findings.rule_ids(), ["REF-004"]);
    let d = env.findings.all()[0].description().to_string();
    assert!(d.contains("us-west-2") && d.contains("us-east-1"), "{d}");
}

// ------------------------------------------------------------------ pre-flight and rollback

#[tokio::test]
async fn pre_flight_blocks_promotion_when_a_referenced_key_is_missing_from_awspending() {
    let (logs, _g) = CapturedLogs::install();
    let env = Env::start();
    let f = env.fixture().await;
    env.api_key_external("partner-key", &f.secret_arn, "apiKey")
        .await;
    let conductor = env.conductor();
    let token = conductor.begin(&f.secret_arn).await;
    let before = env.current_version(&f.secret_arn).await;
    conductor
        .invoke(&f.secret_arn, &token, Step::CreateSecret)
        .await
        .unwrap();
    overwrite_pending(&env.stack, &f, &token, "apiKey").await;
    conductor
        .invoke(&f.secret_arn, &token, Step::SetSecret)
        .await
        .unwrap();
    let err = conductor
        .invoke(&f.secret_arn, &token, Step::TestSecret)
        .await
        .unwrap_err();
    assert!(err.contains("pre-flight"), "{err}");
    assert!(
        err.contains("partner-key") && err.contains("\"apiKey\""),
        "{err}"
    );
    assert_eq!(env.current_version(&f.secret_arn).await, before);
    assert_eq!(
        env.stack.doc(&f.secret_arn, "AWSCURRENT").await["apiKey"],
        API_KEY
    );
    assert_no_leak(&env, &f, &logs, &[err]).await;
}

#[tokio::test]
async fn a_new_version_that_drops_a_referenced_key_is_rolled_back_with_a_critical_finding() {
    let (logs, _g) = CapturedLogs::install();
    let env = Env::start();
    let f = env.fixture().await;
    env.api_key_external("partner-key", &f.secret_arn, "apiKey")
        .await;
    let conductor = env.conductor();
    let (token, before) = up_to_a_finish_that_breaks_partner_key(&env, &conductor, &f).await;
    let err = conductor
        .invoke(&f.secret_arn, &token, Step::FinishSecret)
        .await
        .unwrap_err();
    assert!(err.contains("rolled AWSCURRENT back"), "{err}");
    assert!(err.contains("partner-key"), "{err}");
    assert_eq!(env.current_version(&f.secret_arn).await, before);
    assert_eq!(
        env.stack.doc(&f.secret_arn, "AWSPREVIOUS").await["clientId"],
        f.client_id.as_str()
    );
    assert!(!env.stack.stages(&f.secret_arn).await[&token].contains(&"AWSPENDING".to_string()));
    assert_eq!(env.findings.rule_ids(), ["ROT-001"]);
    assert_eq!(env.findings.all()[0].severity(), Severity::Critical);
    let resolved = env
        .stack
        .agentcore
        .resolve(ProviderKind::ApiKey, "partner-key")
        .await
        .unwrap();
    assert_eq!(resolved.expose_secret(), API_KEY);
    // Secrets Manager's retry of the rotation fails loudly instead of promoting again.
    let retry = conductor
        .invoke(&f.secret_arn, &token, Step::CreateSecret)
        .await
        .unwrap_err();
    assert_eq!(env.current_version(&f.secret_arn).await, before);
    assert_no_leak(&env, &f, &logs, &[err, retry]).await;
}

#[tokio::test]
async fn a_data_plane_failure_only_with_the_new_value_is_rolled_back() {
    let env = Env::start();
    let f = env.fixture().await;
    env.oauth2_external("payments-oauth", &f, "clientSecret")
        .await;
    let conductor = env.conductor();
    let token = conductor.begin(&f.secret_arn).await;
    let before = env.current_version(&f.secret_arn).await;
    for step in [Step::CreateSecret, Step::SetSecret, Step::TestSecret] {
        conductor.invoke(&f.secret_arn, &token, step).await.unwrap();
    }
    // The new upstream secret stops working after testSecret proved it.
    for id in env.stack.cognito.secret_ids(&f.pool_id, &f.client_id) {
        if id != f.initial_secret_id {
            env.stack
                .cognito
                .revoke_out_of_band(&f.pool_id, &f.client_id, &id);
        }
    }
    let err = conductor
        .invoke(&f.secret_arn, &token, Step::FinishSecret)
        .await
        .unwrap_err();
    assert!(err.contains("rolled AWSCURRENT back"), "{err}");
    assert!(err.contains("GetResourceOauth2Token"), "{err}");
    assert_eq!(env.current_version(&f.secret_arn).await, before);
    assert_eq!(env.findings.rule_ids(), ["ROT-001"]);
}

// ------------------------------------------------------------------ delivery

/// Security Hub findings with one of `ids`: (id, description).
async fn hub_findings(ids: Vec<String>) -> Vec<(String, Option<String>)> {
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    findings_with_ids(&Moto::shared().sdk_config(), &ids)
        .await
        .iter()
        .map(|f| {
            (
                f.id().unwrap_or_default().to_string(),
                f.description().map(str::to_string),
            )
        })
        .collect()
}

#[tokio::test]
async fn findings_reach_eventbridge_and_security_hub_and_a_second_run_updates_rather_than_duplicates(
) {
    let env = Env::start();
    let route = BusToQueue::create().await;
    aws_sdk_securityhub::Client::new(&Moto::shared().sdk_config())
        .enable_security_hub()
        .send()
        .await
        .unwrap();
    let config = EmittersConfig::from_lookup(|k| match k {
        "ROTATOR_FINDINGS_EVENT_BUS" => Some(route.bus.clone()),
        "ROTATOR_SECURITY_HUB" => Some("true".into()),
        _ => None,
    })
    .unwrap();
    let emitters = Emitters::from_config(&Moto::shared().sdk_config(), &config)
        .with_sink(Box::new(env.findings.clone()));
    let rotator = env.stack.rotator_with_agentcore(
        LocalStack::fast_config(),
        REGION,
        &settings(false),
        emitters,
    );
    let mut conductor = env.stack.conductor(rotator);
    conductor.max_attempts = 1;
    let f = env.fixture().await;
    env.api_key_external("typo-key", &f.secret_arn, "apikey")
        .await;

    for _ in 0..2 {
        let run = conductor.rotate(&f.secret_arn).await;
        assert!(
            run.succeeded,
            "an already-broken reference does not block rotation"
        );
    }
    assert_eq!(env.findings.rule_ids(), ["REF-003", "REF-003"]);
    let id = env.findings.all()[0].id().to_string();
    assert_eq!(env.findings.all()[1].id(), id);

    let events = route.receive(2).await;
    assert_eq!(events.len(), 2);
    for e in &events {
        assert_eq!(e["detail"]["finding"]["id"], id.as_str());
        assert_eq!(e["detail"]["finding"]["ruleId"], "REF-003");
    }
    let stored = hub_findings(vec![id.clone()]).await;
    assert_eq!(stored.len(), 1, "the second run updates the finding");
    assert!(stored[0].1.as_deref().unwrap().contains("typo-key"));

    let values = env.stack.secret_values(&[&f], &[API_KEY]).await;
    let delivered = serde_json::to_string(&events).unwrap();
    for v in values {
        assert!(
            !delivered.contains(&v),
            "a secret value reached EventBridge"
        );
    }
}

// ------------------------------------------------------------------ discovery

#[tokio::test]
async fn discovery_walks_every_page_of_both_lists_and_rides_out_throttling() {
    let env = Env::start();
    let f = env.fixture().await;
    for i in 0..23 {
        env.oauth2_external(&format!("oauth-{i:02}"), &f, "clientSecret")
            .await;
    }
    for i in 0..103 {
        env.api_key_external(&format!("key-{i:03}"), &f.secret_arn, "apiKey")
            .await;
    }
    // 30% of calls throttled: ten attempts make a call failing every one a ~1e-5 event.
    let directory = AgentCoreDirectory::new(
        &env.stack.agentcore.sdk_config(),
        &AgentCoreSettings {
            max_attempts: 10,
            ..settings(false)
        },
    );
    env.stack.agentcore.reset_call_counts();
    env.stack.agentcore.throttle_fraction(0.3);
    let providers = directory
        .providers()
        .await
        .expect("retries absorb throttling");
    env.stack.agentcore.clear_throttling();
    assert_eq!(providers.len(), 126);
    assert!(providers
        .iter()
        .all(|p| p.secret_arn.as_deref() == Some(f.secret_arn.as_str())));
    let oauth = providers
        .iter()
        .filter(|p| p.client_id.as_deref() == Some(f.client_id.as_str()));
    assert_eq!(oauth.count(), 23);
    let calls = env.stack.agentcore.call_counts();
    // Two pages each (20 + 3, 100 + 3), plus throttled attempts that were retried.
    assert!(calls["ListOauth2CredentialProviders"] >= 2, "{calls:?}");
    assert!(calls["ListApiKeyCredentialProviders"] >= 2, "{calls:?}");
    let gets = calls["GetOauth2CredentialProvider"] + calls["GetApiKeyCredentialProvider"];
    assert!(
        gets > 126,
        "some Gets were throttled and retried: {calls:?}"
    );
}

/// The audit starts on a provider's secret while later List pages are still unread: the first
/// provider arrives long before the listing ends (the name queue holds at most a few pages),
/// and closing the receiver stops discovery early without an error.
#[tokio::test]
async fn discovery_hands_over_providers_before_the_listing_ends_and_stops_when_told() {
    let env = Env::start();
    let f = env.fixture().await;
    for i in 0..300 {
        env.oauth2_external(&format!("stream-{i:03}"), &f, "clientSecret")
            .await;
    }
    let directory = AgentCoreDirectory::new(&env.stack.agentcore.sdk_config(), &settings(false));
    env.stack.agentcore.reset_call_counts();
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let discovery = tokio::spawn(async move { directory.each_provider(tx).await });
    let first = rx.recv().await.expect("a provider");
    assert!(first.name.starts_with("stream-"));
    let pages = env.stack.agentcore.call_counts()["ListOauth2CredentialProviders"];
    assert!(pages < 15, "300 providers are 15 pages; {pages} were read");
    drop(rx);
    discovery
        .await
        .unwrap()
        .expect("a closed receiver is not an error");
    let calls = env.stack.agentcore.call_counts();
    assert!(
        calls["GetOauth2CredentialProvider"] < 300,
        "stopped early: {calls:?}"
    );
}

#[tokio::test]
async fn a_finish_secret_that_died_after_the_move_is_confirmed_by_its_retry() {
    let env = Env::start();
    let f = env.stack.cognito_fixture(json!({"apiKey": API_KEY})).await;
    env.api_key_external("no-policy", &f.secret_arn, "apiKey")
        .await;
    let conductor = env.conductor();
    let token = conductor.begin(&f.secret_arn).await;
    for step in [Step::CreateSecret, Step::SetSecret, Step::TestSecret] {
        conductor.invoke(&f.secret_arn, &token, step).await.unwrap();
    }
    assert!(env.findings.rule_ids().is_empty());
    // The function died right after moving AWSCURRENT: AWSPENDING is still on the token.
    let old = env.current_version(&f.secret_arn).await;
    env.stack
        .sm
        .update_secret_version_stage()
        .secret_id(&f.secret_arn)
        .version_stage("AWSCURRENT")
        .move_to_version_id(&token)
        .remove_from_version_id(&old)
        .send()
        .await
        .unwrap();
    let outcome = conductor
        .invoke(&f.secret_arn, &token, Step::FinishSecret)
        .await
        .unwrap();
    assert_eq!(outcome, "already-current");
    assert_eq!(env.findings.rule_ids(), ["REF-005"], "the retry confirmed");
    let stages = env.stack.stages(&f.secret_arn).await;
    assert_eq!(stages[&token], vec!["AWSCURRENT".to_string()]);
}

// ------------------------------------------------------------------ confirmation safety

/// Before: a transient error during the confirmation returned early; finishSecret had already
/// dropped AWSPENDING, so Secrets Manager's retry saw the token AWSCURRENT, every step said
/// "already-current", and the broken provider was left broken and unreported.
#[tokio::test]
async fn a_transient_error_during_confirmation_keeps_awspending_and_the_retry_rolls_back() {
    let (logs, _g) = CapturedLogs::install();
    let env = Env::start();
    let f = env.fixture().await;
    env.api_key_external("partner-key", &f.secret_arn, "apiKey")
        .await;
    // The first AWSCURRENT read after AWSCURRENT moved fails, as a throttled call would.
    let moved = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(AtomicBool::new(false));
    let (m, fl) = (moved.clone(), failed.clone());
    let store = FaultyStore::new(env.stack.store(), move |call| match call {
        Call::Update {
            stage,
            move_to: Some(_),
            ..
        } if stage == "AWSCURRENT" => {
            m.store(true, Ordering::SeqCst);
            false
        }
        Call::Get(v) if v == "AWSCURRENT" && m.load(Ordering::SeqCst) => {
            !fl.swap(true, Ordering::SeqCst)
        }
        _ => false,
    });
    let conductor = env.conductor_over(store.clone());
    let (token, before) = up_to_a_finish_that_breaks_partner_key(&env, &conductor, &f).await;
    let first = conductor
        .invoke(&f.secret_arn, &token, Step::FinishSecret)
        .await
        .unwrap_err();
    assert!(first.contains("Throttling"), "{first}");
    assert!(failed.load(Ordering::SeqCst));
    let stages = env.stack.stages(&f.secret_arn).await;
    assert!(
        stages[&token].contains(&"AWSPENDING".to_string()),
        "{stages:?}"
    );
    assert!(env.findings.rule_ids().is_empty());

    // Secrets Manager retries the whole sequence: the first three steps see the token
    // AWSCURRENT and pass; finishSecret sees AWSPENDING still on it, confirms again with
    // AWSPREVIOUS as the baseline, and rolls back.
    let retry = conductor
        .run_steps(&f.secret_arn, &token, Default::default())
        .await;
    assert!(!retry.succeeded);
    assert!(
        retry.steps[3]
            .result
            .as_ref()
            .is_err_and(|e| e.contains("rolled AWSCURRENT back")),
        "{:?}",
        retry.steps
    );
    assert_eq!(env.current_version(&f.secret_arn).await, before);
    assert!(env.findings.rule_ids().contains(&"ROT-001".to_string()));
    let resolved = env
        .stack
        .agentcore
        .resolve(ProviderKind::ApiKey, "partner-key")
        .await
        .unwrap();
    assert_eq!(resolved.expose_secret(), API_KEY);
    assert!(!env.stack.stages(&f.secret_arn).await[&token].contains(&"AWSPENDING".to_string()));
    assert_no_leak(&env, &f, &logs, &[first]).await;
}

/// Before: when the function died between the rollback move and dropping AWSPENDING, the
/// retry ran createSecret…finishSecret again and promoted the broken version once more.
#[tokio::test]
async fn a_rolled_back_version_left_pending_by_a_crash_is_never_promoted_again() {
    let env = Env::start();
    let f = env.fixture().await;
    env.api_key_external("partner-key", &f.secret_arn, "apiKey")
        .await;
    // Dropping AWSPENDING fails (the function "dies" right after the rollback move).
    let store = FaultyStore::new(
        env.stack.store(),
        |call| matches!(call, Call::Update { stage, move_to: None, .. } if stage == "AWSPENDING"),
    );
    let conductor = env.conductor_over(store.clone());
    let (token, before) = up_to_a_finish_that_breaks_partner_key(&env, &conductor, &f).await;
    conductor
        .invoke(&f.secret_arn, &token, Step::FinishSecret)
        .await
        .unwrap_err();
    let stages = env.stack.stages(&f.secret_arn).await;
    assert_eq!(
        stages[&token],
        vec!["AWSPENDING".to_string(), "AWSPREVIOUS".to_string()]
    );

    let healthy = env.conductor();
    let retry = healthy
        .run_steps(&f.secret_arn, &token, Default::default())
        .await;
    assert!(!retry.succeeded);
    assert!(
        retry.steps[0]
            .result
            .as_ref()
            .is_err_and(|e| e.contains("rolled this version back earlier")),
        "{:?}",
        retry.steps
    );
    assert_eq!(env.current_version(&f.secret_arn).await, before);
    let promotions = store
        .calls()
        .iter()
        .filter(|(c, _)| matches!(c, Call::Update { stage, move_to: Some(t), .. } if stage == "AWSCURRENT" && t == &token))
        .count();
    assert_eq!(
        promotions, 1,
        "promoted once, by the first finishSecret only"
    );
    assert!(retry.steps.iter().all(|s| s.step == Step::CreateSecret));
    assert!(!env.stack.stages(&f.secret_arn).await[&token].contains(&"AWSPENDING".to_string()));
}

/// Before: after a rollback AWSCURRENT matched two live secrets (its own and the rolled-back
/// one), so every later rotation failed "cannot tell which" and the extra secret stayed live.
#[tokio::test]
async fn after_a_rollback_the_next_rotation_succeeds_and_removes_the_rolled_back_secret() {
    let env = Env::start();
    let f = env.fixture().await;
    env.api_key_external("partner-key", &f.secret_arn, "apiKey")
        .await;
    rotate_expecting_success(&env, &f).await;
    let conductor = env.conductor();
    let (token, _) = up_to_a_finish_that_breaks_partner_key(&env, &conductor, &f).await;
    let rolled_back_value = env.stack.doc(&f.secret_arn, "AWSPENDING").await["clientSecret"]
        .as_str()
        .unwrap()
        .to_string();
    let err = conductor
        .invoke(&f.secret_arn, &token, Step::FinishSecret)
        .await
        .unwrap_err();
    assert!(err.contains("rolled AWSCURRENT back"), "{err}");
    let current_value = env.stack.doc(&f.secret_arn, "AWSCURRENT").await["clientSecret"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(env.stack.cognito.accepts(&f.client_id, &rolled_back_value));

    let next = env.conductor().rotate(&f.secret_arn).await;
    assert!(next.succeeded, "{:?}", next.last_error());
    assert!(!env.stack.cognito.accepts(&f.client_id, &rolled_back_value));
    assert!(env.stack.cognito.accepts(&f.client_id, &current_value));
    let now = env.stack.doc(&f.secret_arn, "AWSCURRENT").await;
    assert!(env
        .stack
        .cognito
        .accepts(&f.client_id, now["clientSecret"].as_str().unwrap()));
    assert_eq!(
        env.stack.cognito.secret_ids(&f.pool_id, &f.client_id).len(),
        2
    );
}

/// Before: a version writer who put a document naming another client into AWSCURRENT while a
/// rotation was in flight had finishSecret roll the providers back onto that client's secret.
#[tokio::test]
async fn a_rollback_never_restores_a_document_that_names_another_client() {
    let env = Env::start();
    let f = env.fixture().await;
    let other = env.fixture().await;
    env.api_key_external("partner-key", &f.secret_arn, "apiKey")
        .await;
    let conductor = env.conductor();
    let (token, before) = up_to_a_finish_that_breaks_partner_key(&env, &conductor, &f).await;
    let mut foreign = env.stack.doc(&other.secret_arn, "AWSCURRENT").await;
    foreign["apiKey"] = json!(API_KEY);
    // A version writer's PutSecretValue of AWSCURRENT, in two calls: moto's PutSecretValue moves
    // AWSCURRENT off the wrong version while a rotation is pending.
    let foreign_version = env
        .stack
        .sm
        .put_secret_value()
        .secret_id(&f.secret_arn)
        .secret_string(foreign.to_string())
        .version_stages("WRITER")
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_string();
    env.stack
        .sm
        .update_secret_version_stage()
        .secret_id(&f.secret_arn)
        .version_stage("AWSCURRENT")
        .move_to_version_id(&foreign_version)
        .remove_from_version_id(&before)
        .send()
        .await
        .unwrap();

    let err = conductor
        .invoke(&f.secret_arn, &token, Step::FinishSecret)
        .await
        .unwrap_err();
    assert!(err.contains("could not roll back"), "{err}");
    assert!(
        err.contains(&format!(
            "names cognito:{}/{}",
            other.pool_id, other.client_id
        )),
        "{err}"
    );
    assert_ne!(env.current_version(&f.secret_arn).await, foreign_version);
    assert_eq!(env.current_version(&f.secret_arn).await, token);
    assert_eq!(env.findings.rule_ids(), ["ROT-002"]);
}

// ------------------------------------------------------------------ payment providers

const WALLET: &str = "wallet-secret-fedcba9876543210";

/// A secret whose document also holds a payment API key and a wallet secret, read by a
/// CoinbaseCDP provider (both references) and by a StripePrivy provider (one reference here,
/// its other in a secret of its own).
async fn payment_fixture(env: &Env) -> CognitoFixture {
    let f = env
        .stack
        .cognito_fixture(json!({"apiKey": API_KEY, "walletSecret": WALLET}))
        .await;
    env.stack.allow_agentcore(&f.secret_arn).await;
    env.stack
        .coinbase_payment(
            "pay-cdp",
            (&f.secret_arn, "apiKey"),
            Some((&f.secret_arn, "walletSecret")),
        )
        .await;
    let other = unique("stripe-auth");
    env.stack
        .sm
        .create_secret()
        .name(&other)
        .secret_string(json!({"privateKey": "stripe-auth-key-0123456789"}).to_string())
        .send()
        .await
        .unwrap();
    env.stack.allow_agentcore(&other).await;
    env.stack
        .stripe_payment(
            "pay-stripe",
            (&f.secret_arn, "apiKey"),
            (&other, "privateKey"),
        )
        .await;
    f
}

#[tokio::test]
async fn payment_providers_are_discovered_one_entry_per_reference() {
    let env = Env::start();
    let f = payment_fixture(&env).await;
    let directory = AgentCoreDirectory::new(&env.stack.agentcore.sdk_config(), &settings(false));
    let found = directory.providers().await.unwrap();
    let payments: Vec<String> = found
        .iter()
        .filter(|p| p.kind == agentcore_rotator::agentcore::ProviderKind::Payment)
        .map(|p| {
            format!(
                "{} {} {} {}",
                p.name,
                p.slot.unwrap_or("-"),
                p.vendor.as_deref().unwrap_or("-"),
                p.json_key.as_deref().unwrap_or("-")
            )
        })
        .collect();
    assert_eq!(
        payments,
        [
            "pay-cdp apiKeySecret CoinbaseCDP apiKey",
            "pay-cdp walletSecret CoinbaseCDP walletSecret",
            "pay-stripe appSecret StripePrivy apiKey",
            "pay-stripe authorizationPrivateKey StripePrivy privateKey",
        ]
    );
    let cdp_ref = found.iter().find(|p| p.name == "pay-cdp").unwrap();
    assert_eq!(cdp_ref.secret_arn.as_deref(), Some(f.secret_arn.as_str()));
    assert!(cdp_ref.arn.contains("/paymentcredentialprovider/pay-cdp"));
    assert_eq!(
        env.stack.agentcore.calls("ListPaymentCredentialProviders"),
        1
    );
    assert_eq!(env.stack.agentcore.calls("GetPaymentCredentialProvider"), 2);
}

#[tokio::test]
async fn a_secret_read_by_payment_providers_rotates_and_each_reference_is_confirmed() {
    let (logs, _g) = CapturedLogs::install();
    let env = Env::start();
    let f = payment_fixture(&env).await;
    let run = env.conductor().rotate(&f.secret_arn).await;
    assert!(run.succeeded, "{:?}", run.last_error());
    assert_eq!(env.current_version(&f.secret_arn).await, run.token);
    assert_eq!(env.findings.rule_ids(), Vec::<String>::new());
    // Three references to the rotated secret were confirmed (the fourth is another secret).
    assert!(logs.text().contains("\"confirmed\":3"), "{}", logs.text());
    let doc = env.stack.doc(&f.secret_arn, "AWSCURRENT").await;
    assert_eq!(doc["walletSecret"], WALLET);
    assert_no_leak(&env, &f, &logs, &[]).await;
}

#[tokio::test]
async fn pre_flight_blocks_promotion_when_a_payment_provider_key_is_missing_from_awspending() {
    let (logs, _g) = CapturedLogs::install();
    let env = Env::start();
    let f = payment_fixture(&env).await;
    let conductor = env.conductor();
    let token = conductor.begin(&f.secret_arn).await;
    let before = env.current_version(&f.secret_arn).await;
    conductor
        .invoke(&f.secret_arn, &token, Step::CreateSecret)
        .await
        .unwrap();
    overwrite_pending(&env.stack, &f, &token, "walletSecret").await;
    conductor
        .invoke(&f.secret_arn, &token, Step::SetSecret)
        .await
        .unwrap();
    let err = conductor
        .invoke(&f.secret_arn, &token, Step::TestSecret)
        .await
        .unwrap_err();
    assert!(err.contains("pre-flight"), "{err}");
    assert!(
        err.contains("payment provider pay-cdp (walletSecret)") && err.contains("\"walletSecret\""),
        "{err}"
    );
    assert!(!err.contains("pay-stripe"), "{err}");
    assert_eq!(env.current_version(&f.secret_arn).await, before);
    // The finding names the payment provider by its ARN and kind.
    let findings = env.findings.all();
    assert_eq!(env.findings.rule_ids(), ["REF-003"]);
    let json = serde_json::to_value(&findings[0]).unwrap().to_string();
    assert!(json.contains("PROVIDER_PAYMENT"), "{json}");
    assert!(
        json.contains("/paymentcredentialprovider/pay-cdp"),
        "{json}"
    );
    assert_no_leak(&env, &f, &logs, &[err]).await;
}

#[tokio::test]
async fn a_new_version_that_drops_a_payment_key_is_rolled_back() {
    let env = Env::start();
    let f = payment_fixture(&env).await;
    let conductor = env.conductor();
    let token = conductor.begin(&f.secret_arn).await;
    let before = env.current_version(&f.secret_arn).await;
    for step in [Step::CreateSecret, Step::SetSecret, Step::TestSecret] {
        conductor.invoke(&f.secret_arn, &token, step).await.unwrap();
    }
    overwrite_pending(&env.stack, &f, &token, "walletSecret").await;
    let err = conductor
        .invoke(&f.secret_arn, &token, Step::FinishSecret)
        .await
        .unwrap_err();
    assert!(err.contains("rolled AWSCURRENT back"), "{err}");
    assert!(err.contains("pay-cdp (walletSecret)"), "{err}");
    assert_eq!(env.current_version(&f.secret_arn).await, before);
    assert_eq!(env.findings.rule_ids(), ["ROT-001"]);
}

// ------------------------------------------------------------------ consumer accounts

const CONSUMER: &str = "222233334444";
const UNREACHABLE: &str = "333344445555";

fn consumer_settings(accounts: &[&str], unreachable: Unreachable) -> AgentCoreSettings {
    AgentCoreSettings {
        consumer_roles: accounts
            .iter()
            .map(|a| format!("arn:aws:iam::{a}:role/agentcore-rotator-reader"))
            .collect(),
        consumer_external_id: Some("agentcore-rotator-test".into()),
        unreachable,
        ..settings(false)
    }
}

impl Env {
    fn conductor_with(&self, settings: &AgentCoreSettings) -> Conductor {
        let emitters = Emitters::new(vec![
            Box::new(LogSink::new()),
            Box::new(self.findings.clone()),
        ]);
        let rotator = self.stack.rotator_with_agentcore(
            LocalStack::fast_config(),
            REGION,
            settings,
            emitters,
        );
        Conductor::new(
            self.stack.sm.clone(),
            self.stack.moto.rotation_lambda_arn.clone(),
            Arc::new(rotator),
        )
    }

    /// API-key provider `name` in `account`, created with that account's credentials,
    /// referencing `key` of the secret by its full ARN (as a cross-account reference must).
    async fn consumer_api_key(&self, account: &str, name: &str, secret_arn: &str, key: &str) {
        let control =
            aws_sdk_bedrockagentcorecontrol::Client::new(&self.stack.account_sdk(account).await);
        create_external_api_key(&control, name, secret_arn, key).await;
    }
}

#[tokio::test]
async fn providers_in_a_consumer_account_are_confirmed_after_a_rotation() {
    let (logs, _g) = CapturedLogs::install();
    let env = Env::start();
    let f = env.fixture().await;
    env.api_key_external("local-key", &f.secret_arn, "apiKey")
        .await;
    env.consumer_api_key(CONSUMER, "b-key", &f.secret_arn, "apiKey")
        .await;
    // The consumer's provider lives in its own account only.
    let local = AgentCoreDirectory::new(&env.stack.agentcore.sdk_config(), &settings(false))
        .providers()
        .await
        .unwrap();
    assert!(local.iter().all(|p| p.name != "b-key"));

    let run = env
        .conductor_with(&consumer_settings(&[CONSUMER], Unreachable::Fail))
        .rotate(&f.secret_arn)
        .await;
    assert!(run.succeeded, "{:?}", run.last_error());
    assert!(logs.text().contains("\"confirmed\":2"), "{}", logs.text());
    // The consumer's own provider, by its ARN in its account, among the confirmed ones.
    let b_key = format!(
        "arn:aws:bedrock-agentcore:{REGION}:{CONSUMER}:token-vault/default/apikeycredentialprovider/b-key"
    );
    assert!(
        logs.text()
            .lines()
            .any(|l| l.contains("credential provider confirmed") && l.contains(&b_key)),
        "{}",
        logs.text()
    );
    assert_eq!(env.findings.rule_ids(), Vec::<String>::new());
    assert_no_leak(&env, &f, &logs, &[]).await;
}

#[tokio::test]
async fn pre_flight_blocks_on_a_consumer_account_provider_whose_key_awspending_lacks() {
    let env = Env::start();
    let f = env.fixture().await;
    env.consumer_api_key(CONSUMER, "b-key", &f.secret_arn, "apiKey")
        .await;
    let conductor = env.conductor_with(&consumer_settings(&[CONSUMER], Unreachable::Fail));
    let token = conductor.begin(&f.secret_arn).await;
    let before = env.current_version(&f.secret_arn).await;
    conductor
        .invoke(&f.secret_arn, &token, Step::CreateSecret)
        .await
        .unwrap();
    overwrite_pending(&env.stack, &f, &token, "apiKey").await;
    conductor
        .invoke(&f.secret_arn, &token, Step::SetSecret)
        .await
        .unwrap();
    let err = conductor
        .invoke(&f.secret_arn, &token, Step::TestSecret)
        .await
        .unwrap_err();
    assert!(err.contains("pre-flight") && err.contains("b-key"), "{err}");
    assert_eq!(env.current_version(&f.secret_arn).await, before);
    let finding = serde_json::to_string(&env.findings.all()).unwrap();
    assert!(
        finding.contains(&format!(
            ":{CONSUMER}:token-vault/default/apikeycredentialprovider/b-key"
        )),
        "{finding}"
    );
}

#[tokio::test]
async fn an_unreachable_consumer_account_fails_the_pre_flight_naming_it_unless_set_to_warn() {
    let (logs, _g) = CapturedLogs::install();
    let env = Env::start();
    let f = env.fixture().await;
    env.consumer_api_key(CONSUMER, "b-key", &f.secret_arn, "apiKey")
        .await;
    env.stack.agentcore.deny_account(UNREACHABLE);
    let before = env.current_version(&f.secret_arn).await;

    let run = env
        .conductor_with(&consumer_settings(
            &[CONSUMER, UNREACHABLE],
            Unreachable::Fail,
        ))
        .rotate(&f.secret_arn)
        .await;
    assert!(!run.succeeded);
    let err = run.last_error().unwrap_or_default();
    assert!(
        err.contains(UNREACHABLE) && err.contains("AccessDenied"),
        "{err}"
    );
    assert!(
        !err.contains(CONSUMER),
        "only the unreachable account is named: {err}"
    );
    assert_eq!(env.current_version(&f.secret_arn).await, before);

    let run = env
        .conductor_with(&consumer_settings(
            &[CONSUMER, UNREACHABLE],
            Unreachable::Warn,
        ))
        .rotate(&f.secret_arn)
        .await;
    assert!(run.succeeded, "{:?}", run.last_error());
    assert!(logs.text().contains("consumer account not read"));
    assert!(logs.text().contains(UNREACHABLE));
}

#[tokio::test]
async fn a_policy_pinned_to_the_owner_account_is_reported_for_a_consumer_provider() {
    let env = Env::start();
    let f = env.fixture().await;
    let pinned = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "bedrock-agentcore.amazonaws.com"},
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}
    }]});
    env.stack
        .sm
        .put_resource_policy()
        .secret_id(&f.secret_arn)
        .resource_policy(pinned.to_string())
        .send()
        .await
        .unwrap();
    env.api_key_external("local-key", &f.secret_arn, "apiKey")
        .await;
    env.consumer_api_key(CONSUMER, "b-key", &f.secret_arn, "apiKey")
        .await;
    // A gateway of the consumer's uses its provider; a local one of the same name does not.
    let consumer =
        aws_sdk_bedrockagentcorecontrol::Client::new(&env.stack.account_sdk(CONSUMER).await);
    let b_key = format!(
        "arn:aws:bedrock-agentcore:{REGION}:{CONSUMER}:token-vault/default/apikeycredentialprovider/b-key"
    );
    let gw = create_gateway(&consumer, "consumer-tools").await;
    create_gateway_target(&consumer, &gw, "billing", &b_key).await;
    let local_gw = env.stack.gateway("local-tools").await;
    env.stack
        .gateway_target(&local_gw, "local", &api_key_provider_arn("local-key"))
        .await;
    let run = env
        .conductor_with(&consumer_settings(&[CONSUMER], Unreachable::Fail))
        .rotate(&f.secret_arn)
        .await;
    // The same for every version: reported, not rolled back; the local provider is fine.
    assert!(run.succeeded, "{:?}", run.last_error());
    assert_eq!(env.findings.rule_ids(), ["REF-005"]);
    let finding = &env.findings.all()[0];
    assert!(finding.description().contains("b-key"));
    assert!(
        finding
            .description()
            .contains(&format!("not for the provider's account {CONSUMER}")),
        "{}",
        finding.description()
    );
    // Blast radius from the consumer's own gateways.
    assert!(finding
        .description()
        .contains("used by gateway targets consumer-tools/billing"));
    assert!(!finding.description().contains("local-tools"));
    let targets: Vec<&str> = finding
        .resources()
        .iter()
        .filter(|r| r.kind() == agentcore_rotator::findings::ResourceKind::GatewayTarget)
        .map(|r| r.arn_or_id())
        .collect();
    assert_eq!(targets.len(), 1);
    assert!(targets[0].contains(&format!(":{CONSUMER}:gateway/consumer-tools-")));
}

#[tokio::test]
async fn the_data_plane_probe_never_mistakes_a_local_provider_for_a_consumer_s_of_the_same_name() {
    let env = Env::start();
    let f = env.fixture().await;
    // A local provider named like the consumer's, reading another secret.
    let other = unique("other-key");
    env.stack
        .sm
        .create_secret()
        .name(&other)
        .secret_string(json!({"apiKey": "another-partner-key-0123456789"}).to_string())
        .send()
        .await
        .unwrap();
    env.stack.allow_agentcore(&other).await;
    env.api_key_external("same-name", &other, "apiKey").await;
    env.consumer_api_key(CONSUMER, "same-name", &f.secret_arn, "apiKey")
        .await;
    let probing = AgentCoreSettings {
        workload_name: Some(WORKLOAD.to_string()),
        ..consumer_settings(&[CONSUMER], Unreachable::Fail)
    };
    let run = env.conductor_with(&probing).rotate(&f.secret_arn).await;
    assert!(run.succeeded, "{:?}", run.last_error());
    assert_eq!(env.findings.rule_ids(), Vec::<String>::new());
    // The local provider was not probed on the consumer's behalf.
    assert_eq!(env.stack.agentcore.calls("GetResourceApiKey"), 0);
}
