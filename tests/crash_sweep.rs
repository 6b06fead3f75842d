//! Crash sweep (issue #9): a fault at every external call of a rotation, followed by Secrets
//! Manager's whole-sequence retry, must converge.
//!
//! The rotation function is the production wiring (`testkit::wiring`) with every endpoint
//! behind a fault proxy (moto for Secrets Manager and KMS, the Cognito simulator for its admin
//! API and its token endpoint, the AgentCore emulator), all sharing one request counter. SDK
//! retries are off (`AWS_MAX_ATTEMPTS=1`, `ROTATOR_AGENTCORE_MAX_ATTEMPTS=1`) so a fault at
//! request N is a failure of call N as the rotator sees it; the token probe keeps its own retry.
//!
//! Main sweep, each case: a fresh secret, rotated once (so the swept rotation has to make room
//! at the IdP, removing AWSPREVIOUS's secret), read by one EXTERNAL OAuth2 provider through a
//! customer managed key, with the AgentCore data-plane probe on; then the fault at request N of
//! the first attempt (fail before forwarding and drop the answer in-process; kill through the
//! `rotation-step` process), the conductor's retries (3 attempts), and the checks: the rotation
//! completed, AWSCURRENT is accepted by the IdP, at most 2 live upstream secrets, the document's
//! other keys unchanged, no AWSPENDING left; then one more rotation (grace period 0), after which
//! no upstream secret that no version accounts for may be live. Two targeted sweeps cover what a
//! healthy rotation cannot show: a rotation refused inside the grace period (a fault must not
//! make it remove the superseded secret) and a finishSecret that must roll back (a fault must
//! not leave the breaking version current). Scenario tests: two rotations at once, a rotation
//! beside drift audits, the rotation after a rollback, and after an abandoned rotation.
//!
//! Knobs (read, never set, by the tests): `CRASH_SWEEP_MATRIX=<file>` appends one JSON line per
//! case (`scripts/reliability` renders them into RELIABILITY.md); `CRASH_SWEEP_CALLS=3,17`
//! restricts every sweep to those calls; `CRASH_SWEEP_KILL_STRIDE=k` runs the process-kill
//! sweep on every k-th call only (default 1: all); `CRASH_SWEEP_WORKERS` (default 3) cases run
//! at once per sweep; `CRASH_SWEEP_VERBOSE` prints the rollback sweep's step results.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agentcore_rotator::audit::engine::Collected;
use agentcore_rotator::audit::{AuditConfig, Trigger};
use agentcore_rotator::aws::AwsUpstreams;
use agentcore_rotator::event::Step;
use agentcore_rotator_testkit::conductor::{Conductor, Invoker, RotationRun, StepProcess};
use agentcore_rotator_testkit::fault::{FaultKind, FaultRule, Faults, Proxy, RequestRecord};
use agentcore_rotator_testkit::stack::{CognitoFixture, LocalStack};
use agentcore_rotator_testkit::wiring;
use aws_sdk_bedrockagentcorecontrol::types::{SecretReference, SecretSourceType};
use serde_json::{json, Value};

const PROVIDER: &str = "sweep-oauth";
/// The API-key provider of the rollback sweep, reading [`API_KEY_FIELD`].
const KEY_PROVIDER: &str = "sweep-api-key";
const API_KEY_FIELD: &str = "apiKey";
const API_KEY: &str = "partner-api-key-0123456789abcdef";
const WORKLOAD: &str = "rotator-probe";
/// Cognito's cap on live client secrets.
const MAX_LIVE: usize = 2;
/// Keys the rotator owns; every other key must survive a rotation unchanged.
const OWN_KEYS: [&str; 3] = ["clientSecret", "clientSecretId", "rotationState"];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// The handler in this test process.
    InProcess,
    /// One `rotation-step` process per invocation.
    Process,
}

/// One local stack with a fault proxy in front of each service the rotation function calls.
struct Harness {
    stack: LocalStack,
    faults: Arc<Faults>,
    moto: Proxy,
    cognito: Proxy,
    agentcore: Proxy,
    /// A customer managed key whose policy lets AgentCore decrypt (so the confirmation reads
    /// the key: DescribeKey, GetKeyPolicy).
    key_arn: String,
}

/// How a fixture differs from the default (grace period 0, one OAuth2 provider).
#[derive(Clone, Copy, Default)]
struct Options {
    /// `rotation.gracePeriodHours`.
    grace_hours: u32,
    /// An `apiKey` field and an EXTERNAL API-key provider [`KEY_PROVIDER`] reading it.
    api_key: bool,
}

/// A secret rotated once, referenced by provider [`PROVIDER`].
struct Fixture {
    f: CognitoFixture,
    /// AWSCURRENT before the swept rotation.
    before: Value,
}

