//! Secrets: rotation hygiene of every referenced secret, mirroring AWS Config
//! (secretsmanager-rotation-enabled-check, -scheduled-rotation-success-check,
//! -secret-periodic-rotation), Security Hub SecretsManager.1–.4 and Prowler.

use crate::audit::snapshot::{SecretMeta, Snapshot};
use crate::findings::{Rule, Severity};

use super::{secret_resource, Evaluation, RuleContext};

pub const ROTATION_DISABLED: Rule = Rule {
    id: "SEC-001",
    severity: Severity::Medium,
    title: "Referenced secret has automatic rotation disabled",
    remediation: "Attach the rotation function: aws secretsmanager rotate-secret --secret-id <arn> --rotation-lambda-arn <RotationFunctionArn> --rotation-rules ScheduleExpression='rate(30 days)'.",
};
pub const NOT_ROTATED: Rule = Rule {
    id: "SEC-002",
    severity: Severity::Medium,
    title: "Referenced secret was not rotated within the maximum age",
    remediation: "Rotate it now (aws secretsmanager rotate-secret --secret-id <arn>) and schedule rotation more often than ROTATOR_MAX_SECRET_AGE_DAYS.",
};
pub const ROTATION_INCOMPLETE: Rule = Rule {
    id: "SEC-003",
    severity: Severity::High,
    title: "Last rotation of the referenced secret failed or is stuck",
    remediation: "Read the rotation function's logs for the failed step, fix the cause and rotate again; to abandon it, cancel-rotate-secret and remove AWSPENDING from the stray version.",
};
pub const ROTATION_FUNCTION_MISSING: Rule = Rule {
    id: "SEC-004",
    severity: Severity::High,
    title: "Rotation is enabled but the rotation function is missing",
    remediation: "Redeploy the rotation function or point the secret at an existing one (rotate-secret --rotation-lambda-arn); every scheduled rotation fails until then.",
};

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
            }
        }
    }
}

fn secret(meta: &SecretMeta, ctx: &RuleContext, out: &mut Evaluation) {
    let res = || vec![secret_resource(&meta.arn)];
    if !meta.rotation_enabled {
        out.raise(
            ctx,
            &ROTATION_DISABLED,
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
                &NOT_ROTATED,
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
            &ROTATION_INCOMPLETE,
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
                &ROTATION_FUNCTION_MISSING,
                res(),
                format!("{} has rotation enabled but {why}", meta.arn),
            );
        }
    }
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
    use crate::audit::rules::fixtures::*;
    use crate::findings::Timestamp;

    #[test]
    fn disabled_rotation_fires_sec_001() {
        let mut s = healthy();
        let m = meta(&mut s);
        m.rotation_enabled = false;
        m.next_rotation = None;
        assert_only(&s, &ROTATION_DISABLED);
    }

    #[test]
    fn a_secret_older_than_the_maximum_age_fires_sec_002() {
        let mut s = healthy();
        meta(&mut s).last_rotated = Some(Timestamp::from_millis(NOW - 91 * DAY));
        assert_only(&s, &NOT_ROTATED);
        let mut never = healthy();
        meta(&mut never).last_rotated = None;
        assert_only(&never, &NOT_ROTATED);
    }

    #[test]
    fn a_stale_stray_pending_or_an_overdue_rotation_fires_sec_003() {
        let mut s = healthy();
        meta(&mut s)
            .versions
            .insert("v3".into(), vec!["AWSPENDING".into()]);
        assert_only(&s, &ROTATION_INCOMPLETE);
        let mut overdue = healthy();
        meta(&mut overdue).next_rotation = Some(Timestamp::from_millis(NOW - 3 * DAY));
        assert_only(&overdue, &ROTATION_INCOMPLETE);
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
        assert_only(&s, &ROTATION_FUNCTION_MISSING);
        let mut none = healthy();
        meta(&mut none).rotation_lambda_arn = None;
        assert_only(&none, &ROTATION_FUNCTION_MISSING);
        meta(&mut none).managed_rotation = true;
        assert!(raised(&none).is_empty());
    }

    #[test]
    fn unreferenced_or_managed_only_secrets_are_not_judged() {
        let mut s = healthy();
        meta(&mut s).rotation_enabled = false;
        s.providers[0].source = crate::agentcore::SecretSource::Managed;
        assert_eq!(
            raised(&s),
            vec![crate::audit::rules::references::MANAGED_SOURCE
                .id
                .to_string()]
        );
    }
}
