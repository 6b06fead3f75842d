//! Upstream: the identity provider's side of a rotator-managed secret. Which live upstream
//! secret belongs to which version comes from [`crate::upstream::lineage`].
//!
//! The rotation model keeps AWSCURRENT's secret live, AWSPENDING's while a rotation runs and
//! AWSPREVIOUS's until its grace period ends; never more than the IdP allows.

use crate::audit::snapshot::{Observed, ProbeFacts, Snapshot, UpstreamFacts};
use crate::findings::{Resource, Rule, Severity};
use crate::upstream::lineage::Lineage;

use super::{secret_resource, Evaluation, RuleContext};

pub const ORPHAN: Rule = Rule {
    id: "UPS-001",
    severity: Severity::High,
    title: "Upstream client has a live secret that belongs to no secret version",
    remediation: "A live credential nobody tracks: if no one uses it, delete it at the IdP (Cognito: DeleteUserPoolClientSecret); the next rotation also removes it before adding a new one.",
};
pub const TOO_MANY_LIVE: Rule = Rule {
    id: "UPS-002",
    severity: Severity::Medium,
    title: "Upstream client has more live secrets than the rotation model allows",
    remediation: "Keep at most AWSCURRENT's secret, AWSPREVIOUS's during its grace period and AWSPENDING's during a rotation; delete the others at the IdP.",
};
pub const SUPERSEDED_PAST_GRACE: Rule = Rule {
    id: "UPS-003",
    severity: Severity::Low,
    title: "Superseded upstream secret is still live after its grace period",
    remediation: "Delete the secret behind AWSPREVIOUS at the IdP (the next rotation removes it too), or lengthen rotation.gracePeriodHours if callers still need it.",
};
pub const NOT_ACCEPTED: Rule = Rule {
    id: "UPS-004",
    severity: Severity::Critical,
    title: "Identity provider no longer accepts the AWSCURRENT client secret",
    remediation: "The stored secret was revoked or changed upstream: rotate now (rotate-secret) so a fresh secret is issued and stored, then check who removed it.",
};
pub const CLIENT_MISSING: Rule = Rule {
    id: "UPS-005",
    severity: Severity::High,
    title: "Upstream OAuth client does not exist",
    remediation: "Recreate the client at the IdP (or fix rotation.userPoolId / clientId in the secret document); rotations and token requests fail until then.",
};

const FAMILY: [&Rule; 5] = [
    &ORPHAN,
    &TOO_MANY_LIVE,
    &SUPERSEDED_PAST_GRACE,
    &NOT_ACCEPTED,
    &CLIENT_MISSING,
];

pub fn evaluate(snapshot: &Snapshot, ctx: &RuleContext, out: &mut Evaluation) {
    for facts in snapshot.secrets.values() {
        match &facts.upstream {
            None => {}
            Some(Observed::Unreadable(_)) => out.skip(&FAMILY, facts.arn()),
            Some(Observed::Ok(u)) => client(facts.arn(), u, ctx, out),
        }
    }
}

