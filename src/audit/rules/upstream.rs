//! Upstream: the identity provider's side of a rotator-managed secret. Which live upstream
//! secret belongs to which version comes from [`crate::upstream::lineage`].
//!
//! The rotation model keeps AWSCURRENT's secret live, AWSPENDING's while a rotation runs and
//! AWSPREVIOUS's until its grace period ends; never more than the IdP allows.

use crate::audit::snapshot::{Observed, ProbeFacts, Snapshot, UpstreamFacts};
use crate::findings::catalogue::{
    UPS_CLIENT_MISSING, UPS_CUTOVER, UPS_NOT_ACCEPTED, UPS_ORPHAN, UPS_STAGED_NOT_REVOKED,
    UPS_SUPERSEDED_PAST_GRACE, UPS_TOO_MANY_LIVE,
};
use crate::findings::{Resource, Rule};
use crate::upstream::lineage::Lineage;

use super::{secret_resource, Evaluation, RuleContext};

const FAMILY: [&Rule; 7] = [
    &UPS_STAGED_NOT_REVOKED,
    &UPS_ORPHAN,
    &UPS_TOO_MANY_LIVE,
    &UPS_SUPERSEDED_PAST_GRACE,
    &UPS_NOT_ACCEPTED,
    &UPS_CLIENT_MISSING,
    &UPS_CUTOVER,
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
    if let (Some(st), Some(ends)) = (&u.staged, u.grace_ends) {
        if let Some(prev) = &st.previous_version {
            if ctx.now > ends && st.revoked_version.as_ref() != Some(prev) {
                let when = st
                    .superseded_at
                    .map_or("an earlier rotation".to_string(), |t| t.to_rfc3339());
                out.raise(
                    ctx,
                    &UPS_STAGED_NOT_REVOKED,
                    res(),
                    format!(
                        "the {} client secret of {} superseded at {when} (version {prev} of {arn}) is still to be revoked in the {}; its grace period ended {}",
                        st.vendor,
                        u.client,
                        st.console,
                        ends.to_rfc3339()
                    ),
                );
            }
        }
    }
    if u.cutover {
        out.raise(
            ctx,
            &UPS_CUTOVER,
            res(),
            format!(
                "rotations of {arn} invalidate the old secret of {} before the new one is stored (rotation.cutover: true)",
                u.client
            ),
        );
    }
    let Some(live) = &u.live else {
        out.raise(
            ctx,
            &UPS_CLIENT_MISSING,
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
        out.skip(&[&UPS_ORPHAN], arn);
    } else {
        let orphans: Vec<&str> = live
            .iter()
            .map(String::as_str)
            .filter(|id| !known.contains(id))
            .collect();
        if !orphans.is_empty() {
            out.raise(
                ctx,
                &UPS_ORPHAN,
                res(),
                format!(
                    "upstream client {} has live secret(s) {} that match no version of {arn}{}",
                    u.client,
                    orphans.join(", "),
                    if orphans.iter().any(|o| u.labelled_ours.iter().any(|l| l == o)) {
                        " (labelled by agentcore-rotator: created by a rotation that ended before storing its value, which is lost; the next rotation of this secret removes it)"
                    } else {
                        ""
                    }
                ),
            );
        }
    }
    let model = 2 + usize::from(u.pending.is_some());
    let allowed = u.max_live.map_or(model, |cap| cap.min(model));
    if live.len() > allowed {
        out.raise(
            ctx,
            &UPS_TOO_MANY_LIVE,
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
            out.raise(ctx, &UPS_SUPERSEDED_PAST_GRACE, res(), format!("upstream secret {prev} behind AWSPREVIOUS of {arn} is still live; its grace period ended {}", ends.to_rfc3339()));
        }
    }
    match &u.probe {
        ProbeFacts::Accepted => {}
        ProbeFacts::Rejected(why) => out.raise(
            ctx,
            &UPS_NOT_ACCEPTED,
            res(),
            format!("the token endpoint rejected the AWSCURRENT secret of {arn}: {why}"),
        ),
        ProbeFacts::NotRun | ProbeFacts::Inconclusive(_) => out.skip(&[&UPS_NOT_ACCEPTED], arn),
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
        assert_only(&s, &UPS_ORPHAN);
        let e = crate::audit::rules::evaluate(&s, &ctx());
        assert!(e.findings[0].description().contains("cs-x"));
    }

    #[test]
    fn an_orphan_our_label_names_is_described_as_a_crashed_rotations() {
        let mut s = healthy();
        let u = upstream(&mut s);
        u.live = Some(vec!["cs-2".into(), "cs-lost".into()]);
        u.previous = Some(Lineage::Absent);
        u.labelled_ours = vec!["cs-lost".into()];
        let e = crate::audit::rules::evaluate(&s, &ctx());
        assert_eq!(e.findings.len(), 1);
        let d = e.findings[0].description();
        assert!(
            d.contains("cs-lost") && d.contains("labelled by agentcore-rotator"),
            "{d}"
        );
        upstream(&mut s).labelled_ours.clear();
        let e = crate::audit::rules::evaluate(&s, &ctx());
        assert!(!e.findings[0].description().contains("labelled"));
    }

    #[test]
    fn a_profile_that_accepts_a_cutover_fires_ups_006() {
        let mut s = healthy();
        upstream(&mut s).cutover = true;
        assert_only(&s, &UPS_CUTOVER);
        let e = crate::audit::rules::evaluate(&s, &ctx());
        assert!(e.findings[0].description().contains("rotation.cutover"));
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
        assert_only(&s, &UPS_TOO_MANY_LIVE);
    }

    #[test]
    fn the_previous_secret_past_its_grace_period_fires_ups_003() {
        let mut s = healthy();
        upstream(&mut s).grace_ends = Some(Timestamp::from_millis(NOW - DAY));
        assert_only(&s, &UPS_SUPERSEDED_PAST_GRACE);
    }

    #[test]
    fn a_rejected_probe_fires_ups_004_and_a_skipped_one_is_not_a_pass() {
        let mut s = healthy();
        upstream(&mut s).probe = ProbeFacts::Rejected("invalid_client".into());
        assert_only(&s, &UPS_NOT_ACCEPTED);
        upstream(&mut s).probe = ProbeFacts::NotRun;
        let e = crate::audit::rules::evaluate(&s, &ctx());
        assert!(e.findings.is_empty());
        assert!(e.skipped.contains(&("UPS-004", SECRET.to_string())));
    }

    #[test]
    fn a_missing_upstream_client_fires_ups_005() {
        let mut s = healthy();
        upstream(&mut s).live = None;
        assert_only(&s, &UPS_CLIENT_MISSING);
    }
}
