//! createSecret: store the next value as AWSPENDING (generated locally where the IdP lets us
//! choose it, so a crash never leaves an upstream secret Secrets Manager does not know), with
//! what this rotation needs to know later: the live upstream ids, the version it supersedes and
//! that version's upstream secret, and the leftovers of earlier rolled-back or abandoned runs.

use super::capacity::{self, Known};
use super::{binding, client_ref, history, secret_lifetime, RotationError, Rotator, StepOutcome};
use crate::event::RotationEvent;
use crate::secret_doc::{epoch_seconds, IdpKind, RotationState, Supersedes};
use crate::secrets::store::{VersionRef, AWSCURRENT, AWSPENDING, AWSPREVIOUS};
use crate::secrets::SecretMeta;
use crate::upstream::generate::random_secret;
use crate::upstream::lineage::Version;
use crate::upstream::{label_for, token_in_label, ClientRef, NewSecret, Upstream, UpstreamSecret};

pub async fn run(
    r: &Rotator,
    event: &RotationEvent,
    desc: &SecretMeta,
) -> Result<StepOutcome, RotationError> {
    let secret = event.secret_id.as_str();
    let token = event.client_request_token.as_str();
    let current = r.current_doc(secret).await?;
    if r.store
        .get_value(secret, VersionRef::IdAndStage(token, AWSPENDING))
        .await?
        .is_some()
    {
        return Ok(StepOutcome::AlreadyDone);
    }
    binding::check(desc, &current, "AWSCURRENT")?;
    if current.profile.idp == IdpKind::Staged {
        return super::staged::create(r, event, desc, &current).await;
    }
    let current_version = Version {
        id: desc
            .version_with(AWSCURRENT)
            .ok_or(RotationError::NoCurrentVersion)?,
        doc: &current,
    };
    let upstream = r.upstreams.upstream_for(&current.profile).await?;
    let client = client_ref(&current);
    let live = upstream.list_secrets(&client).await?;
    let found = history::at_create(r, secret, desc, token, current_version, &live).await?;
    let caps = upstream.capabilities().clone();
    let mut state = RotationState {
        upstream_ids_before: live.iter().map(|s| s.id.clone()).collect(),
        created_at: epoch_seconds((r.clock)()),
        supersedes: Some(Supersedes {
            version_id: current_version.id.to_string(),
            upstream_id: found.current.id().map(str::to_string),
        }),
        leftover_upstream_ids: found.leftovers.clone(),
    };
    let next = if caps.value_chosen_by_caller {
        let value = random_secret(caps.value_alphabet, caps.value_length)?;
        current.next_version(value, None, state)
    } else {
        // The IdP generates the value: make room, create it, store value and id together.
        let known = Known {
            current: current_version,
            current_id: found.current.clone(),
            leftovers: &found.leftovers,
        };
        let live = remove_unrecorded(r, secret, token, upstream.as_ref(), &client, live).await?;
        capacity::make_room(r, secret, desc, upstream.as_ref(), &client, &live, &known).await?;
        let label = label_for(token);
        let new = NewSecret {
            value: None,
            label: &label,
            expires_after: secret_lifetime(r, desc, &current),
            current: Some(&current.client_secret),
        };
        let added = upstream.add_secret(&client, &new).await?;
        let value = added.value.ok_or(RotationError::NoValue)?;
        state.upstream_ids_before.retain(|id| id != &added.id);
        state.leftover_upstream_ids.clear();
        current.next_version(value, Some(added.id), state)
    };
    r.store
        .put_pending(
            secret,
            token,
            &next.to_secret_string(),
            event.rotation_token.as_ref(),
        )
        .await?;
    Ok(StepOutcome::Done)
}

/// Secrets the IdP generated for a rotation of ours that crashed before storing the value: the
/// label names this very rotation (whose version holds no value yet: createSecret would have
/// returned early) or a version of this secret that holds no value (an abandoned rotation's
/// placeholder), or one no version holds at all. The value is lost, so nothing can use them;
/// they are removed before anything is added.
async fn remove_unrecorded(
    r: &Rotator,
    secret: &str,
    token: &str,
    upstream: &dyn Upstream,
    client: &ClientRef,
    live: Vec<UpstreamSecret>,
) -> Result<Vec<UpstreamSecret>, RotationError> {
    if !live
        .iter()
        .any(|s| s.label.as_deref().and_then(token_in_label).is_some())
    {
        return Ok(live);
    }
    let versions = r.store.list_versions(secret).await?;
    let mut kept = Vec::with_capacity(live.len());
    for s in live {
        let label = s.label.as_deref().and_then(token_in_label);
        let version = label.and_then(|t| versions.iter().find(|v| v.id == t));
        let unrecorded = match (label, version) {
            (None, _) => false,
            (Some(t), _) if t == token => true,
            (Some(_), None) => true,
            // AWSCURRENT and AWSPREVIOUS always hold values; others are read to be sure.
            (Some(_), Some(v))
                if v.stages
                    .iter()
                    .any(|st| st == AWSCURRENT || st == AWSPREVIOUS) =>
            {
                false
            }
            (Some(t), Some(_)) => r
                .store
                .get_value(secret, VersionRef::Id(t))
                .await?
                .is_none(),
        };
        if unrecorded {
            tracing::info!(upstream_secret_id = %s.id, "removing an upstream secret a crashed rotation of this secret created but never stored");
            upstream.remove_secret(client, &s.id).await?;
        } else {
            kept.push(s);
        }
    }
    Ok(kept)
}
