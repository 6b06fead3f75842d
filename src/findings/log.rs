//! Findings as structured log lines: one `tracing` event per finding, target [`LOG_TARGET`].
//!
//! The lines are JSON when the binary installs a JSON subscriber (in Lambda:
//! `AWS_LAMBDA_LOG_FORMAT=JSON`). Active findings of High or Critical severity log at WARN,
//! everything else at INFO, so a `findings=info` filter sees all of them.

use async_trait::async_trait;

use super::sink::{EmitReport, FindingSink};
use super::{Finding, FindingsError, Severity};

/// The `tracing` target of finding events.
pub const LOG_TARGET: &str = "findings";

/// Logs every finding; never fails.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogSink;

impl LogSink {
    pub fn new() -> Self {
        Self
    }
}

/// Logs one finding.
pub(crate) fn log_finding(f: &Finding) {
    let resources = serde_json::to_string(f.resources()).unwrap_or_default();
    macro_rules! event {
        ($level:expr) => {
            tracing::event!(
                target: "findings",
                $level,
                finding_id = f.id(),
                rule_id = f.rule_id(),
                severity = f.severity().label(),
                state = f.state().label(),
                title = f.title(),
                description = f.description(),
                remediation = f.remediation(),
                resources = %resources,
                account_id = f.account_id(),
                region = f.region(),
                first_seen = %f.first_seen(),
                last_seen = %f.last_seen(),
                "finding"
            )
        };
    }
    if f.is_active() && f.severity() >= Severity::High {
        event!(tracing::Level::WARN);
    } else {
        event!(tracing::Level::INFO);
    }
}

#[async_trait]
impl FindingSink for LogSink {
    fn name(&self) -> &'static str {
        "log"
    }

    async fn emit(&self, findings: &[Finding]) -> Result<EmitReport, FindingsError> {
        findings.iter().for_each(log_finding);
        Ok(EmitReport {
            attempted: findings.len(),
            delivered: findings.len(),
            failed: Vec::new(),
            calls: findings.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::findings::tests::{finding, RULE, SECRET_ARN};
    use crate::findings::Timestamp;

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

    #[test]
    fn each_finding_is_one_json_line_with_its_fields_under_the_findings_target() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || writer.clone())
            .finish();
        let active = finding(&RULE, SECRET_ARN);
        let resolved =
            finding(&RULE, SECRET_ARN).resolved(Timestamp::from_millis(1_800_000_000_000));
        tracing::subscriber::with_default(subscriber, || {
            log_finding(&active);
            log_finding(&resolved);
        });
        let out = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        let first = &lines[0];
        assert_eq!(first["target"], "findings");
        assert_eq!(first["level"], "WARN");
        let fields = &first["fields"];
        assert_eq!(fields["message"], "finding");
        assert_eq!(fields["finding_id"], active.id());
        assert_eq!(fields["rule_id"], "REF-001");
        assert_eq!(fields["severity"], "HIGH");
        assert_eq!(fields["state"], "ACTIVE");
        assert_eq!(fields["last_seen"], "2023-11-14T22:13:20.123Z");
        let resources: serde_json::Value =
            serde_json::from_str(fields["resources"].as_str().unwrap()).unwrap();
        assert_eq!(resources[1]["arnOrId"], SECRET_ARN);
        assert_eq!(lines[1]["level"], "INFO");
        assert_eq!(lines[1]["fields"]["state"], "RESOLVED");
    }
}
