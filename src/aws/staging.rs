//! The operator's side of a staged rotation (`agentcore-rotator stage`, `revoked`): staging a
//! new client secret the vendor's console created, and marking the superseded one revoked there.

use aws_sdk_secretsmanager::types::Tag;
use aws_sdk_secretsmanager::Client;
use serde_json::Value;

use super::error_summary;
use crate::rotation::staged::STAGED_LABEL;
use crate::secret_doc::{IdpKind, SecretDocument};
use crate::secrets::store::{AWSCURRENT, AWSPREVIOUS};
use crate::sensitive::SecretString;
use crate::upstream::generate::random_secret;

/// The tag an operator sets (with `agentcore-rotator revoked`) once the secret of that version is
/// revoked in the vendor's console; the audit stops reminding them.
pub const REVOKED_TAG: &str = "agentcore-rotator:revoked";

/// What `stage` did.
#[derive(Debug)]
pub struct Staged {
    pub version_id: String,
    pub rotation_started: bool,
}

/// Writes the next document (AWSCURRENT's, with `value` as its client secret) as a version
/// labelled [`STAGED_LABEL`] and starts the rotation. Nothing is written when the value or the
/// secret does not fit.
pub async fn stage(sm: &Client, secret_id: &str, value: SecretString) -> Result<Staged, String> {
    let current = sm
        .get_secret_value()
        .secret_id(secret_id)
        .version_stage(AWSCURRENT)
        .send()
        .await
        .map_err(|e| {
            format!(
                "cannot read AWSCURRENT of {secret_id}: {}",
                error_summary(&e)
            )
        })?;
    let text = current
        .secret_string()
        .ok_or("AWSCURRENT is binary; a staged rotation needs the rotator's JSON document")?;
    let doc = SecretDocument::parse(Some(&SecretString::new(text.to_string())))
        .map_err(|e| format!("AWSCURRENT is not a rotator document: {e}"))?;
    if doc.profile.idp != IdpKind::Staged {
        return Err(format!(
            "{secret_id} is not a staged rotation (rotation.idp is {:?}): the rotation function creates its secrets at the IdP itself",
            doc.profile.idp.name()
        ));
    }
    let v = value.expose();
    if v.is_empty() {
        return Err("the new client secret is empty (it is read from standard input)".into());
    }
    if v.len() > 4096 || v.chars().any(|c| c.is_control()) {
        return Err(
            "the new client secret must be one line of at most 4096 printable characters".into(),
        );
    }
    if v == doc.client_secret.expose() {
        return Err("the new client secret is the one AWSCURRENT already holds: create a new secret in the vendor's console first".into());
    }
    let mut raw: Value = serde_json::from_str(text).map_err(|_| "AWSCURRENT is not JSON")?;
    let obj = raw
        .as_object_mut()
        .ok_or("AWSCURRENT is not a JSON object")?;
    obj.insert(
        doc.profile.secret_json_key.clone(),
        Value::String(v.to_string()),
    );
    obj.remove("clientSecretId");
    obj.remove("rotationState");
    let version_id = client_request_token()?;
    sm.put_secret_value()
        .secret_id(secret_id)
        .client_request_token(&version_id)
        .secret_string(raw.to_string())
        .version_stages(STAGED_LABEL)
        .send()
        .await
        .map_err(|e| format!("cannot write the staged version: {}", error_summary(&e)))?;
    // The rotation as configured (its function named again, as the console does), with a
    // fresh ClientRequestToken.
    let lambda = sm
        .describe_secret()
        .secret_id(secret_id)
        .send()
        .await
        .ok()
        .and_then(|d| d.rotation_lambda_arn().map(str::to_string));
    let rotation_started = match sm
        .rotate_secret()
        .secret_id(secret_id)
        .set_rotation_lambda_arn(lambda)
        .client_request_token(client_request_token()?)
        .send()
        .await
    {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(error = %error_summary(&e), "the value is staged; the rotation did not start");
            false
        }
    };
    Ok(Staged {
        version_id,
        rotation_started,
    })
}

/// Tags the secret with the version whose client secret the operator revoked (AWSPREVIOUS).
pub async fn mark_revoked(sm: &Client, secret_id: &str) -> Result<String, String> {
    let d = sm
        .describe_secret()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| format!("cannot describe {secret_id}: {}", error_summary(&e)))?;
    let previous = d
        .version_ids_to_stages()
        .and_then(|m| {
            m.iter()
                .find(|(_, s)| s.iter().any(|x| x == AWSPREVIOUS))
                .map(|(id, _)| id.clone())
        })
        .ok_or("the secret has no AWSPREVIOUS version: nothing has been superseded yet")?;
    sm.tag_resource()
        .secret_id(secret_id)
        .tags(Tag::builder().key(REVOKED_TAG).value(&previous).build())
        .send()
        .await
        .map_err(|e| format!("cannot tag {secret_id}: {}", error_summary(&e)))?;
    Ok(previous)
}

/// A fresh ClientRequestToken in UUID layout (32 random hex digits; not an RFC 4122 v4 UUID,
/// which Secrets Manager does not require).
fn client_request_token() -> Result<String, String> {
    let h = random_secret(b"0123456789abcdef", 32).map_err(|e| e.to_string())?;
    let h = h.expose();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}
