//! Runtime configuration, read from an injected lookup so tests never touch the process
//! environment.

use std::time::Duration;

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Total time the token probe may spend retrying (propagation delay, 429, 5xx).
    pub probe_budget: Duration,
    /// First back-off between token probe attempts; doubles up to `probe_budget`.
    pub probe_initial_backoff: Duration,
    /// Grace period for documents whose rotation profile does not set one.
    pub default_grace_period: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            probe_budget: Duration::from_secs(30),
            probe_initial_backoff: Duration::from_millis(250),
            default_grace_period: Duration::from_secs(24 * 3600),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid configuration: {key}={value:?} is not {expected}")]
pub struct ConfigError {
    pub key: &'static str,
    pub value: String,
    pub expected: &'static str,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = Config::default();
        let number = |key: &'static str| -> Result<Option<u64>, ConfigError> {
            match lookup(key).filter(|v| !v.trim().is_empty()) {
                None => Ok(None),
                Some(v) => v.trim().parse::<u64>().map(Some).map_err(|_| ConfigError {
                    key,
                    value: v,
                    expected: "a whole number",
                }),
            }
        };
        if let Some(s) = number("ROTATOR_PROBE_BUDGET_SECONDS")? {
            config.probe_budget = Duration::from_secs(s);
        }
        if let Some(ms) = number("ROTATOR_PROBE_INITIAL_BACKOFF_MS")? {
            config.probe_initial_backoff = Duration::from_millis(ms.max(1));
        }
        if let Some(h) = number("ROTATOR_DEFAULT_GRACE_PERIOD_HOURS")? {
            config.default_grace_period = Duration::from_secs(h * 3600);
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        assert_eq!(Config::from_lookup(|_| None).unwrap(), Config::default());
    }

    #[test]
    fn values_are_read_from_the_lookup() {
        let c = Config::from_lookup(|k| match k {
            "ROTATOR_PROBE_BUDGET_SECONDS" => Some("5".into()),
            "ROTATOR_DEFAULT_GRACE_PERIOD_HOURS" => Some("2".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.probe_budget, Duration::from_secs(5));
        assert_eq!(c.default_grace_period, Duration::from_secs(7200));
    }

    #[test]
    fn a_non_number_is_an_error_naming_the_key() {
        let err = Config::from_lookup(|k| {
            (k == "ROTATOR_PROBE_BUDGET_SECONDS").then(|| "soon".to_string())
        })
        .unwrap_err();
        assert_eq!(err.key, "ROTATOR_PROBE_BUDGET_SECONDS");
        assert!(err.to_string().contains("a whole number"));
    }
}
