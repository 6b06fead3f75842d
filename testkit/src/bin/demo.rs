//! The whole job on the embedded local stack, in one screen and without a secret value: what
//! references a secret (providers, the gateway targets behind them), a rotation with its
//! pre-flight and confirmation, each provider as AgentCore resolves it afterwards (hash compared,
//! never printed), the finding for the broken reference as EventBridge and Security Hub receive
//! it, and a drift audit.
//!
//! moto plays Secrets Manager, EventBridge, SQS and Security Hub; the Cognito simulator plays the
//! identity provider; the AgentCore emulator serves the providers and gateways; the conductor
//! invokes the real rotation handler the way Secrets Manager does.

use std::sync::{Arc, Mutex};

use agentcore_rotator::agentcore::impact::impact;
use agentcore_rotator::agentcore::{AgentCoreSettings, ValueHash};
use agentcore_rotator::audit::engine::Collected;
use agentcore_rotator::audit::report::{table, totals};
use agentcore_rotator::audit::{AuditConfig, AuditOutcome, Trigger};
use agentcore_rotator::aws::agentcore::AgentCoreDirectory;
use agentcore_rotator::aws::call_counter::CallCounter;
use agentcore_rotator::aws::gateways::AgentCoreGateways;
use agentcore_rotator::aws::AwsUpstreams;
use agentcore_rotator::findings::{Emitters, EventBridgeSink, SecurityHubSink};
use agentcore_rotator_testkit::agentcore::ProviderKind;
use agentcore_rotator_testkit::findings_route::BusToQueue;
use agentcore_rotator_testkit::moto::{Moto, REGION};
use agentcore_rotator_testkit::providers::{api_key_provider_arn, provider_arn};
use agentcore_rotator_testkit::security_hub::findings_with_ids;
use agentcore_rotator_testkit::stack::LocalStack;
use serde_json::{json, Value};

/// A partner API key kept beside the client secret (a demo value, never printed).
const API_KEY: &str = "demo-partner-api-key-0123456789abcdef";

/// Prints a line and keeps it: the demo checks everything it printed for secret values.
macro_rules! say {
    ($screen:expr, $($arg:tt)*) => {{
        let line = format!($($arg)*);
        println!("{line}");
        $screen.push_str(&line);
        $screen.push('\n');
    }};
}

/// The rotation's log, kept in memory (JSON lines): the demo shows its confirmation lines.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }

    /// `(provider, message)` of the log events whose message starts with `prefix`.
    fn events(&self, prefix: &str) -> Vec<(String, String)> {
        self.text()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|v| {
                let message = v["fields"]["message"].as_str()?.to_string();
                let provider = v["fields"]["provider"].as_str()?.to_string();
                message.starts_with(prefix).then_some((provider, message))
            })
            .collect()
    }
}

