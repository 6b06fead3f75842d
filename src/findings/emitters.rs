//! Fan-out: every finding goes to every configured sink; one failing sink stops none of the
//! others.

use super::sink::{EmitReport, FindingSink};
use super::{
    EmfSink, EventBridgeSink, Finding, FindingsError, LogSink, SecurityHubSink,
    DEFAULT_EMF_NAMESPACE,
};

/// Which sinks to use. The log and EMF sinks are always on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmittersConfig {
    /// Event bus name or ARN; `None` disables EventBridge delivery.
    pub event_bus_name: Option<String>,
    /// Import into Security Hub (the account must have Security Hub enabled).
    pub security_hub: bool,
    /// CloudWatch namespace of the EMF metrics.
    pub emf_namespace: String,
}

impl Default for EmittersConfig {
    fn default() -> Self {
        Self {
            event_bus_name: None,
            security_hub: false,
            emf_namespace: DEFAULT_EMF_NAMESPACE.to_string(),
        }
    }
}

impl EmittersConfig {
    /// Reads `ROTATOR_FINDINGS_EVENT_BUS` (unset or empty: off), `ROTATOR_SECURITY_HUB`
    /// (`true`/`false`, `1`/`0`, `on`/`off`; default off) and `ROTATOR_METRICS_NAMESPACE`
    /// (default `AgentCoreRotator`) through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, FindingsError> {
        let env = crate::config::Settings(lookup);
        let security_hub = env
            .flag("ROTATOR_SECURITY_HUB", false)
            .map_err(|e| FindingsError::Config(e.to_string()))?;
        Ok(Self {
            event_bus_name: env.text("ROTATOR_FINDINGS_EVENT_BUS"),
            security_hub,
            emf_namespace: env
                .text("ROTATOR_METRICS_NAMESPACE")
                .unwrap_or_else(|| DEFAULT_EMF_NAMESPACE.to_string()),
        })
    }
}

/// What one sink made of one emission.
#[derive(Debug)]
pub struct SinkOutcome {
    pub sink: &'static str,
    pub result: Result<EmitReport, FindingsError>,
}

/// The outcome of every sink, in the order the sinks were configured.
#[derive(Debug)]
pub struct EmitOutcomes(pub Vec<SinkOutcome>);

impl EmitOutcomes {
    /// Every sink delivered every finding.
    pub fn all_delivered(&self) -> bool {
        self.0
            .iter()
            .all(|o| o.result.as_ref().is_ok_and(EmitReport::is_complete))
    }

