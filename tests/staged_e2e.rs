//! Staged rotation end to end, per vendor: the operator creates a secret in the vendor's console
//! (the vendor simulator), stages it with the real CLI (`agentcore-rotator stage`, the value on
//! standard input), and the rotation function proves it at the vendor's token endpoint with an
//! invalid authorization code before promoting it. Also: a wrong value, nothing staged (the
//! rotation-due finding reaches EventBridge), malformed staged versions, two rotations in a row,
//! and the audit's reminder to revoke the superseded secret until the operator records it.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use agentcore_rotator::agentcore::AgentCoreSettings;
use agentcore_rotator::audit::engine::Collected;
use agentcore_rotator::audit::{AuditConfig, Trigger};
use agentcore_rotator::config::Config;
use agentcore_rotator::event::Step;
use agentcore_rotator::findings::{Emitters, EmittersConfig, Finding};
use agentcore_rotator::rotation::staged::STAGED_LABEL;
use agentcore_rotator::upstream::vendors::{Vendor, ALL};
use agentcore_rotator_testkit::conductor::{Conductor, FaultPlan};
use agentcore_rotator_testkit::findings_route::{unique, BusToQueue};
use agentcore_rotator_testkit::idp::rig::with_origins;
use agentcore_rotator_testkit::idp::vendors::VendorSim;
use agentcore_rotator_testkit::moto::{Moto, REGION};
use agentcore_rotator_testkit::providers::create_external_oauth2;
use agentcore_rotator_testkit::stack::LocalStack;
use common::CapturedLogs;
use serde_json::{json, Value};

struct Env {
    stack: LocalStack,
    vendors: VendorSim,
}

impl Env {
    fn start() -> Env {
        Env {
            stack: LocalStack::start(),
            vendors: VendorSim::start(),
        }
    }

    fn config(&self) -> Config {
        let mut config = LocalStack::fast_config();
        config.origins = with_origins(config.origins, &[self.vendors.origin()]);
        for v in ALL {
            config
                .idp_admin
                .vendor_token_urls
                .insert(v, self.vendors.token_url(v));
        }
        config
    }

    fn conductor(&self, emitters: Emitters) -> Conductor {
        let rotator = self.stack.rotator_with_agentcore(
            self.config(),
            REGION,
            &AgentCoreSettings::default(),
            emitters,
        );
        self.stack.conductor(rotator)
    }

    /// A vendor app with one console secret, its bound staged document (rotation configured,
    /// not started), readable by AgentCore.
    async fn fixture(&self, vendor: Vendor, grace_hours: u64) -> (String, String, String) {
        let client = unique(&format!("{}-client", vendor.name()));
        let first = unique(&format!("{}-console-secret-1", vendor.name()));
        self.vendors.register(vendor, &client, &first);
        let doc = json!({
            "clientId": client,
            "clientSecret": first,
            "team": "research",
            "rotation": {"idp": "staged", "vendor": vendor.name(), "gracePeriodHours": grace_hours}
        });
        let arn = self.stack.bound_secret(&doc).await;
        self.stack.allow_agentcore(&arn).await;
        self.stack.schedule_rotation(&arn).await;
        (arn, client, first)
    }

    /// `agentcore-rotator stage --secret ARN` with `value` on standard input.
    fn stage(&self, arn: &str, value: &str) -> (i32, String, String) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_agentcore-rotator"))
            .args(["stage", "--secret", arn])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.stack.aws_env())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run agentcore-rotator stage");
        writeln!(child.stdin.take().unwrap(), "{value}").unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs the rotation the CLI started (its AWSPENDING version) through the four steps.
    async fn run_started(
        &self,
        conductor: &Conductor,
        arn: &str,
    ) -> agentcore_rotator_testkit::conductor::RotationRun {
        let token = self
            .stack
            .version_with(arn, "AWSPENDING")
            .await
            .expect("the CLI started a rotation");
        conductor.run_steps(arn, &token, FaultPlan::default()).await
    }
}

#[tokio::test]
async fn each_vendor_rotates_a_staged_secret_twice_in_a_row_and_never_sees_it_in_argv_or_logs() {
    let (logs, _g) = CapturedLogs::install();
    let env = Env::start();
    let conductor = env.conductor(Emitters::new(vec![]));
    for vendor in ALL {
        let (arn, client, first) = env.fixture(vendor, 0).await;
        let mut values = vec![first.clone()];
        for round in 2..=3 {
            let next = unique(&format!("{}-console-secret-{round}", vendor.name()));
            env.vendors.add_secret(vendor, &client, &next);
            let (code, stdout, stderr) = env.stage(&arn, &next);
            assert_eq!(code, 0, "{vendor:?}: {stderr}");
            assert!(stdout.contains("rotation started"), "{stdout}");
            assert!(!stdout.contains(&next) && !stderr.contains(&next));
            let calls = env.vendors.calls(vendor);
            let run = env.run_started(&conductor, &arn).await;
            assert!(
                run.succeeded,
                "{vendor:?} round {round}: {:?}",
                run.last_error()
            );
            assert!(env.vendors.calls(vendor) > calls, "proved at the vendor");
            let current = env.stack.doc(&arn, "AWSCURRENT").await;
            assert_eq!(current["clientSecret"], next.as_str(), "{vendor:?}");
            assert_eq!(current["team"], "research", "other keys kept");
            assert_eq!(
                env.stack.doc(&arn, "AWSPREVIOUS").await["clientSecret"],
                values.last().unwrap().as_str()
            );
            values.push(next);
            common::assert_no_leak(&logs, &values, &run.errors());
        }
    }
}

