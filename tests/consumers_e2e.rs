//! Every kind of consumer of a secret, end to end on the local stack: payment credential
//! providers (two references each) through every REF rule that can reach them, and the gateway
//! targets that depend on a provider (blast radius, `agentcore-rotator impact`), and the
//! post-rotation canary over moto's CloudWatch.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use agentcore_rotator::agentcore::AgentCoreSettings;
use agentcore_rotator::audit::Auditor;
use agentcore_rotator::aws::agentcore::AgentCoreDirectory;
use agentcore_rotator::aws::gateways::AgentCoreGateways;
use agentcore_rotator::aws::metrics::CloudWatchMetrics;
use agentcore_rotator::aws::secrets_reader::SecretsReader;
use agentcore_rotator::findings::{Resource, ResourceKind};
use agentcore_rotator_testkit::cross_account::CrossAccount;
use agentcore_rotator_testkit::moto::{ACCOUNT_ID, REGION};
use agentcore_rotator_testkit::providers::{
    api_key_provider_arn, create_external_api_key, create_external_oauth2, provider_arn,
    EXAMPLE_DISCOVERY,
};
use aws_sdk_bedrockagentcorecontrol::types::{
    CredentialProviderVendorType, CustomOauth2ProviderConfigInput, Oauth2Discovery,
    Oauth2ProviderConfigInput,
};
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};

use agentcore_rotator::audit::engine::Collected;
use agentcore_rotator::audit::report::CallMeter;
use agentcore_rotator::audit::{AuditConfig, Trigger};
use agentcore_rotator::aws::call_counter::CallCounter;
use agentcore_rotator::findings::Finding;
use agentcore_rotator_testkit::findings_route::unique;
use agentcore_rotator_testkit::moto::sdk_config_for;
use agentcore_rotator_testkit::providers::payment_provider_arn;
use agentcore_rotator_testkit::stack::LocalStack;
use serde_json::json;

const API_KEY: &str = "cdp-api-key-secret-0123456789abcdef";
const WALLET: &str = "cdp-wallet-secret-fedcba9876543210";

/// A secret named uniquely with `value`, readable by AgentCore when `allow`.
async fn secret(sm: &aws_sdk_secretsmanager::Client, value: &str, allow: bool) -> String {
    let arn = sm
        .create_secret()
        .name(unique("payments"))
        .secret_string(value)
        .send()
        .await
        .expect("CreateSecret")
        .arn()
        .unwrap()
        .to_string();
    if allow {
        sm.put_resource_policy()
            .secret_id(&arn)
            .resource_policy(agentcore_rotator_testkit::providers::agentcore_read_policy())
            .send()
            .await
            .expect("PutResourcePolicy");
    }
    arn
}