fn fail(what: &str) -> ! {
    eprintln!("\ndemo failed: {what}");
    std::process::exit(1)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let log = Log::default();
    let writer = log.clone();
    tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .init();
    let mut screen = String::new();
    say!(
        screen,
        "agentcore-rotator demo: the whole job on the local stack (no secret value is printed)"
    );
    let stack = LocalStack::start();
    let f = stack
        .cognito_fixture(json!({ "apiKey": API_KEY, "rotation": { "gracePeriodHours": 24 } }))
        .await;
    stack.allow_agentcore(&f.secret_arn).await;
    // Two working references and one with a mistyped JSON key, each used by a gateway target.
    stack
        .external_oauth2("billing-oauth", &f, &f.client_id, "clientSecret")
        .await;
    stack
        .external_api_key("partner-key", &f.secret_arn, "apiKey")
        .await;
    stack
        .external_api_key("legacy-key", &f.secret_arn, "apikey")
        .await;
    let billing = stack.gateway("billing").await;
    stack
        .gateway_target(&billing, "invoices", &provider_arn("billing-oauth"))
        .await;
    stack
        .gateway_target(
            &billing,
            "partner-sync",
            &api_key_provider_arn("partner-key"),
        )
        .await;
    stack
        .gateway_target(
            &billing,
            "legacy-export",
            &api_key_provider_arn("legacy-key"),
        )
        .await;

    say!(
        screen,
        "\n1. What depends on the secret (agentcore-rotator impact)"
    );
    let settings = AgentCoreSettings::default();
    let agentcore_sdk = stack.agentcore.sdk_config();
    let directory = AgentCoreDirectory::new(&agentcore_sdk, &settings);
    let gateways = AgentCoreGateways::new(&agentcore_sdk, &settings, None);
    match impact(&directory, &gateways, &f.secret_arn).await {
        Ok(found) => say!(screen, "{}", found.tree().trim_end()),
        Err(e) => fail(&e.to_string()),
    }

    say!(screen, "\n2. Rotation, as Secrets Manager runs it");
    let route = BusToQueue::create().await;
    let moto_sdk = Moto::shared().sdk_config();
    aws_sdk_securityhub::Client::new(&moto_sdk)
        .enable_security_hub()
        .send()
        .await
        .ok();
    // The deployed function also logs each finding and writes EMF; here only the two
    // destinations shown below.
    let emitters = Emitters::new(vec![
        Box::new(EventBridgeSink::new(
            aws_sdk_eventbridge::Client::new(&moto_sdk),
            Some(route.bus.clone()),
        )),
        Box::new(SecurityHubSink::new(aws_sdk_securityhub::Client::new(
            &moto_sdk,
        ))),
    ]);
    let rotator =
        stack.rotator_with_agentcore(LocalStack::fast_config(), REGION, &settings, emitters);
    let run = stack.conductor(rotator).rotate(&f.secret_arn).await;
    for s in &run.steps {
        let what = match s.step.as_str() {
            "testSecret" => {
                "  (IdP accepts it; pre-flight: every key a provider reads is in AWSPENDING)"
            }
            "finishSecret" => "  (promoted; every provider confirmed or reported)",
            _ => "",
        };
        match &s.result {
            Ok(outcome) => say!(screen, "  {:<13} {outcome}{what}", s.step.as_str()),
            Err(e) => say!(screen, "  {:<13} FAILED: {e}", s.step.as_str()),
        }
    }
    if !run.succeeded {
        fail("the rotation did not succeed");
    }

    say!(
        screen,
        "\n3. Confirmation, per provider (SHA-256 compared, never shown)"
    );
    // What finishSecret itself confirmed (its log), then each provider as AgentCore resolves it.
    let confirmed: Vec<String> = log
        .events("credential provider confirmed")
        .into_iter()
        .map(|(provider, _)| provider)
        .collect();
    let current = stack.doc(&f.secret_arn, "AWSCURRENT").await;
    for (kind, name, key) in [
        (ProviderKind::Oauth2, "billing-oauth", "clientSecret"),
        (ProviderKind::ApiKey, "partner-key", "apiKey"),
        (ProviderKind::ApiKey, "legacy-key", "apikey"),
    ] {
        let by_rotation = if confirmed.iter().any(|c| c == name) {
            "confirmed by finishSecret"
        } else {
            "not confirmed (see 4)"
        };
        let expected = current[key].as_str().map(ValueHash::of);
        let by_agentcore = match stack.agentcore.resolve(kind, name).await {
            Ok(r) if Some(ValueHash::of(r.expose_secret())) == expected => {
                "AgentCore resolves it: hash matches AWSCURRENT".to_string()
            }
            Ok(_) => "AgentCore resolves it: hash DIFFERS from AWSCURRENT".to_string(),
            Err(reason) => format!("AgentCore: {reason}"),
        };
        say!(screen, "  {name:<14} {by_rotation:<26} {by_agentcore}");
    }

    say!(
        screen,
        "\n4. The finding for the broken reference, as delivered"
    );
    let events = route.receive(1).await;
    let Some(event) = events.first() else {
        fail("no finding reached EventBridge");
    };
    let finding = &event["detail"]["finding"];
    say!(
        screen,
        "  EventBridge  source {}  detail-type {:?}",
        event["source"].as_str().unwrap_or_default(),
        event["detail-type"].as_str().unwrap_or_default()
    );
    say!(
        screen,
        "               {} {}: {}",
        finding["ruleId"].as_str().unwrap_or_default(),
        finding["severity"].as_str().unwrap_or_default(),
        finding["description"].as_str().unwrap_or_default()
    );
    let id = finding["id"].as_str().unwrap_or_default().to_string();
    for hub in findings_with_ids(&moto_sdk, &[&id]).await {
        let resources: Vec<String> = hub
            .resources()
            .iter()
            .map(|r| {
                let kind = r
                    .details()
                    .and_then(|d| d.other())
                    .and_then(|o| o.get("Kind"))
                    .cloned()
                    .unwrap_or_else(|| r.r#type().unwrap_or_default().to_string());
                format!("{kind} {}", r.id().unwrap_or_default())
            })
            .collect();
        say!(
            screen,
            "  Security Hub {}  severity {}  compliance {}",
            hub.id().unwrap_or_default(),
            hub.severity()
                .and_then(|s| s.label())
                .map(|l| l.as_str().to_string())
                .unwrap_or_default(),
            hub.compliance()
                .and_then(|c| c.status())
                .map(|s| s.as_str().to_string())
                .unwrap_or_default()
        );
        for r in resources {
            say!(screen, "               {r}");
        }
    }

    say!(screen, "\n5. Drift audit of the account");
    let out = Arc::new(Collected::default());
    let counter = CallCounter::new();
    let outcome = stack
        .auditor(out.clone(), AuditConfig::default(), Some(&counter))
        .with_gateways(Arc::new(AgentCoreGateways::new(
            &agentcore_sdk,
            &settings,
            Some(&counter),
        )))
        .with_upstreams(Arc::new(AwsUpstreams::counted(
            stack.cognito_sdk_config(),
            &counter,
        )))
        .with_meter(Arc::new(counter.clone()))
        .run(
            &Trigger::parse(&Value::Object(Default::default()))
                .unwrap_or_else(|e| fail(&e.to_string())),
            None,
        )
        .await
        .unwrap_or_else(|e| fail(&e.to_string()));
    let summary = match outcome {
        AuditOutcome::Complete(s) | AuditOutcome::Continued { summary: s, .. } => s,
    };
    let findings = out.take();
    say!(screen, "{}", table(&findings).trim_end());
    say!(screen, "{}", totals(&summary));

    // Everything printed, every finding and event, and the rotation's own log.
    let all = format!(
        "{screen}{}{}{}",
        serde_json::to_string(&findings).unwrap_or_default(),
        events.iter().map(Value::to_string).collect::<String>(),
        log.text()
    );
    let values = stack.secret_values(&[&f], &[API_KEY]).await;
    if values.iter().any(|v| all.contains(v.as_str())) {
        fail("a secret value appeared in the output");
    }
    say!(
        screen,
        "\ndemo done: rotation succeeded, one broken reference reported, no value shown"
    );
}
