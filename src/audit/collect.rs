//! Reads one wave of referenced secrets into [`SecretFacts`], close to the API-call lower
//! bound: metadata from the ListSecrets pages a full audit read while discovering providers
//! ([`list_all`]; DescribeSecret only for references the listing did not return), per secret
//! one GetResourcePolicy, one GetFunctionConcurrency per distinct rotation function, AWSCURRENT
//! values 20 per BatchGetSecretValue, one key-policy read per distinct customer-managed key
//! (cached across waves), and for rotator documents one upstream list plus the
//! AWSPREVIOUS/AWSPENDING reads lineage needs. Values are reduced to their shape as soon as they
//! are read.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;
use tokio::task::JoinSet;

use crate::findings::Timestamp;
use crate::secret_doc::SecretDocument;
use crate::secrets::collect::{lookup, policy_verdict, shape};
pub use crate::secrets::inventory::{BATCH_SIZE, LIST_PAGE};
use crate::secrets::{keys, Payload, SecretInventory, VersionRef};
use crate::upstream::lineage::{self, Lineage};
use crate::upstream::token_probe::{ProbeEndpoint, ProbeError, ProbeRequest, TokenProbe};
use crate::upstream::{token_in_label, ClientRef, Upstream, UpstreamDirectory, UpstreamError};

use super::config::AuditConfig;
use super::snapshot::{
    KeyFacts, Lookup, Observed, ProbeFacts, SecretFacts, SecretMeta, StagedFacts, UpstreamFacts,
    ValueShape,
};
use crate::secrets::PolicyVerdict;

/// Metadata of the secrets ListSecrets returned, by ARN.
#[derive(Debug, Default)]
pub struct Listed {
    pub secrets: HashMap<String, SecretMeta>,
    /// ListSecrets requests made (the failed one included).
    pub pages: u64,
}

/// Lists the secrets of the account and Region (planned deletions included), up to `max`
/// entries so memory stays bounded however many secrets the account holds. A failed page, or
/// the cap, ends the listing: what was listed is used, the rest is described one by one.
pub async fn list_all(inventory: &dyn SecretInventory, max: usize) -> Listed {
    let mut listed = Listed::default();
    let mut next = None;
    while inventory.lists() {
        listed.pages += 1;
        match inventory.list_page(next.take()).await {
            Ok(page) => {
                listed
                    .secrets
                    .extend(page.secrets.into_iter().map(|m| (m.arn.clone(), m)));
                match page.next {
                    Some(_) if listed.secrets.len() >= max => {
                        tracing::info!(target: "audit", listed = listed.secrets.len(), "ListSecrets stopped at its cap; describing the remaining referenced secrets one by one");
                        return listed;
                    }
                    Some(t) => next = Some(t),
                    None => return listed,
                }
            }
            Err(code) => {
                tracing::info!(target: "audit", error = %code, "ListSecrets failed; describing the remaining secrets one by one");
                return listed;
            }
        }
    }
    listed
}

/// Work counts the API-call lower bound is computed from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub listed_pages: u64,
    pub described: u64,
    pub functions: u64,
    pub values: u64,
    pub policies: u64,
    pub keys: u64,
    pub upstream_lists: u64,
    pub stage_reads: u64,
    pub probes: u64,
    /// Security Hub GetFindings pages read for the findings lifecycle.
    pub history_pages: u64,
    /// Gateway List/Get calls for the blast radius (only when a provider has a finding).
    pub gateway_reads: u64,
    /// GetMetricData calls of the post-rotation canary.
    pub metric_reads: u64,
}

impl Tally {
    pub fn add(&mut self, o: &Tally) {
        self.listed_pages += o.listed_pages;
        self.described += o.described;
        self.functions += o.functions;
        self.values += o.values;
        self.policies += o.policies;
        self.keys += o.keys;
        self.upstream_lists += o.upstream_lists;
        self.stage_reads += o.stage_reads;
        self.probes += o.probes;
        self.history_pages += o.history_pages;
        self.gateway_reads += o.gateway_reads;
        self.metric_reads += o.metric_reads;
    }
}

/// Token probes allowed in this invocation, spaced by an interval.
struct ProbeBudget {
    probe: TokenProbe,
    state: tokio::sync::Mutex<(usize, Option<Instant>)>,
    max: usize,
    interval: Duration,
}

/// Answers read at most once per invocation, by key (concurrent askers wait for the one read).
struct OnceMap<V>(Mutex<HashMap<String, Arc<OnceCell<V>>>>);

