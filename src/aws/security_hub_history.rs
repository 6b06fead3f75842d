//! Previous findings of ours, read back from Security Hub, so the audit's lifecycle can resolve
//! what is fixed ([`crate::audit::lifecycle::FindingHistory`]).

use async_trait::async_trait;
use aws_config::SdkConfig;

use super::call_counter::CallCounter;
use super::errors::error_code;
use super::secrets_reader::audit_retry_config;
use crate::audit::lifecycle::{FindingHistory, PreviousFinding};
use crate::findings::{Resource, ResourceKind, Scope, Timestamp, FINDING_ID_PREFIX};
use crate::secrets::ReadError;

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

    async fn active(&self, scope: &Scope) -> Result<Vec<PreviousFinding>, ReadError> {
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
                .map_err(|e| ReadError::from(error_code(&e.into_service_error())))?;
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
                                Some(label) => ResourceKind::from_label(label)
                                    .unwrap_or(ResourceKind::UpstreamClient),
                                None => ResourceKind::UpstreamClient,
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
