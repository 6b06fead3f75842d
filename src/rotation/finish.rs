//! finishSecret: move AWSCURRENT to the new version, then drop AWSPENDING from it.

use super::store::{SecretDescription, AWSCURRENT, AWSPENDING};
use super::{RotationError, Rotator, StepOutcome};

pub async fn run(
    r: &Rotator,
    secret: &str,
    desc: &SecretDescription,
    token: &str,
) -> Result<StepOutcome, RotationError> {
    // Refuse to promote a version that never got a value.
    r.pending_doc(secret, token).await?;
    let old = desc
        .version_with_stage(AWSCURRENT)
        .ok_or(RotationError::NoCurrentVersion)?;
    r.store
        .update_stage(secret, AWSCURRENT, Some(token), Some(old))
        .await?;
    drop_pending_label(r, secret, desc, token).await?;
    Ok(StepOutcome::Done)
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
