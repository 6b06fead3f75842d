//! Adapters of the drift audit: Secrets Manager and KMS reads ([`SecretsInventory`]), previous
//! findings from Security Hub ([`SecurityHubHistory`]) and continuation events on EventBridge
//! ([`EventBridgeContinuer`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::SdkConfig;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;

use crate::audit::collect::{KeyPolicyRead, SecretInventory, SecretPage, LIST_PAGE};
use crate::audit::lifecycle::{FindingHistory, PreviousFinding};
use crate::audit::snapshot::{Lookup, SecretMeta};
use crate::audit::trigger::{Continuation, CONTINUATION_DETAIL_TYPE, CONTINUATION_SOURCE};
use crate::findings::{Resource, ResourceKind, Scope, Timestamp, FINDING_ID_PREFIX};
use crate::rotation::binding::BINDING_TAG;
use crate::rotation::store::Payload;
use crate::sensitive::SecretString;

use super::call_counter::CallCounter;

/// Standard retries with exponential back-off, more attempts than the default: an audit is
/// read-only and would rather wait out throttling than report a gap.
pub fn audit_retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(8)
}

fn code(err: &impl ProvideErrorMetadata) -> String {
    err.code().unwrap_or("RequestFailed").to_string()
}

/// Secrets Manager, KMS and Lambda (GetFunctionConcurrency) for the audit.
pub struct SecretsInventory {
    sm: aws_sdk_secretsmanager::Client,
    kms: aws_sdk_kms::Client,
    lambda: aws_sdk_lambda::Client,
    /// Cleared after BatchGetSecretValue is denied once: then one GetSecretValue per secret.
    batch: AtomicBool,
}

