//! Making room for the new upstream secret, and removing what this secret's rotations left.
//!
//! Only secrets this secret's own versions account for are ever removed: leftovers of
//! rolled-back or abandoned versions (always, they are ours and unused), then, where the IdP caps
//! how many may be live, the one behind AWSPREVIOUS once its grace period has passed. The one
//! behind AWSCURRENT (or AWSPENDING) never; a secret no version accounts for never (it may be
//! someone else's); and when AWSCURRENT's own secret cannot be identified at the cap, nothing.

use std::time::Duration;

use super::{RotationError, Rotator};
use crate::secret_doc::{epoch_seconds, SecretDocument};
use crate::secrets::store::{VersionRef, AWSPREVIOUS};
use crate::secrets::SecretMeta;
use crate::upstream::lineage::{resolve_version, Lineage, Version};
use crate::upstream::{ClientRef, Upstream, UpstreamSecret};

/// What setSecret (or createSecret, for IdP-generated values) knows before adding.
pub struct Known<'a> {
    pub current: Version<'a>,
    /// AWSCURRENT's secret as resolved at createSecret (or now).
    pub current_id: Lineage,
    /// Leftovers recorded at createSecret.
    pub leftovers: &'a [String],
}

impl<'a> Known<'a> {
    /// From the pending version's record; re-resolved when AWSCURRENT moved since createSecret.
    pub fn from_pending(
        current: Version<'a>,
        pending: &'a SecretDocument,
        live: &[UpstreamSecret],
    ) -> Self {
        let pending_version = Version {
            id: "",
            doc: pending,
        };
        Self {
            current,
            current_id: resolve_version(current, &[pending_version], live),
            leftovers: pending
                .state
                .as_ref()
                .map_or(&[][..], |s| s.leftover_upstream_ids.as_slice()),
        }
    }
}

/// Removes leftovers, then makes room for one more secret if the IdP is at its cap. Returns the
/// secrets still live.
pub async fn make_room(
    r: &Rotator,
    secret: &str,
    desc: &SecretMeta,
    upstream: &dyn Upstream,
    client: &ClientRef,
    live: &[UpstreamSecret],
    known: &Known<'_>,
) -> Result<(), RotationError> {
    let current_id = known.current_id.id();
    let mut live: Vec<UpstreamSecret> = live.to_vec();
    let mut leftovers: Vec<&UpstreamSecret> = live
        .iter()
        .filter(|s| known.leftovers.contains(&s.id) && Some(s.id.as_str()) != current_id)
        .collect();
    leftovers.sort_by_key(|s| s.created);
    let removed: Vec<String> = leftovers.iter().map(|s| s.id.clone()).collect();
    for id in &removed {
        tracing::info!(upstream_secret_id = %id, "removing upstream secret left by a rolled-back or abandoned rotation of this secret");
        upstream.remove_secret(client, id).await?;
    }
    live.retain(|s| !removed.contains(&s.id));

    let Some(max) = upstream.capabilities().max_live_secrets else {
        // No cap: still tidy up the secret AWSCURRENT superseded once its grace has passed
        // (inside it, or when unidentified, it stays; nothing blocks the rotation).
        if let Some(current_id) = current_id {
            let previous = previous_secret(r, secret, desc, known.current, &live).await?;
            if let Some(previous_id) = previous.filter(|p| p != current_id) {
                if grace_remaining(r, known.current.doc).is_zero() {
                    tracing::info!(upstream_secret_id = %previous_id, "removing superseded upstream secret after its grace period");
                    upstream.remove_secret(client, &previous_id).await?;
                }
            }
        }
        return Ok(());
    };
    if live.len() < max {
        return Ok(());
    }
    let Some(current_id) = current_id else {
        return Err(RotationError::UnknownLineage(format!(
            "the client is at its cap of {max} live secrets ({}) and none of them can be identified as AWSCURRENT's ({}); set clientSecretId in the AWSCURRENT document to the id of the secret it holds",
            ids(&live),
            match &known.current_id {
                Lineage::Ambiguous(c) => format!("it could be any of {}", c.join(", ")),
                _ => "its recorded secret is not live".into(),
            }
        )));
    };
    let previous = previous_secret(r, secret, desc, known.current, &live).await?;
    let Some(previous_id) = previous.filter(|p| p != current_id) else {
        return Err(full(max, &live, current_id, None));
    };
    let remaining = grace_remaining(r, known.current.doc);
    if !remaining.is_zero() {
        return Err(RotationError::Capacity(format!(
            "the secret behind AWSPREVIOUS ({previous_id}) is inside its grace period for another {}s; rotate again after it, or shorten rotation.gracePeriodHours",
            remaining.as_secs()
        )));
    }
    if live.len() > max {
        // Removing AWSPREVIOUS's would still leave no room: do not remove a working secret for nothing.
        return Err(full(max, &live, current_id, Some(&previous_id)));
    }
    tracing::info!(upstream_secret_id = %previous_id, "removing superseded upstream secret after its grace period");
    upstream.remove_secret(client, &previous_id).await?;
    Ok(())
}

