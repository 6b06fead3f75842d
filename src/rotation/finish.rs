//! finishSecret: move AWSCURRENT to the new version, then drop AWSPENDING from it. With
//! AgentCore hooks, dependent providers are checked just before and just after the move, and
//! the move is undone when the new version itself breaks one (see [`super::references`]).
//!
//! AWSPENDING leaves the rotated version only once the confirmation has ended in confirmed,
//! rolled back, or broken-not-rolled-back. Any other failure (a throttled read, an AgentCore or
//! IdP error) leaves it in place, so Secrets Manager's retry finds the token AWSCURRENT and
//! AWSPENDING and confirms again ([`already_current`]) instead of reporting success unchecked.

use super::references::{self, Baseline, Before};
use super::{binding, RotationError, Rotator, StepOutcome};
use crate::agentcore::AgentCoreHooks;
use crate::secret_doc::SecretDocument;
use crate::secrets::store::{VersionRef, AWSCURRENT, AWSPENDING, AWSPREVIOUS};
use crate::secrets::SecretMeta;

pub async fn run(
    r: &Rotator,
    secret: &str,
    desc: &SecretMeta,
    token: &str,
) -> Result<StepOutcome, RotationError> {
    let baseline = match &r.agentcore {
        Some(ac) => Some((
            ac,
            references::baseline(r, ac, &desc.arn, Before::Current).await?,
        )),
        None => None,
    };
    // Without a readable AWSCURRENT there could be no rollback: do not promote on that.
    if let Some((ac, b)) = &baseline {
        if let Some(e) = &b.previous_error {
            references::report_baseline(ac, &desc.arn, b).await;
            return Err(RotationError::Store(e.clone()));
        }
    }
    // Refuse to promote a version that never got a value, or names another client.
    let pending = match r
        .pending_doc(secret, token)
        .await
        .and_then(|p| binding::check(desc, &p, "AWSPENDING").map(|()| p))
    {
        Ok(p) => p,
        Err(e) => {
            if let Some((ac, b)) = &baseline {
                references::report_baseline(ac, &desc.arn, b).await;
            }
            return Err(e);
        }
    };
    let old = desc
        .version_with(AWSCURRENT)
        .ok_or(RotationError::NoCurrentVersion)?;
    r.store
        .update_stage(secret, AWSCURRENT, Some(token), Some(old))
        .await?;
    settle(r, secret, desc, token, old, &pending, baseline).await?;
    Ok(StepOutcome::Done)
}

/// Confirms the promotion of `token` over `old`, then drops AWSPENDING unless the confirmation
/// could not come to a verdict.
async fn settle(
    r: &Rotator,
    secret: &str,
    desc: &SecretMeta,
    token: &str,
    old: &str,
    pending: &SecretDocument,
    baseline: Option<(&AgentCoreHooks, Baseline)>,
) -> Result<(), RotationError> {
    let confirmed = match &baseline {
        Some((ac, b)) => references::confirm(r, ac, &desc.arn, old, token, pending, b).await,
        None => Ok(()),
    };
    match confirmed {
        // A verdict: after a rollback too, so Secrets Manager's retries stop at the preamble
        // instead of promoting the version again.
        Ok(())
        | Err(RotationError::RolledBack { .. })
        | Err(RotationError::BrokenNotRolledBack { .. }) => {
            drop_pending_label(r, secret, desc, token).await?;
            confirmed
        }
        Err(e) => {
            tracing::warn!(error = %e, "confirmation did not finish; AWSPENDING stays on the new version so the retry confirms again");
            Err(e)
        }
    }
}

/// finishSecret for a token that is already AWSCURRENT. AWSPENDING still on it means an earlier
/// invocation died (or failed) after the move and before its confirmation came to a verdict:
/// confirm again, with AWSPREVIOUS (the version the move superseded) as the baseline, rolling
/// back if the rule says so; then clean up.
pub async fn already_current(
    r: &Rotator,
    secret: &str,
    desc: &SecretMeta,
    token: &str,
) -> Result<(), RotationError> {
    if !desc.has_stage(token, AWSPENDING) {
        return Ok(());
    }
    let (Some(ac), Some(previous)) = (&r.agentcore, desc.version_with(AWSPREVIOUS)) else {
        return drop_pending_label(r, secret, desc, token).await;
    };
    let baseline = references::baseline(r, ac, &desc.arn, Before::Superseded(previous)).await?;
    let promoted = r
        .read_doc(
            secret,
            VersionRef::IdAndStage(token, AWSCURRENT),
            "AWSCURRENT",
        )
        .await?
        .ok_or(RotationError::NoCurrentVersion)?;
    settle(
        r,
        secret,
        desc,
        token,
        previous,
        &promoted,
        Some((ac, baseline)),
    )
    .await
}

/// AWS allows AWSPENDING to stay on the new current version, but its own backend removes it,
/// and a leftover label makes some implementations refuse the next rotation.
pub async fn drop_pending_label(
    r: &Rotator,
    secret: &str,
    desc: &SecretMeta,
    token: &str,
) -> Result<(), RotationError> {
    if desc.has_stage(token, AWSPENDING) {
        r.store
            .update_stage(secret, AWSPENDING, None, Some(token))
            .await?;
    }
    Ok(())
}
