//! Findings as CloudWatch metrics, through the Embedded Metric Format (EMF).
//!
//! One JSON document per line, one line per (severity, rule id) pair among the **active**
//! findings of an emission:
//!
//! ```json
//! {"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"AgentCoreRotator",
//!   "Dimensions":[["Severity"],["RuleId"]],"Metrics":[{"Name":"Findings","Unit":"Count"}]}]},
//!  "Severity":"HIGH","RuleId":"REF-001","Findings":3}
//! ```
//!
//! Each document publishes its count under both dimension sets, so the `Sum` of `Findings` per
//! `Severity` is the count by severity and per `RuleId` the count by rule.
//!
//! **Resolved findings are excluded.** An audit re-reports every fixed problem as resolved on
//! each run; counting those would make `Findings` grow with history instead of measuring what is
//! wrong now. Security Hub and the log lines keep the resolved ones.
//!
//! An emission without active findings writes nothing: alarm on `Findings` with missing data
//! treated as not breaching. Cardinality stays low: Severity has five values, and a rule id that
//! is not of the `PREFIX-NNN` form is counted under `OTHER`. Each directive has one metric (the
//! limit is 100) and two dimension sets of one key. Lambda turns the stdout lines into metrics;
//! no API call or permission is needed.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;

use async_trait::async_trait;

use super::sink::{EmitReport, FindingSink};
use super::{is_valid_rule_id, Finding, FindingsError, Severity, Timestamp};

/// CloudWatch namespace used unless configured otherwise.
pub const DEFAULT_EMF_NAMESPACE: &str = "AgentCoreRotator";
const METRIC_NAME: &str = "Findings";
const OTHER_RULE: &str = "OTHER";

/// Writes EMF documents to a writer (stdout in Lambda).
pub struct EmfSink {
    namespace: String,
    out: Mutex<Box<dyn Write + Send>>,
    clock: fn() -> Timestamp,
}

impl EmfSink {
    /// Writes to `out`, e.g. a buffer in tests.
    pub fn new(namespace: impl Into<String>, out: Box<dyn Write + Send>) -> Self {
        Self {
            namespace: namespace.into(),
            out: Mutex::new(out),
            clock: Timestamp::now,
        }
    }

    /// Writes to the process's stdout.
    pub fn stdout(namespace: impl Into<String>) -> Self {
        Self::new(namespace, Box::new(std::io::stdout()))
    }

    /// Stamps documents with `clock()` instead of the current time.
    pub fn with_clock(mut self, clock: fn() -> Timestamp) -> Self {
        self.clock = clock;
        self
    }

    /// The documents for `findings`, one per (severity, rule id) pair, in a stable order.
    pub fn documents(&self, findings: &[Finding], now: Timestamp) -> Vec<serde_json::Value> {
        let mut counts: BTreeMap<(Severity, &str), u64> = BTreeMap::new();
        for f in findings.iter().filter(|f| f.is_active()) {
            let rule = if is_valid_rule_id(f.rule_id()) {
                f.rule_id()
            } else {
                OTHER_RULE
            };
            *counts.entry((f.severity(), rule)).or_default() += 1;
        }
        counts
            .into_iter()
            .map(|((severity, rule), count)| {
                serde_json::json!({
                    "_aws": {
                        "Timestamp": now.as_millis(),
                        "CloudWatchMetrics": [{
                            "Namespace": self.namespace,
                            "Dimensions": [["Severity"], ["RuleId"]],
                            "Metrics": [{ "Name": METRIC_NAME, "Unit": "Count" }],
                        }],
                    },
                    "Severity": severity.label(),
                    "RuleId": rule,
                    METRIC_NAME: count,
                })
            })
            .collect()
    }
}

#[async_trait]
impl FindingSink for EmfSink {
    fn name(&self) -> &'static str {
        "emf"
    }

    async fn emit(&self, findings: &[Finding]) -> Result<EmitReport, FindingsError> {
        let documents = self.documents(findings, (self.clock)());
        let mut out = self
            .out
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for document in &documents {
            // One write per line, so concurrent writers to stdout do not interleave a document.
            let mut line = serde_json::to_vec(document)?;
            line.push(b'\n');
            out.write_all(&line)?;
        }
        out.flush()?;
        Ok(EmitReport {
            attempted: findings.len(),
            delivered: findings.len(),
            failed: Vec::new(),
            calls: documents.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::findings::tests::{finding, RULE, SECRET_ARN};
    use crate::findings::Rule;

    #[derive(Clone, Default)]
    struct Buffer(Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines(buffer: &Buffer) -> Vec<serde_json::Value> {
        String::from_utf8(buffer.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    const LOW_RULE: Rule = Rule {
        id: "ROT-002",
        severity: Severity::Low,
        title: "t",
        remediation: "r",
    };

    #[tokio::test]
    async fn active_findings_are_counted_per_severity_and_rule_one_line_each() {
        let buffer = Buffer::default();
        let sink = EmfSink::new("Custom/Ns", Box::new(buffer.clone()))
            .with_clock(|| Timestamp::from_millis(1_700_000_000_000));
        let findings = vec![
            finding(&RULE, &format!("{SECRET_ARN}1")),
            finding(&RULE, &format!("{SECRET_ARN}2")),
            finding(&LOW_RULE, SECRET_ARN),
            finding(&RULE, &format!("{SECRET_ARN}3"))
                .resolved(Timestamp::from_millis(1_800_000_000_000)),
        ];
        let report = sink.emit(&findings).await.unwrap();
        assert!(report.is_complete());
        let docs = lines(&buffer);
        assert_eq!(docs.len(), 2);
        assert_eq!(
            docs[0],
            serde_json::json!({
                "_aws": {
                    "Timestamp": 1_700_000_000_000u64,
                    "CloudWatchMetrics": [{
                        "Namespace": "Custom/Ns",
                        "Dimensions": [["Severity"], ["RuleId"]],
                        "Metrics": [{"Name": "Findings", "Unit": "Count"}]
                    }]
                },
                "Severity": "LOW",
                "RuleId": "ROT-002",
                "Findings": 1
            })
        );
        assert_eq!(docs[1]["Severity"], "HIGH");
        assert_eq!(docs[1]["RuleId"], "REF-001");
        assert_eq!(
            docs[1]["Findings"], 2,
            "the resolved finding is not counted"
        );
    }

    #[tokio::test]
    async fn no_active_findings_write_nothing() {
        let buffer = Buffer::default();
        let sink = EmfSink::new(DEFAULT_EMF_NAMESPACE, Box::new(buffer.clone()));
        let resolved =
            finding(&RULE, SECRET_ARN).resolved(Timestamp::from_millis(1_800_000_000_000));
        sink.emit(&[resolved]).await.unwrap();
        sink.emit(&[]).await.unwrap();
        assert!(buffer.0.lock().unwrap().is_empty());
    }

    #[test]
    fn a_rule_id_of_unexpected_shape_is_counted_as_other() {
        let sink = EmfSink::new(DEFAULT_EMF_NAMESPACE, Box::new(std::io::sink()));
        let mut json = serde_json::to_value(finding(&RULE, SECRET_ARN)).unwrap();
        json["ruleId"] = "secret-name-123abc".into();
        let odd: Finding = serde_json::from_value(json).unwrap();
        let docs = sink.documents(&[odd], Timestamp::from_millis(0));
        assert_eq!(docs[0]["RuleId"], "OTHER");
    }
}