    /// The outcome of the sink called `name`.
    pub fn get(&self, name: &str) -> Option<&SinkOutcome> {
        self.0.iter().find(|o| o.sink == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &SinkOutcome> {
        self.0.iter()
    }
}

/// The configured sinks.
pub struct Emitters {
    sinks: Vec<Box<dyn FindingSink>>,
}

impl Emitters {
    /// Exactly these sinks (tests, or wiring of one's own).
    pub fn new(sinks: Vec<Box<dyn FindingSink>>) -> Self {
        Self { sinks }
    }

    /// Log and EMF (stdout) sinks, plus EventBridge and Security Hub as configured, with SDK
    /// clients built from `sdk_config` (build once at init and reuse).
    pub fn from_config(sdk_config: &aws_config::SdkConfig, config: &EmittersConfig) -> Self {
        let mut sinks: Vec<Box<dyn FindingSink>> = vec![
            Box::new(LogSink::new()),
            Box::new(EmfSink::stdout(config.emf_namespace.clone())),
        ];
        if let Some(bus) = &config.event_bus_name {
            sinks.push(Box::new(EventBridgeSink::new(
                aws_sdk_eventbridge::Client::new(sdk_config),
                Some(bus.clone()),
            )));
        }
        if config.security_hub {
            sinks.push(Box::new(SecurityHubSink::new(
                aws_sdk_securityhub::Client::new(sdk_config),
            )));
        }
        Self { sinks }
    }

    pub fn with_sink(mut self, sink: Box<dyn FindingSink>) -> Self {
        self.sinks.push(sink);
        self
    }

    /// Names of the configured sinks, in delivery order.
    pub fn sink_names(&self) -> Vec<&'static str> {
        self.sinks.iter().map(|s| s.name()).collect()
    }

    /// Delivers `findings` to every sink in turn and reports each outcome. A sink that fails is
    /// logged (without finding contents) and the next one still runs.
    pub async fn emit(&self, findings: &[Finding]) -> EmitOutcomes {
        let mut outcomes = Vec::with_capacity(self.sinks.len());
        for sink in &self.sinks {
            let result = sink.emit(findings).await;
            match &result {
                Ok(report) if !report.is_complete() => tracing::warn!(
                    target: "findings",
                    sink = sink.name(),
                    delivered = report.delivered,
                    failed = report.failed.len(),
                    first_error = report.failed.first().map(|f| f.code.as_str()).unwrap_or_default(),
                    "some findings were not delivered"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(
                    target: "findings",
                    sink = sink.name(),
                    error = %e,
                    "findings sink failed"
                ),
            }
            outcomes.push(SinkOutcome {
                sink: sink.name(),
                result,
            });
        }
        EmitOutcomes(outcomes)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use async_trait::async_trait;

    use super::*;
    use crate::findings::tests::{finding, RULE, SECRET_ARN};

    struct Broken;

    #[async_trait]
    impl FindingSink for Broken {
        fn name(&self) -> &'static str {
            "broken"
        }
        async fn emit(&self, _: &[Finding]) -> Result<EmitReport, FindingsError> {
            Err(FindingsError::PutEvents("AccessDeniedException".into()))
        }
    }

    struct Counting(Arc<AtomicUsize>);

    #[async_trait]
    impl FindingSink for Counting {
        fn name(&self) -> &'static str {
            "counting"
        }
        async fn emit(&self, findings: &[Finding]) -> Result<EmitReport, FindingsError> {
            self.0.fetch_add(findings.len(), Ordering::SeqCst);
            Ok(EmitReport {
                attempted: findings.len(),
                delivered: findings.len(),
                ..EmitReport::default()
            })
        }
    }

    #[tokio::test]
    async fn a_failing_sink_does_not_stop_the_others() {
        let count = Arc::new(AtomicUsize::new(0));
        let emitters = Emitters::new(vec![Box::new(Broken), Box::new(Counting(count.clone()))]);
        let outcomes = emitters.emit(&[finding(&RULE, SECRET_ARN)]).await;
        assert_eq!(count.load(Ordering::SeqCst), 1);
        assert!(!outcomes.all_delivered());
        assert!(outcomes.get("broken").unwrap().result.is_err());
        assert!(outcomes
            .get("counting")
            .unwrap()
            .result
            .as_ref()
            .unwrap()
            .is_complete());
    }

    #[test]
    fn configuration_selects_the_sinks_and_log_and_emf_are_always_on() {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        let minimal = Emitters::from_config(&sdk, &EmittersConfig::default());
        assert_eq!(minimal.sink_names(), ["log", "emf"]);
        let all = Emitters::from_config(
            &sdk,
            &EmittersConfig {
                event_bus_name: Some("security".into()),
                security_hub: true,
                ..EmittersConfig::default()
            },
        );
        assert_eq!(
            all.sink_names(),
            ["log", "emf", "eventbridge", "securityhub"]
        );
    }

    #[test]
    fn configuration_is_read_through_a_lookup() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            EmittersConfig::from_lookup(env(&[])).unwrap(),
            EmittersConfig::default()
        );
        let c = EmittersConfig::from_lookup(env(&[
            ("ROTATOR_FINDINGS_EVENT_BUS", "security"),
            ("ROTATOR_SECURITY_HUB", "TRUE"),
            ("ROTATOR_METRICS_NAMESPACE", "Ns"),
        ]))
        .unwrap();
        assert_eq!(c.event_bus_name.as_deref(), Some("security"));
        assert!(c.security_hub);
        assert_eq!(c.emf_namespace, "Ns");
        assert_eq!(
            EmittersConfig::from_lookup(env(&[("ROTATOR_FINDINGS_EVENT_BUS", " ")]))
                .unwrap()
                .event_bus_name,
            None
        );
        assert!(EmittersConfig::from_lookup(env(&[("ROTATOR_SECURITY_HUB", "maybe")])).is_err());
    }
}