#[tokio::test]
async fn every_ref_rule_fires_for_payment_providers_and_a_healthy_one_stays_quiet() {
    let stack = LocalStack::start();
    let sm = stack.sm.clone();
    let doc = json!({"apiKey": API_KEY, "walletSecret": WALLET}).to_string();

    let good = secret(&sm, &doc, true).await;
    stack
        .coinbase_payment("pay-good", (&good, "apiKey"), Some((&good, "walletSecret")))
        .await;

    // REF-001: deleted after the provider was created.
    let gone = secret(&sm, &doc, true).await;
    stack
        .coinbase_payment("pay-gone", (&gone, "apiKey"), None)
        .await;
    sm.delete_secret()
        .secret_id(&gone)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    // REF-002: scheduled for deletion.
    let doomed = secret(&sm, &doc, true).await;
    stack
        .coinbase_payment("pay-doomed", (&doomed, "apiKey"), None)
        .await;
    sm.delete_secret()
        .secret_id(&doomed)
        .recovery_window_in_days(7)
        .send()
        .await
        .unwrap();
    // REF-003: the second reference names a key the secret lacks; the first is fine.
    let partial = secret(&sm, &doc, true).await;
    stack
        .stripe_payment("pay-typo", (&partial, "apiKey"), (&partial, "privateKey"))
        .await;
    // REF-004: a secret in another Region.
    let west =
        aws_sdk_secretsmanager::Client::new(&sdk_config_for(&stack.moto.endpoint, "us-west-2"));
    let far = secret(&west, &doc, true).await;
    stack
        .coinbase_payment("pay-far", (&far, "apiKey"), None)
        .await;
    // REF-005: no resource policy.
    let closed = secret(&sm, &doc, false).await;
    stack
        .coinbase_payment("pay-closed", (&closed, "apiKey"), None)
        .await;
    // REF-006: a customer key whose policy does not let AgentCore decrypt.
    let key = stack.root_only_key().await;
    let sealed = secret(&sm, &doc, true).await;
    sm.update_secret()
        .secret_id(&sealed)
        .kms_key_id(&key)
        .send()
        .await
        .unwrap();
    stack
        .coinbase_payment("pay-sealed", (&sealed, "apiKey"), None)
        .await;
    // REF-010: not a JSON object.
    let plain = secret(&sm, "just-a-string-value", true).await;
    stack
        .coinbase_payment("pay-plain", (&plain, "apiKey"), None)
        .await;

    let counter = CallCounter::new();
    let out = Arc::new(Collected::default());
    let auditor = stack
        .auditor(out.clone(), AuditConfig::default(), Some(&counter))
        .with_meter(Arc::new(counter.clone()));
    let outcome = auditor
        .run(&Trigger::parse(&json!({})).unwrap(), None)
        .await
        .unwrap();
    let findings = out.take();
    let rules = common::by_rule(&findings);
    let fired = |rule: &str, provider: &str| {
        rules
            .get(rule)
            .is_some_and(|r| r.contains(&payment_provider_arn(provider)))
    };
    for (rule, provider) in [
        ("REF-001", "pay-gone"),
        ("REF-002", "pay-doomed"),
        ("REF-003", "pay-typo"),
        ("REF-004", "pay-far"),
        ("REF-005", "pay-closed"),
        ("REF-006", "pay-sealed"),
        ("REF-010", "pay-plain"),
    ] {
        assert!(fired(rule, provider), "{rule} for {provider}: {rules:?}");
    }
    // The healthy provider is in no finding; the broken ones only in their own rule.
    for f in findings.iter().filter(|f| f.is_active()) {
        let ids: Vec<&str> = f.resources().iter().map(|r| r.arn_or_id()).collect();
        assert!(
            !ids.contains(&payment_provider_arn("pay-good").as_str()),
            "{}: {}",
            f.rule_id(),
            f.description()
        );
    }
    let typo: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.rule_id() == "REF-003")
        .collect();
    assert_eq!(typo.len(), 1, "only the second reference is broken");
    assert!(
        typo[0]
            .description()
            .contains("payment provider pay-typo (authorizationPrivateKey)"),
        "{}",
        typo[0].description()
    );
    let text = serde_json::to_string(&findings).unwrap();
    assert!(!text.contains(API_KEY) && !text.contains(WALLET));

    // One List page and one Get per payment provider, however many references it holds.
    let summary = outcome.summary();
    assert_eq!(summary.payment_providers, 8);
    assert_eq!(
        summary.api_calls.get("ListPaymentCredentialProviders"),
        Some(&1)
    );
    assert_eq!(
        summary.api_calls.get("GetPaymentCredentialProvider"),
        Some(&8)
    );
    assert!(
        summary.api_calls_total as f64 <= 1.1 * summary.lower_bound as f64,
        "{summary:?}"
    );
}

// ------------------------------------------------------------------ gateway blast radius