impl<V: Clone> OnceMap<V> {
    fn new() -> Self {
        Self(Mutex::new(HashMap::new()))
    }

    /// The answer for `key`, reading it with `read` if nobody has; and whether this call read it.
    async fn get_or_read<F: Future<Output = V>>(&self, key: &str, read: F) -> (V, bool) {
        let cell = self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.to_string())
            .or_default()
            .clone();
        let mut fetched = false;
        let value = cell
            .get_or_init(|| async {
                fetched = true;
                read.await
            })
            .await
            .clone();
        (value, fetched)
    }

    /// The answer for `key` if it was read.
    fn get(&self, key: &str) -> Option<V> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key).and_then(|cell| cell.get().cloned())
    }
}

/// Collects facts; shared by every wave of one invocation.
pub struct Collector {
    inventory: Arc<dyn SecretInventory>,
    upstreams: Option<Arc<dyn UpstreamDirectory>>,
    region: String,
    config: AuditConfig,
    keys: OnceMap<KeyFacts>,
    /// GetFunctionConcurrency answers, one call per rotation function per invocation.
    functions: OnceMap<Option<bool>>,
    /// Listed metadata of referenced secrets not audited yet (taken as waves use it).
    listed: Mutex<HashMap<String, SecretMeta>>,
    /// Facts read ahead of their wave ([`Collector::read_ahead`]), and what reading them took.
    ahead: Mutex<(HashMap<String, SecretFacts>, Tally)>,
    probes: Option<Arc<ProbeBudget>>,
}

/// What one secret yields besides its facts: its rotator document, kept until the upstream
/// phase of the same wave.
struct Read {
    facts: SecretFacts,
    doc: Option<SecretDocument>,
}

impl Collector {
    pub fn new(
        inventory: Arc<dyn SecretInventory>,
        upstreams: Option<Arc<dyn UpstreamDirectory>>,
        region: impl Into<String>,
        config: AuditConfig,
    ) -> Arc<Self> {
        let probes = config.token_probe.then(|| {
            Arc::new(ProbeBudget {
                probe: TokenProbe::new(
                    Duration::from_secs(3),
                    Duration::from_millis(250),
                    config.origins.clone(),
                ),
                state: tokio::sync::Mutex::new((0, None)),
                max: config.max_probes,
                interval: config.probe_interval,
            })
        });
        Arc::new(Self {
            inventory,
            upstreams,
            region: region.into(),
            config,
            keys: OnceMap::new(),
            functions: OnceMap::new(),
            listed: Mutex::new(HashMap::new()),
            ahead: Mutex::new((HashMap::new(), Tally::default())),
            probes,
        })
    }

    /// Facts for `references` (as providers name them) and the keys they use: those read
    /// ahead are taken as they are, the others read now. The tally counts the reads made now.
    pub async fn collect(
        self: &Arc<Self>,
        references: Vec<String>,
    ) -> (
        BTreeMap<String, SecretFacts>,
        BTreeMap<String, KeyFacts>,
        Tally,
    ) {
        let mut ready = Vec::new();
        let mut missing = Vec::new();
        {
            let mut ahead = self.ahead.lock().unwrap_or_else(|p| p.into_inner());
            for r in references {
                match ahead.0.remove(&r) {
                    Some(f) => ready.push(f),
                    None => missing.push(r),
                }
            }
        }
        let (mut secrets, mut keys, tally) = if missing.is_empty() {
            Default::default()
        } else {
            self.read(missing).await
        };
        for facts in ready {
            if let Some(key) = facts.meta().and_then(SecretMeta::customer_key) {
                if let Some(k) = self.keys.get(key) {
                    keys.insert(key.to_string(), k);
                }
            }
            secrets.insert(facts.reference.clone(), facts);
        }
        (secrets, keys, tally)
    }

    /// Reads `references` now and keeps their facts for the wave that will ask for them.
    pub async fn read_ahead(self: &Arc<Self>, references: Vec<String>) {
        let (secrets, _, tally) = self.read(references).await;
        let mut ahead = self.ahead.lock().unwrap_or_else(|p| p.into_inner());
        ahead.0.extend(secrets);
        ahead.1.add(&tally);
    }

    /// How many secrets' facts are waiting for their wave.
    pub fn ahead_count(&self) -> usize {
        self.ahead.lock().unwrap_or_else(|p| p.into_inner()).0.len()
    }

