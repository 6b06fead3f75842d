//! Reading a provider's secret the way the AgentCore service principal does at runtime:
//! same-Region only, through the secret's resource policy and, for a customer-managed KMS key,
//! through the key policy; then AWSCURRENT and the JSON key.

use std::fmt;

use sha2::{Digest, Sha256};

use super::policy::{allows, Request};
use super::secrets::arn_region;
use super::state::{Ctx, ProviderKind, StoredSecret};

/// The principal AgentCore Identity reads customer secrets as.
pub const SERVICE_PRINCIPAL: &str = "bedrock-agentcore.amazonaws.com";

/// Why a provider's secret does not resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveReason {
    ProviderNotFound,
    /// The provider is in CREATE_FAILED, UPDATE_FAILED or DELETE_FAILED.
    ProviderFailed,
    CrossRegion,
    SecretNotFound,
    SecretScheduledForDeletion,
    ResourcePolicyDenies,
    KmsPolicyDenies,
    /// Binary secret, or SecretString that is not a JSON object.
    NotJson,
    JsonKeyMissing,
    /// The JSON key holds something other than a non-empty string.
    ValueNotString,
    /// moto answered something unexpected (an error code, never a value).
    Backend(String),
}

impl ResolveReason {
    /// Stable code, also written into the data plane's error messages.
    pub fn code(&self) -> &'static str {
        match self {
            ResolveReason::ProviderNotFound => "PROVIDER_NOT_FOUND",
            ResolveReason::ProviderFailed => "PROVIDER_FAILED",
            ResolveReason::CrossRegion => "CROSS_REGION",
            ResolveReason::SecretNotFound => "SECRET_NOT_FOUND",
            ResolveReason::SecretScheduledForDeletion => "SECRET_SCHEDULED_FOR_DELETION",
            ResolveReason::ResourcePolicyDenies => "RESOURCE_POLICY_DENIES",
            ResolveReason::KmsPolicyDenies => "KMS_POLICY_DENIES",
            ResolveReason::NotJson => "NOT_JSON",
            ResolveReason::JsonKeyMissing => "JSON_KEY_MISSING",
            ResolveReason::ValueNotString => "VALUE_NOT_STRING",
            ResolveReason::Backend(_) => "BACKEND",
        }
    }
}

impl fmt::Display for ResolveReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveReason::Backend(detail) => write!(f, "failed to read the secret: {detail}"),
            other => write!(f, "secret reference does not resolve: {}", other.code()),
        }
    }
}

impl std::error::Error for ResolveReason {}

/// A resolved credential. Debug never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ResolvedSecret(String);

