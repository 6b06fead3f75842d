//! Making room for a new upstream secret where the IdP caps how many may be live.
//!
//! Removal order: a secret that belongs to no version (orphan) first; the one behind AWSPREVIOUS
//! only once its grace period has passed; the one behind AWSCURRENT (or AWSPENDING) never.

use std::time::Duration;

use super::store::{VersionRef, AWSPREVIOUS};
use super::{RotationError, Rotator};
use crate::secret_doc::{epoch_seconds, SecretDocument};
use crate::upstream::lineage::{self, Lineage};
use crate::upstream::{ClientRef, Upstream, UpstreamSecret};

pub async fn make_room(
    r: &Rotator,
    secret: &str,
    upstream: &dyn Upstream,
    client: &ClientRef,
    live: &[UpstreamSecret],
    current: &SecretDocument,
    pending: Option<&SecretDocument>,
) -> Result<(), RotationError> {
    let Some(max) = upstream.capabilities().max_live_secrets else {
        return Ok(());
    };
    if live.len() < max {
        return Ok(());
    }
    let current_id = match lineage::resolve(current, pending, live) {
        Lineage::Live(id) => Some(id),
        Lineage::Absent => None,
        Lineage::Ambiguous(ids) => {
            return Err(RotationError::Capacity(format!(
                "cannot tell which of the live upstream secrets {} belongs to AWSCURRENT, so none is removed; set clientSecretId in the AWSCURRENT document",
                ids.join(", ")
            )))
        }
    };
    // A garbled AWSPREVIOUS must not block rotation; it only informs what may be removed.
    let previous = r
        .read_doc(secret, VersionRef::Stage(AWSPREVIOUS), "AWSPREVIOUS")
        .await
        .ok()
        .flatten();
    let previous_id = previous.as_ref().and_then(|p| {
        lineage::resolve(p, Some(current), live)
            .id()
            .map(str::to_string)
    });
    let mut orphans: Vec<&UpstreamSecret> = live
        .iter()
        .filter(|s| Some(&s.id) != current_id.as_ref() && Some(&s.id) != previous_id.as_ref())
        .collect();
    orphans.sort_by_key(|s| s.created);
    let victim = if let Some(orphan) = orphans.first() {
        tracing::info!(upstream_secret_id = %orphan.id, "removing upstream secret that matches no version");
        orphan.id.clone()
    } else if let Some(prev) = previous_id {
        let remaining = grace_remaining(r, current);
        if !remaining.is_zero() {
            return Err(RotationError::Capacity(format!(
                "the secret behind AWSPREVIOUS ({prev}) is inside its grace period for another {}s; rotate again after it, or shorten rotation.gracePeriodHours",
                remaining.as_secs()
            )));
        }
        tracing::info!(upstream_secret_id = %prev, "removing superseded upstream secret after its grace period");
        prev
    } else {
        return Err(RotationError::Capacity(
            "every live upstream secret belongs to AWSCURRENT or AWSPREVIOUS".into(),
        ));
    };
    upstream.remove_secret(client, &victim).await?;
    Ok(())
}

/// How long the secret superseded by `current` must still stay live.
fn grace_remaining(r: &Rotator, current: &SecretDocument) -> Duration {
    let grace = r.grace_period(current).as_secs();
    let since = current.state.as_ref().map_or(0, |s| s.created_at);
    let now = epoch_seconds((r.clock)());
    Duration::from_secs((since + grace).saturating_sub(now))
}
