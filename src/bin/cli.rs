//! The operator CLI: `agentcore-rotator audit` runs the drift audit engine with the standard
//! AWS credential chain and prints the findings; `agentcore-rotator idp-key jwk` prints the
//! public JWK of the KMS key that signs the rotator's IdP admin assertions.

use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use agentcore_rotator::agentcore::{self, AgentCoreSettings};
use agentcore_rotator::audit::engine::{Collected, Progress};
use agentcore_rotator::audit::report::{table, totals};
use agentcore_rotator::audit::{AuditOutcome, AuditScope, Trigger};
use agentcore_rotator::aws::agentcore::AgentCoreDirectory;
use agentcore_rotator::aws::auditor;
use agentcore_rotator::aws::call_counter::CallCounter;
use agentcore_rotator::aws::consumers::with_consumers;
use agentcore_rotator::aws::gateways::AgentCoreGateways;
use agentcore_rotator::aws::kms_signer::KmsSigner;
use agentcore_rotator::aws::load_sdk_config;
use agentcore_rotator::aws::staging;
use agentcore_rotator::findings::Severity;
use agentcore_rotator::sensitive::SecretString;

const USAGE: &str = "usage: agentcore-rotator audit [--secret ID]... [--provider NAME]... [--format table|json] [--fail-on informational|low|medium|high|critical|none]
       agentcore-rotator idp-key jwk --key-id KMS_KEY [--jwks]
       agentcore-rotator stage --secret ID
       agentcore-rotator revoked --secret ID
       agentcore-rotator impact --secret ID [--format table|json]

audit: audits AgentCore Identity credential providers against the secrets they reference, using
the standard AWS credential chain and Region (AWS_ENDPOINT_URL_* honoured). Exit status: 0 clean,
1 an active finding at or above --fail-on (default high), 2 usage or audit error.
idp-key jwk: prints the public JWK (kid = RFC 7638 thumbprint) of the KMS key that signs the
rotator's IdP admin client assertions, to register at Okta or Keycloak; --jwks wraps it in a
JWK Set. Exit status 2 when the key cannot sign RS256/ES256 assertions.
stage: reads a new client secret from standard input (never from arguments; not echoed on a
terminal), writes it as the next version of a staged-rotation secret (label
AGENTCORE_ROTATOR_STAGED) and starts the rotation.
revoked: records that the superseded client secret (AWSPREVIOUS) is revoked in the vendor's
console (tag agentcore-rotator:revoked), which ends the audit's reminder (UPS-007).
impact: prints what depends on a secret: the credential providers whose references name it
(OAuth2, API-key and payment providers, per reference; in consumer accounts too when
ROTATOR_CONSUMER_ROLE_ARNS is set) and the gateway targets using each, in its own account.
Reads AgentCore only (List/Get of providers and gateways), never a secret value.";

#[derive(Debug, PartialEq)]
enum Command {
    Audit(Args),
    IdpKeyJwk { key_id: String, set: bool },
    Stage { secret: String },
    Revoked { secret: String },
    Impact { secret: String, json: bool },
}

#[derive(Debug, PartialEq)]
struct Args {
    secrets: Vec<String>,
    providers: Vec<String>,
    json: bool,
    fail_on: Option<Severity>,
}

fn parse(args: &[String]) -> Result<Command, String> {
    match args.first().map(String::as_str) {
        Some("audit") => parse_audit(&args[1..]).map(Command::Audit),
        Some("idp-key") => parse_idp_key(&args[1..]),
        Some(cmd @ ("stage" | "revoked")) => {
            let secret = match &args[1..] {
                [flag, id] if flag == "--secret" && !id.trim().is_empty() => id.clone(),
                _ => return Err(format!("{cmd} needs exactly --secret ID (the value is read from standard input, never from arguments)")),
            };
            Ok(if cmd == "stage" {
                Command::Stage { secret }
            } else {
                Command::Revoked { secret }
            })
        }
        Some("impact") => parse_impact(&args[1..]),
        Some("-h" | "--help" | "help") | None => Err(String::new()),
        Some(other) => Err(format!("unknown command {other:?}")),
    }
}

fn parse_impact(args: &[String]) -> Result<Command, String> {
    let (mut secret, mut json) = (None, false);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--secret" => secret = Some(value()?).filter(|s| !s.trim().is_empty()),
            "--format" => {
                json = match value()?.as_str() {
                    "json" => true,
                    "table" => false,
                    other => return Err(format!("unknown format {other:?} (table or json)")),
                }
            }
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    let secret = secret.ok_or("impact needs --secret ID")?;
    Ok(Command::Impact { secret, json })
}

fn parse_idp_key(args: &[String]) -> Result<Command, String> {
    let mut it = args.iter();
    match it.next().map(String::as_str) {
        Some("jwk") => {}
        Some(other) => return Err(format!("unknown idp-key command {other:?} (expected jwk)")),
        None => return Err("idp-key needs a command: jwk".into()),
    }
    let (mut key_id, mut set) = (None, false);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--key-id" => key_id = Some(it.next().cloned().ok_or("--key-id needs a value")?),
            "--jwks" => set = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    let key_id = key_id
        .filter(|k| !k.trim().is_empty())
        .ok_or("idp-key jwk needs --key-id (a KMS key id, ARN or alias)")?;
    Ok(Command::IdpKeyJwk { key_id, set })
}

