//! The read-only Secrets Manager, KMS and Lambda adapter behind
//! [`crate::secrets::SecretInventory`]: the audit reads its inventory through it, and the
//! rotation its references' facts.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::SdkConfig;

use super::call_counter::CallCounter;
use super::errors::error_code;
use crate::secrets::inventory::LIST_PAGE;
use crate::secrets::store::AWSCURRENT;
use crate::secrets::{
    KeyPolicyRead, Lookup, Payload, ReadError, SecretInventory, SecretPage, VersionRef,
};
use crate::sensitive::SecretString;

/// Standard retries with exponential back-off, more attempts than the default: an audit is
/// read-only and would rather wait out throttling than report a gap.
pub fn audit_retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(8)
}

/// Secrets Manager, KMS and Lambda (GetFunctionConcurrency), read-only: the audit's inventory and
/// the rotation's reference checks.
pub struct SecretsReader {
    sm: aws_sdk_secretsmanager::Client,
    kms: aws_sdk_kms::Client,
    lambda: aws_sdk_lambda::Client,
    /// Cleared after BatchGetSecretValue is denied once: then one GetSecretValue per secret.
    batch: AtomicBool,
}

impl SecretsReader {
    /// The audit's reader: [`audit_retry_config`], calls counted by `counter`.
    pub fn new(sdk: &SdkConfig, counter: Option<&CallCounter>) -> Self {
        Self::with_retry(sdk, counter, audit_retry_config())
    }

    pub fn with_retry(sdk: &SdkConfig, counter: Option<&CallCounter>, retry: RetryConfig) -> Self {
        let mut sm = aws_sdk_secretsmanager::config::Builder::from(sdk).retry_config(retry.clone());
        let mut kms = aws_sdk_kms::config::Builder::from(sdk).retry_config(retry.clone());
        let mut lambda = aws_sdk_lambda::config::Builder::from(sdk).retry_config(retry);
        if let Some(c) = counter {
            sm = sm.interceptor(c.clone());
            kms = kms.interceptor(c.clone());
            lambda = lambda.interceptor(c.clone());
        }
        Self {
            sm: aws_sdk_secretsmanager::Client::from_conf(sm.build()),
            kms: aws_sdk_kms::Client::from_conf(kms.build()),
            lambda: aws_sdk_lambda::Client::from_conf(lambda.build()),
            batch: AtomicBool::new(true),
        }
    }

    async fn current_one(&self, arn: &str) -> Result<Option<Payload>, ReadError> {
        self.value_at(arn, VersionRef::Stage(AWSCURRENT)).await
    }
}

/// A Lambda function ARN without its `:alias` or `:version` qualifier
/// (`arn:aws:lambda:eu-west-1:111122223333:function:f:live` → `…:function:f`); anything else as
/// given.
fn unqualified_function(arn: &str) -> &str {
    match arn.match_indices(':').nth(6) {
        Some((i, _)) if arn.starts_with("arn:") => &arn[..i],
        _ => arn,
    }
}

#[async_trait]
impl SecretInventory for SecretsReader {
    async fn describe(&self, secret_id: &str) -> Lookup {
        let out = match self.sm.describe_secret().secret_id(secret_id).send().await {
            Ok(o) => o,
            Err(e) => {
                let e = e.into_service_error();
                return if e.is_resource_not_found_exception() {
                    Lookup::NotFound
                } else {
                    Lookup::Unreadable(error_code(&e))
                };
            }
        };
        Lookup::Found(crate::aws::secret_meta::secret_meta!(
            out,
            out.arn().unwrap_or(secret_id).to_string(),
            version_ids_to_stages
        ))
    }

    fn lists(&self) -> bool {
        true
    }

