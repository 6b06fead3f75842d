//! The post-rotation canary: AgentCore Identity publishes `WorkloadAccessTokenFetchFailures`
//! (namespace `AWS/Bedrock-AgentCore`) per `ProviderName`. After a rotation, each affected
//! provider's failures in a window after the switch are compared with the same-length window
//! before it; a rise is `ROT-004`, naming the provider, the rotation and both counts.

use std::time::Duration;

use async_trait::async_trait;

use super::discovery::{ProviderKind, ProviderRef};
use super::report::{rotation_finding, scope_of};
use crate::findings::{catalogue, Finding, Timestamp};

pub const NAMESPACE: &str = "AWS/Bedrock-AgentCore";
pub const METRIC: &str = "WorkloadAccessTokenFetchFailures";
pub const DIMENSION: &str = "ProviderName";

/// The windows either side of a switch, in whole minutes (metrics are per minute).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Windows {
    /// The switch, rounded down to the minute.
    pub switch: Timestamp,
    pub length: Duration,
}

impl Windows {
    pub fn new(switch: Timestamp, minutes: u64) -> Self {
        let minute = 60_000;
        Self {
            switch: Timestamp::from_millis(switch.as_millis() / minute * minute),
            length: Duration::from_secs(minutes.max(1) * 60),
        }
    }

    pub fn start(&self) -> Timestamp {
        Timestamp::from_millis(self.switch.as_millis() - self.length.as_millis() as u64)
    }

    pub fn end(&self) -> Timestamp {
        Timestamp::from_millis(self.switch.as_millis() + self.length.as_millis() as u64)
    }

    /// How long until the window after the switch is complete, plus `lag` for the metric to be
    /// published (zero when it already is).
    pub fn wait(&self, now: Timestamp, lag: Duration) -> Duration {
        let ready = self.end().as_millis() + lag.as_millis() as u64;
        Duration::from_millis(ready.saturating_sub(now.as_millis()))
    }
}

/// Failures of one provider in the window before and the window after the switch.
#[derive(Clone, Debug, PartialEq)]
pub struct Counts {
    pub provider: String,
    pub before: f64,
    pub after: f64,
}

impl Counts {
    pub fn rose(&self) -> bool {
        self.after > self.before
    }
}

#[derive(Debug, thiserror::Error)]
#[error("CloudWatch {operation} failed: {message}")]
pub struct MetricsError {
    pub operation: &'static str,
    pub message: String,
}

#[async_trait]
pub trait FailureMetrics: Send + Sync {
    /// Failures per provider name in both windows (one GetMetricData call per 500 names).
    async fn failures(
        &self,
        providers: &[String],
        windows: &Windows,
    ) -> Result<Vec<Counts>, MetricsError>;
}

/// The provider names the canary watches: OAuth2 and API-key providers of this account that
/// reference the rotated secret (the metric is per provider name; payment providers have no
/// token fetches).
pub fn watched(providers: &[&ProviderRef]) -> Vec<String> {
    let mut names: Vec<String> = providers
        .iter()
        .filter(|p| matches!(p.kind, ProviderKind::Oauth2 | ProviderKind::ApiKey))
        .map(|p| p.name.clone())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Runs the canary for `secret_arn` rotated to `version` at `windows.switch`: one finding per
/// provider whose failures rose.
pub async fn check(
    metrics: &dyn FailureMetrics,
    providers: &[&ProviderRef],
    secret_arn: &str,
    version: Option<&str>,
    windows: &Windows,
) -> Result<Vec<Finding>, MetricsError> {
    let names = watched(providers);
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let counts = metrics.failures(&names, windows).await?;
    let Some(scope) = scope_of(secret_arn) else {
        return Ok(Vec::new());
    };
    let minutes = windows.length.as_secs() / 60;
    let now = Timestamp::now();
    let mut findings = Vec::new();
    for c in counts.iter().filter(|c| c.rose()) {
        let Some(p) = providers
            .iter()
            .find(|p| p.name == c.provider && p.kind != ProviderKind::Payment)
        else {
            continue;
        };
        let detail = format!(
            "provider {} had {} {METRIC} in the {minutes} minutes after the rotation of {secret_arn}{} at {}, against {} in the {minutes} minutes before",
            p.name,
            c.after,
            version.map(|v| format!(" (version {v})")).unwrap_or_default(),
            windows.switch.to_rfc3339(),
            c.before,
        );
        // One of the rotation's outcomes: the secret and the provider, as ROT-001/002 name them.
        match rotation_finding(
            &catalogue::ROT_FETCH_FAILURES_ROSE,
            &scope,
            secret_arn,
            &[*p],
            detail,
            now,
        ) {
            Ok(f) => findings.push(f),
            Err(e) => tracing::warn!(error = %e, "could not build a canary finding"),
        }
    }
    tracing::info!(
        providers = names.len(),
        rose = findings.len(),
        window_minutes = minutes,
        "post-rotation canary checked"
    );
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_whole_minutes_either_side_of_the_switch() {
        let switch = Timestamp::parse_rfc3339("2026-12-04T06:07:45Z").unwrap();
        let w = Windows::new(switch, 5);
        assert_eq!(w.switch.to_rfc3339(), "2026-12-04T06:07:00.000Z");
        assert_eq!(w.start().to_rfc3339(), "2026-12-04T06:02:00.000Z");
        assert_eq!(w.end().to_rfc3339(), "2026-12-04T06:12:00.000Z");
        let lag = Duration::from_secs(60);
        let at = Timestamp::parse_rfc3339("2026-12-04T06:10:00Z").unwrap();
        assert_eq!(w.wait(at, lag), Duration::from_secs(180));
        let later = Timestamp::parse_rfc3339("2026-12-04T07:00:00Z").unwrap();
        assert_eq!(w.wait(later, lag), Duration::ZERO);
    }

    #[test]
    fn only_a_rise_counts() {
        let c = |before, after| Counts {
            provider: "p".into(),
            before,
            after,
        };
        assert!(c(0.0, 1.0).rose());
        assert!(c(2.0, 5.0).rose());
        assert!(!c(3.0, 3.0).rose());
        assert!(!c(4.0, 0.0).rose());
    }
}