impl Harness {
    async fn start() -> Harness {
        let stack = LocalStack::start();
        stack.agentcore.create_workload_identity(WORKLOAD);
        let faults = Faults::new();
        let kms = aws_sdk_kms::Client::new(&stack.moto.sdk_config());
        let policy = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
             "Action": "kms:*", "Resource": "*"},
            {"Effect": "Allow", "Principal": {"Service": "bedrock-agentcore.amazonaws.com"},
             "Action": "kms:Decrypt", "Resource": "*"}
        ]});
        let key_arn = kms
            .create_key()
            .policy(policy.to_string())
            .send()
            .await
            .expect("CreateKey")
            .key_metadata()
            .and_then(|m| m.arn())
            .expect("key ARN")
            .to_string();
        Harness {
            moto: Proxy::faulty("moto", &stack.moto.endpoint, faults.clone()),
            cognito: Proxy::faulty("cognito", stack.cognito.endpoint(), faults.clone()),
            agentcore: Proxy::faulty("agentcore", stack.agentcore.endpoint(), faults.clone()),
            stack,
            faults,
            key_arn,
        }
    }

    /// The rotation function's environment: the stack's, with every endpoint through its proxy.
    /// With [`wiring::rotator`], the one place the function under test is configured.
    fn function_env(&self) -> BTreeMap<String, String> {
        // Values that are, or start with, a service's endpoint (the Cognito domain URL does).
        let via_proxy = |value: &str| {
            for (real, proxy) in [
                (self.stack.moto.endpoint.as_str(), self.moto.endpoint()),
                (self.stack.cognito.endpoint(), self.cognito.endpoint()),
                (self.stack.agentcore.endpoint(), self.agentcore.endpoint()),
            ] {
                if let Some(rest) = value.strip_prefix(real) {
                    return format!("{proxy}{rest}");
                }
            }
            value.to_string()
        };
        let mut env: BTreeMap<String, String> = self
            .stack
            .aws_env()
            .into_iter()
            .map(|(k, v)| (k.to_string(), via_proxy(&v)))
            .collect();
        for (k, v) in [
            ("AWS_MAX_ATTEMPTS", "1"),
            ("ROTATOR_AGENTCORE_MAX_ATTEMPTS", "1"),
            ("ROTATOR_WORKLOAD_NAME", WORKLOAD),
            ("ROTATOR_PROBE_BUDGET_SECONDS", "3"),
            ("ROTATOR_PROBE_INITIAL_BACKOFF_MS", "50"),
            ("AWS_LAMBDA_LOG_LEVEL", "info"),
        ] {
            env.insert(k.to_string(), v.to_string());
        }
        env
    }

    fn conductor(&self, mode: Mode) -> Conductor {
        let env = self.function_env();
        let invoker = match mode {
            Mode::InProcess => {
                let rotator = wiring::rotator(wiring::sdk_config(&env), |k| env.get(k).cloned())
                    .expect("rotation function wiring");
                Invoker::InProcess(Arc::new(rotator))
            }
            Mode::Process => Invoker::Process(StepProcess::new(env.into_iter().collect())),
        };
        let mut conductor = Conductor::with_invoker(
            self.stack.sm.clone(),
            self.stack.moto.rotation_lambda_arn.clone(),
            invoker,
        )
        .with_faults(self.faults.clone());
        conductor.refuse_while_pending = true;
        conductor
    }

    async fn fixture(&self) -> Fixture {
        self.fixture_with(Options::default()).await
    }

    async fn fixture_with(&self, options: Options) -> Fixture {
        // The token endpoint is derived from the pool's domain through ROTATOR_COGNITO_DOMAIN_URL,
        // which points at the Cognito proxy, so the probe goes through it too.
        let mut patch = json!({"rotation": {
            "gracePeriodHours": options.grace_hours,
        }});
        if options.api_key {
            patch[API_KEY_FIELD] = json!(API_KEY);
        }
        let f = self.stack.cognito_fixture(patch).await;
        self.stack.allow_agentcore(&f.secret_arn).await;
        self.stack
            .sm
            .update_secret()
            .secret_id(&f.secret_arn)
            .kms_key_id(&self.key_arn)
            .send()
            .await
            .expect("UpdateSecret KmsKeyId");
        self.stack
            .external_oauth2(PROVIDER, &f, &f.client_id, "clientSecret")
            .await;
        if options.api_key {
            self.stack
                .agentcore_control()
                .create_api_key_credential_provider()
                .name(KEY_PROVIDER)
                .api_key_secret_source(SecretSourceType::External)
                .api_key_secret_config(
                    SecretReference::builder()
                        .secret_id(&f.secret_arn)
                        .json_key(API_KEY_FIELD)
                        .build()
                        .expect("secret reference"),
                )
                .send()
                .await
                .expect("create API-key provider");
        }
        self.faults.reset();
        let run = self.conductor(Mode::InProcess).rotate(&f.secret_arn).await;
        assert!(run.succeeded, "fixture rotation: {:?}", run.last_error());
        assert_eq!(self.live(&f).len(), 2, "fixture: current and previous live");
        let before = self.stack.doc(&f.secret_arn, "AWSCURRENT").await;
        self.faults.reset();
        Fixture { f, before }
    }

    /// Deletes the fixture's providers, so the next fixture's discovery sees only its own.
    async fn remove_providers(&self) {
        let control = self.stack.agentcore_control();
        control
            .delete_oauth2_credential_provider()
            .name(PROVIDER)
            .send()
            .await
            .expect("DeleteOauth2CredentialProvider");
        let _ = control
            .delete_api_key_credential_provider()
            .name(KEY_PROVIDER)
            .send()
            .await;
    }

    fn live(&self, f: &CognitoFixture) -> Vec<String> {
        self.stack.cognito.secret_ids(&f.pool_id, &f.client_id)
    }

    /// What the secret and the IdP hold now.
    async fn snapshot(&self, fx: &Fixture) -> Snapshot {
        let f = &fx.f;
        let mut versions = Vec::new();
        for (id, stages) in self.stack.stages(&f.secret_arn).await {
            if stages.is_empty() {
                continue;
            }
            let value = self
                .stack
                .sm
                .get_secret_value()
                .secret_id(&f.secret_arn)
                .version_id(&id)
                .send()
                .await
                .ok()
                .and_then(|v| v.secret_string().map(str::to_string))
                .and_then(|s| serde_json::from_str::<Value>(&s).ok());
            let accepted = value
                .as_ref()
                .and_then(|d| d["clientSecret"].as_str())
                .is_some_and(|s| self.stack.cognito.accepts(&f.client_id, s));
            versions.push(VersionState {
                id,
                stages,
                doc: value,
                accepted,
            });
        }
        Snapshot {
            versions,
            live: self.live(f).len(),
        }
    }
}

