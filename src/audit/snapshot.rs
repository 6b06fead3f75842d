//! What the audit knows about one slice of the account: the providers, and for each secret
//! they reference the facts the rules need. No secret value is kept: values are reduced to
//! their shape (which keys hold non-empty strings, the client id) when read.

use std::collections::BTreeMap;

use crate::agentcore::ProviderRef;
use crate::findings::Timestamp;
use crate::upstream::lineage::Lineage;

use super::policy::PolicyVerdict;

/// Everything the rules evaluate, for one audit unit or a whole audit.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// The Region the audit runs in (references elsewhere are cross-Region).
    pub region: String,
    pub providers: Vec<ProviderRef>,
    /// Keyed by the reference exactly as providers name it (`clientSecretArn.secretArn`).
    pub secrets: BTreeMap<String, SecretFacts>,
    /// Keyed by the KMS key id as DescribeSecret reports it.
    pub keys: BTreeMap<String, KeyFacts>,
}

impl Snapshot {
    /// The providers referencing `reference`.
    pub fn referencing<'a>(&'a self, reference: &'a str) -> impl Iterator<Item = &'a ProviderRef> {
        self.providers
            .iter()
            .filter(move |p| p.secret_arn.as_deref() == Some(reference))
    }
}

/// One referenced secret.
#[derive(Clone, Debug, PartialEq)]
pub struct SecretFacts {
    pub reference: String,
    pub lookup: Lookup,
    /// `GetResourcePolicy`, evaluated for the AgentCore principal reading it.
    pub policy: Option<Observed<PolicyVerdict>>,
    /// The AWSCURRENT value's shape.
    pub current: Option<Observed<ValueShape>>,
    /// Upstream facts, for secrets holding a rotator document (`rotation` profile).
    pub upstream: Option<Observed<UpstreamFacts>>,
    /// When AWSCURRENT is a rotator document: the IdP coordinates it names, in the binding
    /// tag's form (`cognito:<userPoolId>/<clientId>`; identifiers, not secrets).
    pub coordinates: Option<String>,
}

impl SecretFacts {
    pub fn new(reference: impl Into<String>, lookup: Lookup) -> Self {
        Self {
            reference: reference.into(),
            lookup,
            policy: None,
            current: None,
            upstream: None,
            coordinates: None,
        }
    }

    pub fn meta(&self) -> Option<&SecretMeta> {
        match &self.lookup {
            Lookup::Found(m) => Some(m),
            _ => None,
        }
    }

    /// The secret's ARN when known, else the reference.
    pub fn arn(&self) -> &str {
        self.meta().map_or(&self.reference, |m| m.arn.as_str())
    }
}

/// Something read from AWS, or why it could not be.
#[derive(Clone, Debug, PartialEq)]
pub enum Observed<T> {
    Ok(T),
    /// The read failed (error code, e.g. AccessDeniedException): the rule cannot decide.
    Unreadable(String),
}

impl<T> Observed<T> {
    pub fn ok(&self) -> Option<&T> {
        match self {
            Observed::Ok(t) => Some(t),
            Observed::Unreadable(_) => None,
        }
    }
}

/// A secret looked up (listed or described).
#[derive(Clone, Debug, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "nearly every lookup is Found: boxing it would add an allocation per secret and save no memory"
)]
pub enum Lookup {
    Found(SecretMeta),
    NotFound,
    /// The reference names another Region: not looked up (AgentCore cannot read it anyway).
    CrossRegion {
        region: String,
    },
    /// DescribeSecret failed for another reason (error code).
    Unreadable(String),
}

/// Secret metadata (ListSecrets entry or DescribeSecret).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SecretMeta {
    pub arn: String,
    pub name: String,
    pub deleted_date: Option<Timestamp>,
    pub kms_key_id: Option<String>,
    pub rotation_enabled: bool,
    pub rotation_lambda_arn: Option<String>,
    /// Whether the rotation Lambda still exists (None: not checked).
    pub rotation_lambda_exists: Option<bool>,
    /// Rotated by Secrets Manager itself or another AWS service (managed external secret,
    /// `OwningService`): no rotation Lambda is expected.
    pub managed_rotation: bool,
    pub created: Option<Timestamp>,
    pub last_rotated: Option<Timestamp>,
    pub last_changed: Option<Timestamp>,
    pub next_rotation: Option<Timestamp>,
    /// Version id → staging labels.
    pub versions: BTreeMap<String, Vec<String>>,
    /// The value of the binding tag `agentcore-rotator:binding`, the only tag kept.
    pub binding: Option<String>,
}

