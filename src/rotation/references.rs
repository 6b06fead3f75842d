//! Credential providers that depend on the rotated secret: pre-flight before promotion
//! (testSecret), a baseline just before and a confirmation just after promotion (finishSecret),
//! and rollback when the new version itself breaks a provider.
//!
//! Rollback rule: AWSCURRENT moves back to the previous version only when (1) a provider that
//! resolved before promotion fails after it for a reason that depends on the version's content
//! (its JSON key missing, empty or not a string; or the data-plane probe failing after promotion
//! having succeeded just before it), and (2) the previous version's upstream secret is still
//! live. Anything else (status, Region, deletion, resource or key policy) is the same for every
//! version and is reported, not rolled back.

use super::{client_ref, RotationError, Rotator};
use crate::agentcore::check::{self, kind_label, who, KeyProblem, Problem};
use crate::agentcore::probe::ProbeFailure;
use crate::agentcore::references::arn_account;
use crate::agentcore::report;
use crate::agentcore::{referencing, AgentCoreHooks, BlastRadius, ProviderKind, ProviderRef, Via};
use crate::findings::catalogue as rules;
use crate::findings::{Finding, FindingsError, Timestamp};
use crate::secret_doc::SecretDocument;
use crate::secrets::collect::read_one;
use crate::secrets::store::{SecretStore, StoreError, VersionRef, AWSCURRENT};
use crate::secrets::{
    KeyPolicyRead, Lookup, Payload, ReadError, SecretIdentity, SecretInventory, ValueHash,
};
use crate::upstream::lineage::{self, Lineage, Version};
use async_trait::async_trait;

/// A provider that depends on the secret (owned: the directory's full list is dropped).
#[derive(Clone, Debug)]
pub struct Dependent {
    pub provider: ProviderRef,
    /// `(secret_arn, json_key)` for EXTERNAL providers; `None` for a MANAGED provider of the
    /// same client.
    pub reference: Option<(String, String)>,
}

async fn dependents(
    ac: &AgentCoreHooks,
    secret_arn: &str,
    client_id: Option<&str>,
) -> Result<Vec<Dependent>, RotationError> {
    let providers = ac.directory.providers().await?;
    let identity = SecretIdentity::parse(secret_arn);
    Ok(referencing(&providers, &identity, client_id)
        .into_iter()
        .map(|r| Dependent {
            provider: r.provider.clone(),
            reference: match r.via {
                Via::Reference {
                    secret_arn,
                    json_key,
                } => Some((secret_arn.to_string(), json_key.to_string())),
                Via::ManagedSameClient => None,
            },
        })
        .collect())
}

/// testSecret: promotion must not break a provider that works. A provider whose JSON key
/// AWSCURRENT holds but AWSPENDING does not blocks promotion. A key neither holds is a reference
/// that is already broken: it is reported (`REF-003`) and the rotation goes on, because refusing
/// would freeze rotation for every other reader of the secret without fixing that one.
pub async fn preflight(
    r: &Rotator,
    ac: &AgentCoreHooks,
    secret_arn: &str,
    pending: &SecretDocument,
) -> Result<(), RotationError> {
    let deps = dependents(ac, secret_arn, Some(&pending.client_id)).await?;
    let current = r.current_doc(secret_arn).await?;
    let mut blocked = Vec::new();
    let mut already_broken = 0usize;
    let mut findings = Vec::new();
    let (scope, now) = (report::scope_of(secret_arn), Timestamp::now());
    for d in &deps {
        let p = &d.provider;
        let Some((_, key)) = &d.reference else {
            tracing::info!(
                provider = %p.name,
                provider_arn = %p.arn,
                "MANAGED credential provider for the same client keeps its own copy of the secret; not resolved through this secret"
            );
            continue;
        };
        if pending.string_at(key).is_some() {
            continue;
        }
        if current.string_at(key).is_some() {
            blocked.push(format!(
                "{} provider {} references JSON key {key:?}, which AWSCURRENT holds but AWSPENDING does not (missing or empty)",
                kind_label(p),
                who(p)
            ));
        } else {
            // Reported as REF-003 by finishSecret's check of every provider.
            already_broken += 1;
            tracing::warn!(
                provider = %p.name,
                provider_arn = %p.arn,
                json_key = %key,
                "credential provider references a JSON key that AWSCURRENT lacks too: already broken, reported, not blocking"
            );
            continue;
        }
        if let Some(scope) = &scope {
            let problem = Problem::KeyUnusable {
                key: key.clone(),
                why: KeyProblem::Missing,
            };
            findings.push(report::problem_finding(scope, p, secret_arn, &problem, now));
        }
    }
    emit(ac, findings).await;
    if !blocked.is_empty() {
        return Err(RotationError::Preflight(format!(
            "{}; add the key to the pending document or correct the provider's jsonKey, then rotate again",
            blocked.join("; ")
        )));
    }
    tracing::info!(
        providers = deps.len(),
        already_broken,
        "credential provider pre-flight passed"
    );
    Ok(())
}