impl SecretsInventory {
    pub fn new(sdk: &SdkConfig, counter: Option<&CallCounter>) -> Self {
        let mut sm =
            aws_sdk_secretsmanager::config::Builder::from(sdk).retry_config(audit_retry_config());
        let mut kms = aws_sdk_kms::config::Builder::from(sdk).retry_config(audit_retry_config());
        let mut lambda =
            aws_sdk_lambda::config::Builder::from(sdk).retry_config(audit_retry_config());
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

    async fn current_one(&self, arn: &str) -> Result<Option<Payload>, String> {
        self.value_at(arn, "AWSCURRENT").await
    }
}

/// [`SecretMeta`] from a DescribeSecret answer or a ListSecrets entry: two SDK types with the
/// same accessors (the version map's aside), mapped in one place. Of the tags both return, only
/// the binding tag's value is kept.
macro_rules! secret_meta {
    ($e:expr, $arn:expr, $versions:ident) => {
        SecretMeta {
            arn: $arn,
            name: $e.name().unwrap_or_default().to_string(),
            deleted_date: ts($e.deleted_date()),
            kms_key_id: $e.kms_key_id().map(str::to_string),
            rotation_enabled: $e.rotation_enabled().unwrap_or(false),
            rotation_lambda_arn: $e
                .rotation_lambda_arn()
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            rotation_lambda_exists: None,
            managed_rotation: $e.owning_service().is_some()
                || !$e.external_secret_rotation_metadata().is_empty(),
            created: ts($e.created_date()),
            last_rotated: ts($e.last_rotated_date()),
            last_changed: ts($e.last_changed_date()),
            next_rotation: ts($e.next_rotation_date()),
            versions: $e
                .$versions()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            binding: $e
                .tags()
                .iter()
                .find(|t| t.key() == Some(BINDING_TAG))
                .map(|t| t.value().unwrap_or_default().to_string()),
        }
    };
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

fn ts(t: Option<&aws_smithy_types::DateTime>) -> Option<Timestamp> {
    t.and_then(|d| d.to_millis().ok())
        .and_then(|m| u64::try_from(m).ok())
        .map(Timestamp::from_millis)
}

#[async_trait]
impl SecretInventory for SecretsInventory {
    async fn describe(&self, secret_id: &str) -> Lookup {
        let out = match self.sm.describe_secret().secret_id(secret_id).send().await {
            Ok(o) => o,
            Err(e) => {
                let e = e.into_service_error();
                return if e.is_resource_not_found_exception() {
                    Lookup::NotFound
                } else {
                    Lookup::Unreadable(code(&e))
                };
            }
        };
        Lookup::Found(secret_meta!(
            out,
            out.arn().unwrap_or(secret_id).to_string(),
            version_ids_to_stages
        ))
    }

    fn lists(&self) -> bool {
        true
    }

    async fn list_page(&self, next: Option<String>) -> Result<SecretPage, String> {
        let out = self
            .sm
            .list_secrets()
            .include_planned_deletion(true)
            .max_results(LIST_PAGE as i32)
            .set_next_token(next)
            .send()
            .await
            .map_err(|e| code(&e.into_service_error()))?;
        let secrets = out
            .secret_list()
            .iter()
            .filter_map(|e| {
                Some(secret_meta!(
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
                    tracing::info!(target: "audit", function = %arn, error = %code(&e), "GetFunctionConcurrency failed; rotation function existence unknown");
                    None
                }
            }
        }
    }

    async fn current_values(
        &self,
        secrets: &[(String, Option<String>)],
    ) -> Vec<Result<Option<Payload>, String>> {
        let mut found: BTreeMap<String, Result<Option<Payload>, String>> = BTreeMap::new();
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
                            if let Some((arn, _)) = secrets.iter().find(|(a, _)| a == id) {
                                found.insert(arn.clone(), Err(c.to_string()));
                            }
                        }
                    }
                }
                Err(e) => {
                    let c = code(&e.into_service_error());
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

    async fn value_at(&self, arn: &str, stage: &str) -> Result<Option<Payload>, String> {
        match self
            .sm
            .get_secret_value()
            .secret_id(arn)
            .version_stage(stage)
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
                    Err(code(&e))
                }
            }
        }
    }

    async fn resource_policy(&self, arn: &str) -> Result<Option<String>, String> {
        match self.sm.get_resource_policy().secret_id(arn).send().await {
            Ok(out) => Ok(out.resource_policy().map(str::to_string)),
            Err(e) => Err(code(&e.into_service_error())),
        }
    }

    async fn key_policy(&self, key_id: &str) -> Result<KeyPolicyRead, String> {
        // GetKeyPolicy takes a key id or ARN, not an alias: resolve aliases first.
        let described = if key_id.contains("alias/") {
            Some(self.describe_key(key_id).await?)
        } else {
            None
        };
        let (key_arn, manager_known) = match &described {
            Some(None) => return Ok(KeyPolicyRead::Missing),
            Some(Some((arn, aws_managed))) if *aws_managed => {
                let _ = arn;
                return Ok(KeyPolicyRead::AwsManaged);
            }
            Some(Some((arn, _))) => (arn.clone(), true),
            None => (key_id.to_string(), false),
        };
        let policy = match self
            .kms
            .get_key_policy()
            .key_id(&key_arn)
            .policy_name("default")
            .send()
            .await
        {
            Ok(out) => out.policy().map(str::to_string),
            Err(e) => {
                let e = e.into_service_error();
                if e.is_not_found_exception() {
                    return Ok(KeyPolicyRead::Missing);
                }
                return Err(code(&e));
            }
        };
        let allows = crate::agentcore::policy::service_may(policy.as_deref(), "kms:Decrypt", None);
        // Only on the failure path: an AWS managed key given by ARN is not a finding.
        if !allows && !manager_known {
            if let Some((_, true)) = self.describe_key(&key_arn).await? {
                return Ok(KeyPolicyRead::AwsManaged);
            }
        }
        Ok(KeyPolicyRead::Customer { key_arn, policy })
    }
}

impl SecretsInventory {
    /// `(key ARN, AWS managed?)`, `None` when the key does not exist.
    async fn describe_key(&self, key_id: &str) -> Result<Option<(String, bool)>, String> {
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
                    Err(code(&e))
                }
            }
        }
    }
}

