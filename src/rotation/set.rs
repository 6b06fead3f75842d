//! setSecret: make the pending value live at the identity provider, beside the current one,
//! after removing what earlier runs left and, at the IdP's cap, the superseded secret.

use super::capacity::{self, Known};
use super::{binding, client_ref, secret_lifetime, RotationError, Rotator, StepOutcome};
use crate::secret_doc::IdpKind;
use crate::secrets::store::AWSCURRENT;
use crate::secrets::SecretMeta;
use crate::upstream::lineage::{self, Lineage, Version};
use crate::upstream::{label_for, NewSecret};

pub async fn run(
    r: &Rotator,
    secret: &str,
    desc: &SecretMeta,
    token: &str,
) -> Result<StepOutcome, RotationError> {
    let pending = r.pending_doc(secret, token).await?;
    binding::check(desc, &pending, "AWSPENDING")?;
    if pending.profile.idp == IdpKind::Staged {
        // The operator created the secret in the vendor's console: nothing to do upstream.
        return Ok(StepOutcome::Done);
    }
    let current = r.current_doc(secret).await?;
    let upstream = r.upstreams.upstream_for(&pending.profile).await?;
    let client = client_ref(&pending);
    let live = upstream.list_secrets(&client).await?;
    match lineage::resolve(&pending, None, &live) {
        Lineage::Live(_) => return Ok(StepOutcome::AlreadyDone),
        Lineage::Ambiguous(ids) => {
            return Err(RotationError::UnknownLineage(format!(
                "secrets {} appeared upstream after AWSPENDING was created; remove the ones this rotation did not add",
                ids.join(", ")
            )))
        }
        Lineage::Absent => {}
    }
    let current_version = Version {
        id: desc
            .version_with(AWSCURRENT)
            .ok_or(RotationError::NoCurrentVersion)?,
        doc: &current,
    };
    let known = Known::from_pending(current_version, &pending, &live);
    capacity::make_room(r, secret, desc, upstream.as_ref(), &client, &live, &known).await?;
    let label = label_for(token);
    upstream
        .add_secret(
            &client,
            &NewSecret {
                value: Some(&pending.client_secret),
                label: &label,
                expires_after: secret_lifetime(r, desc, &pending),
                current: Some(&current.client_secret),
            },
        )
        .await?;
    Ok(StepOutcome::Done)
}
