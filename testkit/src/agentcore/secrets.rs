//! The control plane's side of Secrets Manager: turning an EXTERNAL `secretId` into the ARN the
//! service reports, and keeping MANAGED values in AgentCore-owned secrets in moto.

use std::fmt;

use serde_json::{json, Value};

use super::errors::ApiError;
use super::input::{optional_str, secret_reference};
use super::state::{Ctx, ProviderKind, StoredSecret};

/// The secret half of a create/update request. Holds a value for MANAGED, so no Debug of it.
pub(crate) enum SecretInput {
    Managed(String),
    External { secret_id: String, json_key: String },
}

impl fmt::Debug for SecretInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretInput::Managed(_) => f.write_str("Managed(<redacted>)"),
            SecretInput::External {
                secret_id,
                json_key,
            } => f
                .debug_struct("External")
                .field("secret_id", secret_id)
                .field("json_key", json_key)
                .finish(),
        }
    }
}

impl SecretInput {
    /// Reads `<source>`, `<value>` and `<config>` members. The Rust SDK always sends an OAuth2
    /// `clientSecret` (empty when unset), so an empty value counts as absent.
    pub(crate) fn parse(
        body: &Value,
        source_field: &str,
        value_field: &str,
        config_field: &str,
        max_value_len: usize,
    ) -> Result<Self, ApiError> {
        let value = optional_str(body, value_field)?.filter(|v| !v.is_empty());
        let reference = secret_reference(body, config_field)?;
        match optional_str(body, source_field)?.unwrap_or("MANAGED") {
            "MANAGED" => {
                if reference.is_some() {
                    return Err(ApiError::invalid_field(
                        config_field,
                        format!("{config_field} requires {source_field} EXTERNAL"),
                    ));
                }
                let value = value.ok_or_else(|| {
                    ApiError::invalid_field(value_field, "Member must not be null or empty")
                })?;
                if value.len() > max_value_len {
                    return Err(ApiError::invalid_field(
                        value_field,
                        format!("Member must have length less than or equal to {max_value_len}"),
                    ));
                }
                Ok(SecretInput::Managed(value.to_string()))
            }
            "EXTERNAL" => {
                if value.is_some() {
                    return Err(ApiError::invalid_field(
                        value_field,
                        format!("{value_field} must not be set when {source_field} is EXTERNAL"),
                    ));
                }
                let (secret_id, json_key) = reference.ok_or_else(|| {
                    ApiError::invalid_field(config_field, "Member must not be null")
                })?;
                Ok(SecretInput::External {
                    secret_id,
                    json_key,
                })
            }
            _ => Err(ApiError::invalid_field(
                source_field,
                "Member must satisfy enum value set: [MANAGED, EXTERNAL]",
            )),
        }
    }

    /// Writes or resolves the secret and returns where the provider now points.
    pub(crate) async fn store(
        &self,
        ctx: &Ctx,
        kind: ProviderKind,
        name: &str,
        config_field: &str,
    ) -> Result<StoredSecret, ApiError> {
        match self {
            SecretInput::Managed(value) => Ok(StoredSecret::Managed {
                arn: put_managed(ctx, kind, name, value).await?,
            }),
            SecretInput::External {
                secret_id,
                json_key,
            } => Ok(StoredSecret::External {
                arn: external_arn(ctx, secret_id, config_field).await?,
                json_key: json_key.clone(),
            }),
        }
    }
}

/// Region of a Secrets Manager ARN, if `id` is one.
pub(crate) fn arn_region(id: &str) -> Option<&str> {
    let mut parts = id.splitn(6, ':');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("arn"), Some(_), Some("secretsmanager"), Some(region)) => Some(region),
        _ => None,
    }
}

/// Client for the Region a secret ARN names (moto keeps one backend per Region).
fn client_for(ctx: &Ctx, secret_id: &str) -> aws_sdk_secretsmanager::Client {
    match arn_region(secret_id) {
        Some(region) if region != ctx.region => aws_sdk_secretsmanager::Client::new(
            &crate::moto::sdk_config_for(&ctx.moto_endpoint, region),
        ),
        _ => ctx.sm.clone(),
    }
}

/// DescribeSecret at create/update: the ARN is what the service reports as `*SecretArn`.
/// A foreign-Region ARN is looked up in its own Region so the provider can be created (the
/// data plane then refuses it as cross-Region).
async fn external_arn(ctx: &Ctx, secret_id: &str, config_field: &str) -> Result<String, ApiError> {
    let field = format!("{config_field}.secretId");
    let described = client_for(ctx, secret_id)
        .describe_secret()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| {
            let e = e.into_service_error();
            if e.is_resource_not_found_exception() {
                ApiError::invalid_field(&field, "Secrets Manager can't find the specified secret")
            } else {
                ApiError::internal(format!(
                    "failed to describe the referenced secret: {}",
                    e.meta().code().unwrap_or("unknown")
                ))
            }
        })?;
    if described.deleted_date().is_some() {
        return Err(ApiError::invalid_field(
            &field,
            "The referenced secret is scheduled for deletion",
        ));
    }
    described
        .arn()
        .map(str::to_string)
        .ok_or_else(|| ApiError::internal("DescribeSecret returned no ARN"))
}

/// Name of the AgentCore-owned secret behind a MANAGED provider.
pub fn managed_secret_name(kind: ProviderKind, name: &str) -> String {
    format!(
        "bedrock-agentcore-identity!default/{}/{name}",
        kind.managed_segment()
    )
}

/// Creates (or overwrites) the AgentCore-owned secret and returns its ARN.
async fn put_managed(
    ctx: &Ctx,
    kind: ProviderKind,
    name: &str,
    value: &str,
) -> Result<String, ApiError> {
    let secret_name = managed_secret_name(kind, name);
    let document = json!({ kind.managed_json_key(): value }).to_string();
    let failed = |op: &str, code: Option<&str>| {
        ApiError::internal(format!(
            "failed to {op} the managed secret: {}",
            code.unwrap_or("unknown")
        ))
    };
    match ctx
        .sm
        .create_secret()
        .name(&secret_name)
        .secret_string(&document)
        .send()
        .await
    {
        Ok(out) => {
            return out
                .arn()
                .map(str::to_string)
                .ok_or_else(|| failed("create", None))
        }
        Err(e) => {
            let e = e.into_service_error();
            if !e.is_resource_exists_exception() {
                return Err(failed("create", e.meta().code()));
            }
        }
    }
    // Left over from an earlier provider of the same name: take it over.
    let _ = ctx.sm.restore_secret().secret_id(&secret_name).send().await;
    let out = ctx
        .sm
        .put_secret_value()
        .secret_id(&secret_name)
        .secret_string(&document)
        .send()
        .await
        .map_err(|e| failed("update", e.into_service_error().meta().code()))?;
    out.arn()
        .map(str::to_string)
        .ok_or_else(|| failed("update", None))
}

/// Removes an AgentCore-owned secret once no provider uses it.
pub(crate) async fn delete_managed(ctx: &Ctx, arn: &str) {
    // Best effort, like the service's asynchronous cleanup; a leftover is taken over later.
    let _ = ctx
        .sm
        .delete_secret()
        .secret_id(arn)
        .force_delete_without_recovery(true)
        .send()
        .await;
}

/// The AgentCore-owned secret an update leaves behind when a provider moves to EXTERNAL.
pub(crate) fn orphaned_managed(previous: StoredSecret, current: &StoredSecret) -> Option<String> {
    match (previous, current) {
        (StoredSecret::Managed { arn }, StoredSecret::External { .. }) => Some(arn),
        _ => None,
    }
}
