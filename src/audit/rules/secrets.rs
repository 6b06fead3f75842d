//! Secrets: rotation hygiene of every referenced secret, mirroring AWS Config
//! (secretsmanager-rotation-enabled-check, -scheduled-rotation-success-check,
//! -secret-periodic-rotation), Security Hub SecretsManager.1–.4 and Prowler; and whether a
//! rotator secret is bound to the client its document names, which the rotation requires.

use crate::audit::snapshot::{Observed, SecretFacts, SecretMeta, Snapshot};
use crate::findings::catalogue::{
    SEC_BINDING, SEC_NOT_ROTATED, SEC_ROTATION_DISABLED, SEC_ROTATION_FUNCTION_MISSING,
    SEC_ROTATION_INCOMPLETE,
};

use crate::rotation::binding::BINDING_TAG;

use super::{secret_resource, Evaluation, RuleContext};

/// How late a scheduled rotation may be before it counts as failed.
const OVERDUE_SLACK_MS: u64 = 86_400_000;

pub fn evaluate(snapshot: &Snapshot, ctx: &RuleContext, out: &mut Evaluation) {
    for facts in snapshot.secrets.values() {
        // Only secrets an EXTERNAL provider references are ours to judge.
        let referenced = snapshot
            .referencing(&facts.reference)
            .any(|p| p.source == crate::agentcore::SecretSource::External);
        if let (true, Some(meta)) = (referenced, facts.meta()) {
            if meta.deleted_date.is_none() {
                secret(meta, ctx, out);
                binding(facts, meta, ctx, out);
            }
        }
    }
}

fn secret(meta: &SecretMeta, ctx: &RuleContext, out: &mut Evaluation) {
    let res = || vec![secret_resource(&meta.arn)];
    if !meta.rotation_enabled {
        out.raise(
            ctx,
            &SEC_ROTATION_DISABLED,
            res(),
            format!("{} has no rotation configured", meta.arn),
        );
    }
    if let Some(since) = meta.last_rotated.or(meta.created) {
        if ctx.older_than(since, ctx.max_secret_age) {
            let days = ctx.now.as_millis().saturating_sub(since.as_millis()) / 86_400_000;
            let what = if meta.last_rotated.is_some() {
                "last rotated"
            } else {
                "created and never rotated"
            };
            out.raise(
                ctx,
                &SEC_NOT_ROTATED,
                res(),
                format!(
                    "{} was {what} {days} days ago (maximum {} days)",
                    meta.arn,
                    ctx.max_secret_age.as_secs() / 86_400
                ),
            );
        }
    }
    if let Some(problem) = incomplete(meta, ctx) {
        out.raise(
            ctx,
            &SEC_ROTATION_INCOMPLETE,
            res(),
            format!("{}: {problem}", meta.arn),
        );
    }
    if meta.rotation_enabled && !meta.managed_rotation {
        let missing = match (&meta.rotation_lambda_arn, meta.rotation_lambda_exists) {
            (None, _) => Some("no rotation function is configured".to_string()),
            (Some(f), Some(false)) => Some(format!("rotation function {f} does not exist")),
            _ => None,
        };
        if let Some(why) = missing {
            out.raise(
                ctx,
                &SEC_ROTATION_FUNCTION_MISSING,
                res(),
                format!("{} has rotation enabled but {why}", meta.arn),
            );
        }
    }
}

