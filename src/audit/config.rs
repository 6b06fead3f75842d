//! Audit settings, read through an injected lookup.

use std::time::Duration;

use crate::config::{
    cognito_domain_url_from_lookup, origin_policy_from_lookup, ConfigError, IdpAdmin, Settings,
    DEFAULT_COGNITO_DOMAIN_URL,
};
use crate::http::OriginPolicy;

#[derive(Clone, Debug, PartialEq)]
pub struct AuditConfig {
    /// `ROTATOR_MAX_SECRET_AGE_DAYS` (default 90).
    pub max_secret_age: Duration,
    /// `ROTATOR_AUDIT_CONCURRENCY` (1–64, default 16): Secrets Manager/KMS/IdP calls in flight.
    pub concurrency: usize,
    /// Secrets audited between two deadline checks (and findings emissions).
    pub wave_size: usize,
    /// Secrets read while providers are still being discovered, at most (their facts are held
    /// until their wave; beyond this the waves read them).
    pub read_ahead: usize,
    /// ListSecrets entries held at most (memory); referenced secrets beyond them are described.
    pub max_listed: usize,
    /// `ROTATOR_AUDIT_TOKEN_PROBE` (default off): probe AWSCURRENT at the IdP's token endpoint.
    pub token_probe: bool,
    /// `ROTATOR_AUDIT_MAX_PROBES` (default 10): token probes per invocation at most.
    pub max_probes: usize,
    /// `ROTATOR_AUDIT_PROBE_INTERVAL_MS` (default 1000): pause between two token probes.
    pub probe_interval: Duration,
    /// `ROTATOR_DEFAULT_GRACE_PERIOD_HOURS` (default 24), for documents that set none.
    pub default_grace_period: Duration,
    /// `ROTATOR_AUDIT_TIME_MARGIN_SECONDS` (default 60): stop and continue when less than this
    /// remains before the Lambda deadline.
    pub time_margin: Duration,
    /// `ROTATOR_AUDIT_PENDING_STALE_MINUTES` (default 60): an AWSPENDING unchanged for longer
    /// is a rotation that failed, not one in progress (SEC-003).
    pub pending_stale_after: Duration,
    /// `ROTATOR_ALLOWED_TOKEN_ORIGINS` and `ROTATOR_ALLOW_LOOPBACK_HTTP`, as for the rotation:
    /// where the token probe (UPS-004) may send AWSCURRENT.
    pub origins: OriginPolicy,
    /// `ROTATOR_COGNITO_DOMAIN_URL`: where Cognito prefix domains are served (token probe).
    pub cognito_domain_url: String,
    /// The IdP admin APIs the upstream rules list secrets with, as for the rotation.
    pub idp_admin: IdpAdmin,
    /// `ROTATOR_AUDIT_CANARY` (default on): on a `RotationSucceeded` event, compare the
    /// providers' token-fetch failures after the switch with before it (ROT-004).
    pub canary: bool,
    /// `ROTATOR_CANARY_WINDOW_MINUTES` (1–10, default 5): the length of each window.
    pub canary_window_minutes: u64,
    /// `ROTATOR_CANARY_LAG_SECONDS` (0–600, default 120): how long after the window ends the
    /// metric is read, for CloudWatch to have it.
    pub canary_lag: Duration,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            max_secret_age: Duration::from_secs(90 * 86_400),
            concurrency: 16,
            wave_size: 200,
            read_ahead: 5_000,
            max_listed: 20_000,
            token_probe: false,
            max_probes: 10,
            probe_interval: Duration::from_millis(1000),
            default_grace_period: Duration::from_secs(24 * 3600),
            time_margin: Duration::from_secs(60),
            pending_stale_after: Duration::from_secs(3600),
            origins: OriginPolicy::default(),
            cognito_domain_url: DEFAULT_COGNITO_DOMAIN_URL.to_string(),
            idp_admin: IdpAdmin::default(),
            canary: true,
            canary_window_minutes: 5,
            canary_lag: Duration::from_secs(120),
        }
    }
}

impl AuditConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Settings(&lookup);
        let mut c = Self::default();
        let (second, minute, day) = (
            Duration::from_secs(1),
            Duration::from_secs(60),
            Duration::from_secs(86_400),
        );
        if let Some(d) = env.duration("ROTATOR_MAX_SECRET_AGE_DAYS", day, 1, 10_000)? {
            c.max_secret_age = d;
        }
        if let Some(n) = env.number("ROTATOR_AUDIT_CONCURRENCY", 1, 64)? {
            c.concurrency = n as usize;
        }
        if let Some(n) = env.number("ROTATOR_AUDIT_MAX_PROBES", 0, 1000)? {
            c.max_probes = n as usize;
        }
        let ms = Duration::from_millis(1);
        if let Some(d) = env.duration("ROTATOR_AUDIT_PROBE_INTERVAL_MS", ms, 0, 60_000)? {
            c.probe_interval = d;
        }
        if let Some(d) = env.default_grace_period()? {
            c.default_grace_period = d;
        }
        if let Some(d) = env.duration("ROTATOR_AUDIT_TIME_MARGIN_SECONDS", second, 0, 900)? {
            c.time_margin = d;
        }
        if let Some(d) = env.duration("ROTATOR_AUDIT_PENDING_STALE_MINUTES", minute, 0, 10_080)? {
            c.pending_stale_after = d;
        }
        c.token_probe = env.flag("ROTATOR_AUDIT_TOKEN_PROBE", false)?;
        c.canary = env.flag("ROTATOR_AUDIT_CANARY", true)?;
        if let Some(n) = env.number("ROTATOR_CANARY_WINDOW_MINUTES", 1, 10)? {
            c.canary_window_minutes = n;
        }
        if let Some(d) = env.duration("ROTATOR_CANARY_LAG_SECONDS", second, 0, 600)? {
            c.canary_lag = d;
        }
        c.origins = origin_policy_from_lookup(&lookup)?;
        c.cognito_domain_url = cognito_domain_url_from_lookup(&lookup, &c.origins)?;
        c.idp_admin = IdpAdmin::from_lookup(&env, &c.origins)?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides_come_from_the_lookup() {
        assert_eq!(
            AuditConfig::from_lookup(|_| None).unwrap(),
            AuditConfig::default()
        );
        let c = AuditConfig::from_lookup(|k| match k {
            "ROTATOR_MAX_SECRET_AGE_DAYS" => Some("30".into()),
            "ROTATOR_AUDIT_TOKEN_PROBE" => Some("on".into()),
            "ROTATOR_AUDIT_PENDING_STALE_MINUTES" => Some("15".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.max_secret_age, Duration::from_secs(30 * 86_400));
        assert_eq!(c.pending_stale_after, Duration::from_secs(15 * 60));
        assert!(c.token_probe);
        let err =
            AuditConfig::from_lookup(|k| (k == "ROTATOR_AUDIT_CONCURRENCY").then(|| "0".into()))
                .unwrap_err();
        assert_eq!(err.key, "ROTATOR_AUDIT_CONCURRENCY");
    }
}