struct VersionState {
    id: String,
    stages: Vec<String>,
    doc: Option<Value>,
    accepted: bool,
}

struct Snapshot {
    versions: Vec<VersionState>,
    live: usize,
}

impl Snapshot {
    fn with_stage(&self, stage: &str) -> Option<&VersionState> {
        self.versions
            .iter()
            .find(|v| v.stages.iter().any(|s| s == stage))
    }

    /// Live upstream secrets whose value no labelled version holds.
    fn unaccounted(&self) -> usize {
        let accounted: BTreeSet<&str> = self
            .versions
            .iter()
            .filter(|v| v.accepted)
            .filter_map(|v| v.doc.as_ref()?["clientSecret"].as_str())
            .collect();
        self.live.saturating_sub(accounted.len())
    }

    /// `AWSCURRENT=1a2b3c4d(accepted) AWSPREVIOUS=… | live 2, unaccounted 0`.
    fn describe(&self, token: &str) -> String {
        let mut parts = Vec::new();
        for v in &self.versions {
            let who = if v.id == token {
                "token".to_string()
            } else {
                v.id.chars().take(8).collect()
            };
            let value = match &v.doc {
                None => "no value",
                Some(_) if v.accepted => "accepted",
                Some(_) => "rejected",
            };
            parts.push(format!("{}={who}({value})", v.stages.join("+")));
        }
        parts.sort();
        format!(
            "{} | upstream live {}, unaccounted {}",
            parts.join(" "),
            self.live,
            self.unaccounted()
        )
    }
}

/// What one case found.
#[derive(Debug)]
struct Case {
    n: u32,
    kind: FaultKind,
    mode: Mode,
    /// The request the fault hit.
    hit: Option<RequestRecord>,
    attempts: u32,
    succeeded: bool,
    problems: Vec<String>,
    /// What the faulted invocation answered (the first failed step of the first attempt).
    first_failure: Option<String>,
    /// After the faulted rotation.
    state: String,
    /// After the next rotation.
    next_state: Option<String>,
    elapsed: Duration,
}

impl Case {
    fn converged(&self) -> bool {
        self.problems.is_empty()
    }

    fn line(&self) -> String {
        let hit = self.hit.as_ref().map_or_else(
            || "(fault did not fire)".to_string(),
            |r| format!("{} {} [{}]", r.target, r.operation, r.context),
        );
        format!(
            "call {:>2} {:<17} {:<55} -> {} after {} attempt(s), {:.1}s{}",
            self.n,
            self.kind.as_str(),
            hit,
            if self.converged() {
                "converged"
            } else {
                "NOT CONVERGED"
            },
            self.attempts,
            self.elapsed.as_secs_f64(),
            if self.converged() {
                String::new()
            } else {
                format!(
                    "\n        problems: {}\n        first failure: {}\n        state: {}\n        after next rotation: {}",
                    self.problems.join("; "),
                    self.first_failure.as_deref().unwrap_or("-"),
                    self.state,
                    self.next_state.as_deref().unwrap_or("(not run)")
                )
            }
        )
    }

    fn json(&self) -> Value {
        json!({
            "n": self.n,
            "kind": self.kind.as_str(),
            "mode": format!("{:?}", self.mode),
            "target": self.hit.as_ref().map(|r| r.target.clone()),
            "method": self.hit.as_ref().map(|r| r.method.clone()),
            "path": self.hit.as_ref().map(|r| r.path.clone()),
            "operation": self.hit.as_ref().map(|r| r.operation.clone()),
            "context": self.hit.as_ref().map(|r| r.context.clone()),
            "converged": self.converged(),
            "succeeded": self.succeeded,
            "attempts": self.attempts,
            "problems": self.problems,
            "first_failure": self.first_failure,
            "state": self.state,
            "next_state": self.next_state,
            "elapsed_ms": self.elapsed.as_millis() as u64,
        })
    }
}

/// The first failed step of the first attempt, with its error.
fn first_failure(run: &RotationRun) -> Option<String> {
    run.steps
        .iter()
        .find(|s| s.attempt == 1 && s.result.is_err())
        .map(|s| format!("{} failed: {}", s.step, s.result.as_ref().unwrap_err()))
}

fn errors(run: &RotationRun) -> Vec<String> {
    run.steps
        .iter()
        .filter_map(|s| s.result.clone().err())
        .collect()
}