/// A secret without resource policy read by an OAuth2 and an API-key provider, each used by a
/// target of gateway `billing`; a healthy API-key provider used by gateway `search`.
async fn blast_radius_stack() -> (LocalStack, String) {
    let stack = LocalStack::start();
    let doc =
        json!({"clientSecret": "gateway-client-secret-0123456789", "apiKey": API_KEY}).to_string();
    let closed = secret(&stack.sm, &doc, false).await;
    create_external_oauth2(
        &stack.agentcore_control(),
        "gw-oauth",
        "client-1",
        EXAMPLE_DISCOVERY,
        &closed,
        "clientSecret",
    )
    .await;
    stack.external_api_key("gw-key", &closed, "apiKey").await;
    let open = secret(&stack.sm, &doc, true).await;
    stack.external_api_key("quiet-key", &open, "apiKey").await;
    let billing = stack.gateway("billing").await;
    stack
        .gateway_target(&billing, "invoices", &provider_arn("gw-oauth"))
        .await;
    stack
        .gateway_target(&billing, "refunds", &api_key_provider_arn("gw-key"))
        .await;
    stack
        .gateway_target(&billing, "ledger", &api_key_provider_arn("gw-key"))
        .await;
    let search = stack.gateway("search").await;
    stack
        .gateway_target(&search, "web", &api_key_provider_arn("quiet-key"))
        .await;
    (stack, closed)
}

fn gateways_of(stack: &LocalStack, counter: &CallCounter) -> Arc<AgentCoreGateways> {
    Arc::new(AgentCoreGateways::new(
        &stack.agentcore.sdk_config(),
        &AgentCoreSettings::default(),
        Some(counter),
    ))
}

#[tokio::test]
async fn a_provider_finding_names_the_gateway_targets_that_use_the_provider() {
    let (stack, closed) = blast_radius_stack().await;
    let counter = CallCounter::new();
    let out = Arc::new(Collected::default());
    let outcome = stack
        .auditor(out.clone(), AuditConfig::default(), Some(&counter))
        .with_gateways(gateways_of(&stack, &counter))
        .with_meter(Arc::new(counter.clone()))
        .run(&Trigger::parse(&json!({})).unwrap(), None)
        .await
        .unwrap();
    let findings = out.take();
    let ref005: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.rule_id() == "REF-005")
        .collect();
    assert_eq!(ref005.len(), 2, "{findings:#?}");
    let targets_of = |f: &Finding| -> Vec<String> {
        f.resources()
            .iter()
            .filter(|r| r.kind() == ResourceKind::GatewayTarget)
            .map(|r| r.arn_or_id().to_string())
            .collect()
    };
    let oauth = ref005
        .iter()
        .find(|f| {
            f.resources()
                .iter()
                .any(|r| r.arn_or_id() == provider_arn("gw-oauth"))
        })
        .unwrap();
    let key = ref005
        .iter()
        .find(|f| {
            f.resources()
                .iter()
                .any(|r| r.arn_or_id() == api_key_provider_arn("gw-key"))
        })
        .unwrap();
    let billing_arn = |t: &str| t.contains(":gateway/billing-") && t.contains("/target/");
    assert_eq!(targets_of(oauth).len(), 1);
    assert!(targets_of(oauth).iter().all(|t| billing_arn(t)));
    assert!(
        oauth.description().contains("billing/invoices"),
        "{}",
        oauth.description()
    );
    assert_eq!(targets_of(key).len(), 2);
    assert!(targets_of(key).iter().all(|t| billing_arn(t)));
    assert!(
        key.description().contains("billing/refunds")
            && key.description().contains("billing/ledger")
    );
    assert!(!key.description().contains("search/web"));
    // The finding id is the problem's, not the topology's.
    let plain = agentcore_rotator::findings::finding_id(
        "REF-005",
        &agentcore_rotator::findings::Scope::new(ACCOUNT_ID, REGION).unwrap(),
        &[
            Resource::provider_api_key(api_key_provider_arn("gw-key")).unwrap(),
            Resource::secret(&closed).unwrap(),
        ],
    );
    assert_eq!(key.id(), plain);
    // Gateways were read once, and the reads count toward the lower bound.
    assert_eq!(stack.agentcore.calls("ListGateways"), 1);
    assert_eq!(stack.agentcore.calls("ListGatewayTargets"), 2);
    assert_eq!(stack.agentcore.calls("GetGatewayTarget"), 4);
    let summary = outcome.summary();
    assert_eq!(summary.tally.gateway_reads, 7);
    // The counter names REST operations whose paths hold ids by the SDK's operation name.
    assert_eq!(summary.api_calls.get("ListGateways"), Some(&1));
    assert_eq!(summary.api_calls.get("ListGatewayTargets"), Some(&2));
    assert_eq!(summary.api_calls.get("GetGatewayTarget"), Some(&4));
    assert!(
        summary.api_calls_total as f64 <= 1.1 * summary.lower_bound as f64,
        "{summary:?}"
    );
}

