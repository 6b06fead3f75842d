//! Findings delivered end to end against moto (local AWS): EventBridge → rule → SQS, Security Hub
//! import and read-back, and the EMF line shape.
//!
//! Every test shares one moto server, so each names its own bus, queue and resources and reads
//! back only what it wrote (moto's `GetFindings` ignores filters and returns everything).

use std::io::Write;
use std::sync::{Arc, Mutex};

use agentcore_rotator::findings::{
    AsffFinding, EmfSink, Emitters, EmittersConfig, EntryError, EventBridgeSink, EventEntry,
    Finding, FindingSink, FindingsError, ImportFailure, LogSink, PutEventsApi, Resource, Rule,
    Scope, SecurityHubApi, SecurityHubSink, Severity, Timestamp,
};
use agentcore_rotator_testkit::findings_route::{unique, BusToQueue};
use agentcore_rotator_testkit::moto::{self, Moto};
use agentcore_rotator_testkit::providers::provider_arn;
use agentcore_rotator_testkit::security_hub::findings_with_ids;
use async_trait::async_trait;

const STALE_REFERENCE: Rule = Rule {
    id: "REF-001",
    severity: Severity::High,
    title: "Credential provider references a deleted secret",
    remediation: "Point the provider at an existing secret, or restore the secret before its deletion completes.",
};

const EXTRA_UPSTREAM_SECRET: Rule = Rule {
    id: "UPS-002",
    severity: Severity::Medium,
    title: "Upstream client has a live secret no provider references",
    remediation: "Delete the extra client secret at the identity provider.",
};

fn scope() -> Scope {
    Scope::new(moto::ACCOUNT_ID, moto::REGION).unwrap()
}

fn secret_arn(name: &str) -> String {
    format!(
        "arn:aws:secretsmanager:{}:{}:secret:{name}-AbCdEf",
        moto::REGION,
        moto::ACCOUNT_ID
    )
}

/// `n` findings of the stale-reference rule, each about its own provider and secret.
fn stale_references(tag: &str, n: usize, at: Timestamp) -> Vec<Finding> {
    (0..n)
        .map(|i| {
            let name = format!("{tag}-{i}");
            Finding::new(
                &STALE_REFERENCE,
                &scope(),
                vec![
                    Resource::provider_oauth2(provider_arn(&name)).unwrap(),
                    Resource::secret(secret_arn(&name)).unwrap(),
                ],
                format!("provider {name} references secret {name}-AbCdEf, which is scheduled for deletion"),
                at,
            )
            .unwrap()
        })
        .collect()
}

fn upstream_finding(tag: &str, at: Timestamp) -> Finding {
    Finding::new(
        &EXTRA_UPSTREAM_SECRET,
        &scope(),
        vec![
            Resource::upstream_client(format!("okta:0oa-{tag}")).unwrap(),
            Resource::secret(secret_arn(tag)).unwrap(),
        ],
        format!("client okta:0oa-{tag} has two live secrets; secret {tag} holds one of them"),
        at,
    )
    .unwrap()
}

/// Records the size of every `PutEvents` call and passes it on to the real client.
struct RecordingBus {
    inner: aws_sdk_eventbridge::Client,
    calls: Arc<Mutex<Vec<usize>>>,
}

#[async_trait]
impl PutEventsApi for RecordingBus {
    async fn send_events(
        &self,
        entries: &[EventEntry],
    ) -> Result<Vec<Option<EntryError>>, FindingsError> {
        self.calls.lock().unwrap().push(entries.len());
        self.inner.send_events(entries).await
    }
}

/// Records the size of every `BatchImportFindings` call and passes it on to the real client.
struct RecordingHub {
    inner: aws_sdk_securityhub::Client,
    calls: Arc<Mutex<Vec<usize>>>,
}

#[async_trait]
impl SecurityHubApi for RecordingHub {
    async fn import_findings(
        &self,
        findings: &[AsffFinding],
    ) -> Result<Vec<ImportFailure>, FindingsError> {
        self.calls.lock().unwrap().push(findings.len());
        self.inner.import_findings(findings).await
    }
}

async fn security_hub() -> aws_sdk_securityhub::Client {
    let client = aws_sdk_securityhub::Client::new(&Moto::shared().sdk_config());
    // Real accounts need Security Hub enabled before BatchImportFindings; moto accepts imports
    // either way and treats a second enable as a no-op.
    client.enable_security_hub().send().await.unwrap();
    client
}

