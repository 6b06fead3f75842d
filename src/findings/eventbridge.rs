//! Findings as EventBridge events: one event per finding, `PutEvents` in batches.
//!
//! Event shape: Source [`SOURCE`], DetailType [`DETAIL_TYPE`], Detail
//! `{"schemaVersion": "1.0", "finding": <Finding>}`, Resources = the finding's ARNs (never
//! plain ids), Time = the finding's `lastSeen`. A rule matches with
//! `{"source": ["io.agentcore-rotator"], "detail": {"finding": {"severity": ["HIGH"]}}}`.

use async_trait::async_trait;
use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::sink::{batches, deliver, EmitReport, FindingSink, RetryPolicy};
use super::{Finding, FindingsError, Timestamp};

/// Event source (reverse DNS of our own; `aws.` is reserved for AWS).
pub const SOURCE: &str = "io.agentcore-rotator";
pub const DETAIL_TYPE: &str = "AgentCore Rotator Finding";
/// `schemaVersion` of the event detail.
pub const DETAIL_SCHEMA_VERSION: &str = "1.0";
/// `PutEvents` accepts at most this many entries per call.
pub const MAX_ENTRIES_PER_CALL: usize = 10;
/// Size budget of one entry and of all entries of one call, as EventBridge measures it
/// ([`EventEntry::size`]): the total "must be less than 256KB".
pub const MAX_ENTRY_BYTES: usize = 256 * 1024 - 1;

/// One `PutEvents` entry, without SDK types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventEntry {
    pub source: String,
    pub detail_type: String,
    /// A JSON object.
    pub detail: String,
    pub resources: Vec<String>,
    /// `None` sends to the account's default bus.
    pub event_bus_name: Option<String>,
    pub time: Timestamp,
}

impl EventEntry {
    /// The event for `finding`.
    pub fn for_finding(
        finding: &Finding,
        event_bus_name: Option<&str>,
    ) -> Result<Self, FindingsError> {
        let detail = serde_json::json!({
            "schemaVersion": DETAIL_SCHEMA_VERSION,
            "finding": finding,
        });
        Ok(Self {
            source: SOURCE.to_string(),
            detail_type: DETAIL_TYPE.to_string(),
            detail: serde_json::to_string(&detail)?,
            resources: finding
                .resource_arns()
                .into_iter()
                .map(str::to_string)
                .collect(),
            event_bus_name: event_bus_name.map(str::to_string),
            time: finding.last_seen(),
        })
    }

    /// The entry's size as EventBridge counts it: UTF-8 bytes of Source, DetailType, Detail
    /// and each resource, plus 14 for Time.
    pub fn size(&self) -> usize {
        14 + self.source.len()
            + self.detail_type.len()
            + self.detail.len()
            + self.resources.iter().map(String::len).sum::<usize>()
    }
}

/// Why EventBridge rejected one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryError {
    pub code: String,
    pub message: String,
}

/// The `PutEvents` call, as a port (the SDK client implements it; tests use fakes).
#[async_trait]
pub trait PutEventsApi: Send + Sync {
    /// Sends at most [`MAX_ENTRIES_PER_CALL`] entries; returns one result per entry, in
    /// order, `None` for an accepted one.
    async fn send_events(
        &self,
        entries: &[EventEntry],
    ) -> Result<Vec<Option<EntryError>>, FindingsError>;
}

/// Delivers findings to an event bus.
pub struct EventBridgeSink<C = aws_sdk_eventbridge::Client> {
    api: C,
    event_bus_name: Option<String>,
    retry: RetryPolicy,
    max_entry_bytes: usize,
}