/// One dependent provider as seen just before promotion.
#[derive(Debug)]
pub struct Entry {
    pub dependent: Dependent,
    /// `None` for MANAGED providers (not resolved through this secret).
    pub before: Option<Result<ValueHash, Problem>>,
    /// The data-plane probe succeeded before promotion (and, for API keys, returned the value
    /// the reference resolved to).
    pub probe_ok_before: bool,
}

/// Dependent providers and how they resolve just before promotion.
#[derive(Debug)]
pub struct Baseline {
    pub entries: Vec<Entry>,
    /// AWSCURRENT before promotion; `None` when it could not be read.
    pub previous: Option<SecretDocument>,
    /// Why it could not be read: a rollback needed then fails the step instead of being
    /// ruled out, so the retry decides with a readable previous version.
    pub previous_error: Option<StoreError>,
}

type ProbeResult = Result<Option<ValueHash>, ProbeFailure>;

/// The data-plane probe of `p`, when one is configured and applies: the workload identity is
/// this account's, so a provider of a consumer account (another account than the rotated
/// secret's) is confirmed through its reference alone — a provider of the same name here is
/// another provider.
async fn probe(
    ac: &AgentCoreHooks,
    p: &ProviderRef,
    doc: &SecretDocument,
    secret_arn: &str,
) -> Option<ProbeResult> {
    let dp = ac.data_plane.as_ref()?;
    if arn_account(&p.arn) != arn_account(secret_arn) {
        return None;
    }
    Some(match p.kind {
        ProviderKind::ApiKey => dp.api_key_hash(&p.name).await.map(Some),
        ProviderKind::Oauth2 => dp
            .oauth2_m2m(&p.name, &doc.profile.scopes)
            .await
            .map(|()| None),
        // No data-plane read of a payment credential: confirmed through its reference alone.
        ProviderKind::Payment => return None,
    })
}

/// A probe result agrees with `expected`: an M2M token was issued, or the API key returned
/// hashes to `expected`.
fn probe_agrees(result: &ProbeResult, expected: ValueHash) -> bool {
    matches!(result, Ok(None)) || matches!(result, Ok(Some(h)) if *h == expected)
}

/// Which version counts as "before promotion".
#[derive(Clone, Copy, Debug)]
pub enum Before<'a> {
    /// AWSCURRENT, read just before the move (with the data-plane probe).
    Current,
    /// A version that was AWSCURRENT before a move whose pre-move state was lost (a retry after
    /// the function died mid-confirmation). The data plane serves AWSCURRENT only, so it cannot
    /// be probed as it was: only content-dependent breaks can then justify a rollback.
    Superseded(&'a str),
}

