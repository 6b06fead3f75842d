//! Runs one audit invocation: list providers, group them by referenced secret, audit the
//! secrets in waves, publish each wave's findings (so memory stays flat), settle the findings
//! lifecycle, and continue in a new invocation when the deadline nears.
//!
//! Continuation: secrets are audited in the order of their ARNs. When less than the time
//! margin (plus the last wave's duration) remains, the invocation stops after a wave and hands
//! over a [`Continuation`] naming the last secret it finished; the next invocation lists the
//! providers again (List items carry no reference, so the grouping must be rebuilt) and starts
//! after that secret. Providers without a customer secret are audited by the first invocation.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::{mpsc, watch};

use crate::agentcore::canary::{self, FailureMetrics, Windows};
use crate::agentcore::references::arn_account;
use crate::agentcore::{
    AgentCoreError, BlastRadius, GatewayDirectory, ProviderDirectory, ProviderKind, ProviderRef,
    SecretIdentity, SecretSource,
};
use crate::findings::{Emitters, Finding, Scope, Timestamp};
use crate::secrets::{Observed, ValueShape};
use crate::upstream::UpstreamDirectory;

use super::collect::{list_all, Collector};
use super::config::AuditConfig;
use super::lifecycle::{FindingHistory, Ledger, NoHistory};
use super::prefetch::Prefetcher;
use super::report::{AuditSummary, CallMeter};
use super::rules::{self, Evaluation, RuleContext};
use super::snapshot::Snapshot;
use super::trigger::{AuditScope, Continuation, Trigger};
use crate::secrets::{ReadError, SecretInventory};

/// Where findings go.
#[async_trait]
pub trait Publish: Send + Sync {
    async fn publish(&self, findings: &[Finding]);
}

#[async_trait]
impl Publish for Emitters {
    async fn publish(&self, findings: &[Finding]) {
        if !findings.is_empty() {
            // Emitters log failed sinks themselves; one failing sink stops none of the others.
            self.emit(findings).await;
        }
    }
}

/// Keeps every finding (operator CLI, tests).
#[derive(Default)]
pub struct Collected(pub Mutex<Vec<Finding>>);

