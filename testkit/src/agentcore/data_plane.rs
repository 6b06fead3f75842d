//! bedrock-agentcore data plane: GetWorkloadAccessToken, GetResourceApiKey and
//! GetResourceOauth2Token (M2M).

use serde_json::{json, Value};

use super::errors::{ok, ApiError, Reply};
use super::input::{provider_name, required_str, string_list, workload_name};
use super::m2m::client_credentials;
use super::resolve::{resolve_provider, ResolveReason};
use super::state::{Ctx, ProviderKind};

pub(crate) async fn get_workload_access_token(ctx: &Ctx, body: &Value) -> Reply {
    let name = workload_name(body, "workloadName")?;
    let mut state = ctx.state();
    if !state.workloads.contains_key(name) {
        return Err(ApiError::not_found(format!(
            "Workload identity {name} not found"
        )));
    }
    let token = format!(
        "wat-{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    state.tokens.insert(token.clone(), name.to_string());
    ok(json!({ "workloadAccessToken": token }))
}

/// Unknown tokens are refused as AccessDenied (the token is the caller's authorisation).
fn check_token(ctx: &Ctx, body: &Value) -> Result<(), ApiError> {
    let token = required_str(body, "workloadIdentityToken")?;
    if ctx.state().tokens.contains_key(token) {
        Ok(())
    } else {
        Err(ApiError::access_denied(
            "The workload access token is invalid or expired",
        ))
    }
}

/// How a broken reference surfaces on the data plane. The real messages are undocumented;
/// the AccessDenied wording follows what the service is seen to say for a failed
/// GetSecretValue. The reason code is appended so tests and audits can tell cases apart.
pub(crate) fn reason_error(reason: &ResolveReason, name: &str) -> ApiError {
    let code = reason.code();
    match reason {
        ResolveReason::ProviderNotFound => {
            ApiError::not_found(format!("Credential provider {name} not found"))
        }
        ResolveReason::SecretNotFound => ApiError::not_found(format!(
            "The secret referenced by credential provider {name} was not found ({code})"
        )),
        ResolveReason::ResourcePolicyDenies => ApiError::access_denied(format!(
            "The requested operation could not be completed. You are not authorized to perform: secretsmanager:GetSecretValue ({code})"
        )),
        ResolveReason::KmsPolicyDenies => ApiError::access_denied(format!(
            "The requested operation could not be completed. You are not authorized to perform: kms:Decrypt ({code})"
        )),
        ResolveReason::Backend(detail) => {
            ApiError::internal(format!("Failed to read the credential: {detail}"))
        }
        ResolveReason::ProviderFailed => ApiError::validation(format!(
            "Credential provider {name} is not in a usable state ({code})"
        )),
        ResolveReason::CrossRegion
        | ResolveReason::SecretScheduledForDeletion
        | ResolveReason::NotJson
        | ResolveReason::JsonKeyMissing
        | ResolveReason::ValueNotString => ApiError::validation(format!(
            "The secret referenced by credential provider {name} cannot be used ({code})"
        )),
    }
}

pub(crate) async fn get_resource_api_key(ctx: &Ctx, body: &Value) -> Reply {
    check_token(ctx, body)?;
    let name = provider_name(body, "resourceCredentialProviderName")?;
    let key = resolve_provider(ctx, ProviderKind::ApiKey, name)
        .await
        .map_err(|r| reason_error(&r, name))?;
    ok(json!({ "apiKey": key.expose_secret() }))
}

pub(crate) async fn get_resource_oauth2_token(ctx: &Ctx, body: &Value) -> Reply {
    check_token(ctx, body)?;
    let name = provider_name(body, "resourceCredentialProviderName")?;
    let scopes = string_list(body, "scopes")?;
    match required_str(body, "oauth2Flow")? {
        "M2M" => {}
        "USER_FEDERATION" | "ON_BEHALF_OF_TOKEN_EXCHANGE" => {
            return Err(ApiError::validation(
                "The emulator only supports the M2M flow",
            ))
        }
        _ => {
            return Err(ApiError::invalid_field(
                "oauth2Flow",
                "Member must satisfy enum value set",
            ))
        }
    }
    let extra: Vec<(String, String)> = body
        .get("customParameters")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let config = ctx
        .state()
        .oauth2
        .get(name)
        .map(|p| p.config.clone())
        .ok_or_else(|| reason_error(&ResolveReason::ProviderNotFound, name))?;
    let secret = resolve_provider(ctx, ProviderKind::Oauth2, name)
        .await
        .map_err(|r| reason_error(&r, name))?;
    match client_credentials(&ctx.http, &config, &secret, &scopes, &extra).await {
        Ok(token) => ok(json!({ "accessToken": token })),
        Err(e) => {
            ctx.state().knobs.last_token_error = Some(e.to_string());
            // The service does not relay the IdP's answer; neither does the emulator.
            Err(ApiError::validation(
                "Failed to obtain an access token from the credential provider's token endpoint",
            ))
        }
    }
}