#[tokio::test]
async fn a_healthy_audit_never_reads_gateways() {
    let stack = LocalStack::start();
    let doc = json!({"apiKey": API_KEY}).to_string();
    let open = secret(&stack.sm, &doc, true).await;
    stack.external_api_key("fine-key", &open, "apiKey").await;
    let gw = stack.gateway("healthy").await;
    stack
        .gateway_target(&gw, "tools", &api_key_provider_arn("fine-key"))
        .await;
    let counter = CallCounter::new();
    let out = Arc::new(Collected::default());
    let outcome = stack
        .auditor(out.clone(), AuditConfig::default(), Some(&counter))
        .with_gateways(gateways_of(&stack, &counter))
        .with_meter(Arc::new(counter.clone()))
        .run(&Trigger::parse(&json!({})).unwrap(), None)
        .await
        .unwrap();
    // Hygiene findings about the secret (no rotation configured) name no provider.
    let findings = out.take();
    assert!(
        findings.iter().all(|f| f
            .resources()
            .iter()
            .all(|r| r.kind() == ResourceKind::Secret)),
        "{findings:#?}"
    );
    for op in ["ListGateways", "ListGatewayTargets", "GetGatewayTarget"] {
        assert_eq!(stack.agentcore.calls(op), 0, "{op}");
    }
    let summary = outcome.summary();
    assert_eq!(summary.api_calls_total, summary.lower_bound, "{summary:?}");
}

#[tokio::test]
async fn impact_prints_the_tree_of_providers_and_gateway_targets() {
    let (stack, closed) = blast_radius_stack().await;
    stack
        .coinbase_payment("pay-cdp", (&closed, "apiKey"), None)
        .await;
    let run = |format: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_agentcore-rotator"))
            .args(["impact", "--secret", &closed, "--format", format])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(stack.aws_env())
            .output()
            .expect("run the CLI");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let tree = run("table");
    let lines: Vec<&str> = tree.lines().collect();
    assert!(lines[0].starts_with("secret "), "{tree}");
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle} missing:\n{tree}"))
    };
    // Each target sits under the provider it uses.
    assert!(at("OAuth2 provider gw-oauth") < at("target invoices"));
    assert!(at("target invoices") < at("API-key provider gw-key"));
    assert!(at("API-key provider gw-key") < at("target ledger"));
    assert!(at("payment provider pay-cdp (apiKeySecret") > at("target refunds"));
    assert!(
        !tree.contains("quiet-key") && !tree.contains("target web"),
        "{tree}"
    );
    assert!(!tree.contains(API_KEY));

    let json: serde_json::Value = serde_json::from_str(&run("json")).unwrap();
    let providers = json["providers"].as_array().unwrap();
    assert_eq!(providers.len(), 3);
    let key = providers.iter().find(|p| p["name"] == "gw-key").unwrap();
    let names: BTreeSet<&str> = key["gatewayTargets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["targetName"].as_str().unwrap())
        .collect();
    assert_eq!(names, BTreeSet::from(["ledger", "refunds"]));
}

// ------------------------------------------------------------------ post-rotation canary

/// Seeds `WorkloadAccessTokenFetchFailures` for `provider` in moto's CloudWatch: `before`
/// failures two minutes before `switch`, `after` two minutes after it.
async fn seed_failures(
    stack: &LocalStack,
    provider: &str,
    switch: SystemTime,
    before: f64,
    after: f64,
) {
    let cw = aws_sdk_cloudwatch::Client::new(&stack.moto.sdk_config());
    for (at, value) in [
        (switch - Duration::from_secs(120), before),
        (switch + Duration::from_secs(120), after),
    ] {
        cw.put_metric_data()
            .namespace("AWS/Bedrock-AgentCore")
            .metric_data(
                MetricDatum::builder()
                    .metric_name("WorkloadAccessTokenFetchFailures")
                    .dimensions(
                        Dimension::builder()
                            .name("ProviderName")
                            .value(provider)
                            .build(),
                    )
                    .timestamp(aws_smithy_types::DateTime::from(at))
                    .value(value)
                    .unit(StandardUnit::Count)
                    .build(),
            )
            .send()
            .await
            .expect("PutMetricData");
    }
}