    async fn list_page(&self, next: Option<String>) -> Result<SecretPage, ReadError> {
        let out = self
            .sm
            .list_secrets()
            .include_planned_deletion(true)
            .max_results(LIST_PAGE as i32)
            .set_next_token(next)
            .send()
            .await
            .map_err(|e| ReadError::from(error_code(&e.into_service_error())))?;
        let secrets = out
            .secret_list()
            .iter()
            .filter_map(|e| {
                Some(crate::aws::secret_meta::secret_meta!(
                    e,
                    e.arn()?.to_string(),
                    secret_versions_to_stages
                ))
            })
            .collect();
        Ok(SecretPage {
            secrets,
            next: out
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_string),
        })
    }

    /// GetFunctionConcurrency, not GetFunction: it answers ResourceNotFound for a missing
    /// function like GetFunction does, but returns only the reserved concurrency, where
    /// GetFunction returns the function's environment variables and a presigned URL of its code.
    /// It takes no qualifier, so an alias or version ARN is checked as its function.
    async fn function_exists(&self, arn: &str) -> Option<bool> {
        let function = unqualified_function(arn);
        match self
            .lambda
            .get_function_concurrency()
            .function_name(function)
            .send()
            .await
        {
            Ok(_) => Some(true),
            Err(e) => {
                let e = e.into_service_error();
                if e.is_resource_not_found_exception() {
                    Some(false)
                } else {
                    // Denied or failed: SEC-004 is skipped rather than guessed.
                    tracing::info!(target: "audit", function = %arn, error = %error_code(&e), "GetFunctionConcurrency failed; rotation function existence unknown");
                    None
                }
            }
        }
    }

    async fn current_values(
        &self,
        secrets: &[(String, Option<String>)],
    ) -> Vec<Result<Option<Payload>, ReadError>> {
        let mut found: BTreeMap<String, Result<Option<Payload>, ReadError>> = BTreeMap::new();
        if self.batch.load(Ordering::Relaxed) && !secrets.is_empty() {
            let ids: Vec<String> = secrets.iter().map(|(a, _)| a.clone()).collect();
            match self
                .sm
                .batch_get_secret_value()
                .set_secret_id_list(Some(ids))
                .send()
                .await
            {
                Ok(out) => {
                    for entry in out.secret_values() {
                        let Some(arn) = entry.arn() else { continue };
                        let expected = secrets
                            .iter()
                            .find(|(a, _)| a == arn)
                            .and_then(|(_, v)| v.as_deref());
                        // Only a value of the version the metadata called AWSCURRENT counts;
                        // anything else is read again by stage below.
                        if expected.is_some() && entry.version_id() != expected {
                            continue;
                        }
                        let payload = match entry.secret_string() {
                            Some(s) => Payload::Text(SecretString::new(s)),
                            None => Payload::Binary,
                        };
                        found.insert(arn.to_string(), Ok(Some(payload)));
                    }
                    for err in out.errors() {
                        if let (Some(id), Some(c)) = (err.secret_id(), err.error_code()) {
                            // Batches do not cross accounts (GetSecretValue does, through
                            // the secret's policy): a denied entry is read again one by one.
                            if c.contains("AccessDenied") {
                                continue;
                            }
                            if let Some((arn, _)) = secrets.iter().find(|(a, _)| a == id) {
                                found.insert(arn.clone(), Err(c.into()));
                            }
                        }
                    }
                }
                Err(e) => {
                    let c = error_code(&e.into_service_error());
                    if c.contains("AccessDenied") {
                        tracing::info!(target: "audit", "BatchGetSecretValue denied; reading values one by one");
                        self.batch.store(false, Ordering::Relaxed);
                    }
                }
            }
        }
        let mut out = Vec::with_capacity(secrets.len());
        for (arn, _) in secrets {
            out.push(match found.remove(arn) {
                Some(r) => r,
                None => self.current_one(arn).await,
            });
        }
        out
    }

    async fn value_at(
        &self,
        arn: &str,
        version: VersionRef<'_>,
    ) -> Result<Option<Payload>, ReadError> {
        let (id, stage) = match version {
            VersionRef::Stage(s) => (None, Some(s)),
            VersionRef::IdAndStage(v, s) => (Some(v), Some(s)),
            VersionRef::Id(v) => (Some(v), None),
        };
        match self
            .sm
            .get_secret_value()
            .secret_id(arn)
            .set_version_id(id.map(str::to_string))
            .set_version_stage(stage.map(str::to_string))
            .send()
            .await
        {
            Ok(out) => Ok(Some(match out.secret_string() {
                Some(s) => Payload::Text(SecretString::new(s)),
                None => Payload::Binary,
            })),
            Err(e) => {
                let e = e.into_service_error();
                if e.is_resource_not_found_exception() {
                    Ok(None)
                } else {
                    Err(error_code(&e).into())
                }
            }
        }
    }

    async fn resource_policy(&self, arn: &str) -> Result<Option<String>, ReadError> {
        match self.sm.get_resource_policy().secret_id(arn).send().await {
            Ok(out) => Ok(out.resource_policy().map(str::to_string)),
            Err(e) => Err(error_code(&e.into_service_error()).into()),
        }
    }

    async fn key_policy(&self, key_id: &str) -> Result<KeyPolicyRead, ReadError> {
        // GetKeyPolicy takes a key id or ARN, not an alias: resolve aliases first.
        let key_arn = if key_id.contains("alias/") {
            match self.describe_key(key_id).await? {
                None => return Ok(KeyPolicyRead::Missing),
                Some((_, true)) => return Ok(KeyPolicyRead::AwsManaged),
                Some((arn, false)) => arn,
            }
        } else {
            key_id.to_string()
        };
        match self
            .kms
            .get_key_policy()
            .key_id(&key_arn)
            .policy_name("default")
            .send()
            .await
        {
            Ok(out) => Ok(KeyPolicyRead::Customer {
                key_arn,
                policy: out.policy().map(str::to_string),
            }),
            Err(e) => {
                let e = e.into_service_error();
                if e.is_not_found_exception() {
                    Ok(KeyPolicyRead::Missing)
                } else {
                    Err(error_code(&e).into())
                }
            }
        }
    }

    async fn key_is_aws_managed(&self, key_id: &str) -> Result<Option<bool>, ReadError> {
        Ok(self.describe_key(key_id).await?.map(|(_, aws)| aws))
    }
}

impl SecretsReader {
    /// `(key ARN, AWS managed?)`, `None` when the key does not exist.
    async fn describe_key(&self, key_id: &str) -> Result<Option<(String, bool)>, ReadError> {
        match self.kms.describe_key().key_id(key_id).send().await {
            Ok(out) => Ok(out.key_metadata().map(|m| {
                (
                    m.arn().unwrap_or(key_id).to_string(),
                    m.key_manager() == Some(&aws_sdk_kms::types::KeyManagerType::Aws),
                )
            })),
            Err(e) => {
                let e = e.into_service_error();
                if e.is_not_found_exception() {
                    Ok(None)
                } else {
                    Err(error_code(&e).into())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::unqualified_function;

    #[test]
    fn a_rotation_function_arn_loses_its_alias_or_version_and_nothing_else() {
        let f = "arn:aws:lambda:eu-west-1:111122223333:function:rotator";
        assert_eq!(unqualified_function(f), f);
        assert_eq!(unqualified_function(&format!("{f}:live")), f);
        assert_eq!(unqualified_function(&format!("{f}:7")), f);
        assert_eq!(unqualified_function("rotator"), "rotator");
        assert_eq!(unqualified_function("rotator:live"), "rotator:live");
    }
}