    /// Whether every one of `references` was read ahead (and not taken yet).
    pub fn all_ahead(&self, references: &[String]) -> bool {
        let ahead = self.ahead.lock().unwrap_or_else(|p| p.into_inner());
        references.iter().all(|r| ahead.0.contains_key(r))
    }

    /// What reading ahead has taken so far (then zero).
    pub fn take_ahead_tally(&self) -> Tally {
        std::mem::take(&mut self.ahead.lock().unwrap_or_else(|p| p.into_inner()).1)
    }

    async fn read(
        self: &Arc<Self>,
        references: Vec<String>,
    ) -> (
        BTreeMap<String, SecretFacts>,
        BTreeMap<String, KeyFacts>,
        Tally,
    ) {
        let mut tally = Tally::default();
        let limit = self.config.concurrency;
        // 1. Metadata: listed, else DescribeSecret (cross-Region references are not looked
        //    up); then whether the rotation function exists.
        let me = self.clone();
        let described = par_map(references, limit, move |r| {
            let me = me.clone();
            async move {
                let mut t = Tally::default();
                let lookup = match me.take_listed(&r) {
                    Some(meta) => Lookup::Found(meta),
                    None => {
                        let found = lookup(me.inventory.as_ref(), &r, &me.region).await;
                        t.described = u64::from(!matches!(found, Lookup::CrossRegion { .. }));
                        found
                    }
                };
                let lookup = match lookup {
                    Lookup::Found(mut meta) => {
                        if meta.rotation_enabled && !meta.managed_rotation {
                            if let Some(f) = meta.rotation_lambda_arn.clone() {
                                let (exists, fetched) = me.function_exists(&f).await;
                                meta.rotation_lambda_exists = exists;
                                t.functions = u64::from(fetched);
                            }
                        }
                        Lookup::Found(meta)
                    }
                    other => other,
                };
                (SecretFacts::new(r, lookup), t)
            }
        })
        .await;
        let described: Vec<SecretFacts> = described
            .into_iter()
            .map(|(f, t)| {
                tally.add(&t);
                f
            })
            .collect();
        let readable: Vec<(usize, SecretMeta)> = described
            .iter()
            .enumerate()
            .filter_map(|(i, f)| {
                f.meta()
                    .filter(|m| m.deleted_date.is_none())
                    .map(|m| (i, m.clone()))
            })
            .collect();
        tally.policies = readable.len() as u64;
        tally.values = readable.len() as u64;
        // 2. Policies, values and keys, concurrently.
        let (policies, values, keys) = tokio::join!(
            self.policies(&readable),
            self.values(&readable),
            self.keys_for(&readable)
        );
        tally.keys = keys.1;
        let mut reads: Vec<Read> = described
            .into_iter()
            .map(|facts| Read { facts, doc: None })
            .collect();
        for ((i, _), verdict) in readable.iter().zip(policies) {
            reads[*i].facts.policy = Some(verdict);
        }
        for ((i, _), value) in readable.iter().zip(values) {
            let (shape, doc) = value;
            reads[*i].facts.current = Some(shape);
            reads[*i].facts.coordinates = doc.as_ref().map(SecretDocument::coordinates);
            reads[*i].doc = doc;
        }
        // 3. Upstream, for rotator documents.
        let me = self.clone();
        let upstream_inputs: Vec<(usize, SecretMeta, SecretDocument)> = reads
            .iter_mut()
            .enumerate()
            .filter_map(|(i, r)| {
                let doc = r.doc.take()?;
                Some((i, r.facts.meta()?.clone(), doc))
            })
            .collect();
        let indexes: Vec<usize> = upstream_inputs.iter().map(|(i, _, _)| *i).collect();
        let upstream = par_map(upstream_inputs, limit, move |(_, meta, doc)| {
            let me = me.clone();
            async move { me.upstream(&meta, doc).await }
        })
        .await;
        for (i, (facts, t)) in indexes.into_iter().zip(upstream) {
            tally.add(&t);
            reads[i].facts.upstream = facts;
        }
        let secrets = reads
            .into_iter()
            .map(|r| (r.facts.reference.clone(), r.facts))
            .collect();
        (secrets, keys.0, tally)
    }

    /// Uses `listed` (ListSecrets metadata by ARN) for the references it names.
    pub fn set_listed(&self, listed: HashMap<String, SecretMeta>) {
        *self.listed.lock().unwrap_or_else(|p| p.into_inner()) = listed;
    }