fn ids(live: &[UpstreamSecret]) -> String {
    live.iter()
        .map(|s| s.id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn full(
    max: usize,
    live: &[UpstreamSecret],
    current: &str,
    previous: Option<&str>,
) -> RotationError {
    let others: Vec<&str> = live
        .iter()
        .map(|s| s.id.as_str())
        .filter(|id| *id != current && Some(*id) != previous)
        .collect();
    RotationError::Capacity(format!(
        "the client is at its cap of {max} live secrets: {current} is AWSCURRENT's{}; {} no version of this secret accounts for, so the rotator does not remove {}: remove {} at the identity provider if nothing uses {}",
        previous.map(|p| format!(", {p} AWSPREVIOUS's")).unwrap_or_default(),
        others.join(", "),
        if others.len() == 1 { "it" } else { "them" },
        if others.len() == 1 { "it" } else { "them" },
        if others.len() == 1 { "it" } else { "them" },
    ))
}

/// The live secret behind AWSPREVIOUS: as AWSCURRENT recorded it when it replaced AWSPREVIOUS,
/// else resolved from AWSPREVIOUS's document. A read error fails the step (a throttled read must
/// not turn a working secret into an orphan); an absent or unparseable AWSPREVIOUS accounts for
/// nothing.
async fn previous_secret(
    r: &Rotator,
    secret: &str,
    desc: &SecretMeta,
    current: Version<'_>,
    live: &[UpstreamSecret],
) -> Result<Option<String>, RotationError> {
    let Some(prev_id) = desc.version_with(AWSPREVIOUS) else {
        return Ok(None);
    };
    let recorded = current
        .doc
        .state
        .as_ref()
        .and_then(|s| s.supersedes.as_ref())
        .filter(|s| s.version_id == prev_id);
    if let Some(s) = recorded {
        return Ok(s
            .upstream_id
            .clone()
            .filter(|id| live.iter().any(|l| &l.id == id)));
    }
    let Some(payload) = r
        .store
        .get_value(secret, VersionRef::IdAndStage(prev_id, AWSPREVIOUS))
        .await?
    else {
        return Ok(None);
    };
    let Ok(doc) = SecretDocument::parse(payload.text()) else {
        return Ok(None);
    };
    let prev = Version {
        id: prev_id,
        doc: &doc,
    };
    Ok(resolve_version(prev, &[current], live)
        .id()
        .map(str::to_string))
}

/// How long the secret superseded by `current` must still stay live.
fn grace_remaining(r: &Rotator, current: &SecretDocument) -> Duration {
    let grace = r.grace_period(current).as_secs();
    let since = current.state.as_ref().map_or(0, |s| s.created_at);
    let now = epoch_seconds((r.clock)());
    Duration::from_secs(since.saturating_add(grace).saturating_sub(now))
}
