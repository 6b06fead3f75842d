//! The rule catalogue: one file per family, each a pure function over a [`Snapshot`].
//!
//! A rule that cannot be decided (a read failed, the probe did not run) is recorded as
//! *skipped* for its resource, so the findings lifecycle keeps its previous state instead of
//! reporting it resolved.

pub mod coverage;
pub mod references;
pub mod secrets;
pub mod upstream;

use std::collections::BTreeSet;
use std::time::Duration;

use crate::findings::{Finding, Resource, Rule, Scope, Timestamp};

use super::snapshot::Snapshot;

/// The rule with this id, if the audit raises it.
pub fn by_id(id: &str) -> Option<&'static Rule> {
    crate::findings::catalogue::audit().find(|r| r.id == id)
}

/// What the rules need besides the snapshot.
#[derive(Clone, Debug)]
pub struct RuleContext {
    pub scope: Scope,
    pub now: Timestamp,
    /// ROTATOR_MAX_SECRET_AGE_DAYS.
    pub max_secret_age: Duration,
    /// An AWSPENDING version older than this (by LastChangedDate) is a failed rotation, not
    /// one in progress.
    pub pending_stale_after: Duration,
}

impl RuleContext {
    pub fn new(scope: Scope, now: Timestamp) -> Self {
        Self {
            scope,
            now,
            max_secret_age: Duration::from_secs(90 * 86_400),
            pending_stale_after: Duration::from_secs(3600),
        }
    }

    pub(crate) fn older_than(&self, t: Timestamp, age: Duration) -> bool {
        self.now.as_millis().saturating_sub(t.as_millis()) > age.as_millis() as u64
    }
}

/// The findings of one evaluation and what could not be decided.
#[derive(Debug, Default)]
pub struct Evaluation {
    pub findings: Vec<Finding>,
    /// (rule id, resource id) pairs not evaluated this time.
    pub skipped: BTreeSet<(&'static str, String)>,
}

impl Evaluation {
    pub(crate) fn raise(
        &mut self,
        ctx: &RuleContext,
        rule: &'static Rule,
        resources: Vec<Option<Resource>>,
        detail: String,
    ) {
        let resources: Vec<Resource> = resources.into_iter().flatten().collect();
        match Finding::new(rule, &ctx.scope, resources, detail, ctx.now) {
            Ok(f) => self.findings.push(f),
            // Only identifiers that cannot be resources get here; the rule id is reported.
            Err(e) => tracing::warn!(rule = rule.id, error = %e, "finding dropped"),
        }
    }

    /// A finding built elsewhere (the reference findings).
    pub(crate) fn push(&mut self, finding: Result<Finding, crate::findings::FindingsError>) {
        match finding {
            Ok(f) => self.findings.push(f),
            Err(e) => tracing::warn!(error = %e, "finding dropped"),
        }
    }