/// A secret whose AWSCURRENT is a rotator document must carry the binding tag, naming the
/// coordinates that document names: the rotation refuses it otherwise (`rotation::binding`).
fn binding(facts: &SecretFacts, meta: &SecretMeta, ctx: &RuleContext, out: &mut Evaluation) {
    if !matches!(facts.current, Some(Observed::Ok(_))) {
        // AWSCURRENT unread: whether it is a rotator document is unknown.
        out.skip(&[&SEC_BINDING], &meta.arn);
        return;
    }
    let Some(document) = &facts.coordinates else {
        return;
    };
    let arn = &meta.arn;
    let detail = match meta.binding.as_deref().map(str::trim) {
        Some(bound) if bound == document => return,
        None | Some("") => format!(
            "{arn} holds a rotator document for {document} but is not bound (no {BINDING_TAG} tag, or an empty one), so its next rotation fails; an administrator binds it with aws secretsmanager tag-resource --secret-id {arn} --tags Key={BINDING_TAG},Value={document}"
        ),
        Some(bound) => format!(
            "{arn} is bound to {bound} (tag {BINDING_TAG}) but its AWSCURRENT document names {document}, so its next rotation fails; correct the document, or have an administrator change the binding"
        ),
    };
    out.raise(ctx, &SEC_BINDING, vec![secret_resource(arn)], detail);
}

