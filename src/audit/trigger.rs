//! What an invocation of the drift audit asks for, parsed from the raw Lambda payload.
//!
//! Accepted shapes (anything else is an error naming what arrived, never a silent success):
//! - EventBridge Scheduler: its configured Input, e.g. `{"source":"io.agentcore-rotator.scheduler",
//!   "detail-type":"Scheduled Drift Audit","detail":{"scope":"all"}}`, or `{}` → full audit.
//! - Classic scheduled rule: the "Scheduled Event" envelope (source `aws.events`) → full audit.
//! - Secrets Manager "Secret Label Updated", CloudTrail "AWS Service Event via CloudTrail"
//!   (RotationFailed/Succeeded/Abandoned) and "AWS API Call via CloudTrail" (DeleteSecret,
//!   RestoreSecret, PutResourcePolicy, DeleteResourcePolicy, UpdateSecret, PutSecretValue)
//!   → targeted audit of that secret and every provider referencing it.
//! - Direct invocation: `{"scope":"all"}` or `{"scope":{"secretIds":[…],"providerNames":[…]}}`.
//! - A continuation of an earlier full audit (see [`Continuation`]), directly or wrapped in a
//!   "Drift Audit Continuation" event.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::findings::Timestamp;

/// Source and detail type of our own scheduler input and continuation events.
pub const SCHEDULER_SOURCE: &str = "io.agentcore-rotator.scheduler";
pub const SCHEDULED_AUDIT_DETAIL_TYPE: &str = "Scheduled Drift Audit";
pub const CONTINUATION_SOURCE: &str = "io.agentcore-rotator";
pub const CONTINUATION_DETAIL_TYPE: &str = "Drift Audit Continuation";

const ROTATION_OUTCOMES: [&str; 3] = ["RotationFailed", "RotationSucceeded", "RotationAbandoned"];
const SECRET_API_CALLS: [&str; 6] = [
    "DeleteSecret",
    "RestoreSecret",
    "PutResourcePolicy",
    "DeleteResourcePolicy",
    "UpdateSecret",
    "PutSecretValue",
];

/// Which part of the account to audit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AuditScope {
    /// Every credential provider and every secret they reference.
    All,
    /// These secrets (and every provider referencing them) and these providers (and the
    /// secrets they reference).
    Targeted {
        #[serde(default)]
        secret_ids: Vec<String>,
        #[serde(default)]
        provider_names: Vec<String>,
    },
}

impl AuditScope {
    pub fn secrets(ids: impl IntoIterator<Item = impl Into<String>>) -> Self {
        AuditScope::Targeted {
            secret_ids: ids.into_iter().map(Into::into).collect(),
            provider_names: Vec::new(),
        }
    }

    pub fn is_full(&self) -> bool {
        matches!(self, AuditScope::All)
    }
}

/// Where a full audit that ran out of time resumes: after the last secret it finished (secrets
/// are audited in ARN order). Small on purpose: it travels in an event (≤ 256 KB).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Continuation {
    /// Schema version of this payload.
    pub v: u32,
    /// Id shared by every invocation of one audit (for log correlation).
    pub audit_id: String,
    /// Reference (as providers name it) of the last secret fully audited.
    pub after: String,
    /// How many invocations this audit has used so far.
    pub invocation: u32,
}