/// Checks the end state of a rotation of `fx`; returns the problems and the state.
async fn check(h: &Harness, fx: &Fixture, run: &RotationRun) -> (Vec<String>, Snapshot) {
    let mut problems = Vec::new();
    if !run.succeeded {
        problems.push(format!(
            "rotation did not complete in {} attempts; last error: {}",
            run.attempts,
            run.last_error().unwrap_or("-")
        ));
    }
    let s = h.snapshot(fx).await;
    match s.with_stage("AWSCURRENT") {
        Some(v) if v.accepted => {}
        Some(_) => problems.push("the IdP rejects AWSCURRENT".into()),
        None => problems.push("no AWSCURRENT".into()),
    }
    if s.live > MAX_LIVE {
        problems.push(format!("{} live upstream secrets", s.live));
    }
    if let Some(doc) = s.with_stage("AWSCURRENT").and_then(|v| v.doc.as_ref()) {
        let others = |d: &Value| {
            let mut d = d.as_object().cloned().unwrap_or_default();
            for k in OWN_KEYS {
                d.remove(k);
            }
            d
        };
        if others(doc) != others(&fx.before) {
            problems.push("the document's other keys changed".into());
        }
    }
    if run.succeeded && s.with_stage("AWSPENDING").is_some() {
        problems.push("AWSPENDING left behind after success".into());
    }
    if run.succeeded && s.with_stage("AWSCURRENT").map(|v| v.id.as_str()) != Some(&run.token) {
        problems.push("succeeded but the token is not AWSCURRENT".into());
    }
    let values = h.stack.client_secret_values(&fx.f).await;
    for e in errors(run) {
        if values.iter().any(|v| e.contains(v.as_str())) {
            problems.push("a secret value leaked into an error message".into());
        }
    }
    (problems, s)
}

/// One case: a fresh fixture, `rule` armed for the first attempt, the retries, the checks, the
/// next rotation.
async fn run_case(h: &Harness, mode: Mode, rule: FaultRule) -> Case {
    let started = Instant::now();
    let fx = h.fixture().await;
    let conductor = h.conductor(mode);
    let token = conductor.begin(&fx.f.secret_arn).await;
    h.faults.arm(rule.clone());
    let run = conductor
        .run_steps(&fx.f.secret_arn, &token, Default::default())
        .await;
    let hit = h.faults.fired();
    let (mut problems, state) = check(h, &fx, &run).await;
    if hit.is_none() {
        problems.push(format!(
            "the fault did not fire: the first attempt made {} requests",
            h.faults.count()
        ));
    }
    // The next rotation (grace period 0) must remove whatever this one left upstream.
    h.faults.reset();
    let next_state = match h
        .conductor(Mode::InProcess)
        .try_rotate(&fx.f.secret_arn)
        .await
    {
        Err(e) => {
            problems.push(format!("the next rotation could not start: {e}"));
            None
        }
        Ok(next) => {
            let (next_problems, s) = check(h, &fx, &next).await;
            problems.extend(
                next_problems
                    .into_iter()
                    .map(|p| format!("next rotation: {p}")),
            );
            if s.unaccounted() > 0 {
                problems.push(format!(
                    "{} upstream secret(s) that no version accounts for survived the next rotation",
                    s.unaccounted()
                ));
            }
            Some(s.describe(&next.token))
        }
    };
    h.remove_providers().await;
    Case {
        n: rule.nth,
        kind: rule.kind,
        mode,
        hit,
        attempts: run.attempts,
        succeeded: run.succeeded,
        problems,
        first_failure: first_failure(&run),
        state: state.describe(&token),
        next_state,
        elapsed: started.elapsed(),
    }
}

/// The requests of one clean swept rotation (the second of a fixture).
async fn clean_calls(h: &Harness, mode: Mode) -> Vec<RequestRecord> {
    let fx = h.fixture().await;
    let run = h.conductor(mode).rotate(&fx.f.secret_arn).await;
    assert!(run.succeeded, "clean rotation: {:?}", run.last_error());
    assert_eq!(run.attempts, 1, "{:?}", run.steps);
    let (problems, _) = check(h, &fx, &run).await;
    assert!(problems.is_empty(), "clean rotation: {problems:?}");
    let calls = h.faults.requests();
    h.remove_providers().await;
    calls
}

fn breakdown(calls: &[RequestRecord]) -> String {
    let mut by: BTreeMap<(String, String), u32> = BTreeMap::new();
    for c in calls {
        *by.entry((c.target.clone(), c.operation.clone()))
            .or_default() += 1;
    }
    let mut per_target: BTreeMap<&str, u32> = BTreeMap::new();
    for ((t, _), n) in &by {
        *per_target.entry(t).or_default() += n;
    }
    let mut out = format!("{} requests: {per_target:?}\n", calls.len());
    for ((t, op), n) in by {
        out.push_str(&format!("  {t:<9} {op:<45} x{n}\n"));
    }
    out
}

