//! The audit engine and Lambda handler over in-memory ports: every trigger fixture in events/,
//! API calls against the lower bound, continuation across invocations, resolved findings.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agentcore_rotator::agentcore::{
    AgentCoreError, ProviderDirectory, ProviderKind, ProviderRef, SecretSource,
};
use agentcore_rotator::audit::engine::{AuditOutcome, Collected, Continuer};
use agentcore_rotator::audit::handler;
use agentcore_rotator::audit::lifecycle::{FindingHistory, PreviousFinding};
use agentcore_rotator::audit::report::CallMeter;
use agentcore_rotator::audit::snapshot::{Lookup, SecretMeta};
use agentcore_rotator::audit::{AuditConfig, AuditScope, Auditor, Continuation, Trigger};
use agentcore_rotator::findings::{FindingState, Scope, Timestamp};
use agentcore_rotator::secrets::store::Payload;
use agentcore_rotator::secrets::{
    KeyPolicyRead, ReadError, SecretInventory, SecretPage, VersionRef,
};
use agentcore_rotator::sensitive::SecretString;
use agentcore_rotator_testkit::providers::agentcore_read_policy;
use async_trait::async_trait;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
const SECRET_VALUE: &str = "s3cr3t-value-never-logged";

fn arn(i: usize) -> String {
    format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:app/s{i:04}-AbCdEf")
}

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `n` providers over `secrets` secrets (round robin), all healthy unless broken below.
struct Fakes {
    providers: Mutex<Vec<ProviderRef>>,
    /// reference → (has policy, value)
    secrets: Mutex<HashMap<String, (bool, String)>>,
    calls: Mutex<BTreeMap<String, u64>>,
    delay: Duration,
    /// Secrets ListSecrets does not return (e.g. another account's).
    unlisted: Mutex<HashSet<String>>,
    /// Whether ListSecrets is allowed.
    lists: bool,
    /// Rotation functions that do not exist (GetFunctionConcurrency: not found).
    missing_functions: Mutex<HashSet<String>>,
}

impl Fakes {
    fn new(n: usize, secrets: usize) -> Arc<Fakes> {
        let providers = (0..n)
            .map(|i| ProviderRef {
                kind: ProviderKind::Oauth2,
                name: format!("p{i:05}"),
                arn: format!("arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:token-vault/default/oauth2credentialprovider/p{i:05}"),
                vendor: Some("CustomOauth2".into()),
                slot: None,
                source: SecretSource::External,
                secret_arn: Some(arn(i % secrets)),
                json_key: Some("clientSecret".into()),
                status: Some("READY".into()),
                failure_reason: None,
                client_id: Some("client".into()),
            })
            .collect();
        let doc = json!({"clientId": "client", "clientSecret": SECRET_VALUE}).to_string();
        Arc::new(Fakes {
            providers: Mutex::new(providers),
            secrets: Mutex::new(
                (0..secrets)
                    .map(|i| (arn(i), (true, doc.clone())))
                    .collect(),
            ),
            calls: Mutex::new(BTreeMap::new()),
            delay: Duration::ZERO,
            unlisted: Mutex::new(HashSet::new()),
            lists: true,
            missing_functions: Mutex::new(HashSet::new()),
        })
    }

    fn count(&self, op: &str) {
        *self
            .calls
            .lock()
            .unwrap()
            .entry(op.to_string())
            .or_default() += 1;
    }
}

struct Dir(Arc<Fakes>);

#[async_trait]
impl ProviderDirectory for Dir {
    async fn providers(&self) -> Result<Vec<ProviderRef>, AgentCoreError> {
        let ps = self.0.providers.lock().unwrap().clone();
        for _ in 0..ps.len().div_ceil(20).max(1) {
            self.0.count("ListOauth2CredentialProviders");
        }
        self.0.count("ListApiKeyCredentialProviders");
        self.0.count("ListPaymentCredentialProviders");
        for _ in &ps {
            self.0.count("GetOauth2CredentialProvider");
        }
        Ok(ps)
    }
}

struct Inv(Arc<Fakes>);