fn client(arn: &str, u: &UpstreamFacts, ctx: &RuleContext, out: &mut Evaluation) {
    let res = || {
        vec![
            secret_resource(arn),
            Resource::upstream_client(&u.client).ok(),
        ]
    };
    let Some(live) = &u.live else {
        out.raise(
            ctx,
            &CLIENT_MISSING,
            res(),
            format!("upstream client {} of {arn} does not exist", u.client),
        );
        return;
    };
    let pending_live = u.pending.as_ref().and_then(Lineage::id);
    let previous_live = u.previous.as_ref().and_then(Lineage::id);
    let known: Vec<&str> = [u.current.id(), previous_live, pending_live]
        .into_iter()
        .flatten()
        .collect();
    if matches!(u.current, Lineage::Ambiguous(_)) {
        // Which one is current is unknown, so none can be called an orphan.
        out.skip(&[&ORPHAN], arn);
    } else {
        let orphans: Vec<&str> = live
            .iter()
            .map(String::as_str)
            .filter(|id| !known.contains(id))
            .collect();
        if !orphans.is_empty() {
            out.raise(
                ctx,
                &ORPHAN,
                res(),
                format!(
                    "upstream client {} has live secret(s) {} that match no version of {arn}",
                    u.client,
                    orphans.join(", ")
                ),
            );
        }
    }
    let model = 2 + usize::from(u.pending.is_some());
    let allowed = u.max_live.map_or(model, |cap| cap.min(model));
    if live.len() > allowed {
        out.raise(
            ctx,
            &TOO_MANY_LIVE,
            res(),
            format!(
                "upstream client {} has {} live secrets; the model allows {allowed}",
                u.client,
                live.len()
            ),
        );
    }
    if let (Some(prev), Some(ends)) = (previous_live, u.grace_ends) {
        if ctx.now > ends {
            out.raise(ctx, &SUPERSEDED_PAST_GRACE, res(), format!("upstream secret {prev} behind AWSPREVIOUS of {arn} is still live; its grace period ended {}", ends.to_rfc3339()));
        }
    }
    match &u.probe {
        ProbeFacts::Accepted => {}
        ProbeFacts::Rejected(why) => out.raise(
            ctx,
            &NOT_ACCEPTED,
            res(),
            format!("the token endpoint rejected the AWSCURRENT secret of {arn}: {why}"),
        ),
        ProbeFacts::NotRun | ProbeFacts::Inconclusive(_) => out.skip(&[&NOT_ACCEPTED], arn),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::rules::fixtures::*;
    use crate::findings::Timestamp;

    #[test]
    fn a_live_secret_matching_no_version_fires_ups_001() {
        let mut s = healthy();
        upstream(&mut s).live = Some(vec!["cs-2".into(), "cs-x".into()]);
        upstream(&mut s).previous = Some(Lineage::Absent);
        assert_only(&s, &ORPHAN);
        let e = crate::audit::rules::evaluate(&s, &ctx());
        assert!(e.findings[0].description().contains("cs-x"));
    }

    #[test]
    fn more_live_secrets_than_the_model_allows_fires_ups_002() {
        let mut s = healthy();
        let u = upstream(&mut s);
        u.max_live = None;
        u.live = Some(vec!["cs-1".into(), "cs-2".into(), "cs-3".into()]);
        u.previous = Some(Lineage::Live("cs-1".into()));
        let ids = raised(&s);
        assert!(ids.contains(&"UPS-002".to_string()), "{ids:?}");
        // The same three during a rotation are fine.
        upstream(&mut s).pending = Some(Lineage::Live("cs-3".into()));
        assert!(raised(&s).is_empty());
    }

    #[test]
    fn ambiguous_lineage_still_counts_but_names_no_orphan() {
        let mut s = healthy();
        let u = upstream(&mut s);
        u.max_live = None;
        u.current = Lineage::Ambiguous(vec!["a".into(), "b".into(), "c".into()]);
        u.previous = None;
        u.live = Some(vec!["a".into(), "b".into(), "c".into()]);
        assert_only(&s, &TOO_MANY_LIVE);
    }

    #[test]
    fn the_previous_secret_past_its_grace_period_fires_ups_003() {
        let mut s = healthy();
        upstream(&mut s).grace_ends = Some(Timestamp::from_millis(NOW - DAY));
        assert_only(&s, &SUPERSEDED_PAST_GRACE);
    }

    #[test]
    fn a_rejected_probe_fires_ups_004_and_a_skipped_one_is_not_a_pass() {
        let mut s = healthy();
        upstream(&mut s).probe = ProbeFacts::Rejected("invalid_client".into());
        assert_only(&s, &NOT_ACCEPTED);
        upstream(&mut s).probe = ProbeFacts::NotRun;
        let e = crate::audit::rules::evaluate(&s, &ctx());
        assert!(e.findings.is_empty());
        assert!(e.skipped.contains(&("UPS-004", SECRET.to_string())));
    }

    #[test]
    fn a_missing_upstream_client_fires_ups_005() {
        let mut s = healthy();
        upstream(&mut s).live = None;
        assert_only(&s, &CLIENT_MISSING);
    }
}
