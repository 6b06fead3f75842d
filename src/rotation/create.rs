//! createSecret: store the next value as AWSPENDING (generated locally where the IdP lets us
//! choose it, so a crash never leaves an upstream secret Secrets Manager does not know).

use super::store::{VersionRef, AWSPENDING};
use super::{capacity, client_ref, RotationError, Rotator, StepOutcome};
use crate::event::RotationEvent;
use crate::secret_doc::{epoch_seconds, RotationState};
use crate::upstream::generate::random_secret;

pub async fn run(r: &Rotator, event: &RotationEvent) -> Result<StepOutcome, RotationError> {
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
    let upstream = r.upstreams.upstream_for(&current.profile).await?;
    let client = client_ref(&current);
    let live = upstream.list_secrets(&client).await?;
    let caps = upstream.capabilities().clone();
    let mut state = RotationState {
        upstream_ids_before: live.iter().map(|s| s.id.clone()).collect(),
        created_at: epoch_seconds((r.clock)()),
    };
    let next = if caps.value_chosen_by_caller {
        let value = random_secret(caps.value_alphabet, caps.value_length)?;
        current.next_version(value, None, state)
    } else {
        // The IdP generates the value: make room, create it, store value and id together.
        capacity::make_room(r, secret, upstream.as_ref(), &client, &live, &current, None).await?;
        let added = upstream.add_secret(&client, None).await?;
        let value = added.value.ok_or_else(|| {
            RotationError::Capacity(
                "identity provider returned no value for a generated secret".into(),
            )
        })?;
        state.upstream_ids_before.retain(|id| id != &added.id);
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
