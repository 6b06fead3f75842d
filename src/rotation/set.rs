//! setSecret: make the pending value live at the identity provider, beside the current one.

use super::{capacity, client_ref, RotationError, Rotator, StepOutcome};
use crate::upstream::lineage::{self, Lineage};

pub async fn run(r: &Rotator, secret: &str, token: &str) -> Result<StepOutcome, RotationError> {
    let pending = r.pending_doc(secret, token).await?;
    let current = r.current_doc(secret).await?;
    let upstream = r.upstreams.upstream_for(&pending.profile).await?;
    let client = client_ref(&pending);
    let live = upstream.list_secrets(&client).await?;
    match lineage::resolve(&pending, None, &live) {
        Lineage::Live(_) => return Ok(StepOutcome::AlreadyDone),
        Lineage::Ambiguous(ids) => {
            return Err(RotationError::Capacity(format!(
                "secrets {} appeared upstream after AWSPENDING was created; remove the ones this rotation did not add",
                ids.join(", ")
            )))
        }
        Lineage::Absent => {}
    }
    capacity::make_room(
        r,
        secret,
        upstream.as_ref(),
        &client,
        &live,
        &current,
        Some(&pending),
    )
    .await?;
    upstream
        .add_secret(&client, Some(&pending.client_secret))
        .await?;
    Ok(StepOutcome::Done)
}
