//! The operator CLI: `agentcore-rotator audit` runs the drift audit engine with the standard
//! AWS credential chain and prints the findings.

use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use agentcore_rotator::audit::engine::{Collected, Progress};
use agentcore_rotator::audit::report::{table, totals};
use agentcore_rotator::audit::{AuditOutcome, AuditScope, Trigger};
use agentcore_rotator::aws::auditor;
use agentcore_rotator::aws::call_counter::CallCounter;
use agentcore_rotator::aws::load_sdk_config;
use agentcore_rotator::findings::Severity;

const USAGE: &str = "usage: agentcore-rotator audit [--secret ID]... [--provider NAME]... [--format table|json] [--fail-on informational|low|medium|high|critical|none]

Audits AgentCore Identity credential providers against the secrets they reference, using the
standard AWS credential chain and Region (AWS_ENDPOINT_URL_* honoured). Exit status: 0 clean,
1 an active finding at or above --fail-on (default high), 2 usage or audit error.";

#[derive(Debug, PartialEq)]
struct Args {
    secrets: Vec<String>,
    providers: Vec<String>,
    json: bool,
    fail_on: Option<Severity>,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut it = args.iter();
    match it.next().map(String::as_str) {
        Some("audit") => {}
        Some("-h" | "--help" | "help") | None => return Err(String::new()),
        Some(other) => return Err(format!("unknown command {other:?}")),
    }
    let mut out = Args {
        secrets: vec![],
        providers: vec![],
        json: false,
        fail_on: Some(Severity::High),
    };
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--secret" => out.secrets.push(value()?),
            "--provider" => out.providers.push(value()?),
            "--format" => {
                out.json = match value()?.as_str() {
                    "json" => true,
                    "table" => false,
                    other => return Err(format!("--format must be table or json, not {other:?}")),
                }
            }
            "--fail-on" => {
                let v = value()?.to_ascii_lowercase();
                out.fail_on = if v == "none" {
                    None
                } else {
                    Some(
                        Severity::ALL
                            .into_iter()
                            .find(|s| s.label().eq_ignore_ascii_case(&v))
                            .ok_or_else(|| {
                                format!("--fail-on must be a severity or none, not {v:?}")
                            })?,
                    )
                };
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    Ok(out)
}

/// Progress lines on stderr, at most one per second (and the last one).
struct Stderr(Mutex<Option<Instant>>);

impl Progress for Stderr {
    fn update(&self, stage: &str, done: u64, total: u64) {
        // At most one line a second, except a stage's first and last (total 0: unknown).
        let mut last = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let boundary = done == 0 || (total > 0 && done >= total);
        if !boundary && last.is_some_and(|t| t.elapsed().as_secs() < 1) {
            return;
        }
        *last = Some(Instant::now());
        match (done, total) {
            (_, t) if t > 0 => eprintln!("audit: {stage} {done}/{total}"),
            (0, _) => eprintln!("audit: {stage}"),
            _ => eprintln!("audit: {stage} {done}"),
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse(&argv) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("agentcore-rotator: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let sdk = load_sdk_config().await;
    let collected = Arc::new(Collected::default());
    let counter = CallCounter::new();
    // The CLI prints; it publishes nowhere and never reports to Security Hub or EventBridge.
    let lookup = |k: &str| match k {
        "ROTATOR_SECURITY_HUB" | "ROTATOR_FINDINGS_EVENT_BUS" => None,
        _ => std::env::var(k).ok(),
    };
    let mut engine = match auditor(&sdk, &sdk, lookup, collected.clone(), &counter) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("agentcore-rotator: {e}");
            return ExitCode::from(2);
        }
    };
    engine = engine.with_progress(Arc::new(Stderr(Mutex::new(None))));
    let scope = if args.secrets.is_empty() && args.providers.is_empty() {
        AuditScope::All
    } else {
        AuditScope::Targeted {
            secret_ids: args.secrets.clone(),
            provider_names: args.providers.clone(),
        }
    };
    let trigger = Trigger {
        scope,
        kind: "cli",
        reason: "operator CLI".into(),
        continuation: None,
    };
    let summary = match engine.run(&trigger, None).await {
        Ok(AuditOutcome::Complete(s)) | Ok(AuditOutcome::Continued { summary: s, .. }) => s,
        Err(e) => {
            eprintln!("agentcore-rotator: audit failed: {e}");
            return ExitCode::from(2);
        }
    };
    let findings = collected.take();
    let mut stdout = std::io::stdout().lock();
    let printed = if args.json {
        let doc = serde_json::json!({"summary": summary, "findings": findings});
        writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        )
    } else if findings.is_empty() {
        writeln!(stdout, "no findings\n{}", totals(&summary))
    } else {
        write!(stdout, "{}\n{}\n", table(&findings), totals(&summary))
    };
    if printed.is_err() {
        return ExitCode::from(2);
    }
    let failing = args.fail_on.is_some_and(|min| {
        findings
            .iter()
            .any(|f| f.is_active() && f.severity() >= min)
    });
    if failing {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Result<Args, String> {
        parse(&s.split_whitespace().map(str::to_string).collect::<Vec<_>>())
    }

    #[test]
    fn audit_options_are_parsed() {
        let a = args("audit --secret a --secret b --provider p --format json --fail-on medium")
            .unwrap();
        assert_eq!(a.secrets, ["a", "b"]);
        assert_eq!(a.providers, ["p"]);
        assert!(a.json);
        assert_eq!(a.fail_on, Some(Severity::Medium));
        assert_eq!(args("audit --fail-on none").unwrap().fail_on, None);
        assert_eq!(args("audit").unwrap().fail_on, Some(Severity::High));
    }

    #[test]
    fn bad_usage_is_an_error() {
        assert!(args("audit --format xml").is_err());
        assert!(args("audit --secret").is_err());
        assert!(args("audit --fail-on severe").is_err());
        assert!(args("rotate").is_err());
        assert!(args("").is_err());
    }
}