/// A MANAGED OAuth2 provider `name` of OAuth client `client` (AgentCore keeps the secret).
async fn managed_oauth2(stack: &LocalStack, name: &str, client: &str) {
    stack
        .agentcore_control()
        .create_oauth2_credential_provider()
        .name(name)
        .credential_provider_vendor(CredentialProviderVendorType::CustomOauth2)
        .oauth2_provider_config_input(Oauth2ProviderConfigInput::CustomOauth2ProviderConfig(
            CustomOauth2ProviderConfigInput::builder()
                .client_id(client)
                .client_secret("managed-copy-of-the-secret-0123456789")
                .oauth_discovery(Oauth2Discovery::DiscoveryUrl(EXAMPLE_DISCOVERY.into()))
                .build(),
        ))
        .send()
        .await
        .expect("create MANAGED OAuth2 provider");
}

/// The `RotationSucceeded` event Secrets Manager sends through CloudTrail, for `secret`, at
/// `at`.
fn rotation_succeeded(secret: &str, at: SystemTime) -> Trigger {
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("../events/audit-rotation-succeeded.json")).unwrap();
    let time = agentcore_rotator::findings::Timestamp::from(at).to_rfc3339();
    event["time"] = json!(time);
    event["detail"]["eventTime"] = json!(time);
    event["detail"]["additionalEventData"]["SecretId"] = json!(secret);
    Trigger::parse(&event).unwrap()
}

#[tokio::test]
async fn the_canary_fires_on_a_rise_in_fetch_failures_after_a_rotation_and_stays_quiet_otherwise() {
    let stack = LocalStack::start();
    let client = unique("client");
    let doc = json!({"clientId": client, "clientSecret": "canary-client-secret-0123456789", "apiKey": API_KEY}).to_string();
    let rotated = secret(&stack.sm, &doc, true).await;
    let failing = unique("failing-key");
    let steady = unique("steady-key");
    stack.external_api_key(&failing, &rotated, "apiKey").await;
    stack.external_api_key(&steady, &rotated, "apiKey").await;
    // MANAGED providers keep their own copy: the one of the rotated client is watched too, the
    // one of another client is not.
    let managed = unique("managed-oauth");
    let other_client = unique("other-managed");
    managed_oauth2(&stack, &managed, &client).await;
    managed_oauth2(&stack, &other_client, "some-other-client").await;
    // Ten minutes ago: both five-minute windows and the metric lag are over.
    let switch = SystemTime::now() - Duration::from_secs(600);
    seed_failures(&stack, &failing, switch, 1.0, 7.0).await;
    seed_failures(&stack, &steady, switch, 2.0, 2.0).await;
    seed_failures(&stack, &managed, switch, 0.0, 4.0).await;
    seed_failures(&stack, &other_client, switch, 0.0, 4.0).await;

    let counter = CallCounter::new();
    let out = Arc::new(Collected::default());
    let outcome = stack
        .auditor(out.clone(), AuditConfig::default(), Some(&counter))
        .with_canary(Arc::new(CloudWatchMetrics::new(
            &stack.moto.sdk_config(),
            Some(&counter),
        )))
        .with_meter(Arc::new(counter.clone()))
        .run(&rotation_succeeded(&rotated, switch), None)
        .await
        .unwrap();
    let findings = out.take();
    let rose: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.rule_id() == "ROT-004")
        .collect();
    assert_eq!(rose.len(), 2, "{findings:#?}");
    assert!(rose.iter().any(|f| f.description().contains(&managed)));
    assert!(rose
        .iter()
        .all(|f| !f.description().contains(&other_client)));
    let f = rose
        .iter()
        .find(|f| f.description().contains(&failing))
        .unwrap();
    assert!(f
        .resources()
        .iter()
        .any(|r| r.arn_or_id() == api_key_provider_arn(&failing)));
    assert!(f.resources().iter().any(|r| r.arn_or_id() == rotated));
    let d = f.description();
    assert!(
        d.contains(&failing) && d.contains(" 7 ") && d.contains("against 1 "),
        "{d}"
    );
    assert!(d.contains(&rotated), "{d}");
    assert!(!d.contains(API_KEY));
    // One GetMetricData call for both providers, counted in the lower bound.
    let summary = outcome.summary();
    assert_eq!(
        summary.api_calls.get("GetMetricData"),
        Some(&1),
        "{:?}",
        summary.api_calls
    );
    assert_eq!(summary.tally.metric_reads, 1);

    // Off: no metric read, no finding.
    let out = Arc::new(Collected::default());
    let counter = CallCounter::new();
    let config = AuditConfig {
        canary: false,
        ..AuditConfig::default()
    };
    stack
        .auditor(out.clone(), config, Some(&counter))
        .with_canary(Arc::new(CloudWatchMetrics::new(
            &stack.moto.sdk_config(),
            Some(&counter),
        )))
        .with_meter(Arc::new(counter.clone()))
        .run(&rotation_succeeded(&rotated, switch), None)
        .await
        .unwrap();
    assert!(out.take().iter().all(|f| f.rule_id() != "ROT-004"));
    assert_eq!(counter.counts().get("GetMetricData"), None);
}