impl<C: PutEventsApi> EventBridgeSink<C> {
    /// `event_bus_name`: a bus name or ARN; `None` for the default bus.
    pub fn new(api: C, event_bus_name: Option<String>) -> Self {
        Self {
            api,
            event_bus_name,
            retry: RetryPolicy::default(),
            max_entry_bytes: MAX_ENTRY_BYTES,
        }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    #[cfg(test)]
    fn with_max_entry_bytes(mut self, max: usize) -> Self {
        self.max_entry_bytes = max;
        self
    }

    /// The entry for `finding`, its description shortened until the entry fits the budget.
    fn entry(&self, finding: &Finding) -> Result<EventEntry, (&'static str, String)> {
        let bus = self.event_bus_name.as_deref();
        let build = |f: &Finding| {
            EventEntry::for_finding(f, bus).map_err(|e| ("SerializationFailed", e.to_string()))
        };
        let mut entry = build(finding)?;
        let mut keep = finding.description().len();
        while entry.size() > self.max_entry_bytes {
            if keep == 0 {
                return Err((
                    "EntryTooLarge",
                    format!(
                        "event is {} bytes with an empty description; the budget is {}",
                        entry.size(),
                        self.max_entry_bytes
                    ),
                ));
            }
            let over = entry.size() - self.max_entry_bytes;
            keep = keep.saturating_sub(over).min(keep - 1);
            entry = build(&finding.with_description_truncated(keep))?;
        }
        Ok(entry)
    }
}

#[async_trait]
impl<C: PutEventsApi> FindingSink for EventBridgeSink<C> {
    fn name(&self) -> &'static str {
        "eventbridge"
    }

    async fn emit(&self, findings: &[Finding]) -> Result<EmitReport, FindingsError> {
        let mut report = EmitReport::new(findings.len());
        let mut ready: Vec<(&str, EventEntry)> = Vec::with_capacity(findings.len());
        for finding in findings {
            match self.entry(finding) {
                Ok(entry) => ready.push((finding.id(), entry)),
                Err((code, message)) => report.fail(finding.id(), code, message),
            }
        }
        let sizes: Vec<usize> = ready.iter().map(|(_, e)| e.size()).collect();
        for range in batches(&sizes, MAX_ENTRIES_PER_CALL, self.max_entry_bytes) {
            let entries = ready[range]
                .iter()
                .map(|(id, e)| (id.to_string(), e.clone()))
                .collect();
            deliver(
                &mut report,
                &self.retry,
                "PutEvents",
                entries,
                |batch| async move {
                    let results = self.api.send_events(&batch).await?;
                    Ok::<_, FindingsError>(
                        results
                            .into_iter()
                            .map(|r| r.map(|err| (err.code, err.message)))
                            .collect(),
                    )
                },
            )
            .await;
        }
        Ok(report)
    }
}

