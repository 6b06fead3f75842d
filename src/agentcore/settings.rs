//! Settings of the AgentCore reference checks, read through an injected lookup.

use std::time::Duration;

use super::accounts::Unreachable;
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
    /// `ROTATOR_CONSUMER_ROLE_ARNS` (comma-separated IAM role ARNs, at most 50): roles in
    /// consumer accounts whose providers may reference the secret, assumed read-only.
    pub consumer_roles: Vec<String>,
    /// `ROTATOR_CONSUMER_EXTERNAL_ID`: the external id the consumer roles require (required
    /// with roles).
    pub consumer_external_id: Option<String>,
    /// `ROTATOR_CONSUMER_UNREACHABLE` (`fail`, default, or `warn`).
    pub unreachable: Unreachable,
}

/// The most consumer accounts one function reads (each is an AssumeRole plus a discovery).
pub const MAX_CONSUMERS: usize = 50;

/// `arn:<partition>:iam::<12 digits>:role/<path/name>`; the account id when it is one.
pub fn role_account(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, "iam", "", account, resource]
            if !partition.is_empty()
                && account.len() == 12
                && account.chars().all(|c| c.is_ascii_digit())
                && resource
                    .strip_prefix("role/")
                    .is_some_and(|n| !n.is_empty()) =>
        {
            Some(account)
        }
        _ => None,
    }
}

impl Default for AgentCoreSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            workload_name: None,
            concurrency: 8,
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            consumer_roles: Vec::new(),
            consumer_external_id: None,
            unreachable: Unreachable::Fail,
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
        let invalid = |key: &'static str, value: String, expected: &str| ConfigError {
            key,
            value,
            expected: expected.into(),
        };
        if let Some(roles) = env.text("ROTATOR_CONSUMER_ROLE_ARNS") {
            for role in roles.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                if role_account(role).is_none() {
                    return Err(invalid(
                        "ROTATOR_CONSUMER_ROLE_ARNS",
                        role.to_string(),
                        "comma-separated IAM role ARNs (arn:aws:iam::<account>:role/<name>)",
                    ));
                }
                if !s.consumer_roles.iter().any(|r| r == role) {
                    s.consumer_roles.push(role.to_string());
                }
            }
            if s.consumer_roles.len() > MAX_CONSUMERS {
                return Err(invalid(
                    "ROTATOR_CONSUMER_ROLE_ARNS",
                    format!("{} roles", s.consumer_roles.len()),
                    "at most 50 consumer roles",
                ));
            }
        }
        s.consumer_external_id = env.text("ROTATOR_CONSUMER_EXTERNAL_ID");
        if let Some(id) = &s.consumer_external_id {
            let ok = (2..=1224).contains(&id.len())
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@:/-_".contains(c));
            if !ok {
                // Not echoed: an external id is not a secret, but it is not ours to print either.
                return Err(invalid(
                    "ROTATOR_CONSUMER_EXTERNAL_ID",
                    "<not shown>".into(),
                    "2 to 1224 characters of [A-Za-z0-9+=,.@:/_-]",
                ));
            }
        }
        if !s.consumer_roles.is_empty() && s.consumer_external_id.is_none() {
            return Err(invalid(
                "ROTATOR_CONSUMER_EXTERNAL_ID",
                String::new(),
                "an external id whenever ROTATOR_CONSUMER_ROLE_ARNS is set (the consumer roles' trust policy requires it)",
            ));
        }
        if let Some(v) = env.text("ROTATOR_CONSUMER_UNREACHABLE") {
            s.unreachable = Unreachable::parse(&v).ok_or_else(|| {
                invalid("ROTATOR_CONSUMER_UNREACHABLE", v.clone(), "fail or warn")
            })?;
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
    fn consumer_roles_need_an_external_id_and_role_arns() {
        let s = AgentCoreSettings::from_lookup(env(&[
            (
                "ROTATOR_CONSUMER_ROLE_ARNS",
                "arn:aws:iam::222233334444:role/reader, arn:aws:iam::555566667777:role/path/reader",
            ),
            ("ROTATOR_CONSUMER_EXTERNAL_ID", "agentcore-rotator-ext"),
            ("ROTATOR_CONSUMER_UNREACHABLE", "warn"),
        ]))
        .unwrap();
        assert_eq!(s.consumer_roles.len(), 2);
        assert_eq!(s.unreachable, Unreachable::Warn);
        assert_eq!(role_account(&s.consumer_roles[1]), Some("555566667777"));
        let no_id = AgentCoreSettings::from_lookup(env(&[(
            "ROTATOR_CONSUMER_ROLE_ARNS",
            "arn:aws:iam::222233334444:role/reader",
        )]))
        .unwrap_err();
        assert_eq!(no_id.key, "ROTATOR_CONSUMER_EXTERNAL_ID");
        for bad in [
            "arn:aws:iam::2222:role/reader",
            "arn:aws:iam::222233334444:user/x",
            "reader",
        ] {
            let lookup = move |k: &str| match k {
                "ROTATOR_CONSUMER_ROLE_ARNS" => Some(bad.to_string()),
                "ROTATOR_CONSUMER_EXTERNAL_ID" => Some("ext-id".to_string()),
                _ => None,
            };
            let err = AgentCoreSettings::from_lookup(lookup).unwrap_err();
            assert_eq!(err.key, "ROTATOR_CONSUMER_ROLE_ARNS", "{bad}");
        }
        assert!(
            AgentCoreSettings::from_lookup(env(&[("ROTATOR_CONSUMER_UNREACHABLE", "ignore")]))
                .is_err()
        );
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