#[tokio::test]
async fn a_scheduled_audit_never_runs_the_canary() {
    let stack = LocalStack::start();
    let doc = json!({"apiKey": API_KEY}).to_string();
    let rotated = secret(&stack.sm, &doc, true).await;
    let failing = unique("failing-key");
    stack.external_api_key(&failing, &rotated, "apiKey").await;
    seed_failures(
        &stack,
        &failing,
        SystemTime::now() - Duration::from_secs(600),
        0.0,
        9.0,
    )
    .await;
    let counter = CallCounter::new();
    let out = Arc::new(Collected::default());
    stack
        .auditor(out.clone(), AuditConfig::default(), Some(&counter))
        .with_canary(Arc::new(CloudWatchMetrics::new(
            &stack.moto.sdk_config(),
            Some(&counter),
        )))
        .with_meter(Arc::new(counter.clone()))
        .run(&Trigger::parse(&json!({})).unwrap(), None)
        .await
        .unwrap();
    assert!(out.take().iter().all(|f| f.rule_id() != "ROT-004"));
    assert_eq!(counter.counts().get("GetMetricData"), None);
}

// ------------------------------------------------------------------ audit in a consumer account

const CONSUMER: &str = "222233334444";

/// A customer managed key in the stack's account that the consumer's role and the AgentCore
/// service may decrypt with.
async fn shared_key(stack: &LocalStack) -> String {
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT_ID}:root")}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{CONSUMER}:role/testkit-admin")}, "Action": "kms:Decrypt", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"Service": "bedrock-agentcore.amazonaws.com"}, "Action": "kms:Decrypt", "Resource": "*"}
    ]});
    stack.kms_key(&policy).await
}

/// A secret of the stack's account whose policy grants the consumer's role the audit's reads
/// (when `grant_role`) and the AgentCore service `GetSecretValue` for `source_accounts`.
async fn shared_secret(
    stack: &LocalStack,
    key: Option<&str>,
    grant_role: bool,
    source_accounts: &[&str],
) -> String {
    let mut create = stack
        .sm
        .create_secret()
        .name(unique("shared"))
        .secret_string(json!({"apiKey": API_KEY}).to_string());
    if let Some(key) = key {
        create = create.kms_key_id(key);
    }
    let arn = create.send().await.unwrap().arn().unwrap().to_string();
    let mut statements = vec![json!({
        "Effect": "Allow",
        "Principal": {"Service": "bedrock-agentcore.amazonaws.com"},
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceAccount": source_accounts}}
    })];
    if grant_role {
        statements.push(json!({
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{CONSUMER}:role/testkit-admin")},
            "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy", "secretsmanager:GetSecretValue"],
            "Resource": "*"
        }));
    }
    stack
        .sm
        .put_resource_policy()
        .secret_id(&arn)
        .resource_policy(json!({"Version": "2012-10-17", "Statement": statements}).to_string())
        .send()
        .await
        .unwrap();
    arn
}