    /// Drops listed metadata no reference will ask for.
    pub fn retain_listed(&self, keep: impl Fn(&str) -> bool) {
        self.listed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|arn, _| keep(arn));
    }

    fn take_listed(&self, reference: &str) -> Option<SecretMeta> {
        self.listed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(reference)
    }

    /// Whether `arn` exists, read once per invocation; and whether this call read it.
    async fn function_exists(&self, arn: &str) -> (Option<bool>, bool) {
        self.functions
            .get_or_read(arn, self.inventory.function_exists(arn))
            .await
    }

    async fn policies(
        self: &Arc<Self>,
        readable: &[(usize, SecretMeta)],
    ) -> Vec<Observed<PolicyVerdict>> {
        let me = self.clone();
        let arns: Vec<String> = readable.iter().map(|(_, m)| m.arn.clone()).collect();
        par_map(arns, self.config.concurrency, move |arn| {
            let me = me.clone();
            async move { policy_verdict(me.inventory.as_ref(), &arn).await }
        })
        .await
    }

    /// AWSCURRENT shapes (and rotator documents), 20 secrets per call.
    async fn values(
        self: &Arc<Self>,
        readable: &[(usize, SecretMeta)],
    ) -> Vec<(Observed<ValueShape>, Option<SecretDocument>)> {
        let me = self.clone();
        let batches: Vec<Vec<(String, Option<String>)>> = readable
            .chunks(BATCH_SIZE)
            .map(|c| {
                c.iter()
                    .map(|(_, m)| {
                        (
                            m.arn.clone(),
                            m.version_with("AWSCURRENT").map(str::to_string),
                        )
                    })
                    .collect()
            })
            .collect();
        let shaped = par_map(batches, self.config.concurrency, move |batch| {
            let me = me.clone();
            async move {
                me.inventory
                    .current_values(&batch)
                    .await
                    .into_iter()
                    .map(shape)
                    .collect::<Vec<_>>()
            }
        })
        .await;
        shaped.into_iter().flatten().collect()
    }

    /// Key facts for the customer-managed keys of `readable`; fetched once per key per
    /// invocation. Returns them and how many were fetched now.
    async fn keys_for(
        self: &Arc<Self>,
        readable: &[(usize, SecretMeta)],
    ) -> (BTreeMap<String, KeyFacts>, u64) {
        let mut ids: Vec<String> = readable
            .iter()
            .filter_map(|(_, m)| m.customer_key().map(str::to_string))
            .collect();
        ids.sort();
        ids.dedup();
        let me = self.clone();
        let read = par_map(ids, self.config.concurrency, move |id| {
            let me = me.clone();
            async move {
                let read = keys::read(me.inventory.as_ref(), &id);
                let (facts, fetched) = me.keys.get_or_read(&id, read).await;
                (id, facts, fetched)
            }
        })
        .await;
        let fetched = read.iter().filter(|(_, _, fetched)| *fetched).count() as u64;
        let facts = read.into_iter().map(|(id, facts, _)| (id, facts)).collect();
        (facts, fetched)
    }

    async fn upstream(
        &self,
        meta: &SecretMeta,
        current: SecretDocument,
    ) -> (Option<Observed<UpstreamFacts>>, Tally) {
        let mut tally = Tally::default();
        let Some(directory) = &self.upstreams else {
            return (None, tally);
        };
        let upstream = match directory.upstream_for(&current.profile).await {
            Ok(u) => u,
            Err(e) => return (Some(Observed::Unreadable(short(&e.to_string()))), tally),
        };
        let client = ClientRef {
            client_id: current.client_id.clone(),
        };
        tally.upstream_lists = 1;
        let live = match upstream.list_secrets(&client).await {
            Ok(l) => Some(l),
            Err(UpstreamError::ClientNotFound { .. }) => None,
            Err(e) => return (Some(Observed::Unreadable(short(&e.to_string()))), tally),
        };
        let current_version = meta.version_with("AWSCURRENT");
        let read_stage = |stage: &'static str| {
            let other = meta
                .version_with(stage)
                .filter(|v| Some(*v) != current_version)
                .is_some();
            other.then_some(stage)
        };
        let (prev_stage, pend_stage) = (read_stage("AWSPREVIOUS"), read_stage("AWSPENDING"));
        let mut previous = None;
        let mut pending = None;
        for (stage, slot) in [(prev_stage, &mut previous), (pend_stage, &mut pending)] {
            if let Some(stage) = stage {
                tally.stage_reads += 1;
                // A garbled or empty older version informs nothing; it is not a finding here.
                if let Ok(Some(Payload::Text(text))) = self
                    .inventory
                    .value_at(&meta.arn, VersionRef::Stage(stage))
                    .await
                {
                    *slot = SecretDocument::parse(Some(&text)).ok();
                }
            }
        }
        let grace = current
            .profile
            .grace_period
            .unwrap_or(self.config.default_grace_period);
        let grace_ends = current
            .state
            .as_ref()
            .filter(|s| s.created_at > 0)
            .map(|s| {
                Timestamp::from_millis(
                    s.created_at
                        .saturating_add(grace.as_secs())
                        .saturating_mul(1000),
                )
            });
        let staged = current.profile.vendor.map(|vendor| StagedFacts {
            vendor: vendor.name(),
            console: vendor.console(),
            previous_version: meta.version_with("AWSPREVIOUS").map(str::to_string),
            superseded_at: current
                .state
                .as_ref()
                .filter(|s| s.created_at > 0)
                .map(|s| Timestamp::from_millis(s.created_at.saturating_mul(1000))),
            revoked_version: meta.revoked_version.clone(),
        });
        let probe = match (&live, &self.probes) {
            // A staged vendor proves secrets its own way (testSecret does); not here.
            (Some(_), Some(_)) if staged.is_some() => ProbeFacts::NotRun,
            (Some(_), Some(budget)) => {
                tally.probes = 1;
                run_probe(budget, &current, upstream.as_ref()).await
            }
            _ => ProbeFacts::NotRun,
        };
        let (current_lineage, previous_lineage, pending_lineage) = match &live {
            Some(l) => (
                lineage::attribute(&current, pending.as_ref(), l),
                previous
                    .as_ref()
                    .map(|p| lineage::attribute(p, Some(&current), l)),
                pending.as_ref().map(|p| lineage::attribute(p, None, l)),
            ),
            None => (Lineage::Absent, None, None),
        };
        let facts = UpstreamFacts {
            client: current.coordinates(),
            labelled_ours: live
                .iter()
                .flatten()
                .filter(|s| s.label.as_deref().and_then(token_in_label).is_some())
                .map(|s| s.id.clone())
                .collect(),
            live: live.map(|l| l.into_iter().map(|s| s.id).collect()),
            current: current_lineage,
            previous: previous_lineage,
            pending: pending_lineage,
            max_live: upstream.capabilities().max_live_secrets,
            grace_ends,
            probe,
            cutover: current.profile.cutover,
            staged,
        };
        (Some(Observed::Ok(facts)), tally)
    }
}