#[tokio::test]
async fn a_value_the_vendor_rejects_fails_test_secret_and_nothing_is_promoted() {
    let (logs, _g) = CapturedLogs::install();
    let env = Env::start();
    let mut conductor = env.conductor(Emitters::new(vec![]));
    conductor.max_attempts = 1;
    for vendor in ALL {
        let (arn, client, first) = env.fixture(vendor, 0).await;
        // Staged, but never created in the console.
        let (code, _, stderr) = env.stage(&arn, "typo-in-the-new-secret-0123");
        assert_eq!(code, 0, "{stderr}");
        let run = env.run_started(&conductor, &arn).await;
        assert!(!run.succeeded);
        let err = run.last_error().unwrap();
        assert!(
            err.contains(&format!(
                "{} rejected the staged client secret",
                vendor.name()
            )) && err.contains(&client),
            "{err}"
        );
        assert!(run.steps.iter().all(|s| s.step != Step::FinishSecret));
        assert_eq!(
            env.stack.doc(&arn, "AWSCURRENT").await["clientSecret"],
            first.as_str()
        );
        common::assert_no_leak(
            &logs,
            &[first, "typo-in-the-new-secret-0123".to_string()],
            &run.errors(),
        );
    }
}

#[tokio::test]
async fn nothing_staged_fails_create_secret_and_the_rotation_due_finding_reaches_eventbridge() {
    let env = Env::start();
    let route = BusToQueue::create().await;
    let config = EmittersConfig::from_lookup(|k| match k {
        "ROTATOR_FINDINGS_EVENT_BUS" => Some(route.bus.clone()),
        _ => None,
    })
    .unwrap();
    let emitters = Emitters::from_config(&Moto::shared().sdk_config(), &config);
    let mut conductor = env.conductor(emitters);
    conductor.max_attempts = 1;
    for vendor in ALL {
        let (arn, _, first) = env.fixture(vendor, 0).await;
        // The schedule fires with nothing staged.
        let run = conductor.rotate(&arn).await;
        assert!(!run.succeeded);
        let err = run.last_error().unwrap();
        assert!(
            err.contains("stage a new value first")
                && err.contains(vendor.name())
                && err.contains("agentcore-rotator stage --secret"),
            "{err}"
        );
        assert_eq!(
            env.stack.doc(&arn, "AWSCURRENT").await["clientSecret"],
            first.as_str()
        );
        let events = route.receive(1).await;
        assert_eq!(events[0]["detail"]["finding"]["ruleId"], "ROT-003");
        assert!(events[0].to_string().contains(&arn));
        assert!(!events[0].to_string().contains(&first));
    }
}

#[tokio::test]
async fn malformed_staged_versions_are_refused_naming_the_problem_and_nothing_is_promoted() {
    let env = Env::start();
    let conductor = env.conductor(Emitters::new(vec![]));
    let (arn, _, first) = env.fixture(Vendor::Atlassian, 0).await;
    let current = env.stack.doc(&arn, "AWSCURRENT").await;
    let mut missing_key = current.clone();
    missing_key.as_object_mut().unwrap().remove("clientSecret");
    let mut other_client = current.clone();
    other_client["clientId"] = json!("someone-else");
    other_client["clientSecret"] = json!("a-new-value-0123456789");
    for (staged, problem) in [
        ("not json at all".to_string(), "not JSON"),
        (missing_key.to_string(), "clientSecret"),
        (other_client.to_string(), "someone-else"),
        (current.to_string(), "stage a new value first"),
    ] {
        env.stack
            .sm
            .put_secret_value()
            .secret_id(&arn)
            .secret_string(staged)
            .version_stages(STAGED_LABEL)
            .send()
            .await
            .unwrap();
        let token = conductor.begin(&arn).await;
        let err = conductor
            .invoke(&arn, &token, Step::CreateSecret)
            .await
            .unwrap_err();
        assert!(err.contains(problem), "{problem}: {err}");
        assert_eq!(
            env.stack.doc(&arn, "AWSCURRENT").await["clientSecret"],
            first.as_str()
        );
        // Abandon this attempt before the next case.
        env.stack
            .sm
            .update_secret_version_stage()
            .secret_id(&arn)
            .version_stage("AWSPENDING")
            .remove_from_version_id(&token)
            .send()
            .await
            .unwrap();
    }
    // The CLI refuses what it can see before writing anything.
    let before = env.stack.stages(&arn).await;
    let (code, _, stderr) = env.stage(&arn, &first);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("already holds") && stderr.contains("nothing was staged"),
        "{stderr}"
    );
    let (code, _, stderr) = env.stage(&arn, "");
    assert_eq!(code, 2);
    assert!(stderr.contains("empty"), "{stderr}");
    assert_eq!(env.stack.stages(&arn).await, before);
}