    pub(crate) fn skip(&mut self, rules: &[&'static Rule], resource: &str) {
        for r in rules {
            self.skipped.insert((r.id, resource.to_string()));
        }
    }

    pub fn merge(&mut self, other: Evaluation) {
        self.findings.extend(other.findings);
        self.skipped.extend(other.skipped);
    }
}

/// Evaluates every family over `snapshot`.
pub fn evaluate(snapshot: &Snapshot, ctx: &RuleContext) -> Evaluation {
    let mut out = Evaluation::default();
    references::evaluate(snapshot, ctx, &mut out);
    secrets::evaluate(snapshot, ctx, &mut out);
    upstream::evaluate(snapshot, ctx, &mut out);
    coverage::evaluate(snapshot, ctx, &mut out);
    out
}

pub(crate) fn secret_resource(id: &str) -> Option<Resource> {
    Resource::secret(id).ok()
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! A healthy snapshot the rule tests break one fact at a time.

    use std::collections::BTreeMap;

    use super::*;
    use crate::agentcore::{ProviderKind, ProviderRef, SecretSource};
    use crate::audit::snapshot::*;
    use crate::secrets::policy::PolicyVerdict;
    use crate::upstream::lineage::Lineage;

    pub const REGION: &str = "us-east-1";
    pub const SECRET: &str =
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:agentcore/okta-AbCdEf";
    pub const PROVIDER: &str = "arn:aws:bedrock-agentcore:us-east-1:123456789012:token-vault/default/oauth2credentialprovider/okta";
    pub const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd";
    /// The IdP coordinates the healthy secret's document names and its binding tag holds.
    pub const COORDINATES: &str = "cognito:us-east-1_Pool/client-1";
    /// 2024-01-01T00:00:00Z.
    pub const NOW: u64 = 1_704_067_200_000;
    pub const DAY: u64 = 86_400_000;

    pub fn ctx() -> RuleContext {
        RuleContext::new(
            Scope::new("123456789012", REGION).unwrap(),
            Timestamp::from_millis(NOW),
        )
    }

    pub fn provider() -> ProviderRef {
        ProviderRef {
            kind: ProviderKind::Oauth2,
            name: "okta".into(),
            arn: PROVIDER.into(),
            vendor: Some("CustomOauth2".into()),
            slot: None,
            source: SecretSource::External,
            secret_arn: Some(SECRET.into()),
            json_key: Some("clientSecret".into()),
            status: Some("READY".into()),
            failure_reason: None,
            client_id: Some("client-1".into()),
        }
    }

    pub fn healthy() -> Snapshot {
        let meta = SecretMeta {
            arn: SECRET.into(),
            name: "agentcore/okta".into(),
            kms_key_id: Some(KEY.into()),
            rotation_enabled: true,
            rotation_lambda_arn: Some(
                "arn:aws:lambda:us-east-1:123456789012:function:rotation".into(),
            ),
            rotation_lambda_exists: Some(true),
            created: Some(Timestamp::from_millis(NOW - 400 * DAY)),
            last_rotated: Some(Timestamp::from_millis(NOW - 10 * DAY)),
            last_changed: Some(Timestamp::from_millis(NOW - 10 * DAY)),
            next_rotation: Some(Timestamp::from_millis(NOW + 20 * DAY)),
            versions: BTreeMap::from([
                ("v2".to_string(), vec!["AWSCURRENT".to_string()]),
                ("v1".to_string(), vec!["AWSPREVIOUS".to_string()]),
            ]),
            binding: Some(COORDINATES.into()),
            ..SecretMeta::default()
        };
        let mut facts = SecretFacts::new(SECRET, Lookup::Found(meta));
        facts.policy = Some(Observed::Ok(PolicyVerdict::Allows));
        facts.current = Some(Observed::Ok(ValueShape::of_text(
            r#"{"clientId":"client-1","clientSecret":"x-value-x"}"#,
        )));
        facts.coordinates = Some(COORDINATES.into());
        facts.upstream = Some(Observed::Ok(UpstreamFacts {
            client: COORDINATES.into(),
            live: Some(vec!["cs-2".into(), "cs-1".into()]),
            current: Lineage::Live("cs-2".into()),
            previous: Some(Lineage::Live("cs-1".into())),
            pending: None,
            max_live: Some(2),
            grace_ends: Some(Timestamp::from_millis(NOW + DAY)),
            probe: ProbeFacts::Accepted,
            cutover: false,
            labelled_ours: Vec::new(),
            staged: None,
        }));
        Snapshot {
            region: REGION.into(),
            providers: vec![provider()],
            secrets: BTreeMap::from([(SECRET.to_string(), facts)]),
            keys: BTreeMap::from([(
                KEY.to_string(),
                KeyFacts {
                    key_arn: Some(KEY.into()),
                    decrypt: Observed::Ok(PolicyVerdict::Allows),
                },
            )]),
        }
    }

    pub fn secret(s: &mut Snapshot) -> &mut SecretFacts {
        s.secrets.get_mut(SECRET).unwrap()
    }

    pub fn meta(s: &mut Snapshot) -> &mut SecretMeta {
        match &mut secret(s).lookup {
            Lookup::Found(m) => m,
            other => panic!("{other:?}"),
        }
    }

    pub fn upstream(s: &mut Snapshot) -> &mut UpstreamFacts {
        match secret(s).upstream.as_mut().unwrap() {
            Observed::Ok(u) => u,
            other => panic!("{other:?}"),
        }
    }

    /// Rule ids raised for `snapshot`.
    pub fn raised(snapshot: &Snapshot) -> Vec<String> {
        evaluate(snapshot, &ctx())
            .findings
            .iter()
            .map(|f| f.rule_id().to_string())
            .collect()
    }

    pub fn assert_only(snapshot: &Snapshot, rule: &Rule) {
        let ids = raised(snapshot);
        assert_eq!(ids, vec![rule.id.to_string()], "expected only {}", rule.id);
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    #[test]
    fn a_healthy_setup_raises_nothing_and_skips_nothing() {
        let e = evaluate(&healthy(), &ctx());
        assert!(e.findings.is_empty(), "{:?}", e.findings);
        assert!(e.skipped.is_empty(), "{:?}", e.skipped);
    }
}
