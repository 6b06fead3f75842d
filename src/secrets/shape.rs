//! The shape of a stored value, never the value: which top-level keys hold non-empty strings
//! (with a hash of each, so the rotation can tell whether a provider resolves the rotated value
//! without keeping it), and the client id, an identifier.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::store::Payload;

/// SHA-256 of a secret value: lets values be compared without keeping or printing them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ValueHash([u8; 32]);

impl ValueHash {
    pub fn of(value: &str) -> Self {
        Self(Sha256::digest(value.as_bytes()).into())
    }
}

impl fmt::Debug for ValueHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A prefix is enough to tell hashes apart in a test failure.
        write!(f, "sha256:")?;
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        f.write_str("…")
    }
}

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
    /// A non-empty string, by its hash.
    NonEmptyString(ValueHash),
    EmptyString,
    /// A number, boolean, null, array or object.
    NotAString,
}

impl ValueShape {
    /// Reduces a secret string to its shape. The string itself is not kept.
    pub fn of_text(text: &str) -> ValueShape {
        let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) else {
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
                    Value::String(s) if s.is_empty() => KeyShape::EmptyString,
                    Value::String(s) => KeyShape::NonEmptyString(ValueHash::of(s)),
                    _ => KeyShape::NotAString,
                };
                (k.clone(), shape)
            })
            .collect();
        ValueShape::Object { keys, client_id }
    }

    pub fn of_payload(payload: &Payload) -> ValueShape {
        match payload.text() {
            Some(text) => Self::of_text(text.expose()),
            None => ValueShape::Binary,
        }
    }
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
        assert_eq!(
            keys["clientSecret"],
            KeyShape::NonEmptyString(ValueHash::of("hunter2-secret"))
        );
        assert_eq!(keys["empty"], KeyShape::EmptyString);
        assert_eq!(keys["n"], KeyShape::NotAString);
        assert!(!format!("{shape:?}").contains("hunter2"));
        assert_eq!(ValueShape::of_text("plain"), ValueShape::NotJsonObject);
        assert_eq!(ValueShape::of_text("[1]"), ValueShape::NotJsonObject);
        assert_eq!(ValueShape::of_payload(&Payload::Binary), ValueShape::Binary);
    }

    #[test]
    fn hashes_print_without_the_value() {
        let h = ValueHash::of("super-secret-value");
        let printed = format!("{h:?}");
        assert!(printed.starts_with("sha256:") && !printed.contains("super"));
    }
}
