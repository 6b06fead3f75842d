//! finishSecret: move AWSCURRENT to the new version, then drop AWSPENDING from it. With
//! AgentCore hooks, dependent providers are checked just before and just after the move, and
//! the move is undone when the new version itself breaks one (see [`super::references`]).

use super::references;
use super::store::{SecretDescription, AWSCURRENT, AWSPENDING};
use super::{RotationError, Rotator, StepOutcome};

pub async fn run(
    r: &Rotator,
    secret: &str,
    desc: &SecretDescription,
    token: &str,
) -> Result<StepOutcome, RotationError> {
    let baseline = match &r.agentcore {
        Some(ac) => Some((ac, references::baseline(r, ac, &desc.arn).await?)),
        None => None,
    };
    // Refuse to promote a version that never got a value.
    let pending = match r.pending_doc(secret, token).await {
        Ok(p) => p,
        Err(e) => {
            if let Some((ac, b)) = &baseline {
                references::report_baseline(ac, &desc.arn, b).await;
            }
            return Err(e);
        }
    };
    let old = desc
        .version_with_stage(AWSCURRENT)
        .ok_or(RotationError::NoCurrentVersion)?;
    r.store
        .update_stage(secret, AWSCURRENT, Some(token), Some(old))
        .await?;
    // AWSPENDING stays on the token until the confirmation is over: if the function dies in
    // between, the retry sees it and confirms again (see `already_current`).
    let confirmed = match &baseline {
        Some((ac, b)) => references::confirm(r, ac, &desc.arn, old, token, &pending, b).await,
        None => Ok(()),
    };
    // Also after a rollback: Secrets Manager's retries then stop at the preamble instead of
    // promoting the version again.
    drop_pending_label(r, secret, desc, token).await?;
    confirmed?;
    Ok(StepOutcome::Done)
}

/// finishSecret for a token that is already AWSCURRENT. AWSPENDING still on it means an earlier
/// invocation died after the move and before its confirmation finished: check the providers
/// again and report what is broken (no rollback: the pre-move state is gone), then clean up.
pub async fn already_current(
    r: &Rotator,
    secret: &str,
    desc: &SecretDescription,
    token: &str,
) -> Result<(), RotationError> {
    if !desc.has_stage(token, AWSPENDING) {
        return Ok(());
    }
    if let Some(ac) = &r.agentcore {
        let now = references::baseline(r, ac, &desc.arn).await?;
        references::report_baseline(ac, &desc.arn, &now).await;
    }
    drop_pending_label(r, secret, desc, token).await
}

/// AWS allows AWSPENDING to stay on the new current version, but its own backend removes it,
/// and a leftover label makes some implementations refuse the next rotation.
pub async fn drop_pending_label(
    r: &Rotator,
    secret: &str,
    desc: &SecretDescription,
    token: &str,
) -> Result<(), RotationError> {
    if desc.has_stage(token, AWSPENDING) {
        r.store
            .update_stage(secret, AWSPENDING, None, Some(token))
            .await?;
    }
    Ok(())
}