fn parse_audit(args: &[String]) -> Result<Args, String> {
    let mut it = args.iter();
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
    let command = match parse(&argv) {
        Ok(c) => c,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("agentcore-rotator: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let sdk = load_sdk_config().await;
    match command {
        Command::Audit(args) => audit(&sdk, args).await,
        Command::IdpKeyJwk { key_id, set } => idp_key_jwk(&sdk, &key_id, set).await,
        Command::Stage { secret } => stage(&sdk, &secret).await,
        Command::Revoked { secret } => revoked(&sdk, &secret).await,
        Command::Impact { secret, json } => impact(&sdk, &secret, json).await,
    }
}

/// The new client secret from standard input: without echo on a terminal, else its first line.
fn read_new_secret() -> std::io::Result<SecretString> {
    use std::io::{BufRead, IsTerminal};
    if std::io::stdin().is_terminal() {
        eprint!("new client secret (not echoed): ");
        return rpassword::read_password().map(SecretString::new);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(SecretString::new(
        line.trim_end_matches(['\r', '\n']).to_string(),
    ))
}

async fn stage(sdk: &aws_config::SdkConfig, secret: &str) -> ExitCode {
    let value = match read_new_secret() {
        Ok(v) => v,
        Err(e) => {
            eprintln!(
                "agentcore-rotator: cannot read the new client secret from standard input: {e}"
            );
            return ExitCode::from(2);
        }
    };
    match staging::stage(&aws_sdk_secretsmanager::Client::new(sdk), secret, value).await {
        Ok(s) => {
            println!("staged as version {}", s.version_id);
            if s.rotation_started {
                println!("rotation started: the rotation function proves the value at the vendor before promoting it");
            } else {
                println!("the rotation did not start (see the warning); the next scheduled rotation takes the staged value");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("agentcore-rotator: nothing was staged: {e}");
            ExitCode::from(2)
        }
    }
}

async fn revoked(sdk: &aws_config::SdkConfig, secret: &str) -> ExitCode {
    match staging::mark_revoked(&aws_sdk_secretsmanager::Client::new(sdk), secret).await {
        Ok(version) => {
            println!("version {version}'s client secret is recorded as revoked");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("agentcore-rotator: {e}");
            ExitCode::from(2)
        }
    }
}

async fn idp_key_jwk(sdk: &aws_config::SdkConfig, key_id: &str, set: bool) -> ExitCode {
    match KmsSigner::load(aws_sdk_kms::Client::new(sdk), key_id).await {
        Ok(signer) => {
            let jwk = signer.jwk().clone();
            let out = if set {
                serde_json::json!({ "keys": [jwk] })
            } else {
                jwk
            };
            println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("agentcore-rotator: {e}");
            ExitCode::from(2)
        }
    }
}

async fn impact(sdk: &aws_config::SdkConfig, secret: &str, json: bool) -> ExitCode {
    let settings = match AgentCoreSettings::from_lookup(|k| std::env::var(k).ok()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("agentcore-rotator: {e}");
            return ExitCode::from(2);
        }
    };
    // Consumer accounts too, when ROTATOR_CONSUMER_ROLE_ARNS names them.
    let (directory, gateways) = with_consumers(
        Arc::new(AgentCoreDirectory::new(sdk, &settings)),
        Arc::new(AgentCoreGateways::new(sdk, &settings, None)),
        sdk,
        sdk,
        &settings,
    );
    let found = match agentcore::impact::impact(directory.as_ref(), gateways.as_ref(), secret).await
    {
        Ok(found) => found,
        Err(e) => {
            eprintln!("agentcore-rotator: impact failed: {e}");
            return ExitCode::from(2);
        }
    };
    let printed = if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&found).unwrap_or_default()
        );
        true
    } else {
        write!(std::io::stdout().lock(), "{}", found.tree()).is_ok()
    };
    if printed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}

async fn audit(sdk: &aws_config::SdkConfig, args: Args) -> ExitCode {
    let sdk = sdk.clone();
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
        rotated_at: None,
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

    fn command(s: &str) -> Result<Command, String> {
        parse(&s.split_whitespace().map(str::to_string).collect::<Vec<_>>())
    }

    fn args(s: &str) -> Result<Args, String> {
        match command(s)? {
            Command::Audit(a) => Ok(a),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn idp_key_jwk_needs_a_key_id() {
        assert_eq!(
            command("idp-key jwk --key-id alias/rotator-idp --jwks"),
            Ok(Command::IdpKeyJwk {
                key_id: "alias/rotator-idp".into(),
                set: true
            })
        );
        assert!(command("idp-key jwk").unwrap_err().contains("--key-id"));
        assert!(command("idp-key").is_err());
        assert!(command("idp-key pem --key-id k").is_err());
        assert!(command("idp-key jwk --key-id").is_err());
    }

    #[test]
    fn stage_and_revoked_take_only_a_secret_id() {
        assert_eq!(
            command("stage --secret s1"),
            Ok(Command::Stage {
                secret: "s1".into()
            })
        );
        assert_eq!(
            command("revoked --secret s1"),
            Ok(Command::Revoked {
                secret: "s1".into()
            })
        );
        let err = command("stage --secret s1 --value hunter2").unwrap_err();
        assert!(err.contains("standard input"), "{err}");
        assert!(command("stage").is_err());
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
    fn impact_takes_a_secret_and_a_format() {
        assert_eq!(
            command("impact --secret s1 --format json").unwrap(),
            Command::Impact {
                secret: "s1".into(),
                json: true
            }
        );
        assert_eq!(
            command("impact --secret s1").unwrap(),
            Command::Impact {
                secret: "s1".into(),
                json: false
            }
        );
        assert!(command("impact").is_err());
        assert!(command("impact --secret s1 --format xml").is_err());
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