fn selected_calls(n_total: u32, stride: u32) -> Vec<u32> {
    let only: Option<BTreeSet<u32>> = std::env::var("CRASH_SWEEP_CALLS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect());
    (1..=n_total)
        .filter(|n| (n - 1) % stride.max(1) == 0)
        .filter(|n| only.as_ref().is_none_or(|o| o.contains(n)))
        .collect()
}

/// The rules of one sweep: each selected call with each kind.
fn rules(calls: &[RequestRecord], stride: u32, kinds: &[FaultKind]) -> Vec<FaultRule> {
    selected_calls(calls.len() as u32, stride)
        .into_iter()
        .flat_map(|n| kinds.iter().map(move |k| FaultRule::nth(n, *k)))
        .collect()
}

/// Runs `case` for every rule on `CRASH_SWEEP_WORKERS` (default 3) harnesses at once (each its
/// own proxies, request counter, simulators and AgentCore emulator; moto is shared), `h` being
/// the first. Cases come back sorted by call and kind.
async fn sweep<F, Fut>(h: Harness, rules: Vec<FaultRule>, case: F) -> Vec<Case>
where
    F: Fn(Arc<Harness>, FaultRule) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Case> + Send + 'static,
{
    let workers = std::env::var("CRASH_SWEEP_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3usize)
        .clamp(1, rules.len().max(1));
    let queue = Arc::new(Mutex::new(VecDeque::from(rules)));
    let mut harnesses = vec![Arc::new(h)];
    for _ in 1..workers {
        harnesses.push(Arc::new(Harness::start().await));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for h in harnesses {
        let (queue, case) = (queue.clone(), case.clone());
        tasks.spawn(async move {
            let mut done = Vec::new();
            loop {
                let next = queue.lock().unwrap().pop_front();
                let Some(rule) = next else { break };
                done.push(case(h.clone(), rule).await);
            }
            done
        });
    }
    let mut cases = Vec::new();
    while let Some(done) = tasks.join_next().await {
        cases.extend(done.expect("sweep worker"));
    }
    cases.sort_by_key(|c| (c.n, c.kind));
    cases
}

/// Appends the cases to `CRASH_SWEEP_MATRIX`, if set (tests of this binary run in parallel).
fn write_matrix(cases: &[Case], calls: &[RequestRecord], sweep: &str) {
    static LOCK: Mutex<()> = Mutex::new(());
    let Ok(path) = std::env::var("CRASH_SWEEP_MATRIX") else {
        return;
    };
    let _g = LOCK.lock().unwrap();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .expect("open the matrix file");
    let clean: Vec<Value> = calls
        .iter()
        .map(|c| json!({"n": c.index, "target": c.target, "operation": c.operation, "context": c.context}))
        .collect();
    writeln!(file, "{}", json!({"sweep": sweep, "clean_calls": clean})).unwrap();
    for c in cases {
        let mut line = c.json();
        line["sweep"] = json!(sweep);
        writeln!(file, "{line}").unwrap();
    }
}

fn report(sweep: &str, cases: &[Case], started: Instant) {
    println!(
        "{sweep}: {} cases in {:.1}s",
        cases.len(),
        started.elapsed().as_secs_f64()
    );
    for c in cases {
        println!("{}", c.line());
    }
    let failing: Vec<String> = cases
        .iter()
        .filter(|c| !c.converged())
        .map(Case::line)
        .collect();
    assert!(
        failing.is_empty(),
        "{sweep}: {} of {} cases did not converge:\n{}",
        failing.len(),
        cases.len(),
        failing.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_call_or_a_lost_answer_at_any_request_of_a_rotation_converges() {
    let started = Instant::now();
    let h = Harness::start().await;
    let calls = clean_calls(&h, Mode::InProcess).await;
    println!("one rotation, {}", breakdown(&calls));
    let kinds = [FaultKind::FailBeforeForward, FaultKind::DropResponse];
    let cases = sweep(h, rules(&calls, 1, &kinds), |h, rule| async move {
        run_case(&h, Mode::InProcess, rule).await
    })
    .await;
    write_matrix(&cases, &calls, "in-process");
    report("in-process sweep", &cases, started);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_function_killed_at_any_request_converges_on_the_retry() {
    let started = Instant::now();
    let h = Harness::start().await;
    let in_process = clean_calls(&h, Mode::InProcess).await;
    let calls = clean_calls(&h, Mode::Process).await;
    let ops = |c: &[RequestRecord]| {
        let mut v: Vec<String> = c.iter().map(|r| r.operation.clone()).collect();
        v.sort();
        v
    };
    assert_eq!(
        ops(&calls),
        ops(&in_process),
        "the rotation-step process makes the same calls as the in-process function"
    );
    let stride = std::env::var("CRASH_SWEEP_KILL_STRIDE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let cases = sweep(
        h,
        rules(&calls, stride, &[FaultKind::Kill]),
        |h, rule| async move { run_case(&h, Mode::Process, rule).await },
    )
    .await;
    write_matrix(&cases, &calls, "process-kill");
    report("process-kill sweep", &cases, started);
}

/// Requests of the first attempt (the ones a fault may hit).
fn first_attempt(calls: Vec<RequestRecord>) -> Vec<RequestRecord> {
    calls
        .into_iter()
        .filter(|r| r.context.starts_with("attempt 1 "))
        .collect()
}

/// Grace-period case: AWSPREVIOUS's secret is inside its grace period (24 h), so every attempt
/// must be refused at setSecret; a fault at any request of the first attempt must not make the
/// rotation remove that secret (or any other) or promote anything.
async fn run_grace_case(h: &Harness, rule: Option<FaultRule>) -> (Case, Vec<RequestRecord>) {
    let started = Instant::now();
    let fx = h
        .fixture_with(Options {
            grace_hours: 24,
            ..Options::default()
        })
        .await;
    let before = h.snapshot(&fx).await;
    let conductor = h.conductor(Mode::InProcess);
    let token = conductor.begin(&fx.f.secret_arn).await;
    if let Some(r) = &rule {
        h.faults.arm(r.clone());
    }
    let run = conductor
        .run_steps(&fx.f.secret_arn, &token, Default::default())
        .await;
    let calls = h.faults.requests();
    let hit = h.faults.fired();
    let s = h.snapshot(&fx).await;
    let mut problems = Vec::new();
    if run.succeeded {
        problems.push("the rotation was promoted inside the grace period".into());
    }
    for stage in ["AWSCURRENT", "AWSPREVIOUS"] {
        let was = before.with_stage(stage);
        if s.with_stage(stage).map(|v| &v.id) != was.map(|v| &v.id) {
            problems.push(format!("{stage} moved"));
        }
        let value = was
            .and_then(|v| v.doc.as_ref())
            .and_then(|d| d["clientSecret"].as_str())
            .unwrap_or_default();
        if !h.stack.cognito.accepts(&fx.f.client_id, value) {
            problems.push(format!(
                "the upstream secret of the version that was {stage} was removed inside its grace period"
            ));
        }
    }
    if s.live > MAX_LIVE {
        problems.push(format!("{} live upstream secrets", s.live));
    }
    if rule.is_some() && hit.is_none() {
        problems.push("the fault did not fire".into());
    }
    h.remove_providers().await;
    let case = Case {
        n: rule.as_ref().map_or(0, |r| r.nth),
        kind: rule
            .as_ref()
            .map_or(FaultKind::FailBeforeForward, |r| r.kind),
        mode: Mode::InProcess,
        hit,
        attempts: run.attempts,
        succeeded: run.succeeded,
        problems,
        first_failure: first_failure(&run),
        state: s.describe(&token),
        next_state: None,
        elapsed: started.elapsed(),
    };
    (case, calls)
}

/// Replaces the pending version's document with one without [`API_KEY_FIELD`] (moto lets a
/// token be reused with a new value): a version that breaks [`KEY_PROVIDER`] once promoted,
/// after testSecret's pre-flight passed.
async fn break_pending(h: &Harness, fx: &Fixture, token: &str) {
    let mut doc = h.stack.doc(&fx.f.secret_arn, "AWSPENDING").await;
    doc.as_object_mut().unwrap().remove(API_KEY_FIELD);
    h.stack
        .sm
        .put_secret_value()
        .secret_id(&fx.f.secret_arn)
        .client_request_token(token)
        .secret_string(doc.to_string())
        .version_stages("AWSPENDING")
        .send()
        .await
        .expect("overwrite AWSPENDING");
}

/// A fixture with the API-key provider, a rotation begun and its first three steps done, then
/// the pending document broken: finishSecret must roll back.
async fn rollback_setup(h: &Harness) -> (Fixture, Conductor, String) {
    let fx = h
        .fixture_with(Options {
            api_key: true,
            ..Options::default()
        })
        .await;
    let conductor = h.conductor(Mode::InProcess);
    let token = conductor.begin(&fx.f.secret_arn).await;
    for step in [Step::CreateSecret, Step::SetSecret, Step::TestSecret] {
        let done = conductor.invoke(&fx.f.secret_arn, &token, step).await;
        assert!(done.is_ok(), "{step}: {done:?}");
    }
    break_pending(h, &fx, &token).await;
    h.faults.reset();
    (fx, conductor, token)
}

/// Rollback case: the fault at request N of the first finishSecret, then Secrets Manager's two
/// retries of the whole sequence. Whatever happens, the version that breaks the provider must
/// not stay AWSCURRENT.
async fn run_rollback_case(h: &Harness, rule: Option<FaultRule>) -> (Case, Vec<RequestRecord>) {
    let started = Instant::now();
    let (fx, conductor, token) = rollback_setup(h).await;
    h.faults.set_context("attempt 1 finishSecret");
    if let Some(r) = &rule {
        h.faults.arm(r.clone());
    }
    let first = conductor
        .invoke(&fx.f.secret_arn, &token, Step::FinishSecret)
        .await;
    h.faults.disarm();
    h.faults.set_context("");
    let calls = h.faults.requests();
    let hit = h.faults.fired();
    let mut retry = h.conductor(Mode::InProcess);
    retry.faults = None;
    retry.max_attempts = 2;
    if std::env::var_os("CRASH_SWEEP_VERBOSE").is_some() {
        println!("first finishSecret: {first:?}");
    }
    let rerun = match &first {
        Ok(_) => None,
        Err(_) => Some(
            retry
                .run_steps(&fx.f.secret_arn, &token, Default::default())
                .await,
        ),
    };
    if std::env::var_os("CRASH_SWEEP_VERBOSE").is_some() {
        println!("retries: {:#?}", rerun.as_ref().map(|r| &r.steps));
    }
    let s = h.snapshot(&fx).await;
    let mut problems = Vec::new();
    match s.with_stage("AWSCURRENT") {
        None => problems.push("no AWSCURRENT".into()),
        Some(v) => {
            let key = v.doc.as_ref().and_then(|d| d[API_KEY_FIELD].as_str());
            if key != Some(API_KEY) {
                problems.push(format!(
                    "AWSCURRENT ({}) breaks provider {KEY_PROVIDER}: its key {API_KEY_FIELD} is missing (not rolled back)",
                    if v.id == token { "the rotated version" } else { "another version" }
                ));
            }
            if !v.accepted {
                problems.push("the IdP rejects AWSCURRENT".into());
            }
        }
    }
    if s.live > MAX_LIVE {
        problems.push(format!("{} live upstream secrets", s.live));
    }
    if rule.is_some() && hit.is_none() {
        problems.push("the fault did not fire".into());
    }
    h.remove_providers().await;
    let case = Case {
        n: rule.as_ref().map_or(0, |r| r.nth),
        kind: rule
            .as_ref()
            .map_or(FaultKind::FailBeforeForward, |r| r.kind),
        mode: Mode::InProcess,
        hit,
        attempts: 1 + rerun.as_ref().map_or(0, |r| r.attempts),
        succeeded: rerun.as_ref().is_some_and(|r| r.succeeded),
        problems,
        first_failure: Some(match &first {
            Ok(outcome) => format!("finishSecret: {outcome}"),
            Err(e) => format!("finishSecret failed: {e}"),
        }),
        state: s.describe(&token),
        next_state: None,
        elapsed: started.elapsed(),
    };
    (case, calls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_inside_the_grace_period_never_removes_the_superseded_secret() {
    let started = Instant::now();
    let h = Harness::start().await;
    let (clean, calls) = run_grace_case(&h, None).await;
    assert!(clean.converged(), "{}", clean.line());
    let calls = first_attempt(calls);
    println!("one refused attempt, {}", breakdown(&calls));
    let kinds = [FaultKind::FailBeforeForward, FaultKind::DropResponse];
    let cases = sweep(h, rules(&calls, 1, &kinds), |h, rule| async move {
        run_grace_case(&h, Some(rule)).await.0
    })
    .await;
    write_matrix(&cases, &calls, "grace-period");
    report("grace-period sweep", &cases, started);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_during_a_rolling_back_finish_secret_never_leaves_the_breaking_version_current() {
    let started = Instant::now();
    let h = Harness::start().await;
    let (clean, calls) = run_rollback_case(&h, None).await;
    assert!(clean.converged(), "{}", clean.line());
    println!("one rolling-back finishSecret, {}", breakdown(&calls));
    for c in &calls {
        println!("  {c}");
    }
    let kinds = [FaultKind::FailBeforeForward, FaultKind::DropResponse];
    let cases = sweep(h, rules(&calls, 1, &kinds), |h, rule| async move {
        run_rollback_case(&h, Some(rule)).await.0
    })
    .await;
    write_matrix(&cases, &calls, "rollback");
    report("rollback sweep", &cases, started);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rotation_after_a_rollback_completes_and_cleans_up_upstream() {
    let h = Harness::start().await;
    let (fx, conductor, token) = rollback_setup(&h).await;
    let err = conductor
        .invoke(&fx.f.secret_arn, &token, Step::FinishSecret)
        .await
        .unwrap_err();
    assert!(err.contains("rolled AWSCURRENT back"), "{err}");
    let rolled_back = h.snapshot(&fx).await.describe(&token);
    let next = h.conductor(Mode::InProcess).rotate(&fx.f.secret_arn).await;
    let (problems, s) = check(&h, &fx, &next).await;
    assert!(
        problems.is_empty() && s.unaccounted() == 0,
        "{problems:?}\nafter the rollback: {rolled_back}\nafter the next rotation: {}",
        s.describe(&next.token)
    );
}

/// Samples AWSCURRENT until told to stop; returns every moment the IdP rejected it. A sample
/// counts only if AWSCURRENT did not move while it was checked.
async fn watch_current(
    stack: &LocalStack,
    f: &CognitoFixture,
    stop: &AtomicBool,
) -> (u32, Vec<String>) {
    let mut samples = 0;
    let mut violations = Vec::new();
    let current = || async {
        stack
            .sm
            .get_secret_value()
            .secret_id(&f.secret_arn)
            .version_stage("AWSCURRENT")
            .send()
            .await
            .ok()
            .and_then(|v| Some((v.version_id()?.to_string(), v.secret_string()?.to_string())))
    };
    while !stop.load(Ordering::SeqCst) {
        if let Some((version, doc)) = current().await {
            let value: Value = serde_json::from_str(&doc).unwrap_or_default();
            let secret = value["clientSecret"].as_str().unwrap_or_default();
            let accepted = stack.cognito.accepts(&f.client_id, secret);
            let still = current().await.map(|(v, _)| v);
            if still.as_deref() == Some(version.as_str()) {
                samples += 1;
                if !accepted {
                    violations.push(format!("AWSCURRENT {version} rejected by the IdP"));
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (samples, violations)
}

/// Rotations A and B (different tokens) of one secret while AWSCURRENT is watched. With
/// `head_start` 0 both start at once; otherwise A begins and runs its first `head_start` steps,
/// then B starts beside the rest of A's sequence (with its retries).
async fn race_two_rotations(h: &Harness, head_start: usize) -> Result<String, String> {
    let fx = h.fixture().await;
    let f = &fx.f;
    let (a, b) = (h.conductor(Mode::InProcess), h.conductor(Mode::InProcess));
    let token_a = if head_start == 0 {
        None
    } else {
        let token = a.begin(&f.secret_arn).await;
        for step in Step::ALL.into_iter().take(head_start) {
            a.invoke(&f.secret_arn, &token, step)
                .await
                .map_err(|e| format!("A's head start, {step}: {e}"))?;
        }
        Some(token)
    };
    let stop = AtomicBool::new(false);
    let run_a = async {
        match &token_a {
            None => a.try_rotate(&f.secret_arn).await,
            Some(t) => Ok(a.run_steps(&f.secret_arn, t, Default::default()).await),
        }
    };
    let race = async {
        let out = tokio::join!(run_a, b.try_rotate(&f.secret_arn));
        stop.store(true, Ordering::SeqCst);
        out
    };
    let ((ra, rb), (samples, violations)) = tokio::join!(race, watch_current(&h.stack, f, &stop));
    let describe = |r: &Result<RotationRun, String>| match r {
        Err(e) => format!("refused at RotateSecret: {e}"),
        Ok(run) if run.succeeded => format!("succeeded in {} attempt(s)", run.attempts),
        Ok(run) => format!(
            "failed after {} attempt(s): {}",
            run.attempts,
            run.last_error().unwrap_or("-")
        ),
    };
    let outcome = format!(
        "A ({}): {}; B: {}; {samples} samples of AWSCURRENT",
        if head_start == 0 {
            "started at once".to_string()
        } else {
            format!("{head_start} steps ahead")
        },
        describe(&ra),
        describe(&rb)
    );
    h.remove_providers().await;
    if !violations.is_empty() {
        return Err(format!("{outcome}: {violations:?}"));
    }
    let winners: Vec<&RotationRun> = [&ra, &rb]
        .into_iter()
        .filter_map(|r| r.as_ref().ok())
        .filter(|r| r.succeeded)
        .collect();
    if winners.len() != 1 {
        return Err(format!("{outcome}: exactly one rotation must win"));
    }
    let s = h.snapshot(&fx).await;
    let state = s.describe(&winners[0].token);
    let current = s.with_stage("AWSCURRENT");
    if current.map(|v| v.id.as_str()) != Some(winners[0].token.as_str())
        || !current.is_some_and(|v| v.accepted)
        || s.live > MAX_LIVE
    {
        return Err(format!("{outcome}: {state}"));
    }
    // The loser left nothing that the next rotation does not clean up.
    h.faults.reset();
    let next = h
        .conductor(Mode::InProcess)
        .try_rotate(&f.secret_arn)
        .await
        .map_err(|e| format!("{outcome}: the next rotation could not start: {e}; {state}"))?;
    let (problems, after) = check(h, &fx, &next).await;
    if !problems.is_empty() || after.unaccounted() > 0 {
        return Err(format!(
            "{outcome}: next rotation: {problems:?}; {}",
            after.describe(&next.token)
        ));
    }
    Ok(outcome)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rotations_started_at_once_one_fails_cleanly_and_no_working_credential_is_lost() {
    let h = Harness::start().await;
    let mut failures = Vec::new();
    for head_start in 0..Step::ALL.len() {
        match race_two_rotations(&h, head_start).await {
            Ok(outcome) => println!("{outcome}"),
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The recovery the rotator's own error names for an incomplete rotation ("cancel it and remove
/// AWSPENDING from that version"), applied after that rotation had pushed its secret upstream:
/// the next rotation must still complete and clean up the abandoned secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_abandoned_after_set_secret_as_the_error_advises_does_not_block_the_next_one() {
    let h = Harness::start().await;
    let fx = h.fixture().await;
    let f = &fx.f;
    let abandoned = h.conductor(Mode::InProcess);
    let token = abandoned.begin(&f.secret_arn).await;
    for step in [Step::CreateSecret, Step::SetSecret] {
        let done = abandoned.invoke(&f.secret_arn, &token, step).await;
        assert!(done.is_ok(), "{step}: {done:?}");
    }
    h.stack
        .sm
        .cancel_rotate_secret()
        .secret_id(&f.secret_arn)
        .send()
        .await
        .expect("CancelRotateSecret");
    h.stack
        .sm
        .update_secret_version_stage()
        .secret_id(&f.secret_arn)
        .version_stage("AWSPENDING")
        .remove_from_version_id(&token)
        .send()
        .await
        .expect("remove AWSPENDING");
    let abandoned_state = h.snapshot(&fx).await.describe(&token);
    let next = h.conductor(Mode::InProcess).rotate(&f.secret_arn).await;
    let (mut problems, s) = check(&h, &fx, &next).await;
    let mut states = vec![
        format!("abandoned: {abandoned_state}"),
        format!("next rotation: {}", s.describe(&next.token)),
    ];
    if next.succeeded {
        let after = h.conductor(Mode::InProcess).rotate(&f.secret_arn).await;
        let (more, s) = check(&h, &fx, &after).await;
        problems.extend(more);
        if s.unaccounted() > 0 {
            problems.push("the abandoned upstream secret survived two rotations".into());
        }
        states.push(format!("one more: {}", s.describe(&after.token)));
    }
    assert!(problems.is_empty(), "{problems:?}\n{}", states.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_racing_a_drift_audit_loses_no_working_credential() {
    let h = Harness::start().await;
    let fx = h.fixture().await;
    let f = &fx.f;
    let out = Arc::new(Collected::default());
    let auditor = h
        .stack
        .auditor(
            out.clone(),
            AuditConfig {
                token_probe: true,
                probe_interval: Duration::ZERO,
                ..AuditConfig::default()
            },
            None,
        )
        .with_upstreams(Arc::new(AwsUpstreams::new(h.stack.cognito_sdk_config())));
    let trigger = Trigger::parse(&json!({"scope": {"secretIds": [f.secret_arn]}})).unwrap();
    let conductor = h.conductor(Mode::InProcess);
    let stop = AtomicBool::new(false);
    let rotation = async {
        let run = conductor.rotate(&f.secret_arn).await;
        stop.store(true, Ordering::SeqCst);
        run
    };
    let audits = async {
        let mut outcomes = Vec::new();
        while !stop.load(Ordering::SeqCst) || outcomes.is_empty() {
            outcomes.push(auditor.run(&trigger, None).await.map(|_| ()));
        }
        outcomes
    };
    let (run, audits, (samples, violations)) =
        tokio::join!(rotation, audits, watch_current(&h.stack, f, &stop));
    println!(
        "{} audits during the rotation, {samples} samples of AWSCURRENT",
        audits.len()
    );
    assert!(violations.is_empty(), "{violations:?}");
    assert!(
        audits.iter().all(Result::is_ok),
        "{:?}",
        audits
            .iter()
            .filter_map(|a| a.as_ref().err())
            .collect::<Vec<_>>()
    );
    let (problems, s) = check(&h, &fx, &run).await;
    assert!(
        problems.is_empty(),
        "{problems:?}\n{}",
        s.describe(&run.token)
    );
    // No audit saw the IdP reject AWSCURRENT.
    let findings = out.take();
    assert!(
        findings.iter().all(|f| f.rule_id() != "UPS-004"),
        "{:?}",
        findings.iter().map(|f| f.description()).collect::<Vec<_>>()
    );
}