impl ResolvedSecret {
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Hex SHA-256, for comparing values without printing them.
    pub fn sha256_hex(&self) -> String {
        Sha256::digest(self.0.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl fmt::Debug for ResolvedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResolvedSecret(<redacted>)")
    }
}

fn backend<E: aws_sdk_secretsmanager::error::ProvideErrorMetadata>(
    op: &str,
    e: &E,
) -> ResolveReason {
    ResolveReason::Backend(format!("{op}: {}", e.code().unwrap_or("unknown error")))
}

/// Resolves an EXTERNAL reference as the service principal would, in `region`.
pub async fn resolve_secret_reference(
    sm: &aws_sdk_secretsmanager::Client,
    kms: &aws_sdk_kms::Client,
    region: &str,
    secret_id: &str,
    json_key: &str,
) -> Result<ResolvedSecret, ResolveReason> {
    if arn_region(secret_id).is_some_and(|r| r != region) {
        return Err(ResolveReason::CrossRegion);
    }
    let described = match sm.describe_secret().secret_id(secret_id).send().await {
        Ok(d) => d,
        Err(e) => {
            let e = e.into_service_error();
            return Err(if e.is_resource_not_found_exception() {
                ResolveReason::SecretNotFound
            } else {
                backend("DescribeSecret", &e)
            });
        }
    };
    if described.deleted_date().is_some() {
        return Err(ResolveReason::SecretScheduledForDeletion);
    }
    let arn = described.arn().unwrap_or(secret_id).to_string();
    let policy = sm
        .get_resource_policy()
        .secret_id(&arn)
        .send()
        .await
        .map_err(|e| backend("GetResourcePolicy", &e.into_service_error()))?;
    let read = Request {
        service: SERVICE_PRINCIPAL,
        action: "secretsmanager:GetSecretValue",
        resource: Some(&arn),
    };
    if !policy.resource_policy().is_some_and(|p| allows(p, &read)) {
        return Err(ResolveReason::ResourcePolicyDenies);
    }
    if let Some(key) = described.kms_key_id().filter(|k| !is_default_key(k)) {
        check_key_policy(kms, key).await?;
    }
    read_json_key(sm, &arn, json_key).await
}

/// An empty KmsKeyId or the aws/secretsmanager alias means the AWS managed key, which the
/// service can always use.
fn is_default_key(key: &str) -> bool {
    key.is_empty()
        || key == "alias/aws/secretsmanager"
        || key.ends_with(":alias/aws/secretsmanager")
}

async fn check_key_policy(kms: &aws_sdk_kms::Client, key: &str) -> Result<(), ResolveReason> {
    use aws_sdk_kms::error::ProvideErrorMetadata;
    use aws_sdk_kms::types::KeyManagerType;
    let kms_err = |op: &str, code: Option<&str>| {
        ResolveReason::Backend(format!("{op}: {}", code.unwrap_or("unknown error")))
    };
    let described = match kms.describe_key().key_id(key).send().await {
        Ok(d) => d,
        // A key that is gone cannot decrypt for anyone.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_not_found_exception()) =>
        {
            return Err(ResolveReason::KmsPolicyDenies)
        }
        Err(e) => return Err(kms_err("DescribeKey", e.code())),
    };
    let Some(meta) = described.key_metadata() else {
        return Err(ResolveReason::KmsPolicyDenies);
    };
    if meta.key_manager() == Some(&KeyManagerType::Aws) {
        return Ok(());
    }
    let policy = kms
        .get_key_policy()
        .key_id(meta.key_id())
        .policy_name("default")
        .send()
        .await
        .map_err(|e| kms_err("GetKeyPolicy", e.code()))?;
    let decrypt = Request {
        service: SERVICE_PRINCIPAL,
        action: "kms:Decrypt",
        resource: None,
    };
    if policy.policy().is_some_and(|p| allows(p, &decrypt)) {
        Ok(())
    } else {
        Err(ResolveReason::KmsPolicyDenies)
    }
}

/// AWSCURRENT (always by stage: moto may serve a stale version otherwise), then the JSON key.
async fn read_json_key(
    sm: &aws_sdk_secretsmanager::Client,
    arn: &str,
    json_key: &str,
) -> Result<ResolvedSecret, ResolveReason> {
    let value = match sm
        .get_secret_value()
        .secret_id(arn)
        .version_stage("AWSCURRENT")
        .send()
        .await
    {
        Ok(v) => v,
        Err(e) => {
            let e = e.into_service_error();
            return Err(if e.is_resource_not_found_exception() {
                ResolveReason::SecretNotFound
            } else if e.is_invalid_request_exception() {
                ResolveReason::SecretScheduledForDeletion
            } else {
                backend("GetSecretValue", &e)
            });
        }
    };
    let document = value
        .secret_string()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
        .filter(serde_json::Value::is_object)
        .ok_or(ResolveReason::NotJson)?;
    match document.get(json_key) {
        None => Err(ResolveReason::JsonKeyMissing),
        Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(ResolvedSecret(s.clone())),
        Some(_) => Err(ResolveReason::ValueNotString),
    }
}

/// Resolves a provider by name: its status first, then its secret.
pub(crate) async fn resolve_provider(
    ctx: &Ctx,
    kind: ProviderKind,
    name: &str,
) -> Result<ResolvedSecret, ResolveReason> {
    let (status, secret) = ctx
        .state()
        .provider_secret(kind, name)
        .ok_or(ResolveReason::ProviderNotFound)?;
    if status.is_failed() {
        return Err(ResolveReason::ProviderFailed);
    }
    match secret {
        // AgentCore owns these: no resource or key policy stands in its way.
        StoredSecret::Managed { arn } => {
            read_json_key(&ctx.sm, &arn, kind.managed_json_key()).await
        }
        StoredSecret::External { arn, json_key } => {
            resolve_secret_reference(&ctx.sm, &ctx.kms, &ctx.region, &arn, &json_key).await
        }
    }
}