/// Every finding in moto's Security Hub whose Id is one of `ids`.
async fn hub_findings(ids: &[&str]) -> Vec<aws_sdk_securityhub::types::AwsSecurityFinding> {
    findings_with_ids(&Moto::shared().sdk_config(), ids).await
}

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn findings_put_on_a_bus_reach_a_rule_target_with_the_finding_as_detail() {
    let route = BusToQueue::create().await;
    let sink = EventBridgeSink::new(
        aws_sdk_eventbridge::Client::new(&Moto::shared().sdk_config()),
        Some(route.bus.clone()),
    );
    let tag = unique("eb");
    let at = Timestamp::from_millis(1_700_000_000_000);
    let mut findings = stale_references(&tag, 2, at);
    findings.push(upstream_finding(&tag, at));

    let report = sink.emit(&findings).await.unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.calls, 1);

    let events = route.receive(findings.len()).await;
    assert_eq!(events.len(), findings.len());
    for finding in &findings {
        let event = events
            .iter()
            .find(|e| e["detail"]["finding"]["id"] == finding.id())
            .unwrap_or_else(|| panic!("no event for {}", finding.id()));
        assert_eq!(event["source"], "io.agentcore-rotator");
        assert_eq!(event["detail-type"], "AgentCore Rotator Finding");
        // moto leaves `account` out of the event it hands to SQS targets.
        assert_eq!(event["region"], moto::REGION);
        assert_eq!(event["time"], "2023-11-14T22:13:20Z");
        assert_eq!(event["detail"]["schemaVersion"], "1.0");
        assert_eq!(
            event["detail"]["finding"],
            serde_json::to_value(finding).unwrap()
        );
        let parsed: Finding = serde_json::from_value(event["detail"]["finding"].clone()).unwrap();
        assert_eq!(&parsed, finding);
        let arns: Vec<&str> = finding.resource_arns();
        assert_eq!(event["resources"], serde_json::json!(arns));
    }
    // The upstream client id is no ARN, so only the secret is among the event's resources.
    let upstream = events
        .iter()
        .find(|e| e["detail"]["finding"]["ruleId"] == "UPS-002")
        .unwrap();
    assert_eq!(upstream["resources"], serde_json::json!([secret_arn(&tag)]));
    assert_eq!(upstream["detail"]["finding"]["severity"], "MEDIUM");
}