async fn run_probe(
    budget: &ProbeBudget,
    doc: &SecretDocument,
    upstream: &dyn Upstream,
) -> ProbeFacts {
    {
        let mut state = budget.state.lock().await;
        if state.0 >= budget.max {
            return ProbeFacts::NotRun;
        }
        if let Some(last) = state.1 {
            let wait = (last + budget.interval).saturating_duration_since(Instant::now());
            tokio::time::sleep(wait).await;
        }
        *state = (state.0 + 1, Some(Instant::now()));
    }
    let derived;
    let endpoint = match &doc.profile.token_endpoint {
        Some(named) => ProbeEndpoint::Document(named),
        None => match upstream.token_endpoint().await {
            Ok(url) => {
                derived = url;
                ProbeEndpoint::Derived(&derived)
            }
            Err(e) => return ProbeFacts::Inconclusive(short(&e.to_string())),
        },
    };
    let request = ProbeRequest {
        endpoint,
        client_id: &doc.client_id,
        client_secret: &doc.client_secret,
        scopes: &doc.profile.scopes,
        auth: doc.profile.client_auth,
    };
    match budget.probe.probe(&request).await {
        Ok(_) => ProbeFacts::Accepted,
        Err(e @ ProbeError::InvalidClient { .. }) => ProbeFacts::Rejected(short(&e.to_string())),
        Err(e) => ProbeFacts::Inconclusive(short(&e.to_string())),
    }
}

fn short(s: &str) -> String {
    crate::findings::truncate_utf8(s, 300).into_owned()
}

