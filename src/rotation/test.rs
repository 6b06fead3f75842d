//! testSecret: prove the pending secret at the IdP's token endpoint before it is promoted, and
//! (with AgentCore hooks) that promoting it breaks no provider that works today.

use super::{binding, RotationError, Rotator, StepOutcome};
use crate::secret_doc::IdpKind;
use crate::secrets::SecretMeta;
use crate::upstream::token_probe::{ProbeEndpoint, ProbeRequest};
use crate::upstream::vendors::Vendor;

pub async fn run(
    r: &Rotator,
    secret: &str,
    desc: &SecretMeta,
    token: &str,
) -> Result<StepOutcome, RotationError> {
    let pending = r.pending_doc(secret, token).await?;
    binding::check(desc, &pending, "AWSPENDING")?;
    // A staged table vendor has no client_credentials: the invalid-code proof instead. (A
    // `custom` staged vendor names its endpoint and goes through the token probe below.)
    if pending.profile.idp == IdpKind::Staged && pending.profile.vendor != Some(Vendor::Custom) {
        super::staged::prove(r, &pending).await?;
        if let Some(ac) = &r.agentcore {
            super::references::preflight(r, ac, secret, &pending).await?;
        }
        return Ok(StepOutcome::Done);
    }
    // The document may name an endpoint only within the deployment's allowlist; otherwise the
    // IdP adapter derives it from the bound coordinates.
    let derived;
    let endpoint = match &pending.profile.token_endpoint {
        Some(named) => ProbeEndpoint::Document(named),
        None => {
            let upstream = r.upstreams.upstream_for(&pending.profile).await?;
            derived = upstream.token_endpoint().await?;
            ProbeEndpoint::Derived(&derived)
        }
    };
    let outcome = r
        .probe
        .probe(&ProbeRequest {
            endpoint,
            client_id: &pending.client_id,
            client_secret: &pending.client_secret,
            scopes: &pending.profile.scopes,
            auth: pending.profile.client_auth,
        })
        .await?;
    if let Some(ac) = &r.agentcore {
        super::references::preflight(r, ac, secret, &pending).await?;
    }
    tracing::info!(
        attempts = outcome.attempts,
        elapsed_ms = outcome.elapsed.as_millis() as u64,
        token_endpoint = %outcome.token_endpoint,
        "pending client secret accepted by the identity provider"
    );
    Ok(StepOutcome::Done)
}
