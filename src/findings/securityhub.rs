//! Findings as Security Hub findings (ASFF), imported with `BatchImportFindings`.
//!
//! The ASFF `Id` is the finding's stable id, so re-importing updates the existing finding. A
//! resolved finding is imported with `Compliance.Status = PASSED` and `RecordState = ARCHIVED`.
//! Severity and Types are also set in `FindingProviderFields`, the fields a provider may keep
//! updating after customers changed the top-level ones; `Workflow`, `Note`,
//! `UserDefinedFields` and `VerificationState` are never sent.
//!
//! `CreatedAt`/`FirstObservedAt` come from the finding's `first_seen`. A finding rebuilt in a
//! later run starts with `first_seen = now`; pass the remembered first sighting with
//! [`Finding::first_seen_at`] to keep sending the original creation time.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_securityhub::error::DisplayErrorContext;
use aws_sdk_securityhub::types as sh;
use serde::Serialize;

use super::sink::{batches, deliver, EmitReport, FindingSink, RetryPolicy};
use super::{truncate_utf8, Finding, FindingState, FindingsError, ResourceKind};

pub const ASFF_SCHEMA_VERSION: &str = "2018-10-08";
/// `namespace/category/classifier` of every finding we import.
pub const ASFF_TYPE: &str =
    "Software and Configuration Checks/AWS Security Best Practices/AgentCore Credential Hygiene";
/// `BatchImportFindings` accepts at most this many findings per call…
pub const MAX_FINDINGS_PER_CALL: usize = 100;
/// …at most this many bytes per finding…
const MAX_FINDING_BYTES: usize = 240 * 1024;
/// …and at most this many bytes per call.
const MAX_BATCH_BYTES: usize = 6 * 1024 * 1024;
const MAX_TITLE_BYTES: usize = 256;
const MAX_DESCRIPTION_BYTES: usize = 1024;
const MAX_RECOMMENDATION_BYTES: usize = 512;
const MAX_RESOURCES: usize = 32;

