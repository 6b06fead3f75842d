//! testSecret: prove the pending secret at the IdP's token endpoint before it is promoted, and
//! (with AgentCore hooks) that every referencing provider's JSON key is in AWSPENDING.

use super::{RotationError, Rotator, StepOutcome};
use crate::upstream::token_probe::{ProbeEndpoint, ProbeRequest};

pub async fn run(r: &Rotator, secret: &str, token: &str) -> Result<StepOutcome, RotationError> {
    let pending = r.pending_doc(secret, token).await?;
    let outcome = r
        .probe
        .probe(&ProbeRequest {
            endpoint: ProbeEndpoint::Document(&pending.profile.token_endpoint),
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