impl Collected {
    pub fn take(&self) -> Vec<Finding> {
        std::mem::take(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[async_trait]
impl Publish for Collected {
    async fn publish(&self, findings: &[Finding]) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(findings);
    }
}

/// Starts the next invocation of a continued audit.
#[async_trait]
pub trait Continuer: Send + Sync {
    async fn schedule(&self, continuation: &Continuation) -> Result<(), ReadError>;
}

/// Progress of a long audit (the CLI prints it to stderr).
pub trait Progress: Send + Sync {
    fn update(&self, stage: &str, done: u64, total: u64);
}

#[derive(Debug)]
pub enum AuditOutcome {
    Complete(AuditSummary),
    /// Time ran out; the audit goes on from `continuation`.
    Continued {
        summary: AuditSummary,
        continuation: Continuation,
        scheduled: bool,
    },
}

impl AuditOutcome {
    pub fn summary(&self) -> &AuditSummary {
        match self {
            AuditOutcome::Complete(s) | AuditOutcome::Continued { summary: s, .. } => s,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("failed to list credential providers: {0}")]
    Directory(#[from] AgentCoreError),
}

/// The audit engine, built once at init and reused.
pub struct Auditor {
    directory: Arc<dyn ProviderDirectory>,
    inventory: Arc<dyn SecretInventory>,
    upstreams: Option<Arc<dyn UpstreamDirectory>>,
    gateways: Option<Arc<dyn GatewayDirectory>>,
    canary: Option<Arc<dyn FailureMetrics>>,
    history: Arc<dyn FindingHistory>,
    publish: Arc<dyn Publish>,
    continuer: Option<Arc<dyn Continuer>>,
    meter: Option<Arc<dyn CallMeter>>,
    progress: Option<Arc<dyn Progress>>,
    /// The Region audited; providers referencing secrets elsewhere are cross-Region.
    region: String,
    /// The account findings belong to; when unknown it is taken from the providers' ARNs.
    account: Option<String>,
    config: AuditConfig,
}

impl Auditor {
    pub fn new(
        directory: Arc<dyn ProviderDirectory>,
        inventory: Arc<dyn SecretInventory>,
        publish: Arc<dyn Publish>,
        region: impl Into<String>,
        config: AuditConfig,
    ) -> Self {
        Self {
            directory,
            inventory,
            upstreams: None,
            gateways: None,
            canary: None,
            history: Arc::new(NoHistory),
            publish,
            continuer: None,
            meter: None,
            progress: None,
            region: region.into(),
            account: None,
            config,
        }
    }

    /// Reads upstream facts (live secrets, lineage, the token probe) through `upstreams`.
    pub fn with_upstreams(mut self, upstreams: Arc<dyn UpstreamDirectory>) -> Self {
        self.upstreams = Some(upstreams);
        self
    }

    /// Lists the gateway targets that use a provider in that provider's findings (read only
    /// when some finding names a provider).
    pub fn with_gateways(mut self, gateways: Arc<dyn GatewayDirectory>) -> Self {
        self.gateways = Some(gateways);
        self
    }

    /// Runs the post-rotation canary (ROT-004) on `RotationSucceeded` events when
    /// `ROTATOR_AUDIT_CANARY` is on.
    pub fn with_canary(mut self, metrics: Arc<dyn FailureMetrics>) -> Self {
        self.canary = Some(metrics);
        self
    }

    /// Previous findings, so the lifecycle resolves what is fixed.
    pub fn with_history(mut self, history: Arc<dyn FindingHistory>) -> Self {
        self.history = history;
        self
    }

    /// Continues a long audit in a new invocation instead of stopping at the deadline.
    pub fn with_continuer(mut self, continuer: Arc<dyn Continuer>) -> Self {
        self.continuer = Some(continuer);
        self
    }

    /// Counts the AWS calls each run makes (reported with the lower bound).
    pub fn with_meter(mut self, meter: Arc<dyn CallMeter>) -> Self {
        self.meter = Some(meter);
        self
    }

    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// The account findings belong to (else taken from the providers' ARNs).
    pub fn with_account(mut self, account: Option<String>) -> Self {
        self.account = account;
        self
    }

    pub fn config_mut(&mut self) -> &mut AuditConfig {
        &mut self.config
    }

    fn progress(&self, stage: &str, done: u64, total: u64) {
        if let Some(p) = &self.progress {
            p.update(stage, done, total);
        }
    }

    /// Audits what `trigger` asks for; `deadline` (Lambda) bounds the invocation.
    pub async fn run(
        &self,
        trigger: &Trigger,
        deadline: Option<Instant>,
    ) -> Result<AuditOutcome, AuditError> {
        self.run_in(trigger, deadline, None).await
    }

    /// [`Auditor::run`] for `account` (e.g. from the Lambda context's function ARN).
    pub async fn run_in(
        &self,
        trigger: &Trigger,
        deadline: Option<Instant>,
        account: Option<&str>,
    ) -> Result<AuditOutcome, AuditError> {
        let started = Instant::now();
        let now = Timestamp::now();
        let calls_before = self.meter.as_ref().map(|m| m.counts()).unwrap_or_default();
        let continuation = trigger.continuation.as_ref();
        let mut summary = AuditSummary {
            audit_id: continuation.map_or_else(
                || format!("audit-{}", now.as_millis()),
                |c| c.audit_id.clone(),
            ),
            trigger: trigger.kind.to_string(),
            full: trigger.scope.is_full(),
            invocation: continuation.map_or(1, |c| c.invocation),
            ..AuditSummary::default()
        };
        tracing::info!(target: "audit", audit_id = %summary.audit_id, trigger = trigger.kind, reason = %trigger.reason, "audit started");
        self.progress("discovering providers", 0, 0);
        let collector = Collector::new(
            self.inventory.clone(),
            self.upstreams.clone(),
            self.region.clone(),
            self.config.clone(),
        );
        let selector = Selector::new(&trigger.scope, continuation.map(|c| c.after.as_str()));
        let radius = BlastRadius::new(self.gateways.as_deref());
        let full = trigger.scope.is_full();
        // Secrets are read as discovery names them (see `prefetch`). A full audit reads
        // secret metadata from ListSecrets pages meanwhile (100 secrets per call instead of one
        // DescribeSecret each); a targeted one describes its few secrets.
        let (listed_tx, listed_rx) = watch::channel(false);
        // Reading ahead stops where the waves would stop: whatever it has not read by then is
        // left to the waves and, past the deadline, to the continuation.
        let read_until =
            deadline.map(|d| d.checked_sub(self.config.time_margin).unwrap_or(started));
        let mut prefetch = Prefetcher::start(
            collector.clone(),
            listed_rx,
            self.config.read_ahead,
            read_until,
        );
        let (found_tx, mut found_rx) = mpsc::channel::<ProviderRef>(256);
        let listing = async {
            let pages = if full {
                let listed = list_all(&*self.inventory, self.config.max_listed).await;
                collector.set_listed(listed.secrets);
                listed.pages
            } else {
                0
            };
            let _ = listed_tx.send(true);
            Ok(pages)
        };
        let gathering = async {
            let mut providers = Vec::new();
            while let Some(p) = found_rx.recv().await {
                if let (SecretSource::External, Some(reference)) = (&p.source, &p.secret_arn) {
                    if selector.selects(reference, &p.name) {
                        prefetch.offer(reference);
                    }
                }
                providers.push(p);
                if providers.len() % 500 == 0 {
                    self.progress("discovering providers", providers.len() as u64, 0);
                }
            }
            Ok(providers)
        };
        // Boxed: SDK futures are large, and debug builds run them on small test stacks. A
        // discovery error ends the listing too.
        let ((), listed_pages, mut providers) = tokio::try_join!(
            Box::pin(self.directory.each_provider(found_tx)),
            Box::pin(listing),
            Box::pin(gathering)
        )?;
        providers.sort_by(|a, b| (a.kind, &a.name, a.slot).cmp(&(b.kind, &b.name, b.slot)));
        summary.tally.listed_pages = listed_pages;
        let count = |kind: ProviderKind| {
            let names: HashSet<&str> = providers
                .iter()
                .filter(|p| p.kind == kind)
                .map(|p| p.name.as_str())
                .collect();
            names.len() as u64
        };
        summary.oauth2_providers = count(ProviderKind::Oauth2);
        summary.api_key_providers = count(ProviderKind::ApiKey);
        summary.payment_providers = count(ProviderKind::Payment);
        let existing: HashSet<String> = providers
            .iter()
            .flat_map(|p| [Some(p.arn.clone()), p.secret_arn.clone()])
            .flatten()
            .collect();
        let account = account
            .map(str::to_string)
            .or_else(|| self.account.clone())
            .or_else(|| {
                providers
                    .iter()
                    .find_map(|p| arn_account(&p.arn).map(str::to_string))
            });
        let Some(scope) = account.and_then(|a| Scope::new(a, &self.region).ok()) else {
            // No account and no provider: nothing to audit, nothing to attribute findings to.
            summary.complete = true;
            summary.duration_ms = started.elapsed().as_millis() as u64;
            return Ok(AuditOutcome::Complete(summary));
        };
        let canary_on = self.config.canary && self.canary.is_some() && trigger.rotated_at.is_some();
        // MANAGED providers keep their own copy of a client's secret: a rotation that cuts the
        // old secret off breaks them first. They join the canary of the secret of their client
        // (taken before the grouping, which leaves them out of a targeted audit).
        let canary_managed: Vec<ProviderRef> = match canary_on {
            true => providers
                .iter()
                .filter(|p| p.source == SecretSource::Managed && p.client_id.is_some())
                .cloned()
                .collect(),
            false => Vec::new(),
        };
        let (mut units, loose) = group(providers, &trigger.scope, &selector);
        // The waves consume `units`; the canary needs the rotated secrets' providers after them.
        let mut canary_units: Vec<(String, Vec<ProviderRef>)> = match canary_on {
            true => units.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            false => Vec::new(),
        };
        // Only what referenced secrets need is kept past this point.
        collector.retain_listed(|arn| units.contains_key(arn));
        let previous = Box::pin(self.history.active(&scope)).await;
        if let Some(size) = self.history.page_size() {
            let read = previous.as_ref().map_or(0, Vec::len);
            summary.tally.history_pages = read.div_ceil(size).max(1) as u64;
        }
        let mut ledger = match previous {
            Ok(previous) => Ledger::new(previous),
            Err(e) => {
                tracing::warn!(target: "audit", error = %e, "previous findings unavailable; nothing will be reported resolved");
                Ledger::default()
            }
        };
        let mut ctx = RuleContext::new(scope.clone(), now);
        ctx.max_secret_age = self.config.max_secret_age;
        ctx.pending_stale_after = self.config.pending_stale_after;

        if continuation.is_none() && !loose.is_empty() {
            let covered: HashSet<String> = loose.iter().map(|p| p.arn.clone()).collect();
            let snapshot = Snapshot {
                region: self.region.clone(),
                providers: loose,
                ..Snapshot::default()
            };
            let mut evaluation = rules::evaluate(&snapshot, &ctx);
            ledger.settle(&mut evaluation, &|id| covered.contains(id), &scope, now);
            self.emit(&mut summary, &radius, evaluation).await;
        }

        Box::pin(prefetch.finish()).await;
        summary.tally.add(&collector.take_ahead_tally());
        let references: Vec<String> = units.keys().cloned().collect();
        let total = references.len() as u64;
        let mut done = 0u64;
        let mut stopped_after: Option<String> = None;
        let waves: Vec<&[String]> = references.chunks(self.config.wave_size.max(1)).collect();
        for (i, wave) in waves.iter().enumerate() {
            let wave_started = Instant::now();
            let (secrets, keys, tally) = Box::pin(collector.collect(wave.to_vec())).await;
            summary.tally.add(&tally);
            let mut covered: HashSet<String> = HashSet::new();
            let mut wave_providers = Vec::new();
            for r in wave.iter() {
                covered.insert(r.clone());
                if let Some(f) = secrets.get(r) {
                    covered.insert(f.arn().to_string());
                    if let (
                        Some((_, watched)),
                        Some(Observed::Ok(ValueShape::Object {
                            client_id: Some(client),
                            ..
                        })),
                    ) = (
                        canary_units.iter_mut().find(|(k, _)| k == r),
                        f.current.as_ref(),
                    ) {
                        watched.extend(
                            canary_managed
                                .iter()
                                .filter(|p| p.client_id.as_deref() == Some(client.as_str()))
                                .cloned(),
                        );
                    }
                }
                for p in units.remove(r).unwrap_or_default() {
                    covered.insert(p.arn.clone());
                    wave_providers.push(p);
                }
            }
            let snapshot = Snapshot {
                region: self.region.clone(),
                providers: wave_providers,
                secrets,
                keys,
            };
            let mut evaluation = rules::evaluate(&snapshot, &ctx);
            drop(snapshot);
            ledger.settle(&mut evaluation, &|id| covered.contains(id), &scope, now);
            self.emit(&mut summary, &radius, evaluation).await;
            done += wave.len() as u64;
            summary.secrets += wave.len() as u64;
            self.progress("auditing secrets", done, total);
            let last_wave = wave_started.elapsed();
            // A wave whose secrets were all read ahead costs only evaluation and publishing.
            let next_needs_reads = waves
                .get(i + 1)
                .is_some_and(|next| !collector.all_ahead(next));
            if next_needs_reads && self.out_of_time(deadline, last_wave) {
                stopped_after = wave.last().cloned();
                break;
            }
        }

        if stopped_after.is_none() {
            // Findings about what no longer exists (provider deleted, secret no longer
            // referenced) or, for a targeted audit, about the named secrets.
            let mut evaluation = Evaluation::default();
            match &trigger.scope {
                AuditScope::All => {
                    ledger.settle(&mut evaluation, &|id| !existing.contains(id), &scope, now)
                }
                AuditScope::Targeted { secret_ids, .. } => {
                    let targets: Vec<SecretIdentity> = secret_ids
                        .iter()
                        .map(|s| SecretIdentity::parse(s))
                        .collect();
                    let orphaned = |id: &str| {
                        !existing.contains(id)
                            && targets
                                .iter()
                                .any(|t| t.matches(&SecretIdentity::parse(id)))
                    };
                    ledger.settle(&mut evaluation, &orphaned, &scope, now);
                }
            }
            self.emit(&mut summary, &radius, evaluation).await;
        }

        if stopped_after.is_none() {
            if let (Some(metrics), Some(at)) = (&self.canary, trigger.rotated_at) {
                let windows = Windows::new(at, self.config.canary_window_minutes);
                Box::pin(self.canary(
                    &mut summary,
                    &radius,
                    metrics.as_ref(),
                    &canary_units,
                    &windows,
                    deadline,
                ))
                .await;
            }
        }
        summary.read_ahead_unused = collector.ahead_count() as u64;
        summary.tally.gateway_reads = radius.reads();
        if let Some(meter) = &self.meter {
            summary.record_calls(delta(&calls_before, meter.counts()));
        }
        summary.compute_lower_bound();
        summary.duration_ms = started.elapsed().as_millis() as u64;
        let Some(after) = stopped_after else {
            summary.complete = true;
            return Ok(AuditOutcome::Complete(summary));
        };
        let next = Continuation {
            v: 1,
            audit_id: summary.audit_id.clone(),
            after,
            invocation: summary.invocation + 1,
        };
        let scheduled = match &self.continuer {
            Some(c) => match c.schedule(&next).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::error!(target: "audit", error = %e, "failed to schedule the continuation");
                    false
                }
            },
            None => false,
        };
        Ok(AuditOutcome::Continued {
            summary,
            continuation: next,
            scheduled,
        })
    }

    /// Waits for the window after the switch to be complete and published (never past the
    /// deadline's margin), then compares each rotated secret's providers' failures.
    async fn canary(
        &self,
        summary: &mut AuditSummary,
        radius: &BlastRadius<'_>,
        metrics: &dyn FailureMetrics,
        units: &[(String, Vec<ProviderRef>)],
        windows: &Windows,
        deadline: Option<Instant>,
    ) {
        if units.is_empty() {
            return;
        }
        let mut wait = windows.wait(Timestamp::now(), self.config.canary_lag);
        if let Some(d) = deadline {
            let left = d
                .saturating_duration_since(Instant::now())
                .saturating_sub(self.config.time_margin);
            if wait > left {
                tracing::warn!(target: "audit", window_minutes = self.config.canary_window_minutes, "the canary window ends after this invocation's deadline; comparing what is published so far");
                wait = left;
            }
        }
        if !wait.is_zero() {
            tracing::info!(target: "audit", wait_seconds = wait.as_secs(), "waiting for the canary window after the rotation");
            tokio::time::sleep(wait).await;
        }
        for (reference, providers) in units {
            let secret_arn = providers
                .iter()
                .filter_map(|p| p.secret_arn.clone())
                .find(|a| crate::secrets::identity::is_full_arn(a))
                .unwrap_or_else(|| reference.clone());
            let refs: Vec<&ProviderRef> = providers.iter().collect();
            let names = canary::watched(&refs).len();
            match canary::check(metrics, &refs, &secret_arn, None, windows).await {
                Ok(findings) => {
                    summary.tally.metric_reads += names.div_ceil(500) as u64;
                    let evaluation = Evaluation {
                        findings,
                        ..Evaluation::default()
                    };
                    self.emit(summary, radius, evaluation).await;
                }
                Err(e) => {
                    tracing::warn!(target: "audit", error = %e, secret = %secret_arn, "post-rotation canary not run")
                }
            }
        }
    }

    fn out_of_time(&self, deadline: Option<Instant>, last_wave: Duration) -> bool {
        deadline.is_some_and(|d| {
            d.saturating_duration_since(Instant::now()) < self.config.time_margin + last_wave
        })
    }

    async fn emit(
        &self,
        summary: &mut AuditSummary,
        radius: &BlastRadius<'_>,
        evaluation: Evaluation,
    ) {
        let findings = Box::pin(radius.annotate(evaluation.findings)).await;
        summary.count(&findings);
        Box::pin(self.publish.publish(&findings)).await;
    }
}

/// Which providers and secrets an invocation audits: its scope, and for a continued audit
/// only the secrets after the last one finished.
struct Selector<'a> {
    targets: Option<(Vec<SecretIdentity>, &'a [String])>,
    after: Option<&'a str>,
}

impl<'a> Selector<'a> {
    fn new(scope: &'a AuditScope, after: Option<&'a str>) -> Self {
        let targets = match scope {
            AuditScope::All => None,
            AuditScope::Targeted {
                secret_ids,
                provider_names,
            } => Some((
                secret_ids
                    .iter()
                    .map(|s| SecretIdentity::parse(s))
                    .collect(),
                provider_names.as_slice(),
            )),
        };
        Self { targets, after }
    }

    /// Whether the secret `reference` is audited because of provider `provider`.
    fn selects(&self, reference: &str, provider: &str) -> bool {
        if self.after.is_some_and(|a| reference <= a) {
            return false;
        }
        match &self.targets {
            None => true,
            Some((secrets, names)) => {
                let id = SecretIdentity::parse(reference);
                secrets.iter().any(|t| t.matches(&id)) || names.iter().any(|n| n == provider)
            }
        }
    }

    /// Whether a provider without a customer secret is audited.
    fn selects_loose(&self, provider: &str) -> bool {
        match &self.targets {
            None => true,
            Some((_, names)) => names.iter().any(|n| n == provider),
        }
    }
}

/// Providers grouped by the customer secret they reference (in ARN order), and the others
/// (MANAGED, or no reference), both limited to what `selector` selects.
fn group(
    providers: Vec<ProviderRef>,
    scope: &AuditScope,
    selector: &Selector,
) -> (BTreeMap<String, Vec<ProviderRef>>, Vec<ProviderRef>) {
    let mut units: BTreeMap<String, Vec<ProviderRef>> = BTreeMap::new();
    let mut loose = Vec::new();
    for p in providers {
        match (&p.source, p.secret_arn.clone()) {
            (SecretSource::External, Some(reference)) => {
                units.entry(reference).or_default().push(p)
            }
            _ => loose.push(p),
        }
    }
    units.retain(|reference, ps| ps.iter().any(|p| selector.selects(reference, &p.name)));
    loose.retain(|p| selector.selects_loose(&p.name));
    if let AuditScope::Targeted { provider_names, .. } = scope {
        for name in provider_names {
            let known = loose.iter().any(|p| &p.name == name)
                || units.values().flatten().any(|p| &p.name == name);
            if !known {
                tracing::warn!(target: "audit", provider = %name, "no credential provider of that name");
            }
        }
    }
    (units, loose)
}

fn delta(before: &BTreeMap<String, u64>, after: BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .into_iter()
        .map(|(k, v)| {
            let d = v.saturating_sub(before.get(&k).copied().unwrap_or(0));
            (k, d)
        })
        .filter(|(_, v)| *v > 0)
        .collect()
}