/// The ASFF document we send, field for field (PascalCase on the wire).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffFinding {
    pub schema_version: String,
    pub id: String,
    pub product_arn: String,
    pub generator_id: String,
    pub aws_account_id: String,
    pub region: String,
    pub types: Vec<String>,
    pub first_observed_at: String,
    pub last_observed_at: String,
    pub created_at: String,
    pub updated_at: String,
    pub severity: AsffSeverity,
    pub title: String,
    pub description: String,
    pub remediation: AsffRemediation,
    pub product_fields: BTreeMap<String, String>,
    pub resources: Vec<AsffResource>,
    pub compliance: AsffCompliance,
    pub record_state: String,
    pub finding_provider_fields: AsffProviderFields,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffSeverity {
    pub label: String,
    pub original: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffRemediation {
    pub recommendation: AsffRecommendation,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffRecommendation {
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffResource {
    #[serde(rename = "Type")]
    pub kind: String,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    pub region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<AsffResourceDetails>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffResourceDetails {
    pub other: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffCompliance {
    pub status: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffProviderFields {
    pub severity: AsffSeverity,
    pub types: Vec<String>,
}

/// The partition a Region belongs to.
fn partition_of_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

impl AsffFinding {
    /// The ASFF form of `finding`, for the account and Region it names.
    pub fn from_finding(finding: &Finding) -> Self {
        let account = finding.account_id();
        let region = finding.region();
        let severity = AsffSeverity {
            label: finding.severity().label().to_string(),
            original: finding.severity().label().to_string(),
        };
        let (compliance, record_state) = match finding.state() {
            FindingState::Active => ("FAILED", "ACTIVE"),
            FindingState::Resolved => ("PASSED", "ARCHIVED"),
        };
        let resources = finding
            .resources()
            .iter()
            .take(MAX_RESOURCES)
            .map(|r| {
                let arn_parts: Option<Vec<&str>> = r.arn().map(|a| a.splitn(6, ':').collect());
                let partition = arn_parts
                    .as_ref()
                    .map(|p| p[1])
                    .filter(|p| matches!(*p, "aws" | "aws-cn" | "aws-us-gov"))
                    .map(str::to_string);
                let resource_region = arn_parts
                    .as_ref()
                    .map(|p| p[3])
                    .filter(|r| !r.is_empty())
                    .unwrap_or(region);
                let (kind, details) = match r.kind() {
                    ResourceKind::Secret => ("AwsSecretsManagerSecret", None),
                    other => (
                        "Other",
                        Some(AsffResourceDetails {
                            other: BTreeMap::from([(
                                "Kind".to_string(),
                                other.label().to_string(),
                            )]),
                        }),
                    ),
                };
                AsffResource {
                    kind: kind.to_string(),
                    id: r.arn_or_id().to_string(),
                    partition,
                    region: resource_region.to_string(),
                    details,
                }
            })
            .collect();
        let mut product_fields = BTreeMap::from([
            (
                "agentcore-rotator/RuleId".to_string(),
                finding.rule_id().to_string(),
            ),
            (
                "agentcore-rotator/State".to_string(),
                finding.state().label().to_string(),
            ),
        ]);
        if finding.resources().len() > MAX_RESOURCES {
            product_fields.insert(
                "agentcore-rotator/ResourceCount".to_string(),
                finding.resources().len().to_string(),
            );
        }
        Self {
            schema_version: ASFF_SCHEMA_VERSION.to_string(),
            id: finding.id().to_string(),
            product_arn: format!(
                "arn:{}:securityhub:{region}:{account}:product/{account}/default",
                partition_of_region(region)
            ),
            generator_id: finding.rule_id().to_string(),
            aws_account_id: account.to_string(),
            region: region.to_string(),
            types: vec![ASFF_TYPE.to_string()],
            first_observed_at: finding.first_seen().to_rfc3339(),
            last_observed_at: finding.last_seen().to_rfc3339(),
            created_at: finding.first_seen().to_rfc3339(),
            updated_at: finding.last_seen().to_rfc3339(),
            severity: severity.clone(),
            title: truncate_utf8(finding.title(), MAX_TITLE_BYTES).into_owned(),
            description: truncate_utf8(finding.description(), MAX_DESCRIPTION_BYTES).into_owned(),
            remediation: AsffRemediation {
                recommendation: AsffRecommendation {
                    text: truncate_utf8(finding.remediation(), MAX_RECOMMENDATION_BYTES)
                        .into_owned(),
                },
            },
            product_fields,
            resources,
            compliance: AsffCompliance {
                status: compliance.to_string(),
            },
            record_state: record_state.to_string(),
            finding_provider_fields: AsffProviderFields {
                severity,
                types: vec![ASFF_TYPE.to_string()],
            },
        }
    }

    /// Serialized size in bytes (what the per-finding and per-call limits apply to).
    pub fn size(&self) -> usize {
        serde_json::to_vec(self).map_or(usize::MAX, |v| v.len())
    }
}

/// One finding Security Hub did not import.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportFailure {
    pub id: String,
    pub code: String,
    pub message: String,
}

/// The `BatchImportFindings` call, as a port (the SDK client implements it; tests use fakes).
#[async_trait]
pub trait SecurityHubApi: Send + Sync {
    /// Imports at most [`MAX_FINDINGS_PER_CALL`] findings; returns the ones that failed.
    async fn import_findings(
        &self,
        findings: &[AsffFinding],
    ) -> Result<Vec<ImportFailure>, FindingsError>;
}

/// Delivers findings to Security Hub.
pub struct SecurityHubSink<C = aws_sdk_securityhub::Client> {
    api: C,
    retry: RetryPolicy,
}

impl<C: SecurityHubApi> SecurityHubSink<C> {
    pub fn new(api: C) -> Self {
        Self {
            api,
            retry: RetryPolicy::default(),
        }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

#[async_trait]
impl<C: SecurityHubApi> FindingSink for SecurityHubSink<C> {
    fn name(&self) -> &'static str {
        "securityhub"
    }

    async fn emit(&self, findings: &[Finding]) -> Result<EmitReport, FindingsError> {
        let mut report = EmitReport::new(findings.len());
        let mut ready: Vec<(AsffFinding, usize)> = Vec::with_capacity(findings.len());
        for finding in findings {
            let asff = AsffFinding::from_finding(finding);
            let size = asff.size();
            if size > MAX_FINDING_BYTES {
                report.fail(
                    finding.id(),
                    "EntryTooLarge",
                    format!("ASFF finding is {size} bytes; the limit is {MAX_FINDING_BYTES}"),
                );
            } else {
                ready.push((asff, size));
            }
        }
        let sizes: Vec<usize> = ready.iter().map(|(_, s)| *s).collect();
        for range in batches(&sizes, MAX_FINDINGS_PER_CALL, MAX_BATCH_BYTES) {
            let entries = ready[range]
                .iter()
                .map(|(a, _)| (a.id.clone(), a.clone()))
                .collect();
            deliver(
                &mut report,
                &self.retry,
                "BatchImportFindings",
                entries,
                |batch| async move {
                    let failures = self.api.import_findings(&batch).await?;
                    let failures: HashMap<&str, &ImportFailure> =
                        failures.iter().map(|f| (f.id.as_str(), f)).collect();
                    Ok::<_, FindingsError>(
                        batch
                            .iter()
                            .map(|a| {
                                failures
                                    .get(a.id.as_str())
                                    .map(|f| (f.code.clone(), f.message.clone()))
                            })
                            .collect(),
                    )
                },
            )
            .await;
        }
        Ok(report)
    }
}

fn to_sdk(a: &AsffFinding) -> sh::AwsSecurityFinding {
    let severity_label = sh::SeverityLabel::from(a.severity.label.as_str());
    let mut builder = sh::AwsSecurityFinding::builder()
        .schema_version(&a.schema_version)
        .id(&a.id)
        .product_arn(&a.product_arn)
        .generator_id(&a.generator_id)
        .aws_account_id(&a.aws_account_id)
        .region(&a.region)
        .set_types(Some(a.types.clone()))
        .first_observed_at(&a.first_observed_at)
        .last_observed_at(&a.last_observed_at)
        .created_at(&a.created_at)
        .updated_at(&a.updated_at)
        .severity(
            sh::Severity::builder()
                .label(severity_label.clone())
                .original(&a.severity.original)
                .build(),
        )
        .title(&a.title)
        .description(&a.description)
        .remediation(
            sh::Remediation::builder()
                .recommendation(
                    sh::Recommendation::builder()
                        .text(&a.remediation.recommendation.text)
                        .build(),
                )
                .build(),
        )
        .compliance(
            sh::Compliance::builder()
                .status(sh::ComplianceStatus::from(a.compliance.status.as_str()))
                .build(),
        )
        .record_state(sh::RecordState::from(a.record_state.as_str()))
        .finding_provider_fields(
            sh::FindingProviderFields::builder()
                .severity(
                    sh::FindingProviderSeverity::builder()
                        .label(severity_label)
                        .original(&a.finding_provider_fields.severity.original)
                        .build(),
                )
                .set_types(Some(a.finding_provider_fields.types.clone()))
                .build(),
        );
    for (k, v) in &a.product_fields {
        builder = builder.product_fields(k, v);
    }
    for r in &a.resources {
        let mut resource = sh::Resource::builder()
            .r#type(&r.kind)
            .id(&r.id)
            .region(&r.region)
            .set_partition(r.partition.as_deref().map(sh::Partition::from));
        if let Some(details) = &r.details {
            let mut d = sh::ResourceDetails::builder();
            for (k, v) in &details.other {
                d = d.other(k, v);
            }
            resource = resource.details(d.build());
        }
        builder = builder.resources(resource.build());
    }
    builder.build()
}

#[async_trait]
impl SecurityHubApi for aws_sdk_securityhub::Client {
    async fn import_findings(
        &self,
        findings: &[AsffFinding],
    ) -> Result<Vec<ImportFailure>, FindingsError> {
        let out = self
            .batch_import_findings()
            .set_findings(Some(findings.iter().map(to_sdk).collect()))
            .send()
            .await
            .map_err(|e| FindingsError::BatchImportFindings(DisplayErrorContext(&e).to_string()))?;
        Ok(out
            .failed_findings()
            .iter()
            .map(|f| ImportFailure {
                id: f.id().unwrap_or_default().to_string(),
                code: f.error_code().unwrap_or_default().to_string(),
                message: f.error_message().unwrap_or_default().to_string(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use super::*;
    use crate::findings::tests::{finding, scope, PROVIDER_ARN, RULE, SECRET_ARN};
    use crate::findings::{Resource, Timestamp};

    #[derive(Default)]
    struct FakeHub {
        calls: Mutex<Vec<Vec<String>>>,
        /// Per call: ids to fail, with their code.
        script: Mutex<VecDeque<Vec<(String, &'static str)>>>,
    }

    #[async_trait]
    impl SecurityHubApi for FakeHub {
        async fn import_findings(
            &self,
            findings: &[AsffFinding],
        ) -> Result<Vec<ImportFailure>, FindingsError> {
            assert!(findings.len() <= MAX_FINDINGS_PER_CALL);
            self.calls
                .lock()
                .unwrap()
                .push(findings.iter().map(|f| f.id.clone()).collect());
            let script = self.script.lock().unwrap().pop_front().unwrap_or_default();
            Ok(script
                .into_iter()
                .map(|(id, code)| ImportFailure {
                    id,
                    code: code.into(),
                    message: code.into(),
                })
                .collect())
        }
    }

    #[test]
    fn an_active_finding_maps_to_a_failed_active_asff_finding() {
        let f = Finding::new(
            &RULE,
            &scope(),
            vec![
                Resource::provider_oauth2(PROVIDER_ARN).unwrap(),
                Resource::secret(SECRET_ARN).unwrap(),
                Resource::upstream_client("okta:0oa1b2c3").unwrap(),
            ],
            "provider okta references a deleted secret",
            Timestamp::from_millis(1_700_000_000_000),
        )
        .unwrap()
        .first_seen_at(Timestamp::from_millis(1_600_000_000_000));
        let a = AsffFinding::from_finding(&f);
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["SchemaVersion"], "2018-10-08");
        assert_eq!(v["Id"], f.id());
        assert_eq!(
            v["ProductArn"],
            "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default"
        );
        assert_eq!(v["GeneratorId"], "REF-001");
        assert_eq!(v["AwsAccountId"], "123456789012");
        assert!(v["Types"][0]
            .as_str()
            .unwrap()
            .starts_with("Software and Configuration Checks/"));
        assert_eq!(v["CreatedAt"], "2020-09-13T12:26:40.000Z");
        assert_eq!(v["UpdatedAt"], "2023-11-14T22:13:20.000Z");
        assert_eq!(v["Severity"]["Label"], "HIGH");
        assert_eq!(v["FindingProviderFields"]["Severity"]["Label"], "HIGH");
        assert_eq!(v["FindingProviderFields"]["Types"], v["Types"]);
        assert_eq!(v["Remediation"]["Recommendation"]["Text"], RULE.remediation);
        assert_eq!(v["Compliance"]["Status"], "FAILED");
        assert_eq!(v["RecordState"], "ACTIVE");
        assert_eq!(v["Resources"][0]["Type"], "Other");
        assert_eq!(
            v["Resources"][0]["Details"]["Other"]["Kind"],
            "PROVIDER_OAUTH2"
        );
        assert_eq!(v["Resources"][1]["Type"], "AwsSecretsManagerSecret");
        assert_eq!(v["Resources"][1]["Id"], SECRET_ARN);
        assert_eq!(v["Resources"][1]["Partition"], "aws");
        assert_eq!(v["Resources"][2]["Type"], "Other");
        assert_eq!(v["Resources"][2]["Region"], "us-east-1");
        assert!(v["Resources"][2].get("Partition").is_none());
        for forbidden in [
            "Workflow",
            "WorkflowState",
            "Note",
            "UserDefinedFields",
            "VerificationState",
        ] {
            assert!(v.get(forbidden).is_none(), "{forbidden} must not be set");
        }
    }

    #[test]
    fn a_resolved_finding_is_passed_and_archived() {
        let f = finding(&RULE, SECRET_ARN).resolved(Timestamp::from_millis(1_800_000_000_000));
        let a = AsffFinding::from_finding(&f);
        assert_eq!(a.compliance.status, "PASSED");
        assert_eq!(a.record_state, "ARCHIVED");
        assert_eq!(a.updated_at, "2027-01-15T08:00:00.000Z");
    }

    #[test]
    fn the_product_arn_follows_the_partition_of_the_region() {
        let cn = Finding::new(
            &RULE,
            &crate::findings::Scope::new("123456789012", "cn-north-1").unwrap(),
            vec![
                Resource::secret("arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:x")
                    .unwrap(),
            ],
            "x",
            Timestamp::from_millis(0),
        )
        .unwrap();
        let a = AsffFinding::from_finding(&cn);
        assert_eq!(
            a.product_arn,
            "arn:aws-cn:securityhub:cn-north-1:123456789012:product/123456789012/default"
        );
        assert_eq!(a.resources[0].partition.as_deref(), Some("aws-cn"));
    }

    #[test]
    fn long_text_fits_the_asff_limits_and_resources_are_capped_at_32() {
        let long_rule = crate::findings::Rule {
            title: Box::leak("t".repeat(400).into_boxed_str()),
            remediation: Box::leak("r".repeat(900).into_boxed_str()),
            ..RULE
        };
        let f = Finding::new(
            &long_rule,
            &scope(),
            (0..40)
                .map(|i| Resource::secret(format!("{SECRET_ARN}{i}")).unwrap())
                .collect(),
            "d".repeat(5000),
            Timestamp::from_millis(0),
        )
        .unwrap();
        let a = AsffFinding::from_finding(&f);
        assert!(a.title.len() <= 256);
        assert!(a.description.len() <= 1024);
        assert!(a.remediation.recommendation.text.len() <= 512);
        assert_eq!(a.resources.len(), 32);
        assert_eq!(a.product_fields["agentcore-rotator/ResourceCount"], "40");
    }

    #[tokio::test]
    async fn two_hundred_fifty_findings_are_imported_in_calls_of_at_most_one_hundred() {
        let sink = SecurityHubSink::new(FakeHub::default());
        let input: Vec<Finding> = (0..250)
            .map(|i| finding(&RULE, &format!("{SECRET_ARN}{i}")))
            .collect();
        let report = sink.emit(&input).await.unwrap();
        assert!(report.is_complete(), "{report:?}");
        let sizes: Vec<usize> = sink
            .api
            .calls
            .lock()
            .unwrap()
            .iter()
            .map(Vec::len)
            .collect();
        assert_eq!(sizes, vec![100, 100, 50]);
    }

    #[tokio::test]
    async fn failed_findings_are_retried_when_transient_and_reported_otherwise() {
        let input: Vec<Finding> = (0..3)
            .map(|i| finding(&RULE, &format!("{SECRET_ARN}{i}")))
            .collect();
        let hub = FakeHub::default();
        hub.script.lock().unwrap().extend([
            vec![
                (input[0].id().to_string(), "InvalidInput"),
                (input[1].id().to_string(), "ThrottlingException"),
            ],
            vec![],
        ]);
        let sink = SecurityHubSink::new(hub).with_retry(RetryPolicy::immediate(3));
        let report = sink.emit(&input).await.unwrap();
        assert_eq!(report.delivered, 2);
        assert_eq!(report.failed.len(), 1);
        assert_eq!(report.failed[0].finding_id, input[0].id());
        assert_eq!(report.failed[0].code, "InvalidInput");
        let calls = sink.api.calls.lock().unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[1], vec![input[1].id().to_string()]);
    }

    #[test]
    fn the_sdk_finding_carries_every_field_we_set() {
        let f = finding(&RULE, SECRET_ARN).resolved(Timestamp::from_millis(1_800_000_000_000));
        let sdk = to_sdk(&AsffFinding::from_finding(&f));
        assert_eq!(sdk.id(), Some(f.id()));
        assert_eq!(sdk.generator_id(), Some("REF-001"));
        assert_eq!(
            sdk.severity().and_then(|s| s.label()),
            Some(&sh::SeverityLabel::High)
        );
        assert_eq!(
            sdk.compliance().and_then(|c| c.status()),
            Some(&sh::ComplianceStatus::Passed)
        );
        assert_eq!(sdk.record_state(), Some(&sh::RecordState::Archived));
        assert_eq!(sdk.resources().len(), 2);
        assert_eq!(sdk.resources()[1].r#type(), Some("AwsSecretsManagerSecret"));
        assert_eq!(
            sdk.finding_provider_fields().map(|p| p.types().to_vec()),
            Some(vec![ASFF_TYPE.to_string()])
        );
        assert!(sdk.workflow().is_none());
        assert!(sdk.note().is_none());
    }
}