#[async_trait]
impl SecretInventory for Inv {
    async fn describe(&self, id: &str) -> Lookup {
        self.0.count("DescribeSecret");
        tokio::time::sleep(self.0.delay).await;
        if !self.0.secrets.lock().unwrap().contains_key(id) {
            return Lookup::NotFound;
        }
        Lookup::Found(meta_of(id))
    }
    fn lists(&self) -> bool {
        true
    }
    async fn list_page(&self, next: Option<String>) -> Result<SecretPage, ReadError> {
        self.0.count("ListSecrets");
        if !self.0.lists {
            return Err("AccessDeniedException".into());
        }
        let unlisted = self.0.unlisted.lock().unwrap().clone();
        let mut arns: Vec<String> = self
            .0
            .secrets
            .lock()
            .unwrap()
            .keys()
            .filter(|a| !unlisted.contains(*a))
            .cloned()
            .collect();
        arns.sort();
        let start: usize = next.map_or(0, |t| t.parse().unwrap());
        let end = (start + 100).min(arns.len());
        Ok(SecretPage {
            secrets: arns[start..end].iter().map(|a| meta_of(a)).collect(),
            next: (end < arns.len()).then(|| end.to_string()),
        })
    }
    async fn function_exists(&self, arn: &str) -> Option<bool> {
        self.0.count("GetFunctionConcurrency");
        Some(!self.0.missing_functions.lock().unwrap().contains(arn))
    }
    async fn current_values(
        &self,
        secrets: &[(String, Option<String>)],
    ) -> Vec<Result<Option<Payload>, ReadError>> {
        assert!(secrets.len() <= 20, "batches hold at most 20 secrets");
        self.0.count("BatchGetSecretValue");
        let map = self.0.secrets.lock().unwrap();
        secrets
            .iter()
            .map(|(a, _)| {
                Ok(map
                    .get(a)
                    .map(|(_, v)| Payload::Text(SecretString::new(v.clone()))))
            })
            .collect()
    }
    async fn value_at(&self, _: &str, _: VersionRef<'_>) -> Result<Option<Payload>, ReadError> {
        self.0.count("GetSecretValue");
        Ok(None)
    }
    async fn resource_policy(&self, a: &str) -> Result<Option<String>, ReadError> {
        self.0.count("GetResourcePolicy");
        let allowed = self
            .0
            .secrets
            .lock()
            .unwrap()
            .get(a)
            .is_some_and(|(p, _)| *p);
        Ok(allowed.then(agentcore_read_policy))
    }
    async fn key_policy(&self, _: &str) -> Result<KeyPolicyRead, ReadError> {
        self.0.count("GetKeyPolicy");
        Ok(KeyPolicyRead::AwsManaged)
    }
}

const ROTATION_FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:r";

fn meta_of(arn: &str) -> SecretMeta {
    SecretMeta {
        arn: arn.to_string(),
        rotation_enabled: true,
        rotation_lambda_arn: Some(ROTATION_FUNCTION.into()),
        last_rotated: Some(Timestamp::now()),
        versions: BTreeMap::from([("v1".to_string(), vec!["AWSCURRENT".to_string()])]),
        ..SecretMeta::default()
    }
}

struct Meter(Arc<Fakes>);

impl CallMeter for Meter {
    fn counts(&self) -> BTreeMap<String, u64> {
        self.0.calls.lock().unwrap().clone()
    }
}

/// History that remembers what was published (like Security Hub would).
#[derive(Default)]
struct Memory(Mutex<BTreeMap<String, PreviousFinding>>);

#[async_trait]
impl FindingHistory for Memory {
    async fn active(&self, _: &Scope) -> Result<Vec<PreviousFinding>, ReadError> {
        Ok(self.0.lock().unwrap().values().cloned().collect())
    }
}

impl Memory {
    fn record(&self, findings: &[agentcore_rotator::findings::Finding]) {
        let mut m = self.0.lock().unwrap();
        for f in findings {
            if f.is_active() {
                m.insert(
                    f.id().to_string(),
                    PreviousFinding {
                        id: f.id().to_string(),
                        rule_id: f.rule_id().to_string(),
                        resources: f.resources().to_vec(),
                        first_seen: f.first_seen(),
                    },
                );
            } else {
                m.remove(f.id());
            }
        }
    }
}

#[derive(Default)]
struct Continues(AtomicU64);