/// Previous findings: ours (product ARN, id prefix), ACTIVE and FAILED, from Security Hub.
pub struct SecurityHubHistory {
    client: aws_sdk_securityhub::Client,
}

/// GetFindings page size (the model maximum).
const HISTORY_PAGE: usize = 100;

impl SecurityHubHistory {
    pub fn new(sdk: &SdkConfig, counter: Option<&CallCounter>) -> Self {
        let mut conf =
            aws_sdk_securityhub::config::Builder::from(sdk).retry_config(audit_retry_config());
        if let Some(c) = counter {
            conf = conf.interceptor(c.clone());
        }
        Self {
            client: aws_sdk_securityhub::Client::from_conf(conf.build()),
        }
    }
}

#[async_trait]
impl FindingHistory for SecurityHubHistory {
    fn page_size(&self) -> Option<usize> {
        Some(HISTORY_PAGE)
    }

    async fn active(&self, scope: &Scope) -> Result<Vec<PreviousFinding>, String> {
        use aws_sdk_securityhub::types::{
            AwsSecurityFindingFilters, StringFilter, StringFilterComparison,
        };
        let partition = match scope.region() {
            r if r.starts_with("cn-") => "aws-cn",
            r if r.starts_with("us-gov-") => "aws-us-gov",
            _ => "aws",
        };
        let product = format!(
            "arn:{partition}:securityhub:{}:{}:product/{}/default",
            scope.region(),
            scope.account_id(),
            scope.account_id()
        );
        let filter = |value: &str, cmp: StringFilterComparison| {
            StringFilter::builder().value(value).comparison(cmp).build()
        };
        let filters = AwsSecurityFindingFilters::builder()
            .product_arn(filter(&product, StringFilterComparison::Equals))
            .record_state(filter("ACTIVE", StringFilterComparison::Equals))
            .compliance_status(filter("FAILED", StringFilterComparison::Equals))
            .id(filter(
                &format!("{FINDING_ID_PREFIX}/"),
                StringFilterComparison::Prefix,
            ))
            .build();
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page = self
                .client
                .get_findings()
                .filters(filters.clone())
                .max_results(HISTORY_PAGE as i32)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| code(&e.into_service_error()))?;
            for f in page.findings() {
                // Filters again here: some implementations (moto) ignore them.
                let ours = f.product_arn() == Some(product.as_str())
                    && f.id().is_some_and(|i| i.starts_with(FINDING_ID_PREFIX))
                    && f.record_state().is_none_or(|s| s.as_str() == "ACTIVE")
                    && f.compliance()
                        .and_then(|c| c.status())
                        .is_none_or(|s| s.as_str() == "FAILED");
                if !ours {
                    continue;
                }
                let Some(id) = f.id() else { continue };
                let rule_id = f
                    .product_fields()
                    .and_then(|m| m.get("agentcore-rotator/RuleId"))
                    .map(String::as_str)
                    .or(f.generator_id())
                    .unwrap_or_default();
                let resources = f
                    .resources()
                    .iter()
                    .filter_map(|r| {
                        let kind = match r.r#type() {
                            Some("AwsSecretsManagerSecret") => ResourceKind::Secret,
                            _ => match r
                                .details()
                                .and_then(|d| d.other())
                                .and_then(|o| o.get("Kind"))
                                .map(String::as_str)
                            {
                                Some("PROVIDER_OAUTH2") => ResourceKind::ProviderOauth2,
                                Some("PROVIDER_API_KEY") => ResourceKind::ProviderApiKey,
                                Some("SECRET") => ResourceKind::Secret,
                                _ => ResourceKind::UpstreamClient,
                            },
                        };
                        Resource::new(kind, r.id()?).ok()
                    })
                    .collect();
                let first_seen = f
                    .first_observed_at()
                    .or(f.created_at())
                    .and_then(Timestamp::parse_rfc3339)
                    .unwrap_or_else(Timestamp::now);
                out.push(PreviousFinding {
                    id: id.to_string(),
                    rule_id: rule_id.to_string(),
                    resources,
                    first_seen,
                });
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => next = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }
}