pub async fn baseline(
    r: &Rotator,
    ac: &AgentCoreHooks,
    secret_arn: &str,
    before: Before<'_>,
) -> Result<Baseline, RotationError> {
    let at = match before {
        Before::Current => VersionRef::Stage(AWSCURRENT),
        Before::Superseded(id) => VersionRef::Id(id),
    };
    // A read error is kept: it must not be mistaken for "no previous version" (which rules out
    // a rollback), but it only matters if a rollback is needed. An unreadable document (not
    // the rotator's) is simply no previous document.
    let (previous, previous_error) = match r.store.get_value(secret_arn, at).await {
        Ok(payload) => (
            payload.and_then(|p| SecretDocument::parse(p.text()).ok()),
            None,
        ),
        Err(e) => (None, Some(e)),
    };
    let client_id = previous.as_ref().map(|d| d.client_id.as_str());
    let before_is_current = matches!(before, Before::Current);
    let mut entries = Vec::new();
    for dependent in dependents(ac, secret_arn, client_id).await? {
        let (before, probe_ok_before) = match (&dependent.reference, &previous) {
            (None, _) => (None, false),
            (Some((arn, _)), prev) => {
                let before = resolve(r, ac, &dependent.provider, arn, secret_arn, at).await?;
                let probe_ok = match (&before, prev, before_is_current) {
                    (Ok(hash), Some(prev), true) => {
                        probe(ac, &dependent.provider, prev, secret_arn)
                            .await
                            .is_some_and(|res| probe_agrees(&res, *hash))
                    }
                    _ => false,
                };
                (Some(before), probe_ok)
            }
        };
        entries.push(Entry {
            dependent,
            before,
            probe_ok_before,
        });
    }
    Ok(Baseline {
        entries,
        previous,
        previous_error,
    })
}

/// Reports what the baseline found when finishSecret stops before promotion.
pub async fn report_baseline(ac: &AgentCoreHooks, secret_arn: &str, baseline: &Baseline) {
    let now = Timestamp::now();
    let Some(scope) = report::scope_of(secret_arn) else {
        return;
    };
    let findings: Vec<Result<Finding, FindingsError>> = baseline
        .entries
        .iter()
        .filter_map(|e| {
            let p = &e.dependent.provider;
            match (&e.dependent.reference, &e.before) {
                (None, _) => Some(managed_finding(&scope, p, secret_arn, now)),
                (Some((arn, _)), Some(Err(problem))) => {
                    Some(report::problem_finding(&scope, p, arn, problem, now))
                }
                _ => None,
            }
        })
        .collect();
    emit(ac, findings).await;
}

/// The expected value after promotion: the rotated client secret for OAuth2 providers, the
/// new document's value under the key for API-key providers.
fn expected(p: &ProviderRef, key: &str, doc: &SecretDocument) -> Option<ValueHash> {
    match p.kind {
        ProviderKind::Oauth2 => Some(ValueHash::of(doc.client_secret.expose())),
        ProviderKind::ApiKey | ProviderKind::Payment => {
            doc.string_at(key).map(|v| ValueHash::of(v.expose()))
        }
    }
}

