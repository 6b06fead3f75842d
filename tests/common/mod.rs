//! Helpers shared by the end-to-end tests: log capture and the leak check.

#![allow(dead_code)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

/// Captures every log line emitted on this thread (tests run on a current-thread runtime) as
/// JSON, at debug level, including the AWS SDK's own logs.
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    pub fn install() -> (CapturedLogs, tracing::subscriber::DefaultGuard) {
        let logs = CapturedLogs::default();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(logs.clone())
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        (logs, guard)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Fails if any of `secrets` appears in the captured logs.
    pub fn assert_free_of(&self, secrets: &[&str]) {
        let text = self.text();
        assert!(!text.is_empty(), "no logs were captured");
        for s in secrets {
            assert!(s.len() >= 8, "leak check needs a distinctive value");
            assert!(!text.contains(s), "a secret value leaked into the logs");
        }
    }
}

/// Fails if any of `values` (secret values) appears in the captured logs or in any of `texts`
/// (error messages, serialized findings).
pub fn assert_no_leak(logs: &CapturedLogs, values: &[String], texts: &[String]) {
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    logs.assert_free_of(&refs);
    for text in texts {
        for v in &refs {
            assert!(
                !text.contains(v),
                "a secret value leaked into an error or a finding"
            );
        }
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        if std::env::var_os("TEST_LOG_STDERR").is_some() {
            std::io::stderr().write_all(buf)?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Active findings' resource ids by rule id.
pub fn by_rule(
    findings: &[agentcore_rotator::findings::Finding],
) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut out: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for f in findings.iter().filter(|f| f.is_active()) {
        for r in f.resources() {
            out.entry(f.rule_id().to_string())
                .or_default()
                .insert(r.arn_or_id().to_string());
        }
    }
    out
}
