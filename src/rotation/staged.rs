//! Staged rotation, for vendors whose client secrets only their console creates: the operator
//! creates the new secret there and stages it (`agentcore-rotator stage`, or `put-secret-value`
//! with the label [`STAGED_LABEL`]). createSecret takes the staged value into AWSPENDING,
//! setSecret has nothing to do upstream, testSecret proves the value at the vendor
//! ([`crate::upstream::vendors`]; a `custom` server with the token probe), finishSecret promotes and confirms as for every IdP.

use super::{RotationError, Rotator, StepOutcome};
use crate::agentcore::report;
use crate::event::RotationEvent;
use crate::findings::catalogue::ROT_STAGED_DUE;
use crate::findings::{Finding, Resource, Timestamp};
use crate::secret_doc::{epoch_seconds, RotationState, SecretDocument, Supersedes};
use crate::secrets::store::{VersionRef, AWSCURRENT};
use crate::secrets::SecretMeta;
use crate::upstream::vendors::Vendor;

/// The staging label of a value waiting for the next rotation.
pub const STAGED_LABEL: &str = "AGENTCORE_ROTATOR_STAGED";

/// createSecret of a staged rotation.
pub async fn create(
    r: &Rotator,
    event: &RotationEvent,
    desc: &SecretMeta,
    current: &SecretDocument,
) -> Result<StepOutcome, RotationError> {
    let secret = event.secret_id.as_str();
    let current_version = desc
        .version_with(AWSCURRENT)
        .ok_or(RotationError::NoCurrentVersion)?;
    let vendor = current.profile.vendor.map_or("the vendor", Vendor::name);
    let staged_version = desc
        .version_with(STAGED_LABEL)
        .filter(|v| *v != current_version);
    let Some(staged_version) = staged_version else {
        return Err(nothing_staged(r, secret, vendor).await);
    };
    let staged = r
        .read_doc(secret, VersionRef::Id(staged_version), "staged")
        .await?
        .ok_or_else(|| {
            RotationError::StagedInvalid(format!(
                "version {staged_version} ({STAGED_LABEL}) holds no value"
            ))
        })?;
    if staged.client_id != current.client_id {
        return Err(RotationError::StagedInvalid(format!(
            "the staged document names client {} but AWSCURRENT's names {}; stage a secret of the same client",
            staged.client_id, current.client_id
        )));
    }
    if staged.client_secret.expose() == current.client_secret.expose() {
        return Err(nothing_staged(r, secret, vendor).await);
    }
    let state = RotationState {
        upstream_ids_before: Vec::new(),
        created_at: epoch_seconds((r.clock)()),
        supersedes: Some(Supersedes {
            version_id: current_version.to_string(),
            upstream_id: None,
        }),
        leftover_upstream_ids: Vec::new(),
    };
    // Only the value comes from the staged version: AWSCURRENT's other keys are kept.
    let next = current.next_version(staged.client_secret.clone(), None, state);
    r.store
        .put_pending(
            secret,
            event.client_request_token.as_str(),
            &next.to_secret_string(),
            event.rotation_token.as_ref(),
        )
        .await?;
    tracing::info!(staged_version, "staged client secret taken into AWSPENDING");
    Ok(StepOutcome::Done)
}

/// The "stage a new value first" error, after raising the due finding where findings go.
async fn nothing_staged(r: &Rotator, secret: &str, vendor: &str) -> RotationError {
    if let (Some(ac), Some(scope)) = (&r.agentcore, report::scope_of(secret)) {
        let finding = Resource::secret(secret).and_then(|res| {
            Finding::new(
                &ROT_STAGED_DUE,
                &scope,
                vec![res],
                format!(
                    "the scheduled rotation of {secret} found no new {vendor} client secret staged"
                ),
                Timestamp::from((r.clock)()),
            )
        });
        match finding {
            Ok(f) => {
                ac.emitters.emit(&[f]).await;
            }
            Err(e) => tracing::warn!(error = %e, "could not build the rotation-due finding"),
        }
    }
    RotationError::NothingStaged {
        secret: secret.to_string(),
        vendor: vendor.to_string(),
    }
}

/// testSecret's proof of the pending value at a table vendor (no user, no token issued), at
/// the endpoint the Staged upstream resolves (the deployment's override or the vendor's own).
/// A `custom` vendor is proved like every IdP, with the token probe.
pub async fn prove(r: &Rotator, pending: &SecretDocument) -> Result<(), RotationError> {
    let vendor = pending
        .profile
        .vendor
        .ok_or_else(|| RotationError::StagedInvalid("rotation.vendor is missing".into()))?;
    let url = r
        .upstreams
        .upstream_for(&pending.profile)
        .await?
        .token_endpoint()
        .await?;
    let attempts = r
        .probe
        .prove_at_vendor(vendor, &url, &pending.client_id, &pending.client_secret)
        .await?;
    tracing::info!(
        vendor = vendor.name(),
        attempts,
        "staged client secret accepted by the vendor"
    );
    Ok(())
}
