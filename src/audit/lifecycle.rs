//! Findings lifecycle: a finding active before and no longer raised now is reported
//! *resolved* (Security Hub: PASSED/ARCHIVED; EventBridge: state RESOLVED).
//!
//! Previous state comes from Security Hub (`GetFindings` filtered to our product ARN, ACTIVE
//! record state and ids with our prefix; the adapter is `crate::aws::security_hub_history`).
//! Security Hub already stores every finding we import, under a stable id, so no second store
//! can drift from it. Without Security Hub there is no history and nothing is reported
//! resolved (documented in README).
//!
//! Only findings whose resources this invocation actually audited are resolved, and never one
//! whose rule was skipped for that resource (a read failed, the probe did not run).

use std::collections::{BTreeSet, HashSet};

use async_trait::async_trait;

use crate::findings::{Finding, Resource, Scope, Timestamp};
use crate::secrets::ReadError;

use super::rules::{self, Evaluation};

/// A finding as the history remembers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreviousFinding {
    pub id: String,
    pub rule_id: String,
    pub resources: Vec<Resource>,
    pub first_seen: Timestamp,
}

/// Where previous findings come from.
#[async_trait]
pub trait FindingHistory: Send + Sync {
    /// Findings of ours still active in `scope`'s account and Region.
    async fn active(&self, scope: &Scope) -> Result<Vec<PreviousFinding>, ReadError>;

    /// Findings per read, when reading them costs API calls (for the lower bound).
    fn page_size(&self) -> Option<usize> {
        None
    }
}

/// No history: nothing is ever reported resolved.
pub struct NoHistory;

#[async_trait]
impl FindingHistory for NoHistory {
    async fn active(&self, _: &Scope) -> Result<Vec<PreviousFinding>, ReadError> {
        Ok(Vec::new())
    }
}

/// Previous findings of one invocation, each handled at most once.
#[derive(Debug, Default)]
pub struct Ledger {
    previous: Vec<PreviousFinding>,
    handled: HashSet<String>,
}