#[async_trait]
impl PutEventsApi for aws_sdk_eventbridge::Client {
    async fn send_events(
        &self,
        entries: &[EventEntry],
    ) -> Result<Vec<Option<EntryError>>, FindingsError> {
        let request: Vec<PutEventsRequestEntry> = entries
            .iter()
            .map(|e| {
                PutEventsRequestEntry::builder()
                    .source(&e.source)
                    .detail_type(&e.detail_type)
                    .detail(&e.detail)
                    .set_resources((!e.resources.is_empty()).then(|| e.resources.clone()))
                    .set_event_bus_name(e.event_bus_name.clone())
                    .time(aws_smithy_types::DateTime::from_millis(
                        i64::try_from(e.time.as_millis()).unwrap_or(i64::MAX),
                    ))
                    .build()
            })
            .collect();
        let out = self
            .put_events()
            .set_entries(Some(request))
            .send()
            .await
            .map_err(|e| FindingsError::PutEvents(DisplayErrorContext(&e).to_string()))?;
        if out.failed_entry_count() == 0 {
            return Ok(vec![None; entries.len()]);
        }
        let results = out.entries();
        Ok((0..entries.len())
            .map(|i| match results.get(i) {
                Some(r) => r.error_code().map(|code| EntryError {
                    code: code.to_string(),
                    message: r.error_message().unwrap_or_default().to_string(),
                }),
                None => Some(EntryError {
                    code: "MissingResult".into(),
                    message: "PutEvents returned fewer results than entries".into(),
                }),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use super::*;
    use crate::findings::tests::{finding, RULE, SECRET_ARN};
    use crate::findings::{Resource, Scope};

    /// Records every call; answers from a script of per-entry error codes (by call), then
    /// accepts everything.
    #[derive(Default)]
    struct FakeBus {
        calls: Mutex<Vec<Vec<EventEntry>>>,
        script: Mutex<VecDeque<Vec<Option<&'static str>>>>,
        fail_call: bool,
    }

    #[async_trait]
    impl PutEventsApi for FakeBus {
        async fn send_events(
            &self,
            entries: &[EventEntry],
        ) -> Result<Vec<Option<EntryError>>, FindingsError> {
            assert!(entries.len() <= MAX_ENTRIES_PER_CALL);
            self.calls.lock().unwrap().push(entries.to_vec());
            if self.fail_call {
                return Err(FindingsError::PutEvents("AccessDeniedException".into()));
            }
            let codes = self.script.lock().unwrap().pop_front().unwrap_or_default();
            Ok((0..entries.len())
                .map(|i| {
                    codes.get(i).copied().flatten().map(|code| EntryError {
                        code: code.into(),
                        message: format!("{code} for entry {i}"),
                    })
                })
                .collect())
        }
    }

    fn findings(n: usize) -> Vec<Finding> {
        (0..n)
            .map(|i| finding(&RULE, &format!("{SECRET_ARN}{i}")))
            .collect()
    }

    #[test]
    fn an_event_carries_the_schema_version_the_finding_and_only_arns_as_resources() {
        let f = Finding::new(
            &RULE,
            &Scope::new("123456789012", "us-east-1").unwrap(),
            vec![
                Resource::secret(SECRET_ARN).unwrap(),
                Resource::upstream_client("okta:0oa1b2c3").unwrap(),
            ],
            "detail",
            Timestamp::from_millis(5),
        )
        .unwrap();
        let e = EventEntry::for_finding(&f, Some("security")).unwrap();
        assert_eq!(e.source, "io.agentcore-rotator");
        assert_eq!(e.detail_type, "AgentCore Rotator Finding");
        assert_eq!(e.resources, vec![SECRET_ARN.to_string()]);
        assert_eq!(e.event_bus_name.as_deref(), Some("security"));
        let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap();
        assert_eq!(detail["schemaVersion"], "1.0");
        assert_eq!(detail["finding"], serde_json::to_value(&f).unwrap());
        let keys: Vec<&String> = detail.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["schemaVersion", "finding"]);
    }

    #[tokio::test]
    async fn twenty_five_findings_go_out_in_three_calls_of_at_most_ten() {
        let sink = EventBridgeSink::new(FakeBus::default(), None);
        let report = sink.emit(&findings(25)).await.unwrap();
        assert!(report.is_complete(), "{report:?}");
        assert_eq!(report.delivered, 25);
        let sizes: Vec<usize> = sink
            .api
            .calls
            .lock()
            .unwrap()
            .iter()
            .map(Vec::len)
            .collect();
        assert_eq!(sizes, vec![10, 10, 5]);
        assert_eq!(report.calls, 3);
    }

    #[tokio::test]
    async fn only_the_entries_eventbridge_rejected_are_sent_again() {
        let bus = FakeBus::default();
        bus.script.lock().unwrap().extend([
            vec![
                None,
                Some("ThrottlingException"),
                None,
                Some("InternalFailure"),
            ],
            vec![None, Some("ThrottlingException")],
        ]);
        let sink =
            EventBridgeSink::new(bus, Some("b".into())).with_retry(RetryPolicy::immediate(3));
        let input = findings(4);
        let report = sink.emit(&input).await.unwrap();
        assert!(report.is_complete(), "{report:?}");
        assert_eq!(report.calls, 3);
        let calls = sink.api.calls.lock().unwrap();
        let ids = |call: &Vec<EventEntry>| -> Vec<String> {
            call.iter()
                .map(|e| {
                    let d: serde_json::Value = serde_json::from_str(&e.detail).unwrap();
                    d["finding"]["id"].as_str().unwrap().to_string()
                })
                .collect()
        };
        assert_eq!(ids(&calls[1]), vec![input[1].id(), input[3].id()]);
        assert_eq!(ids(&calls[2]), vec![input[3].id()]);
    }

    #[tokio::test]
    async fn retries_stop_after_the_bound_and_report_the_last_error() {
        let bus = FakeBus::default();
        bus.script.lock().unwrap().extend([
            vec![Some("ThrottlingException"), Some("InvalidArgument")],
            vec![Some("ThrottlingException")],
            vec![Some("InternalFailure")],
            vec![Some("InternalFailure")],
        ]);
        let sink = EventBridgeSink::new(bus, None).with_retry(RetryPolicy::immediate(3));
        let input = findings(2);
        let report = sink.emit(&input).await.unwrap();
        assert_eq!(report.calls, 3);
        assert_eq!(report.delivered, 0);
        let failed: Vec<(&str, &str)> = report
            .failed
            .iter()
            .map(|f| (f.finding_id.as_str(), f.code.as_str()))
            .collect();
        // The validation error is not retried; the throttled entry gives up after 3 attempts.
        assert_eq!(
            failed,
            vec![
                (input[1].id(), "InvalidArgument"),
                (input[0].id(), "InternalFailure")
            ]
        );
    }

    #[tokio::test]
    async fn a_failed_call_fails_its_batch_and_the_other_batches_still_go() {
        let sink = EventBridgeSink::new(
            FakeBus {
                fail_call: true,
                ..FakeBus::default()
            },
            None,
        );
        let report = sink.emit(&findings(12)).await.unwrap();
        assert_eq!(report.calls, 2);
        assert_eq!(report.failed.len(), 12);
        assert!(report.failed.iter().all(|f| f.code == "RequestFailed"));
    }

    #[test]
    fn an_entry_over_budget_gets_a_shorter_description() {
        let f = finding(&RULE, SECRET_ARN);
        let full = EventEntry::for_finding(&f, None).unwrap().size();
        let sink = EventBridgeSink::new(FakeBus::default(), None).with_max_entry_bytes(full - 20);
        let entry = sink.entry(&f).unwrap();
        assert!(entry.size() <= full - 20);
        let d: serde_json::Value = serde_json::from_str(&entry.detail).unwrap();
        let desc = d["finding"]["description"].as_str().unwrap();
        assert!(desc.ends_with('…'));
        assert!(f.description().starts_with(desc.trim_end_matches('…')));
    }

    #[tokio::test]
    async fn an_entry_that_cannot_fit_is_reported_and_not_sent() {
        let scope = Scope::new("123456789012", "us-east-1").unwrap();
        let long_arn = |i: usize| {
            format!(
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:{i}-{}",
                "x".repeat(1900)
            )
        };
        let huge = Finding::new(
            &RULE,
            &scope,
            (0..80)
                .map(|i| Resource::secret(long_arn(i)).unwrap())
                .collect(),
            "detail",
            Timestamp::from_millis(0),
        )
        .unwrap();
        let small = finding(&RULE, SECRET_ARN);
        let sink = EventBridgeSink::new(FakeBus::default(), None);
        let report = sink.emit(&[huge.clone(), small]).await.unwrap();
        assert_eq!(report.delivered, 1);
        assert_eq!(report.failed.len(), 1);
        assert_eq!(report.failed[0].finding_id, huge.id());
        assert_eq!(report.failed[0].code, "EntryTooLarge");
        assert_eq!(sink.api.calls.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn nothing_to_emit_makes_no_call() {
        let sink = EventBridgeSink::new(FakeBus::default(), None);
        let report = sink.emit(&[]).await.unwrap();
        assert!(report.is_complete());
        assert_eq!(report.calls, 0);
    }
}