/// Re-invokes the audit through an event on our bus (a rule routes "Drift Audit Continuation"
/// back to the function), so no Lambda permission on itself is needed.
pub struct EventBridgeContinuer {
    client: aws_sdk_eventbridge::Client,
    bus: Option<String>,
}

impl EventBridgeContinuer {
    pub fn new(sdk: &SdkConfig, bus: Option<String>) -> Self {
        Self {
            client: aws_sdk_eventbridge::Client::new(sdk),
            bus,
        }
    }
}

#[async_trait]
impl crate::audit::engine::Continuer for EventBridgeContinuer {
    async fn schedule(&self, continuation: &Continuation) -> Result<(), String> {
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .source(CONTINUATION_SOURCE)
            .detail_type(CONTINUATION_DETAIL_TYPE)
            .detail(
                serde_json::json!({"schemaVersion": "1.0", "continuation": continuation})
                    .to_string(),
            )
            .set_event_bus_name(self.bus.clone())
            .build();
        let out = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| code(&e.into_service_error()))?;
        match out.entries().first().and_then(|e| e.error_code()) {
            Some(c) if out.failed_entry_count() > 0 => Err(c.to_string()),
            _ => Ok(()),
        }
    }
}

/// The audit engine wired to AWS from the standard configuration and `lookup`: AgentCore
/// discovery (`ROTATOR_AGENTCORE_*`), Secrets Manager/KMS, Cognito, Security Hub history when
/// `ROTATOR_SECURITY_HUB` is on, continuation events on `ROTATOR_FINDINGS_EVENT_BUS`.
/// `agentcore_sdk` may differ from `sdk` (local stacks serve AgentCore elsewhere).
pub fn auditor(
    sdk: &SdkConfig,
    agentcore_sdk: &SdkConfig,
    lookup: impl Fn(&str) -> Option<String>,
    publish: Arc<dyn crate::audit::engine::Publish>,
    counter: &CallCounter,
) -> Result<crate::audit::Auditor, String> {
    use crate::agentcore::AgentCoreSettings;
    use crate::audit::{AuditConfig, Auditor};
    use crate::findings::EmittersConfig;
    let config = AuditConfig::from_lookup(&lookup).map_err(|e| e.to_string())?;
    let cognito_domain_url = config.cognito_domain_url.clone();
    let settings = AgentCoreSettings::from_lookup(&lookup).map_err(|e| e.to_string())?;
    let findings = EmittersConfig::from_lookup(&lookup).map_err(|e| e.to_string())?;
    let region = sdk
        .region()
        .map(|r| r.to_string())
        .ok_or("no AWS Region configured (set AWS_REGION)")?;
    let mut auditor = Auditor::new(
        Arc::new(super::agentcore::AgentCoreDirectory::counted(
            agentcore_sdk,
            &settings,
            Some(counter),
        )),
        Arc::new(SecretsInventory::new(sdk, Some(counter))),
        publish,
        region,
        config,
    );
    auditor.upstreams = Some(Arc::new(
        crate::upstream::cognito::AwsUpstreams::counted(sdk.clone(), counter)
            .with_cognito_domain_url(cognito_domain_url),
    ));
    auditor.meter = Some(Arc::new(counter.clone()));
    auditor.account = lookup("ROTATOR_ACCOUNT_ID").filter(|a| !a.trim().is_empty());
    if findings.security_hub {
        auditor.history = Arc::new(SecurityHubHistory::new(sdk, Some(counter)));
    }
    if findings.event_bus_name.is_some() {
        auditor.continuer = Some(Arc::new(EventBridgeContinuer::new(
            sdk,
            findings.event_bus_name.clone(),
        )));
    }
    Ok(auditor)
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