#[tokio::test]
async fn more_than_ten_findings_are_put_in_batches_of_at_most_ten() {
    let route = BusToQueue::create().await;
    let calls = Arc::new(Mutex::new(Vec::new()));
    let sink = EventBridgeSink::new(
        RecordingBus {
            inner: aws_sdk_eventbridge::Client::new(&Moto::shared().sdk_config()),
            calls: calls.clone(),
        },
        Some(route.bus.clone()),
    );
    let findings = stale_references(&unique("eb-batch"), 23, Timestamp::now());

    // moto rejects a PutEvents call with more than 10 entries, so success means batching.
    let report = sink.emit(&findings).await.unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(*calls.lock().unwrap(), [10, 10, 3]);
    assert_eq!(report.calls, 3);

    let events = route.receive(23).await;
    let mut ids: Vec<&str> = events
        .iter()
        .map(|e| e["detail"]["finding"]["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut expected: Vec<&str> = findings.iter().map(Finding::id).collect();
    expected.sort_unstable();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn security_hub_shows_imported_findings_and_a_second_import_updates_rather_than_duplicates() {
    let client = security_hub().await;
    let sink = SecurityHubSink::new(client.clone());
    let tag = unique("sh");
    let first = Timestamp::from_millis(1_700_000_000_000);
    let findings = vec![
        stale_references(&tag, 1, first).remove(0),
        upstream_finding(&tag, first),
    ];
    let ids: Vec<&str> = findings.iter().map(Finding::id).collect();

    let report = sink.emit(&findings).await.unwrap();
    assert!(report.is_complete(), "{report:?}");

    let stored = hub_findings(&ids).await;
    assert_eq!(stored.len(), 2);
    let stale = stored
        .iter()
        .find(|f| f.id() == Some(findings[0].id()))
        .unwrap();
    assert_eq!(stale.schema_version(), Some("2018-10-08"));
    assert_eq!(
        stale.product_arn(),
        Some(
            format!(
                "arn:aws:securityhub:us-east-1:{0}:product/{0}/default",
                moto::ACCOUNT_ID
            )
            .as_str()
        )
    );
    assert_eq!(stale.generator_id(), Some("REF-001"));
    assert_eq!(stale.aws_account_id(), Some(moto::ACCOUNT_ID));
    assert_eq!(stale.created_at(), Some("2023-11-14T22:13:20.000Z"));
    assert_eq!(
        stale.severity().and_then(|s| s.label()),
        Some(&aws_sdk_securityhub::types::SeverityLabel::High)
    );
    assert_eq!(
        stale.compliance().and_then(|c| c.status()),
        Some(&aws_sdk_securityhub::types::ComplianceStatus::Failed)
    );
    assert_eq!(
        stale.record_state(),
        Some(&aws_sdk_securityhub::types::RecordState::Active)
    );
    let types: Vec<&str> = stale
        .resources()
        .iter()
        .filter_map(|r| r.r#type())
        .collect();
    assert_eq!(types, ["Other", "AwsSecretsManagerSecret"]);
    assert!(stale.workflow().is_none());

    // The same problem, seen again later: same Id, so an update.
    let later = Timestamp::from_millis(1_700_086_400_000);
    let again = vec![
        stale_references(&tag, 1, later)
            .remove(0)
            .first_seen_at(first),
        upstream_finding(&tag, later).first_seen_at(first),
    ];
    assert_eq!(again[0].id(), findings[0].id());
    assert!(sink.emit(&again).await.unwrap().is_complete());

    let stored = hub_findings(&ids).await;
    assert_eq!(stored.len(), 2, "re-import must not duplicate");
    for f in &stored {
        assert_eq!(f.created_at(), Some("2023-11-14T22:13:20.000Z"));
        assert_eq!(f.updated_at(), Some("2023-11-15T22:13:20.000Z"));
    }
}

#[tokio::test]
async fn a_resolved_finding_shows_compliance_passed_and_record_state_archived() {
    let client = security_hub().await;
    let sink = SecurityHubSink::new(client.clone());
    let tag = unique("sh-resolved");
    let active = stale_references(&tag, 1, Timestamp::from_millis(1_700_000_000_000)).remove(0);
    assert!(sink
        .emit(std::slice::from_ref(&active))
        .await
        .unwrap()
        .is_complete());

    let resolved = active
        .clone()
        .resolved(Timestamp::from_millis(1_700_000_600_000));
    assert!(sink
        .emit(std::slice::from_ref(&resolved))
        .await
        .unwrap()
        .is_complete());

    let stored = hub_findings(&[active.id()]).await;
    assert_eq!(stored.len(), 1);
    let f = &stored[0];
    assert_eq!(
        f.compliance().and_then(|c| c.status()),
        Some(&aws_sdk_securityhub::types::ComplianceStatus::Passed)
    );
    assert_eq!(
        f.record_state(),
        Some(&aws_sdk_securityhub::types::RecordState::Archived)
    );
    assert_eq!(f.updated_at(), Some("2023-11-14T22:23:20.000Z"));
}

#[tokio::test]
async fn more_than_one_hundred_findings_are_imported_in_batches_of_at_most_one_hundred() {
    let client = security_hub().await;
    let calls = Arc::new(Mutex::new(Vec::new()));
    let sink = SecurityHubSink::new(RecordingHub {
        inner: client.clone(),
        calls: calls.clone(),
    });
    let findings = stale_references(&unique("sh-batch"), 130, Timestamp::now());

    let report = sink.emit(&findings).await.unwrap();
    assert!(report.is_complete(), "{report:?}");
    // moto does not enforce the limit of 100 per call, so the recorded calls show the batching.
    assert_eq!(*calls.lock().unwrap(), [100, 30]);
    assert_eq!(report.calls, 2);

    let ids: Vec<&str> = findings.iter().map(Finding::id).collect();
    assert_eq!(hub_findings(&ids).await.len(), 130);
}

#[tokio::test]
async fn emitters_deliver_to_every_sink_and_write_emf_lines() {
    let route = BusToQueue::create().await;
    let config = Moto::shared().sdk_config();
    let hub = security_hub().await;
    let emf = Buffer::default();
    let emitters = Emitters::new(vec![
        Box::new(LogSink::new()),
        Box::new(
            EmfSink::new("AgentCoreRotator", Box::new(emf.clone()))
                .with_clock(|| Timestamp::from_millis(1_700_000_000_000)),
        ),
        Box::new(EventBridgeSink::new(
            aws_sdk_eventbridge::Client::new(&config),
            Some(route.bus.clone()),
        )),
        Box::new(SecurityHubSink::new(hub.clone())),
    ]);
    let tag = unique("fanout");
    let now = Timestamp::now();
    let mut findings = stale_references(&tag, 3, now);
    findings.push(upstream_finding(&tag, now));
    findings.push(upstream_finding(&format!("{tag}-fixed"), now).resolved(now));

    let outcomes = emitters.emit(&findings).await;
    assert!(outcomes.all_delivered(), "{outcomes:?}");
    assert_eq!(
        outcomes.iter().map(|o| o.sink).collect::<Vec<_>>(),
        ["log", "emf", "eventbridge", "securityhub"]
    );

    assert_eq!(route.receive(5).await.len(), 5);
    let ids: Vec<&str> = findings.iter().map(Finding::id).collect();
    assert_eq!(hub_findings(&ids).await.len(), 5);

    let text = String::from_utf8(emf.0.lock().unwrap().clone()).unwrap();
    let docs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        docs,
        [
            serde_json::json!({
                "_aws": {
                    "Timestamp": 1_700_000_000_000u64,
                    "CloudWatchMetrics": [{
                        "Namespace": "AgentCoreRotator",
                        "Dimensions": [["Severity"], ["RuleId"]],
                        "Metrics": [{"Name": "Findings", "Unit": "Count"}]
                    }]
                },
                "Severity": "MEDIUM",
                "RuleId": "UPS-002",
                "Findings": 1
            }),
            serde_json::json!({
                "_aws": {
                    "Timestamp": 1_700_000_000_000u64,
                    "CloudWatchMetrics": [{
                        "Namespace": "AgentCoreRotator",
                        "Dimensions": [["Severity"], ["RuleId"]],
                        "Metrics": [{"Name": "Findings", "Unit": "Count"}]
                    }]
                },
                "Severity": "HIGH",
                "RuleId": "REF-001",
                "Findings": 3
            }),
        ]
    );
}

#[tokio::test]
async fn one_unreachable_sink_does_not_stop_delivery_to_the_others() {
    let route = BusToQueue::create().await;
    let moto_config = Moto::shared().sdk_config();
    // Nothing listens on port 9 (discard); the Security Hub sink fails, EventBridge still delivers.
    let dead = moto::sdk_config_for("http://127.0.0.1:9", moto::REGION)
        .into_builder()
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build();
    let emitters = Emitters::new(vec![
        Box::new(SecurityHubSink::new(aws_sdk_securityhub::Client::new(
            &dead,
        ))),
        Box::new(EventBridgeSink::new(
            aws_sdk_eventbridge::Client::new(&moto_config),
            Some(route.bus.clone()),
        )),
    ]);
    let findings = stale_references(&unique("dead"), 2, Timestamp::now());

    let outcomes = emitters.emit(&findings).await;
    let hub = outcomes
        .get("securityhub")
        .unwrap()
        .result
        .as_ref()
        .unwrap();
    assert_eq!(hub.delivered, 0);
    assert!(hub.failed.iter().all(|f| f.code == "RequestFailed"));
    assert!(outcomes
        .get("eventbridge")
        .unwrap()
        .result
        .as_ref()
        .unwrap()
        .is_complete());
    assert_eq!(route.receive(2).await.len(), 2);
}

#[tokio::test]
async fn emitters_built_from_configuration_reach_eventbridge_and_security_hub() {
    let route = BusToQueue::create().await;
    security_hub().await;
    let config = EmittersConfig::from_lookup(|key| match key {
        "ROTATOR_FINDINGS_EVENT_BUS" => Some(route.bus.clone()),
        "ROTATOR_SECURITY_HUB" => Some("true".into()),
        _ => None,
    })
    .unwrap();
    let emitters = Emitters::from_config(&Moto::shared().sdk_config(), &config);
    assert_eq!(
        emitters.sink_names(),
        ["log", "emf", "eventbridge", "securityhub"]
    );

    let findings = stale_references(&unique("configured"), 2, Timestamp::now());
    let outcomes = emitters.emit(&findings).await;
    assert!(outcomes.all_delivered(), "{outcomes:?}");
    assert_eq!(route.receive(2).await.len(), 2);
    let ids: Vec<&str> = findings.iter().map(Finding::id).collect();
    assert_eq!(hub_findings(&ids).await.len(), 2);
}
