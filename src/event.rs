//! The rotation event Secrets Manager sends, typed: a [`Step`] enum over the camelCase wire
//! values and a redacted [`RotationToken`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

/// One of the four rotation steps, in the order Secrets Manager invokes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    CreateSecret,
    SetSecret,
    TestSecret,
    FinishSecret,
}

impl Step {
    pub const ALL: [Step; 4] = [
        Step::CreateSecret,
        Step::SetSecret,
        Step::TestSecret,
        Step::FinishSecret,
    ];

    /// The wire value (`createSecret`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Step::CreateSecret => "createSecret",
            Step::SetSecret => "setSecret",
            Step::TestSecret => "testSecret",
            Step::FinishSecret => "finishSecret",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Step {
    type Err = EventError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Step::ALL
            .into_iter()
            .find(|step| step.as_str() == s)
            .ok_or_else(|| EventError::UnknownStep(s.chars().take(64).collect()))
    }
}

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The `RotationToken` Secrets Manager passes for cross-account or assumed-role rotation. Only
/// `PutSecretValue` accepts it; it is never printed.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct RotationToken(String);

impl RotationToken {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RotationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RotationToken(<redacted>)")
    }
}

/// The event a Secrets Manager rotation function receives.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationEvent {
    pub step: Step,
    pub secret_id: String,
    pub client_request_token: String,
    #[serde(default)]
    pub rotation_token: Option<RotationToken>,
}

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("unknown rotation step {0:?}: expected one of createSecret, setSecret, testSecret, finishSecret")]
    UnknownStep(String),
    #[error("malformed rotation event: {0}; expected {{\"Step\", \"SecretId\", \"ClientRequestToken\"[, \"RotationToken\"]}}")]
    Malformed(String),
    #[error("malformed rotation event: {0} is empty")]
    Empty(&'static str),
}

impl RotationEvent {
    /// Parses and validates the raw Lambda payload. Serde's messages name the missing or
    /// mistyped field but never echo values, so a stray secret in the payload is not repeated.
    pub fn from_value(value: serde_json::Value) -> Result<Self, EventError> {
        let event: RotationEvent = serde_json::from_value(value).map_err(|e| {
            // serde_json includes offending *strings* only for unknown-variant errors, which
            // our Step parser already truncates; keep only the message's first line.
            EventError::Malformed(e.to_string().lines().next().unwrap_or_default().into())
        })?;
        if event.secret_id.trim().is_empty() {
            return Err(EventError::Empty("SecretId"));
        }
        if event.client_request_token.trim().is_empty() {
            return Err(EventError::Empty("ClientRequestToken"));
        }
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_every_wire_step() {
        for step in Step::ALL {
            let ev = RotationEvent::from_value(json!({
                "Step": step.as_str(), "SecretId": "arn:x", "ClientRequestToken": "t"
            }))
            .unwrap();
            assert_eq!(ev.step, step);
        }
    }

    #[test]
    fn unknown_step_is_a_clear_error() {
        let err = RotationEvent::from_value(json!({
            "Step": "deleteSecret", "SecretId": "arn:x", "ClientRequestToken": "t"
        }))
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown rotation step \"deleteSecret\""),
            "{err}"
        );
    }

    #[test]
    fn missing_field_is_named() {
        let err = RotationEvent::from_value(json!({"Step": "createSecret", "SecretId": "arn:x"}))
            .unwrap_err();
        assert!(err.to_string().contains("ClientRequestToken"), "{err}");
    }

    #[test]
    fn rotation_token_is_redacted_in_debug() {
        let ev = RotationEvent::from_value(json!({
            "Step": "createSecret", "SecretId": "arn:x", "ClientRequestToken": "t",
            "RotationToken": "rt-sensitive-123"
        }))
        .unwrap();
        assert_eq!(
            ev.rotation_token.as_ref().unwrap().expose(),
            "rt-sensitive-123"
        );
        assert!(!format!("{ev:?}").contains("rt-sensitive-123"));
    }

    #[test]
    fn empty_secret_id_is_rejected() {
        let err = RotationEvent::from_value(json!({
            "Step": "createSecret", "SecretId": " ", "ClientRequestToken": "t"
        }))
        .unwrap_err();
        assert!(err.to_string().contains("SecretId is empty"));
    }
}
