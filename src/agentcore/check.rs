//! Does one provider's reference resolve, and to what? Checked in the order the service reads:
//! provider status, Region, existence and deletion, resource policy, KMS key policy, then
//! AWSCURRENT and the JSON key.

use std::fmt;

use serde_json::Value;

use super::access::{KeyFacts, SecretAccess};
use super::discovery::{AgentCoreError, ProviderRef};
use super::policy::service_may;
use super::probe::ValueHash;
use super::references::arn_region;
use super::rules;
use crate::findings::Rule;
use crate::rotation::store::{Payload, SecretStore, StoreError, VersionRef, AWSCURRENT};

/// Why a JSON key does not yield a credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyProblem {
    Missing,
    /// Present but not a non-empty string.
    NotString,
    /// The secret value is binary or not a JSON object.
    NotJson,
}

impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyProblem::Missing => "is missing",
            KeyProblem::NotString => "is not a non-empty string",
            KeyProblem::NotJson => "cannot be read: the secret value is not a JSON object",
        })
    }
}

/// Why a provider's reference does not resolve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    ProviderFailed {
        status: String,
        reason: Option<String>,
    },
    CrossRegion {
        provider_region: String,
        secret_region: String,
    },
    SecretNotFound,
    ScheduledForDeletion,
    ResourcePolicyDenies,
    KmsPolicyDenies {
        key: String,
    },
    KeyUnusable {
        key: String,
        why: KeyProblem,
    },
}