/// A stray AWSPENDING (on a version without AWSCURRENT, unchanged for a while), or a scheduled
/// rotation that is overdue by more than a day.
fn incomplete(meta: &SecretMeta, ctx: &RuleContext) -> Option<String> {
    let stray = meta.versions.iter().find(|(_, stages)| {
        stages.iter().any(|s| s == "AWSPENDING") && !stages.iter().any(|s| s == "AWSCURRENT")
    });
    if let Some((version, _)) = stray {
        let stale = meta
            .last_changed
            .is_none_or(|t| ctx.older_than(t, ctx.pending_stale_after));
        if stale {
            return Some(format!("AWSPENDING sits on version {version}, apart from AWSCURRENT: a rotation did not finish"));
        }
    }
    if meta.rotation_enabled {
        if let Some(next) = meta.next_rotation {
            if ctx.now.as_millis() > next.as_millis() + OVERDUE_SLACK_MS {
                return Some(format!(
                    "the rotation scheduled for {} has not succeeded",
                    next.to_rfc3339()
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::rules::fixtures::{self, *};
    use crate::findings::Timestamp;

    #[test]
    fn disabled_rotation_fires_sec_001() {
        let mut s = healthy();
        let m = meta(&mut s);
        m.rotation_enabled = false;
        m.next_rotation = None;
        assert_only(&s, &SEC_ROTATION_DISABLED);
    }

    #[test]
    fn a_secret_older_than_the_maximum_age_fires_sec_002() {
        let mut s = healthy();
        meta(&mut s).last_rotated = Some(Timestamp::from_millis(NOW - 91 * DAY));
        assert_only(&s, &SEC_NOT_ROTATED);
        let mut never = healthy();
        meta(&mut never).last_rotated = None;
        assert_only(&never, &SEC_NOT_ROTATED);
    }

    #[test]
    fn a_stale_stray_pending_or_an_overdue_rotation_fires_sec_003() {
        let mut s = healthy();
        meta(&mut s)
            .versions
            .insert("v3".into(), vec!["AWSPENDING".into()]);
        assert_only(&s, &SEC_ROTATION_INCOMPLETE);
        let mut overdue = healthy();
        meta(&mut overdue).next_rotation = Some(Timestamp::from_millis(NOW - 3 * DAY));
        assert_only(&overdue, &SEC_ROTATION_INCOMPLETE);
    }

    #[test]
    fn a_rotation_in_progress_is_not_a_failure() {
        let mut s = healthy();
        let m = meta(&mut s);
        m.versions.insert("v3".into(), vec!["AWSPENDING".into()]);
        m.last_changed = Some(Timestamp::from_millis(NOW - 60_000));
        assert!(raised(&s).is_empty());
        // AWSPENDING left on the current version is an allowed end state.
        let mut same = healthy();
        meta(&mut same)
            .versions
            .insert("v2".into(), vec!["AWSCURRENT".into(), "AWSPENDING".into()]);
        assert!(raised(&same).is_empty());
    }

    #[test]
    fn a_missing_rotation_function_fires_sec_004_unless_rotation_is_managed() {
        let mut s = healthy();
        meta(&mut s).rotation_lambda_exists = Some(false);
        assert_only(&s, &SEC_ROTATION_FUNCTION_MISSING);
        let mut none = healthy();
        meta(&mut none).rotation_lambda_arn = None;
        assert_only(&none, &SEC_ROTATION_FUNCTION_MISSING);
        meta(&mut none).managed_rotation = true;
        assert!(raised(&none).is_empty());
    }

    /// The one SEC-005 finding of `s`, which must raise nothing else.
    fn binding_detail(s: &crate::audit::snapshot::Snapshot) -> String {
        assert_only(s, &SEC_BINDING);
        let e = crate::audit::rules::evaluate(s, &ctx());
        e.findings[0].description().to_string()
    }

    #[test]
    fn an_unbound_rotator_secret_fires_sec_005_with_the_command_that_binds_it() {
        for tag in [None, Some(""), Some("  ")] {
            let mut s = healthy();
            meta(&mut s).binding = tag.map(str::to_string);
            let detail = binding_detail(&s);
            assert!(
                detail.contains(SECRET)
                    && detail.contains(&format!(
                        "tag-resource --secret-id {SECRET} --tags Key={BINDING_TAG},Value={COORDINATES}"
                    )),
                "{detail}"
            );
            assert!(!detail.contains("x-value-x"), "{detail}");
        }
    }

    #[test]
    fn a_secret_bound_to_another_client_or_pool_fires_sec_005_naming_both() {
        for bound in [
            "cognito:us-east-1_Pool/client-2",
            "cognito:us-east-1_Other/client-1",
        ] {
            let mut s = healthy();
            meta(&mut s).binding = Some(bound.into());
            let detail = binding_detail(&s);
            assert!(
                detail.contains(SECRET) && detail.contains(bound) && detail.contains(COORDINATES),
                "{detail}"
            );
            assert!(
                detail.contains("correct the document")
                    && detail.contains("administrator change the binding"),
                "{detail}"
            );
        }
        // The document moved, the binding stayed: the same finding.
        let mut moved = healthy();
        fixtures::secret(&mut moved).coordinates = Some("cognito:us-east-1_Pool/victim".into());
        assert!(binding_detail(&moved).contains("cognito:us-east-1_Pool/victim"));
    }

    #[test]
    fn a_secret_bound_to_the_coordinates_its_document_names_is_quiet() {
        let mut s = healthy();
        // Surrounding blanks are ignored, as the rotation ignores them.
        meta(&mut s).binding = Some(format!(" {COORDINATES} "));
        assert!(raised(&s).is_empty());
    }

    #[test]
    fn a_secret_without_a_rotator_document_is_not_judged_for_its_binding() {
        for tag in [None, Some("cognito:us-east-1_Pool/client-9")] {
            let mut s = healthy();
            fixtures::secret(&mut s).coordinates = None;
            meta(&mut s).binding = tag.map(str::to_string);
            let e = crate::audit::rules::evaluate(&s, &ctx());
            assert!(e.findings.is_empty(), "{:?}", e.findings);
            assert!(e.skipped.is_empty(), "{:?}", e.skipped);
        }
    }

    #[test]
    fn an_unreadable_awscurrent_skips_sec_005_instead_of_resolving_it() {
        let mut s = healthy();
        meta(&mut s).binding = None;
        fixtures::secret(&mut s).current =
            Some(Observed::Unreadable("AccessDeniedException".into()));
        let e = crate::audit::rules::evaluate(&s, &ctx());
        assert!(e.findings.iter().all(|f| f.rule_id() != SEC_BINDING.id));
        assert!(e.skipped.contains(&(SEC_BINDING.id, SECRET.to_string())));
    }

    #[test]
    fn unreferenced_or_managed_only_secrets_are_not_judged() {
        let mut s = healthy();
        meta(&mut s).rotation_enabled = false;
        s.providers[0].source = crate::agentcore::SecretSource::Managed;
        assert_eq!(
            raised(&s),
            vec![crate::findings::catalogue::REF_MANAGED.id.to_string()]
        );
    }
}