async fn audit(env: &Env) -> Vec<Finding> {
    let out = Arc::new(Collected::default());
    env.stack
        .auditor(out.clone(), AuditConfig::default(), None)
        .with_upstreams(Arc::new(env.stack.upstreams()))
        .run(&Trigger::parse(&json!({})).unwrap(), None)
        .await
        .expect("audit");
    out.take().into_iter().filter(Finding::is_active).collect()
}

#[tokio::test]
async fn the_audit_reminds_to_revoke_the_superseded_secret_until_the_operator_records_it() {
    let env = Env::start();
    let conductor = env.conductor(Emitters::new(vec![]));
    let (arn, client, first) = env.fixture(Vendor::Github, 0).await;
    create_external_oauth2(
        &env.stack.agentcore_control(),
        "github-staged",
        &client,
        "https://github.com/.well-known/openid-configuration",
        &arn,
        "clientSecret",
    )
    .await;
    let next = "github-console-secret-2-abcdef";
    env.vendors.add_secret(Vendor::Github, &client, next);
    assert_eq!(env.stage(&arn, next).0, 0);
    assert!(env.run_started(&conductor, &arn).await.succeeded);
    let ups7 = |findings: &[Finding]| -> Option<Value> {
        findings
            .iter()
            .find(|f| f.rule_id() == "UPS-007")
            .map(|f| json!(f.description()))
    };
    let findings = audit(&env).await;
    let reminder = ups7(&findings).unwrap_or_else(|| panic!("no UPS-007: {findings:#?}"));
    let text = reminder.as_str().unwrap();
    assert!(
        text.contains("github") && text.contains(&client) && text.contains("superseded at"),
        "{text}"
    );
    assert!(!text.contains(&first) && !text.contains(next));

    // The operator revokes it in GitHub and records that.
    env.vendors.revoke(Vendor::Github, &client, &first);
    let out = Command::new(env!("CARGO_BIN_EXE_agentcore-rotator"))
        .args(["revoked", "--secret", &arn])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.stack.aws_env())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(ups7(&audit(&env).await).is_none(), "the reminder ends");
}

#[tokio::test]
async fn a_custom_server_proves_the_staged_secret_with_client_credentials() {
    use agentcore_rotator_testkit::oidc::{AuthMethod, OidcClient, OidcServer};
    let (logs, _g) = CapturedLogs::install();
    let env = Env::start();
    // The secret the server's console created; the one AWSCURRENT holds is older.
    let server = OidcServer::start(&[OidcClient::new(
        "custom-app",
        "console-made-secret-0123456789",
        AuthMethod::ClientSecretBasic,
    )]);
    let doc = json!({
        "clientId": "custom-app",
        "clientSecret": "the-older-secret-0123456789",
        "rotation": {"idp": "staged", "vendor": "custom", "tokenEndpoint": server.token_endpoint(), "gracePeriodHours": 0}
    });
    let arn = env.stack.bound_secret(&doc).await;
    env.stack.schedule_rotation(&arn).await;
    let mut config = env.config();
    config.origins = with_origins(config.origins, &[server.issuer.as_str()]);
    let mut conductor = env.stack.conductor(env.stack.rotator_with_agentcore(
        config,
        REGION,
        &AgentCoreSettings::default(),
        Emitters::new(vec![]),
    ));
    conductor.max_attempts = 1;
    // A typo is refused by the server (invalid_client); nothing is promoted.
    assert_eq!(env.stage(&arn, "console-made-secret-0123456780").0, 0);
    let run = env.run_started(&conductor, &arn).await;
    assert!(!run.succeeded);
    assert!(
        run.last_error().unwrap().contains("invalid_client"),
        "{:?}",
        run.last_error()
    );
    let abandoned = env.stack.version_with(&arn, "AWSPENDING").await.unwrap();
    env.stack
        .sm
        .update_secret_version_stage()
        .secret_id(&arn)
        .version_stage("AWSPENDING")
        .remove_from_version_id(abandoned)
        .send()
        .await
        .unwrap();
    assert_eq!(env.stage(&arn, "console-made-secret-0123456789").0, 0);
    let run = env.run_started(&conductor, &arn).await;
    assert!(run.succeeded, "{:?}", run.last_error());
    assert_eq!(
        env.stack.doc(&arn, "AWSCURRENT").await["clientSecret"],
        "console-made-secret-0123456789"
    );
    common::assert_no_leak(
        &logs,
        &[
            "console-made-secret-0123456789".to_string(),
            "console-made-secret-0123456780".to_string(),
            "the-older-secret-0123456789".to_string(),
        ],
        &run.errors(),
    );
}