impl Problem {
    pub fn rule(&self) -> &'static Rule {
        match self {
            Problem::ProviderFailed { .. } => &rules::REF_PROVIDER_FAILED,
            Problem::CrossRegion { .. } => &rules::REF_CROSS_REGION,
            Problem::SecretNotFound => &rules::REF_SECRET_NOT_FOUND,
            Problem::ScheduledForDeletion => &rules::REF_SECRET_SCHEDULED_FOR_DELETION,
            Problem::ResourcePolicyDenies => &rules::REF_RESOURCE_POLICY_DENIES,
            Problem::KmsPolicyDenies { .. } => &rules::REF_KMS_POLICY_DENIES,
            Problem::KeyUnusable { .. } => &rules::REF_JSON_KEY_UNUSABLE,
        }
    }

    /// Only the document's content depends on the version; everything else is the same for
    /// every version, so moving AWSCURRENT back cannot fix it.
    pub fn depends_on_version(&self) -> bool {
        matches!(self, Problem::KeyUnusable { .. })
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::ProviderFailed { status, reason } => write!(
                f,
                "provider status is {status} ({})",
                reason.as_deref().unwrap_or("no failureReason")
            ),
            Problem::CrossRegion {
                provider_region,
                secret_region,
            } => write!(
                f,
                "the provider is in {provider_region} but the secret is in {secret_region}"
            ),
            Problem::SecretNotFound => f.write_str("the referenced secret ARN does not exist"),
            Problem::ScheduledForDeletion => f.write_str("the secret is scheduled for deletion"),
            Problem::ResourcePolicyDenies => write!(
                f,
                "the secret's resource policy does not allow {} secretsmanager:GetSecretValue",
                super::policy::SERVICE_PRINCIPAL
            ),
            Problem::KmsPolicyDenies { key } => write!(
                f,
                "the key policy of {key} does not allow {} kms:Decrypt",
                super::policy::SERVICE_PRINCIPAL
            ),
            Problem::KeyUnusable { key, why } => write!(f, "JSON key {key:?} {why}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    AgentCore(#[from] AgentCoreError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The hash of the credential under `key`, or why there is none.
pub fn value_hash(payload: &Payload, key: &str) -> Result<ValueHash, KeyProblem> {
    let text = payload.text().ok_or(KeyProblem::NotJson)?;
    let doc: Value = serde_json::from_str(text.expose()).map_err(|_| KeyProblem::NotJson)?;
    let Value::Object(map) = doc else {
        return Err(KeyProblem::NotJson);
    };
    match map.get(key) {
        None => Err(KeyProblem::Missing),
        Some(Value::String(s)) if !s.is_empty() => Ok(ValueHash::of(s)),
        Some(_) => Err(KeyProblem::NotString),
    }
}

/// Everything that stops the service principal before it reads a value: provider status,
/// Region, existence, deletion, resource policy, KMS key policy.
pub async fn access_problem(
    access: &dyn SecretAccess,
    provider: &ProviderRef,
    secret_arn: &str,
) -> Result<Option<Problem>, CheckError> {
    if provider.is_failed() {
        return Ok(Some(Problem::ProviderFailed {
            status: provider.status.clone().unwrap_or_default(),
            reason: provider.failure_reason.clone(),
        }));
    }
    if let (Some(p), Some(s)) = (arn_region(&provider.arn), arn_region(secret_arn)) {
        if p != s {
            return Ok(Some(Problem::CrossRegion {
                provider_region: p.to_string(),
                secret_region: s.to_string(),
            }));
        }
    }
    let Some(facts) = access.facts(secret_arn).await? else {
        return Ok(Some(Problem::SecretNotFound));
    };
    // The provider holds a full ARN; a secret recreated under the same name has another one,
    // and the service will not find the old one.
    if secret_arn.starts_with("arn:") && facts.arn != secret_arn {
        return Ok(Some(Problem::SecretNotFound));
    }
    if facts.scheduled_for_deletion {
        return Ok(Some(Problem::ScheduledForDeletion));
    }
    if !service_may(
        facts.resource_policy.as_deref(),
        "secretsmanager:GetSecretValue",
        Some(&facts.arn),
    ) {
        return Ok(Some(Problem::ResourcePolicyDenies));
    }
    match &facts.key {
        KeyFacts::AwsManaged => {}
        KeyFacts::Missing { key_id } => {
            return Ok(Some(Problem::KmsPolicyDenies {
                key: key_id.clone(),
            }))
        }
        KeyFacts::Customer { key_arn, policy } => {
            if !service_may(policy.as_deref(), "kms:Decrypt", None) {
                return Ok(Some(Problem::KmsPolicyDenies {
                    key: key_arn.clone(),
                }));
            }
        }
    }
    Ok(None)
}

/// Resolves the reference the way the service does, reading AWSCURRENT through the provider's
/// own `secret_arn` and `json_key`.
pub async fn resolve(
    access: &dyn SecretAccess,
    store: &dyn SecretStore,
    provider: &ProviderRef,
    secret_arn: &str,
    json_key: &str,
) -> Result<Result<ValueHash, Problem>, CheckError> {
    resolve_at(
        access,
        store,
        provider,
        secret_arn,
        json_key,
        VersionRef::Stage(AWSCURRENT),
    )
    .await
}

/// [`resolve`] as if `version` were AWSCURRENT: how the provider resolved before a promotion
/// whose pre-move state was not recorded.
pub async fn resolve_at(
    access: &dyn SecretAccess,
    store: &dyn SecretStore,
    provider: &ProviderRef,
    secret_arn: &str,
    json_key: &str,
    version: VersionRef<'_>,
) -> Result<Result<ValueHash, Problem>, CheckError> {
    if let Some(problem) = access_problem(access, provider, secret_arn).await? {
        return Ok(Err(problem));
    }
    let Some(payload) = store.get_value(secret_arn, version).await? else {
        return Ok(Err(Problem::SecretNotFound));
    };
    Ok(
        value_hash(&payload, json_key).map_err(|why| Problem::KeyUnusable {
            key: json_key.to_string(),
            why,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sensitive::SecretString;

    fn text(s: &str) -> Payload {
        Payload::Text(SecretString::new(s))
    }

    #[test]
    fn a_json_key_yields_the_hash_of_its_string_value() {
        let p = text(r#"{"apiKey":"k-123","n":1,"e":""}"#);
        assert_eq!(value_hash(&p, "apiKey"), Ok(ValueHash::of("k-123")));
        assert_eq!(value_hash(&p, "absent"), Err(KeyProblem::Missing));
        assert_eq!(value_hash(&p, "n"), Err(KeyProblem::NotString));
        assert_eq!(value_hash(&p, "e"), Err(KeyProblem::NotString));
        assert_eq!(value_hash(&text("plain"), "k"), Err(KeyProblem::NotJson));
        assert_eq!(value_hash(&Payload::Binary, "k"), Err(KeyProblem::NotJson));
    }

    #[test]
    fn only_document_problems_depend_on_the_version() {
        assert!(Problem::KeyUnusable {
            key: "k".into(),
            why: KeyProblem::Missing
        }
        .depends_on_version());
        assert!(!Problem::ResourcePolicyDenies.depends_on_version());
        assert!(!Problem::ScheduledForDeletion.depends_on_version());
    }

    #[test]
    fn hashes_print_without_the_value() {
        let h = ValueHash::of("super-secret-value");
        let printed = format!("{h:?}");
        assert!(printed.starts_with("sha256:") && !printed.contains("super"));
    }
}