/// Maps `items` through `f` with at most `limit` in flight; results keep the input order.
pub async fn par_map<T, R, F, Fut>(items: Vec<T>, limit: usize, f: F) -> Vec<R>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
{
    let n = items.len();
    let mut out: Vec<Option<R>> = (0..n).map(|_| None).collect();
    let mut pending = items.into_iter().enumerate();
    let mut set = JoinSet::new();
    loop {
        while set.len() < limit.max(1) {
            let Some((i, item)) = pending.next() else {
                break;
            };
            let fut = f(item);
            set.spawn(async move { (i, fut.await) });
        }
        match set.join_next().await {
            Some(Ok((i, r))) => out[i] = Some(r),
            // A panicking task is a bug; surface it rather than return a short result.
            Some(Err(e)) => std::panic::resume_unwind(e.into_panic()),
            None => break,
        }
    }
    out.into_iter().flatten().collect()
}

/// An inventory for unit tests: every secret exists, readable and empty; it records what was
/// described and how values were batched, and lists `pages` pages of 100 when asked to.
#[cfg(test)]
pub(crate) mod recording {
    use super::*;
    use crate::secrets::{KeyPolicyRead, ReadError, SecretPage};
    use async_trait::async_trait;

    #[derive(Default)]
    pub(crate) struct Recording {
        pub pages: usize,
        pub described: Mutex<Vec<String>>,
        pub batches: Mutex<Vec<usize>>,
    }

    impl Recording {
        pub fn paged(pages: usize) -> Self {
            Self {
                pages,
                ..Self::default()
            }
        }
    }

    pub(crate) fn meta(arn: &str) -> SecretMeta {
        SecretMeta {
            arn: arn.to_string(),
            ..SecretMeta::default()
        }
    }

    #[async_trait]
    impl SecretInventory for Recording {
        async fn describe(&self, secret_id: &str) -> Lookup {
            self.described.lock().unwrap().push(secret_id.to_string());
            Lookup::Found(meta(secret_id))
        }
        fn lists(&self) -> bool {
            self.pages > 0
        }
        async fn list_page(&self, next: Option<String>) -> Result<SecretPage, ReadError> {
            let page: usize = next.map_or(0, |n| n.parse().unwrap());
            Ok(SecretPage {
                secrets: (0..LIST_PAGE)
                    .map(|i| meta(&format!("arn:s{page}-{i}")))
                    .collect(),
                next: (page + 1 < self.pages).then(|| (page + 1).to_string()),
            })
        }
        async fn current_values(
            &self,
            secrets: &[(String, Option<String>)],
        ) -> Vec<Result<Option<Payload>, ReadError>> {
            self.batches.lock().unwrap().push(secrets.len());
            secrets.iter().map(|_| Ok(None)).collect()
        }
        async fn value_at(&self, _: &str, _: VersionRef<'_>) -> Result<Option<Payload>, ReadError> {
            Ok(None)
        }
        async fn resource_policy(&self, _: &str) -> Result<Option<String>, ReadError> {
            Ok(None)
        }
        async fn key_policy(&self, _: &str) -> Result<KeyPolicyRead, ReadError> {
            Ok(KeyPolicyRead::AwsManaged)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::recording::Recording;
    use super::*;

    #[tokio::test]
    async fn par_map_keeps_order_and_bounds_concurrency() {
        let in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (f, p) = (in_flight.clone(), peak.clone());
        let out = par_map((0..50).collect(), 4, move |i: u64| {
            let (f, p) = (f.clone(), p.clone());
            async move {
                let now = f.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                p.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50 - i)).await;
                f.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                i * 2
            }
        })
        .await;
        assert_eq!(out, (0..50).map(|i| i * 2).collect::<Vec<_>>());
        assert!(peak.load(std::sync::atomic::Ordering::SeqCst) <= 4);
    }

    #[tokio::test]
    async fn the_listing_stops_at_its_cap_and_otherwise_reads_every_page() {
        let seven = Recording::paged(7);
        let all = list_all(&seven, 10_000).await;
        assert_eq!((all.pages, all.secrets.len()), (7, 700));
        let capped = list_all(&seven, 250).await;
        assert_eq!((capped.pages, capped.secrets.len()), (3, 300));
    }

    #[test]
    fn a_value_becomes_a_shape_and_a_document_only_when_it_is_one() {
        let (s, d) = shape(Ok(Some(Payload::Binary)));
        assert_eq!(s, Observed::Ok(ValueShape::Binary));
        assert!(d.is_none());
        let (s, _) = shape(Err(crate::secrets::ReadError::from(
            "AccessDeniedException",
        )));
        assert_eq!(s, Observed::Unreadable("AccessDeniedException".into()));
    }
}