#[async_trait]
impl Continuer for Continues {
    async fn schedule(&self, _: &Continuation) -> Result<(), ReadError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn auditor(f: &Arc<Fakes>, publish: Arc<Collected>) -> Auditor {
    let mut a = Auditor::new(
        Arc::new(Dir(f.clone())),
        Arc::new(Inv(f.clone())),
        publish,
        REGION,
        AuditConfig::default(),
    );
    a = a.with_meter(Arc::new(Meter(f.clone())));
    a = a.with_account(Some(ACCOUNT.into()));
    a
}

#[test]
fn every_trigger_fixture_parses_to_the_audit_it_asks_for() {
    let targeted = |name: &str| {
        matches!(
            Trigger::parse(&fixture(name)).unwrap().scope,
            AuditScope::Targeted { .. }
        )
    };
    for full in [
        "audit-scheduler.json",
        "audit-scheduler-empty.json",
        "audit-scheduled-event.json",
    ] {
        assert_eq!(
            Trigger::parse(&fixture(full)).unwrap().scope,
            AuditScope::All,
            "{full}"
        );
    }
    for t in [
        "audit-secret-label-updated.json",
        "audit-rotation-failed.json",
        "audit-rotation-succeeded.json",
        "audit-rotation-abandoned.json",
        "audit-api-delete-secret.json",
        "audit-api-restore-secret.json",
        "audit-api-put-resource-policy.json",
        "audit-api-delete-resource-policy.json",
        "audit-api-update-secret.json",
        "audit-api-put-secret-value.json",
        "audit-direct-scope.json",
    ] {
        assert!(targeted(t), "{t}");
    }
    assert!(Trigger::parse(&fixture("audit-continuation.json"))
        .unwrap()
        .continuation
        .is_some());
    assert!(Trigger::parse(&fixture("audit-unsupported-s3-event.json")).is_err());
}

#[tokio::test]
async fn the_handler_answers_an_unknown_event_with_an_error_naming_it() {
    let f = Fakes::new(1, 1);
    let a = auditor(&f, Arc::new(Collected::default()));
    let err = handler::handle(
        &a,
        "Ns",
        LambdaEvent::new(
            fixture("audit-unsupported-s3-event.json"),
            Context::default(),
        ),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("aws.s3"), "{err}");
    assert!(f.calls.lock().unwrap().is_empty(), "nothing was audited");
}

#[tokio::test]
async fn a_secret_event_audits_only_that_secret_and_its_providers() {
    let f = Fakes::new(30, 10);
    f.secrets.lock().unwrap().get_mut(&arn(3)).unwrap().0 = false;
    let out = Arc::new(Collected::default());
    let a = auditor(&f, out.clone());
    let mut event = fixture("audit-api-delete-resource-policy.json");
    event["detail"]["requestParameters"]["secretId"] = json!(arn(3));
    let response = handler::handle(&a, "Ns", LambdaEvent::new(event, Context::default()))
        .await
        .unwrap();
    assert_eq!(response["status"], "complete");
    assert_eq!(response["summary"]["secrets"], 1);
    assert_eq!(f.calls.lock().unwrap()["DescribeSecret"], 1);
    let findings = out.take();
    assert_eq!(findings.len(), 3, "one REF-005 per provider of s0003");
    assert!(findings.iter().all(|x| x.rule_id() == "REF-005"));
}

#[tokio::test]
async fn a_full_audit_stays_at_the_api_call_lower_bound() {
    let f = Fakes::new(1000, 200);
    let out = Arc::new(Collected::default());
    let a = auditor(&f, out.clone());
    let outcome = a
        .run(&Trigger::parse(&json!({})).unwrap(), None)
        .await
        .unwrap();
    let s = outcome.summary();
    assert!(s.complete);
    assert_eq!((s.oauth2_providers, s.secrets), (1000, 200));
    // Metadata from two ListSecrets pages, not 200 DescribeSecret; one GetFunctionConcurrency
    // for the one rotation function all secrets share.
    assert_eq!(s.api_calls["ListSecrets"], 2);
    assert_eq!(s.api_calls.get("DescribeSecret"), None);
    assert_eq!(s.api_calls["GetFunctionConcurrency"], 1);
    assert_eq!(s.api_calls["BatchGetSecretValue"], 10);
    assert_eq!(s.api_calls["GetResourcePolicy"], 200);
    assert_eq!(s.api_calls_total, s.lower_bound, "{:?}", s.api_calls);
    assert!(out.take().is_empty(), "a healthy account has no findings");
}

#[tokio::test]
async fn secrets_the_listing_misses_or_a_denied_listing_are_described_one_by_one() {
    let f = Fakes::new(30, 10);
    f.unlisted.lock().unwrap().insert(arn(4));
    let out = Arc::new(Collected::default());
    let s = auditor(&f, out.clone())
        .run(&Trigger::parse(&json!({})).unwrap(), None)
        .await
        .unwrap()
        .summary()
        .clone();
    assert_eq!(s.api_calls["ListSecrets"], 1);
    assert_eq!(s.api_calls["DescribeSecret"], 1, "only the unlisted secret");
    assert_eq!(s.api_calls_total, s.lower_bound, "{:?}", s.api_calls);
    assert!(out.take().is_empty());

    let mut denied = Fakes::new(30, 10);
    Arc::get_mut(&mut denied).unwrap().lists = false;
    let s = auditor(&denied, out.clone())
        .run(&Trigger::parse(&json!({})).unwrap(), None)
        .await
        .unwrap()
        .summary()
        .clone();
    assert_eq!(s.api_calls["ListSecrets"], 1);
    assert_eq!(s.api_calls["DescribeSecret"], 10);
    assert_eq!(s.api_calls_total, s.lower_bound, "{:?}", s.api_calls);
    assert!(out.take().is_empty());
}

#[tokio::test]
async fn a_missing_rotation_function_fires_sec_004_after_one_lookup() {
    let f = Fakes::new(30, 10);
    f.missing_functions
        .lock()
        .unwrap()
        .insert(ROTATION_FUNCTION.to_string());
    let out = Arc::new(Collected::default());
    let outcome = auditor(&f, out.clone())
        .run(&Trigger::parse(&json!({})).unwrap(), None)
        .await
        .unwrap();
    let findings = out.take();
    let sec004: Vec<_> = findings
        .iter()
        .filter(|x| x.is_active() && x.rule_id() == "SEC-004")
        .collect();
    assert_eq!(sec004.len(), 10, "one per secret");
    assert!(sec004[0].description().contains(ROTATION_FUNCTION));
    let s = outcome.summary();
    assert_eq!(
        s.api_calls["GetFunctionConcurrency"], 1,
        "cached per invocation"
    );
    assert_eq!(s.api_calls_total, s.lower_bound, "{:?}", s.api_calls);
}

#[tokio::test]
async fn an_audit_that_runs_out_of_time_continues_where_it_stopped() {
    let f = Fakes::new(100, 50);
    f.secrets.lock().unwrap().retain(|k, _| k != &arn(49));
    let out = Arc::new(Collected::default());
    let continues = Arc::new(Continues::default());
    let mut a = auditor(&f, out.clone());
    a.config_mut().wave_size = 20;
    a.config_mut().time_margin = Duration::from_secs(3600);
    a = a.with_continuer(continues.clone());
    // A deadline already inside the margin: one wave per invocation.
    let soon = Some(Instant::now() + Duration::from_secs(1));
    let mut trigger = Trigger::parse(&json!({})).unwrap();
    let mut invocations = 0;
    let mut audited = 0;
    loop {
        invocations += 1;
        match a.run(&trigger, soon).await.unwrap() {
            AuditOutcome::Complete(s) => {
                audited += s.secrets;
                break;
            }
            AuditOutcome::Continued {
                summary,
                continuation,
                scheduled,
            } => {
                assert!(scheduled);
                audited += summary.secrets;
                trigger = Trigger::parse(&json!({"continuation": continuation})).unwrap();
            }
        }
        assert!(invocations < 10);
    }
    assert_eq!((invocations, audited), (3, 50));
    assert_eq!(continues.0.load(Ordering::SeqCst), 2);
    let findings = out.take();
    assert_eq!(
        findings.len(),
        2,
        "the two providers of the missing secret, once each"
    );
    assert!(findings.iter().all(|x| x.rule_id() == "REF-001"));
}

#[tokio::test]
async fn a_fixed_problem_is_reported_resolved_on_the_next_audit() {
    let f = Fakes::new(4, 2);
    f.secrets.lock().unwrap().get_mut(&arn(1)).unwrap().0 = false;
    let out = Arc::new(Collected::default());
    let memory = Arc::new(Memory::default());
    let mut a = auditor(&f, out.clone());
    a = a.with_history(memory.clone());
    let full = Trigger::parse(&json!({})).unwrap();
    a.run(&full, None).await.unwrap();
    let first = out.take();
    assert_eq!(first.len(), 2);
    memory.record(&first);
    f.secrets.lock().unwrap().get_mut(&arn(1)).unwrap().0 = true;
    let outcome = a.run(&full, None).await.unwrap();
    let second = out.take();
    assert_eq!(second.len(), 2);
    assert!(second.iter().all(|x| x.state() == FindingState::Resolved));
    assert_eq!(second[0].id(), first[0].id());
    assert_eq!(outcome.summary().resolved, 2);
    // A provider that is gone resolves its findings at the end of a full audit.
    memory.record(&second);
    f.secrets.lock().unwrap().remove(&arn(0));
    a.run(&full, None).await.unwrap();
    memory.record(&out.take());
    f.providers
        .lock()
        .unwrap()
        .retain(|p| p.secret_arn.as_deref() != Some(arn(0).as_str()));
    a.run(&full, None).await.unwrap();
    let third = out.take();
    assert_eq!(third.len(), 2);
    assert!(third
        .iter()
        .all(|x| x.state() == FindingState::Resolved && x.rule_id() == "REF-001"));
}

#[tokio::test]
async fn no_secret_value_reaches_a_finding_or_the_response() {
    let f = Fakes::new(3, 1);
    f.secrets.lock().unwrap().get_mut(&arn(0)).unwrap().1 =
        json!({"clientId": "other", "clientSecret": SECRET_VALUE}).to_string();
    let out = Arc::new(Collected::default());
    let a = auditor(&f, out.clone());
    let response = handler::handle(&a, "Ns", LambdaEvent::new(json!({}), Context::default()))
        .await
        .unwrap();
    let findings = out.take();
    assert!(!findings.is_empty());
    let text = format!(
        "{response} {findings:?} {}",
        serde_json::to_string(&findings).unwrap()
    );
    assert!(!text.contains(SECRET_VALUE));
}
