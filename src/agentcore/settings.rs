//! Settings of the AgentCore reference checks, read through an injected lookup.

use std::time::Duration;

use crate::config::{ConfigError, Settings};

/// How the rotator checks credential providers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentCoreSettings {
    /// `ROTATOR_AGENTCORE_REFERENCES` (`on`/`off`, default on): discover and check providers.
    pub enabled: bool,
    /// `ROTATOR_WORKLOAD_NAME`: workload identity for the data-plane probe (unset: no probe).
    pub workload_name: Option<String>,
    /// `ROTATOR_AGENTCORE_CONCURRENCY` (1–16, default 8): Get calls in flight during discovery.
    pub concurrency: usize,
    /// `ROTATOR_AGENTCORE_MAX_ATTEMPTS` (1–10, default 5): SDK attempts per AgentCore call,
    /// with exponential back-off from [`AgentCoreSettings::initial_backoff`].
    pub max_attempts: u32,
    pub initial_backoff: Duration,
}

impl Default for AgentCoreSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            workload_name: None,
            concurrency: 8,
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
        }
    }
}

impl AgentCoreSettings {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Settings(lookup);
        let mut s = Self {
            enabled: env.flag("ROTATOR_AGENTCORE_REFERENCES", true)?,
            workload_name: env.text("ROTATOR_WORKLOAD_NAME"),
            ..Self::default()
        };
        if let Some(n) = env.number("ROTATOR_AGENTCORE_CONCURRENCY", 1, 16)? {
            s.concurrency = n as usize;
        }
        if let Some(n) = env.number("ROTATOR_AGENTCORE_MAX_ATTEMPTS", 1, 10)? {
            s.max_attempts = n as u32;
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn defaults_check_references_without_a_data_plane_probe() {
        let s = AgentCoreSettings::from_lookup(env(&[])).unwrap();
        assert_eq!(s, AgentCoreSettings::default());
        assert!(s.enabled && s.workload_name.is_none());
    }

    #[test]
    fn values_are_read_and_out_of_range_ones_name_their_key() {
        let s = AgentCoreSettings::from_lookup(env(&[
            ("ROTATOR_WORKLOAD_NAME", "rotator-probe"),
            ("ROTATOR_AGENTCORE_CONCURRENCY", "16"),
            ("ROTATOR_AGENTCORE_REFERENCES", "off"),
        ]))
        .unwrap();
        assert_eq!(s.workload_name.as_deref(), Some("rotator-probe"));
        assert_eq!(s.concurrency, 16);
        assert!(!s.enabled);
        let err = AgentCoreSettings::from_lookup(env(&[("ROTATOR_AGENTCORE_CONCURRENCY", "64")]))
            .unwrap_err();
        assert_eq!(err.key, "ROTATOR_AGENTCORE_CONCURRENCY");
        assert!(
            AgentCoreSettings::from_lookup(env(&[("ROTATOR_AGENTCORE_REFERENCES", "maybe")]))
                .is_err()
        );
    }
}