#[tokio::test]
async fn the_audit_in_a_consumer_account_reports_each_missing_cross_account_grant() {
    let stack = LocalStack::start();
    let front = CrossAccount::start(&stack.moto.endpoint, REGION);
    let key = shared_key(&stack).await;
    let both = [ACCOUNT_ID, CONSUMER];
    let ok = shared_secret(&stack, Some(&key), true, &both).await;
    let pinned = shared_secret(&stack, Some(&key), true, &[ACCOUNT_ID]).await;
    let closed = shared_secret(&stack, Some(&key), false, &both).await;
    let aws_key = shared_secret(&stack, None, true, &both).await;

    // The consumer's providers, created with its own credentials.
    let consumer_sdk = stack.account_sdk(CONSUMER).await;
    let control = aws_sdk_bedrockagentcorecontrol::Client::new(&consumer_sdk);
    for (name, secret) in [
        ("p-ok", &ok),
        ("p-pinned", &pinned),
        ("p-closed", &closed),
        ("p-awskey", &aws_key),
    ] {
        create_external_api_key(&control, name, secret, "apiKey").await;
    }

    // The audit as the consumer: AgentCore and Secrets Manager with the consumer's credentials.
    let secrets_sdk = consumer_sdk
        .to_builder()
        .endpoint_url(front.endpoint())
        .build();
    let out = Arc::new(Collected::default());
    Auditor::new(
        Arc::new(AgentCoreDirectory::new(
            &consumer_sdk,
            &AgentCoreSettings::default(),
        )),
        Arc::new(SecretsReader::new(&secrets_sdk, None)),
        out.clone(),
        REGION,
        AuditConfig::default(),
    )
    .run(&Trigger::parse(&json!({})).unwrap(), None)
    .await
    .unwrap();
    let findings = out.take();
    let consumer_arn = |name: &str| {
        format!("arn:aws:bedrock-agentcore:{REGION}:{CONSUMER}:token-vault/default/apikeycredentialprovider/{name}")
    };
    let about = |rule: &str, resource: &str| -> Vec<&Finding> {
        findings
            .iter()
            .filter(|f| {
                f.rule_id() == rule && f.resources().iter().any(|r| r.arn_or_id() == resource)
            })
            .collect()
    };
    // Readable and granted to the consumer's AgentCore: quiet.
    assert!(
        findings.iter().all(|f| !f
            .resources()
            .iter()
            .any(|r| r.arn_or_id() == consumer_arn("p-ok"))),
        "{findings:#?}"
    );
    assert!(
        about("AUD-002", &ok).is_empty(),
        "{:#?}",
        about("AUD-002", &ok)
    );
    // The service principal is pinned to the owner's account only.
    let pinned_findings = about("REF-005", &consumer_arn("p-pinned"));
    assert_eq!(pinned_findings.len(), 1, "{findings:#?}");
    let d = pinned_findings[0].description();
    assert!(
        d.contains(&format!("not for the provider's account {CONSUMER}")) && d.contains(ACCOUNT_ID),
        "{d}"
    );
    // The audit role is not granted: which policy to fix.
    let closed_findings = about("AUD-002", &closed);
    assert_eq!(closed_findings.len(), 1, "{findings:#?}");
    let d = closed_findings[0].description();
    assert!(
        d.contains(&format!("is in account {ACCOUNT_ID}")) && d.contains(CONSUMER),
        "{d}"
    );
    assert!(d.contains("AccessDenied"), "{d}");
    // Under the AWS managed key the value cannot be read from another account at all.
    let aws_key_findings = about("AUD-002", &aws_key);
    assert_eq!(aws_key_findings.len(), 1, "{findings:#?}");
    assert!(aws_key_findings[0]
        .description()
        .contains("AWSCURRENT value"));
    assert!(!serde_json::to_string(&findings).unwrap().contains(API_KEY));
}