impl SecretMeta {
    pub fn version_with(&self, stage: &str) -> Option<&str> {
        self.versions
            .iter()
            .find(|(_, s)| s.iter().any(|x| x == stage))
            .map(|(id, _)| id.as_str())
    }

    /// Uses a customer-managed key (anything but the default `aws/secretsmanager`).
    pub fn customer_key(&self) -> Option<&str> {
        self.kms_key_id
            .as_deref()
            .filter(|k| !k.is_empty() && !k.ends_with("alias/aws/secretsmanager"))
    }
}

/// The shape of a stored value, never the value.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueShape {
    Binary,
    /// Not JSON, or JSON but not an object.
    NotJsonObject,
    Object {
        /// Top-level key → what it holds.
        keys: BTreeMap<String, KeyShape>,
        /// `clientId` (or `client_id`) when it is a non-empty string: an identifier, not a secret.
        client_id: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyShape {
    NonEmptyString,
    EmptyString,
    /// A number, boolean, null, array or object.
    NotAString,
}

impl ValueShape {
    /// Reduces a secret string to its shape. The string itself is not kept.
    pub fn of_text(text: &str) -> ValueShape {
        let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(text)
        else {
            return ValueShape::NotJsonObject;
        };
        let client_id = ["clientId", "client_id"]
            .iter()
            .find_map(|k| map.get(*k).and_then(|v| v.as_str()))
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let keys = map
            .iter()
            .map(|(k, v)| {
                let shape = match v {
                    serde_json::Value::String(s) if s.is_empty() => KeyShape::EmptyString,
                    serde_json::Value::String(_) => KeyShape::NonEmptyString,
                    _ => KeyShape::NotAString,
                };
                (k.clone(), shape)
            })
            .collect();
        ValueShape::Object { keys, client_id }
    }
}

/// A customer-managed KMS key's policy, evaluated for the AgentCore principal decrypting.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyFacts {
    pub key_arn: Option<String>,
    pub decrypt: Observed<PolicyVerdict>,
}

/// The upstream client behind a rotator document and which live secret is which version's.
#[derive(Clone, Debug, PartialEq)]
pub struct UpstreamFacts {
    /// `<idp>:<pool>/<client id>`, a resource identifier.
    pub client: String,
    /// `None`: the upstream client does not exist (or is invisible to us).
    pub live: Option<Vec<String>>,
    pub current: Lineage,
    pub previous: Option<Lineage>,
    pub pending: Option<Lineage>,
    /// The IdP's cap on live secrets.
    pub max_live: Option<usize>,
    /// When the grace period of the secret superseded by AWSCURRENT ends (None: unknown).
    pub grace_ends: Option<Timestamp>,
    pub probe: ProbeFacts,
}

/// The opt-in token probe of AWSCURRENT at the IdP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeFacts {
    NotRun,
    Accepted,
    /// invalid_client: the IdP no longer accepts the secret.
    Rejected(String),
    /// No verdict (endpoint down, refused for another reason, discovery failed).
    Inconclusive(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_reduced_to_its_shape_without_the_secret() {
        let shape = ValueShape::of_text(
            r#"{"clientId":"abc","clientSecret":"hunter2-secret","empty":"","n":3}"#,
        );
        let ValueShape::Object { keys, client_id } = &shape else {
            panic!("{shape:?}")
        };
        assert_eq!(client_id.as_deref(), Some("abc"));
        assert_eq!(keys["clientSecret"], KeyShape::NonEmptyString);
        assert_eq!(keys["empty"], KeyShape::EmptyString);
        assert_eq!(keys["n"], KeyShape::NotAString);
        assert!(!format!("{shape:?}").contains("hunter2"));
        assert_eq!(ValueShape::of_text("plain"), ValueShape::NotJsonObject);
        assert_eq!(ValueShape::of_text("[1]"), ValueShape::NotJsonObject);
    }

    #[test]
    fn the_default_key_is_not_customer_managed() {
        let mut m = SecretMeta::default();
        assert_eq!(m.customer_key(), None);
        m.kms_key_id = Some("alias/aws/secretsmanager".into());
        assert_eq!(m.customer_key(), None);
        m.kms_key_id = Some("arn:aws:kms:us-east-1:123456789012:key/k".into());
        assert!(m.customer_key().is_some());
    }
}