/// finishSecret, after promotion: confirm every dependent provider, report what is wrong, and
/// roll back when the rule in this module's documentation says so.
pub async fn confirm(
    r: &Rotator,
    ac: &AgentCoreHooks,
    secret_arn: &str,
    previous_version: &str,
    token: &str,
    pending: &SecretDocument,
    baseline: &Baseline,
) -> Result<(), RotationError> {
    let now = Timestamp::now();
    let scope = report::scope_of(secret_arn);
    let mut findings: Vec<Result<Finding, FindingsError>> = Vec::new();
    let mut breaks: Vec<(&ProviderRef, String)> = Vec::new();
    let mut confirmed = 0usize;
    for e in &baseline.entries {
        let p = &e.dependent.provider;
        let Some((arn, key)) = &e.dependent.reference else {
            if let Some(scope) = &scope {
                findings.push(managed_finding(scope, p, secret_arn, now));
            }
            continue;
        };
        let after = resolve(r, ac, p, arn, secret_arn, VersionRef::Stage(AWSCURRENT)).await?;
        let hash = match after {
            Err(problem) => {
                if problem.depends_on_version() && matches!(e.before, Some(Ok(_))) {
                    breaks.push((
                        p,
                        format!(
                            "{} provider {}: {problem} in the new version",
                            kind_label(p),
                            who(p)
                        ),
                    ));
                } else if let Some(scope) = &scope {
                    findings.push(report::problem_finding(scope, p, arn, &problem, now));
                }
                continue;
            }
            Ok(hash) => hash,
        };
        let wanted = expected(p, key, pending);
        if wanted != Some(hash) {
            if let Some(scope) = &scope {
                let problem = Problem::NotRotatedValue {
                    how: "read through the reference".into(),
                };
                findings.push(report::problem_finding(scope, p, arn, &problem, now));
            }
            continue;
        }
        match probe(ac, p, pending, secret_arn).await {
            // Not a verdict about the provider: fail the step, keep AWSPENDING, confirm again.
            Some(Err(f)) if f.transient => return Err(RotationError::DataPlaneUnavailable(f)),
            Some(result) if !probe_agrees(&result, hash) => {
                let what = match &result {
                    Err(f) => f.to_string(),
                    Ok(_) => "GetResourceApiKey returned a value other than the rotated one".into(),
                };
                if e.probe_ok_before {
                    breaks.push((p, format!("{} provider {}: data plane {what} with the new version but not with the previous one", kind_label(p), who(p))));
                } else if let Some(scope) = &scope {
                    let problem = Problem::NotRotatedValue {
                        how: format!("data-plane probe: {what}"),
                    };
                    findings.push(report::problem_finding(scope, p, arn, &problem, now));
                }
            }
            _ => {
                confirmed += 1;
                tracing::info!(
                    provider = %who(p),
                    provider_arn = %p.arn,
                    "credential provider confirmed: it resolves the rotated value"
                );
            }
        }
    }

    if breaks.is_empty() {
        tracing::info!(
            confirmed,
            problems = findings.len(),
            "credential providers checked after promotion"
        );
        emit(ac, findings).await;
        return Ok(());
    }
    let reason = breaks
        .iter()
        .map(|(_, m)| m.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let providers: Vec<&ProviderRef> = breaks.iter().map(|(p, _)| *p).collect();
    let live =
        previous_upstream_live(r, baseline.previous.as_ref(), previous_version, pending).await?;
    let (rule, result, detail) = match live {
        Ok(()) => {
            r.store
                .update_stage(secret_arn, AWSCURRENT, Some(previous_version), Some(token))
                .await?;
            tracing::error!(
                previous_version,
                rolled_back_version = token,
                "new version broke credential providers; AWSCURRENT moved back"
            );
            (
                &rules::ROT_ROLLED_BACK,
                RotationError::RolledBack {
                    previous_version: previous_version.to_string(),
                    reason: reason.clone(),
                },
                format!("AWSCURRENT of {secret_arn} moved back from version {token} to {previous_version}: {reason}"),
            )
        }
        Err(why_not) => (
            &rules::ROT_BROKEN_NOT_ROLLED_BACK,
            RotationError::BrokenNotRolledBack {
                reason: reason.clone(),
                why_not: why_not.clone(),
            },
            format!("version {token} of {secret_arn} is AWSCURRENT and breaks providers ({reason}); not rolled back: {why_not}"),
        ),
    };
    if let Some(scope) = &scope {
        findings.push(report::rotation_finding(
            rule, scope, secret_arn, &providers, detail, now,
        ));
    }
    emit(ac, findings).await;
    Err(result)
}

/// How provider `p`'s reference `reference` resolves with `at` as AWSCURRENT: read through the
/// same collector blocks and judged by the same evaluator as the audit (the first problem the
/// service would meet, else the hash of the credential). A failed read fails the step: Secrets
/// Manager's retry checks again.
async fn resolve(
    r: &Rotator,
    ac: &AgentCoreHooks,
    p: &ProviderRef,
    reference: &str,
    rotated_secret: &str,
    at: VersionRef<'_>,
) -> Result<Result<ValueHash, Problem>, RotationError> {
    let region = SecretIdentity::parse(rotated_secret)
        .region
        .unwrap_or_default();
    let reads = RotationReads {
        inventory: ac.secrets.as_ref(),
        store: r.store.as_ref(),
    };
    let read = read_one(&reads, reference, &region, at).await;
    let verdict = check::evaluate(p, Some(read.view()), &region);
    if let Some(first) = verdict.problems.into_iter().next() {
        return Ok(Err(first));
    }
    match (verdict.value, read.unreadable()) {
        (Some(hash), _) => Ok(Ok(hash)),
        (None, why) => Err(RotationError::ReferenceUnreadable(format!(
            "{} provider {} references {reference}: {}",
            kind_label(p),
            who(p),
            why.unwrap_or_else(|| "no value".into())
        ))),
    }
}

/// The inventory as the rotation reads it: values through its own store (the port every step
/// uses, one client and one retry policy for all its value reads), the rest through the
/// shared reader.
struct RotationReads<'a> {
    inventory: &'a dyn SecretInventory,
    store: &'a dyn SecretStore,
}