/// Why the audit runs and over what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trigger {
    pub scope: AuditScope,
    /// Short label for logs and metrics: `scheduler`, `scheduled-rule`, `label-updated`,
    /// `rotation-outcome`, `api-call`, `direct`, `continuation`.
    pub kind: &'static str,
    /// What happened, for the log line (event name and secret id; never a value).
    pub reason: String,
    pub continuation: Option<Continuation>,
    /// When a `RotationSucceeded` event says the rotation finished (its CloudTrail `eventTime`,
    /// else the event's `time`): where the post-rotation canary puts the switch.
    pub rotated_at: Option<Timestamp>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TriggerError {
    #[error("unsupported audit trigger (source {event_source:?}, detail-type {detail_type:?}); expected an EventBridge Scheduler input, a \"Scheduled Event\", a Secrets Manager \"Secret Label Updated\" or CloudTrail event, or {{\"scope\": \"all\" | {{\"secretIds\": [...], \"providerNames\": [...]}}}}")]
    Unsupported {
        event_source: Option<String>,
        detail_type: Option<String>,
    },
    #[error("unsupported {detail_type} event {event_name:?}; the audit reacts to {expected}")]
    UnsupportedEventName {
        detail_type: &'static str,
        event_name: String,
        expected: String,
    },
    #[error("{0} event names no secret (looked at resources, detail.additionalEventData.SecretId, detail.requestParameters.secretId, detail.responseElements.arn)")]
    NoSecret(&'static str),
    #[error("invalid audit scope: {0}")]
    InvalidScope(String),
    #[error("audit trigger must be a JSON object")]
    NotAnObject,
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str().filter(|s| !s.trim().is_empty())
}

/// Keeps event-supplied strings short and printable in error messages.
fn clip(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(80).collect()
}

impl Trigger {
    fn new(scope: AuditScope, kind: &'static str, reason: impl Into<String>) -> Self {
        Self {
            scope,
            kind,
            reason: reason.into(),
            continuation: None,
            rotated_at: None,
        }
    }

    /// Parses the raw invocation payload.
    pub fn parse(payload: &Value) -> Result<Trigger, TriggerError> {
        let obj = payload.as_object().ok_or(TriggerError::NotAnObject)?;
        if obj.is_empty() {
            return Ok(Trigger::new(AuditScope::All, "scheduler", "empty input"));
        }
        if let Some(c) = obj.get("continuation") {
            return continuation(c);
        }
        let source = text(payload, &["source"]);
        let detail_type = text(payload, &["detail-type"]);
        let detail = payload.get("detail").unwrap_or(&Value::Null);
        match (source, detail_type) {
            (Some("aws.events"), Some("Scheduled Event")) => Ok(Trigger::new(
                AuditScope::All,
                "scheduled-rule",
                "scheduled rule",
            )),
            (Some(SCHEDULER_SOURCE), Some(SCHEDULED_AUDIT_DETAIL_TYPE)) => Ok(Trigger::new(
                parse_scope(detail.get("scope"))?,
                "scheduler",
                "scheduled drift audit",
            )),
            (Some(CONTINUATION_SOURCE), Some(CONTINUATION_DETAIL_TYPE)) => {
                continuation(detail.get("continuation").unwrap_or(&Value::Null))
            }
            (Some("aws.secretsmanager"), Some("Secret Label Updated")) => {
                let secret = first_resource(payload)
                    .or_else(|| text(detail, &["secretArn"]))
                    .or_else(|| text(detail, &["SecretId"]))
                    .or_else(|| text(detail, &["name"]))
                    .ok_or(TriggerError::NoSecret("Secret Label Updated"))?;
                let label = text(detail, &["labelUpdated"]).unwrap_or("a label");
                Ok(Trigger::new(
                    AuditScope::secrets([secret]),
                    "label-updated",
                    format!("{} moved on {secret}", clip(label)),
                ))
            }
            (Some("aws.secretsmanager"), Some("AWS Service Event via CloudTrail")) => {
                let name = text(detail, &["eventName"]).unwrap_or_default();
                if !ROTATION_OUTCOMES.contains(&name) {
                    return Err(TriggerError::UnsupportedEventName {
                        detail_type: "AWS Service Event via CloudTrail",
                        event_name: clip(name),
                        expected: ROTATION_OUTCOMES.join(", "),
                    });
                }
                let secret = text(detail, &["additionalEventData", "SecretId"])
                    .or_else(|| text(detail, &["serviceEventDetails", "SecretId"]))
                    .or_else(|| first_resource(payload))
                    .ok_or(TriggerError::NoSecret("AWS Service Event via CloudTrail"))?;
                let mut trigger = Trigger::new(
                    AuditScope::secrets([secret]),
                    "rotation-outcome",
                    format!("{name} for {secret}"),
                );
                if name == "RotationSucceeded" {
                    trigger.rotated_at = text(detail, &["eventTime"])
                        .or_else(|| text(payload, &["time"]))
                        .and_then(Timestamp::parse_rfc3339);
                }
                Ok(trigger)
            }
            (Some("aws.secretsmanager"), Some("AWS API Call via CloudTrail")) => {
                let name = text(detail, &["eventName"]).unwrap_or_default();
                if !SECRET_API_CALLS.contains(&name) {
                    return Err(TriggerError::UnsupportedEventName {
                        detail_type: "AWS API Call via CloudTrail",
                        event_name: clip(name),
                        expected: SECRET_API_CALLS.join(", "),
                    });
                }
                let secret = text(detail, &["responseElements", "arn"])
                    .or_else(|| text(detail, &["requestParameters", "secretId"]))
                    .or_else(|| first_resource(payload))
                    .ok_or(TriggerError::NoSecret("AWS API Call via CloudTrail"))?;
                Ok(Trigger::new(
                    AuditScope::secrets([secret]),
                    "api-call",
                    format!("{name} on {secret}"),
                ))
            }
            (None, None) if obj.contains_key("scope") => Ok(Trigger::new(
                parse_scope(obj.get("scope"))?,
                "direct",
                "direct invocation",
            )),
            (s, d) => Err(TriggerError::Unsupported {
                event_source: s.map(clip),
                detail_type: d.map(clip),
            }),
        }
    }
}

fn first_resource(payload: &Value) -> Option<&str> {
    payload
        .get("resources")?
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .find(|r| r.contains(":secretsmanager:"))
}

fn continuation(value: &Value) -> Result<Trigger, TriggerError> {
    let c: Continuation = serde_json::from_value(value.clone())
        .map_err(|e| TriggerError::InvalidScope(format!("malformed continuation: {e}")))?;
    if c.v != 1 {
        return Err(TriggerError::InvalidScope(format!(
            "continuation version {} is not supported",
            c.v
        )));
    }
    Ok(Trigger {
        scope: AuditScope::All,
        kind: "continuation",
        reason: format!(
            "continuation {} of audit {}",
            c.invocation,
            clip(&c.audit_id)
        ),
        continuation: Some(c),
        rotated_at: None,
    })
}

/// `"all"`, absent (= all), or `{"secretIds": [...], "providerNames": [...]}` (at least one id).
fn parse_scope(scope: Option<&Value>) -> Result<AuditScope, TriggerError> {
    match scope {
        None | Some(Value::Null) => Ok(AuditScope::All),
        Some(Value::String(s)) if s == "all" => Ok(AuditScope::All),
        Some(Value::Object(o)) => {
            let list = |key: &str| -> Result<Vec<String>, TriggerError> {
                match o.get(key) {
                    None | Some(Value::Null) => Ok(Vec::new()),
                    Some(Value::Array(items)) => items
                        .iter()
                        .map(|i| {
                            i.as_str()
                                .filter(|s| !s.trim().is_empty())
                                .map(str::to_string)
                                .ok_or_else(|| {
                                    TriggerError::InvalidScope(format!(
                                        "{key} must be a list of non-empty strings"
                                    ))
                                })
                        })
                        .collect(),
                    Some(_) => Err(TriggerError::InvalidScope(format!(
                        "{key} must be a list of non-empty strings"
                    ))),
                }
            };
            let secret_ids = list("secretIds")?;
            let provider_names = list("providerNames")?;
            if let Some(k) = o
                .keys()
                .find(|k| !matches!(k.as_str(), "secretIds" | "providerNames"))
            {
                return Err(TriggerError::InvalidScope(format!(
                    "unknown key {:?}; expected secretIds and/or providerNames",
                    clip(k)
                )));
            }
            if secret_ids.is_empty() && provider_names.is_empty() {
                return Err(TriggerError::InvalidScope(
                    "name at least one secret id or provider name, or use \"all\"".into(),
                ));
            }
            Ok(AuditScope::Targeted {
                secret_ids,
                provider_names,
            })
        }
        Some(_) => Err(TriggerError::InvalidScope(
            "scope must be \"all\" or {\"secretIds\": [...], \"providerNames\": [...]}".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:agentcore/okta-AbCdEf";

    #[test]
    fn scheduler_input_and_an_empty_object_mean_a_full_audit() {
        let t = Trigger::parse(&json!({"source": SCHEDULER_SOURCE, "detail-type": SCHEDULED_AUDIT_DETAIL_TYPE, "detail": {"scope": "all"}})).unwrap();
        assert_eq!((t.scope, t.kind), (AuditScope::All, "scheduler"));
        assert_eq!(Trigger::parse(&json!({})).unwrap().scope, AuditScope::All);
    }

    #[test]
    fn a_classic_scheduled_event_means_a_full_audit() {
        let t = Trigger::parse(&json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}, "resources": ["arn:aws:events:us-east-1:123456789012:rule/x"]})).unwrap();
        assert_eq!((t.scope, t.kind), (AuditScope::All, "scheduled-rule"));
    }

    #[test]
    fn secret_events_target_the_secret_they_name() {
        let label = json!({"source": "aws.secretsmanager", "detail-type": "Secret Label Updated", "resources": [ARN], "detail": {"labelUpdated": "AWSCURRENT"}});
        let outcome = json!({"source": "aws.secretsmanager", "detail-type": "AWS Service Event via CloudTrail", "detail": {"eventName": "RotationFailed", "additionalEventData": {"SecretId": ARN}}});
        let call = json!({"source": "aws.secretsmanager", "detail-type": "AWS API Call via CloudTrail", "detail": {"eventName": "DeleteSecret", "requestParameters": {"secretId": ARN}}});
        for (event, kind) in [
            (label, "label-updated"),
            (outcome, "rotation-outcome"),
            (call, "api-call"),
        ] {
            let t = Trigger::parse(&event).unwrap();
            assert_eq!(t.scope, AuditScope::secrets([ARN]), "{kind}");
            assert_eq!(t.kind, kind);
        }
    }

    #[test]
    fn every_listed_api_call_and_rotation_outcome_is_accepted() {
        for name in SECRET_API_CALLS {
            let e = json!({"source": "aws.secretsmanager", "detail-type": "AWS API Call via CloudTrail", "detail": {"eventName": name, "requestParameters": {"secretId": "n"}}});
            assert!(Trigger::parse(&e).is_ok(), "{name}");
        }
        for name in ROTATION_OUTCOMES {
            let e = json!({"source": "aws.secretsmanager", "detail-type": "AWS Service Event via CloudTrail", "detail": {"eventName": name, "additionalEventData": {"SecretId": ARN}}});
            assert!(Trigger::parse(&e).is_ok(), "{name}");
        }
    }

    #[test]
    fn an_unknown_event_is_an_error_naming_it() {
        let err = Trigger::parse(
            &json!({"source": "aws.s3", "detail-type": "Object Created", "detail": {}}),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("aws.s3") && msg.contains("Object Created"),
            "{msg}"
        );
        let err = Trigger::parse(&json!({"source": "aws.secretsmanager", "detail-type": "AWS API Call via CloudTrail", "detail": {"eventName": "GetSecretValue"}})).unwrap_err();
        assert!(err.to_string().contains("GetSecretValue"));
        assert!(Trigger::parse(&json!([1])).is_err());
        assert!(Trigger::parse(&json!({"foo": 1})).is_err());
    }

    #[test]
    fn an_event_without_a_secret_is_an_error() {
        let e = json!({"source": "aws.secretsmanager", "detail-type": "AWS API Call via CloudTrail", "detail": {"eventName": "DeleteSecret"}});
        assert!(matches!(Trigger::parse(&e), Err(TriggerError::NoSecret(_))));
    }

    #[test]
    fn direct_invocation_takes_an_explicit_scope() {
        let t = Trigger::parse(&json!({"scope": {"secretIds": [ARN], "providerNames": ["okta"]}}))
            .unwrap();
        assert_eq!(
            t.scope,
            AuditScope::Targeted {
                secret_ids: vec![ARN.into()],
                provider_names: vec!["okta".into()]
            }
        );
        assert_eq!(t.kind, "direct");
        assert!(Trigger::parse(&json!({"scope": {}})).is_err());
        assert!(Trigger::parse(&json!({"scope": {"secretIds": [""]}})).is_err());
        assert!(Trigger::parse(&json!({"scope": {"secrets": ["x"]}})).is_err());
        assert_eq!(
            Trigger::parse(&json!({"scope": "all"})).unwrap().scope,
            AuditScope::All
        );
    }

    #[test]
    fn continuations_round_trip_directly_and_as_events() {
        let c = Continuation {
            v: 1,
            audit_id: "a1".into(),
            after: ARN.into(),
            invocation: 2,
        };
        let direct = Trigger::parse(&json!({"continuation": c})).unwrap();
        assert_eq!(direct.continuation.as_ref(), Some(&c));
        let event = json!({"source": CONTINUATION_SOURCE, "detail-type": CONTINUATION_DETAIL_TYPE, "detail": {"continuation": c}});
        assert_eq!(Trigger::parse(&event).unwrap().continuation, Some(c));
        assert!(Trigger::parse(
            &json!({"continuation": {"v": 9, "auditId": "a", "after": "x", "invocation": 1}})
        )
        .is_err());
    }
}