impl Ledger {
    pub fn new(previous: Vec<PreviousFinding>) -> Self {
        Self {
            previous,
            handled: HashSet::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.previous.len()
    }

    pub fn is_empty(&self) -> bool {
        self.previous.is_empty()
    }

    /// Keeps the first sighting of re-raised findings and adds resolved ones for findings in
    /// `covered` resources that did not fire again.
    pub fn settle(
        &mut self,
        evaluation: &mut Evaluation,
        covered: &dyn Fn(&str) -> bool,
        scope: &Scope,
        now: Timestamp,
    ) {
        let raised: HashSet<String> = evaluation
            .findings
            .iter()
            .map(|f| f.id().to_string())
            .collect();
        for f in evaluation.findings.iter_mut() {
            if let Some(p) = self.previous.iter().find(|p| p.id == f.id()) {
                *f = f.clone().first_seen_at(p.first_seen);
                self.handled.insert(p.id.clone());
            }
        }
        let resolved = resolve(
            &self.previous,
            &raised,
            &evaluation.skipped,
            covered,
            &self.handled,
            scope,
            now,
        );
        for r in &resolved {
            self.handled.insert(r.id().to_string());
        }
        evaluation.findings.extend(resolved);
    }
}

/// Resolved findings for previous ones not raised again, inside `covered`, not skipped.
pub fn resolve(
    previous: &[PreviousFinding],
    raised: &HashSet<String>,
    skipped: &BTreeSet<(&'static str, String)>,
    covered: &dyn Fn(&str) -> bool,
    handled: &HashSet<String>,
    scope: &Scope,
    now: Timestamp,
) -> Vec<Finding> {
    previous
        .iter()
        .filter(|p| !raised.contains(&p.id) && !handled.contains(&p.id))
        .filter(|p| p.resources.iter().any(|r| covered(r.arn_or_id())))
        .filter(|p| {
            !p.resources
                .iter()
                .any(|r| skipped.contains(&(rule_key(&p.rule_id), r.arn_or_id().to_string())))
        })
        .filter_map(|p| {
            // Only rules the audit owns: the rotation's own findings are not ours to close.
            let rule = rules::by_id(&p.rule_id)?;
            let f = Finding::new(
                rule,
                scope,
                p.resources.clone(),
                format!(
                    "{} no longer applies: the audit found the problem fixed",
                    rule.id
                ),
                now,
            )
            .ok()?;
            // Same rule and resources give the same id; anything else is not this finding.
            (f.id() == p.id).then(|| f.first_seen_at(p.first_seen).resolved(now))
        })
        .collect()
}

/// The catalogue's `&'static str` for a rule id (skipped pairs are keyed by it).
fn rule_key(id: &str) -> &'static str {
    rules::by_id(id).map_or("", |r| r.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::rules::fixtures::*;
    use crate::findings::catalogue::REF_SECRET_NOT_FOUND as SECRET_NOT_FOUND;
    use crate::findings::FindingState;

    fn previous_of(f: &Finding) -> PreviousFinding {
        PreviousFinding {
            id: f.id().to_string(),
            rule_id: f.rule_id().to_string(),
            resources: f.resources().to_vec(),
            first_seen: Timestamp::from_millis(1_000),
        }
    }

    fn not_found() -> Finding {
        Finding::new(
            &SECRET_NOT_FOUND,
            &ctx().scope,
            vec![
                Resource::provider_oauth2(PROVIDER).unwrap(),
                Resource::secret(SECRET).unwrap(),
            ],
            "x",
            Timestamp::from_millis(NOW - DAY),
        )
        .unwrap()
    }

    #[test]
    fn a_fixed_problem_is_reported_resolved_with_the_same_id() {
        let before = not_found();
        let mut ledger = Ledger::new(vec![previous_of(&before)]);
        let mut now = rules::evaluate(&healthy(), &ctx());
        ledger.settle(&mut now, &|id| id == SECRET, &ctx().scope, ctx().now);
        assert_eq!(now.findings.len(), 1);
        let r = &now.findings[0];
        assert_eq!((r.id(), r.state()), (before.id(), FindingState::Resolved));
        assert_eq!(r.first_seen(), Timestamp::from_millis(1_000));
    }

    #[test]
    fn a_fixed_problem_that_listed_gateway_targets_is_resolved_too() {
        // As Security Hub stores it: the blast radius added a gateway target.
        let before = not_found().with_dependents(
            vec![Resource::gateway_target(
                "arn:aws:bedrock-agentcore:us-east-1:111122223333:gateway/billing-abcdefghij/target/TARGET1234",
            )
            .unwrap()],
            "used by gateway targets billing/invoices",
        );
        let mut ledger = Ledger::new(vec![previous_of(&before)]);
        let mut now = rules::evaluate(&healthy(), &ctx());
        ledger.settle(&mut now, &|id| id == SECRET, &ctx().scope, ctx().now);
        assert_eq!(now.findings.len(), 1);
        assert_eq!(
            (now.findings[0].id(), now.findings[0].state()),
            (before.id(), FindingState::Resolved)
        );
    }

    #[test]
    fn a_problem_still_there_keeps_its_first_sighting_and_is_not_resolved() {
        let mut s = healthy();
        secret(&mut s).lookup = crate::audit::snapshot::Lookup::NotFound;
        let before = rules::evaluate(&s, &ctx()).findings.remove(0);
        let mut ledger = Ledger::new(vec![previous_of(&before)]);
        let mut now = rules::evaluate(&s, &ctx());
        ledger.settle(&mut now, &|_| true, &ctx().scope, ctx().now);
        assert_eq!(now.findings.len(), 1);
        assert!(now.findings[0].is_active());
        assert_eq!(now.findings[0].first_seen(), Timestamp::from_millis(1_000));
    }

    #[test]
    fn findings_outside_the_audited_resources_or_skipped_are_left_alone() {
        let before = previous_of(&not_found());
        let mut ledger = Ledger::new(vec![before.clone()]);
        let mut now = rules::evaluate(&healthy(), &ctx());
        ledger.settle(&mut now, &|_| false, &ctx().scope, ctx().now);
        assert!(now.findings.is_empty());
        let mut skipped = Evaluation::default();
        skipped.skip(&[&SECRET_NOT_FOUND], SECRET);
        let mut ledger = Ledger::new(vec![before]);
        ledger.settle(&mut skipped, &|_| true, &ctx().scope, ctx().now);
        assert!(skipped.findings.is_empty());
    }

    #[test]
    fn findings_of_rules_the_audit_does_not_own_are_never_resolved() {
        let mut p = previous_of(&not_found());
        p.rule_id = "ROT-001".into();
        let mut ledger = Ledger::new(vec![p]);
        let mut now = Evaluation::default();
        ledger.settle(&mut now, &|_| true, &ctx().scope, ctx().now);
        assert!(now.findings.is_empty());
    }
}