#[async_trait]
impl SecretInventory for RotationReads<'_> {
    async fn describe(&self, secret_id: &str) -> Lookup {
        self.inventory.describe(secret_id).await
    }
    async fn current_values(
        &self,
        secrets: &[(String, Option<String>)],
    ) -> Vec<Result<Option<Payload>, ReadError>> {
        let mut out = Vec::with_capacity(secrets.len());
        for (arn, _) in secrets {
            out.push(self.value_at(arn, VersionRef::Stage(AWSCURRENT)).await);
        }
        out
    }
    async fn value_at(
        &self,
        arn: &str,
        version: VersionRef<'_>,
    ) -> Result<Option<Payload>, ReadError> {
        self.store
            .get_value(arn, version)
            .await
            .map_err(|e| ReadError::from(e.message))
    }
    async fn resource_policy(&self, arn: &str) -> Result<Option<String>, ReadError> {
        self.inventory.resource_policy(arn).await
    }
    async fn key_policy(&self, key_id: &str) -> Result<KeyPolicyRead, ReadError> {
        self.inventory.key_policy(key_id).await
    }
    async fn key_is_aws_managed(&self, key_id: &str) -> Result<Option<bool>, ReadError> {
        self.inventory.key_is_aws_managed(key_id).await
    }
}

/// REF-008 for a MANAGED provider of the rotated client.
fn managed_finding(
    scope: &crate::findings::Scope,
    p: &ProviderRef,
    secret_arn: &str,
    now: Timestamp,
) -> Result<Finding, FindingsError> {
    let problem = Problem::Managed {
        client_id: p.client_id.clone(),
    };
    report::problem_finding(scope, p, secret_arn, &problem, now)
}

/// Rolling back is safe only while the previous version's upstream secret still works. An IdP
/// error fails the step (the retry confirms again) rather than deciding against the rollback.
async fn previous_upstream_live(
    r: &Rotator,
    previous: Option<&SecretDocument>,
    previous_version: &str,
    pending: &SecretDocument,
) -> Result<Result<(), String>, RotationError> {
    let Some(previous) = previous else {
        return Ok(Err("the previous version could not be read".into()));
    };
    // Rolling back to a document that names another client would hand the providers a credential
    // the binding never approved (a version writer can put one in AWSCURRENT mid-rotation).
    if previous.coordinates() != pending.coordinates() {
        return Ok(Err(format!(
            "the previous version names {} but this secret rotates {}",
            previous.coordinates(),
            pending.coordinates()
        )));
    }
    let upstream = r.upstreams.upstream_for(&previous.profile).await?;
    let live = upstream.list_secrets(&client_ref(previous)).await?;
    let version = Version {
        id: previous_version,
        doc: previous,
    };
    let newer = Version {
        id: "",
        doc: pending,
    };
    Ok(match lineage::resolve_version(version, &[newer], &live) {
        Lineage::Live(_) => Ok(()),
        Lineage::Absent => Err("the previous version's upstream secret is no longer live".into()),
        Lineage::Ambiguous(ids) => Err(format!(
            "cannot tell which live upstream secret belongs to the previous version ({})",
            ids.join(", ")
        )),
    })
}

async fn emit(ac: &AgentCoreHooks, findings: Vec<Result<Finding, FindingsError>>) {
    let mut ok = Vec::with_capacity(findings.len());
    for f in findings {
        match f {
            Ok(f) => ok.push(f),
            Err(e) => tracing::warn!(error = %e, "could not build a finding"),
        }
    }
    if !ok.is_empty() {
        let ok = BlastRadius::new(ac.gateways.as_deref()).annotate(ok).await;
        ac.emitters.emit(&ok).await;
    }
}
