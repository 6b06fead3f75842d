//! What DescribeSecret (or a ListSecrets entry) says about a secret: the one mapping the
//! rotation, the reference checks and the audit all read.

use std::collections::BTreeMap;

use crate::findings::Timestamp;

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
    /// A managed external secret's partner integration (`Type`, e.g. `OktaOAuthClientSecret`).
    pub managed_type: Option<String>,
    pub created: Option<Timestamp>,
    pub last_rotated: Option<Timestamp>,
    pub last_changed: Option<Timestamp>,
    pub next_rotation: Option<Timestamp>,
    /// Version id → staging labels.
    pub versions: BTreeMap<String, Vec<String>>,
    /// The value of the binding tag `agentcore-rotator:binding`.
    pub binding: Option<String>,
    /// The version an operator marked revoked at the vendor (tag `agentcore-rotator:revoked`,
    /// staged rotations). With the binding, the only tags kept.
    pub revoked_version: Option<String>,
}

impl SecretMeta {
    /// The version carrying `stage`, if any.
    pub fn version_with(&self, stage: &str) -> Option<&str> {
        self.versions
            .iter()
            .find(|(_, s)| s.iter().any(|x| x == stage))
            .map(|(id, _)| id.as_str())
    }

    pub fn has_stage(&self, version: &str, stage: &str) -> bool {
        self.versions
            .get(version)
            .is_some_and(|stages| stages.iter().any(|s| s == stage))
    }

    /// Uses a customer-managed key (anything but the default `aws/secretsmanager`).
    pub fn customer_key(&self) -> Option<&str> {
        self.kms_key_id
            .as_deref()
            .filter(|k| !k.is_empty() && !k.ends_with("alias/aws/secretsmanager"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_key_is_not_customer_managed() {
        let mut m = SecretMeta::default();
        assert_eq!(m.customer_key(), None);
        m.kms_key_id = Some("alias/aws/secretsmanager".into());
        assert_eq!(m.customer_key(), None);
        m.kms_key_id = Some("arn:aws:kms:us-east-1:123456789012:key/k".into());
        assert!(m.customer_key().is_some());
    }

    #[test]
    fn stages_are_found_by_version_and_by_label() {
        let m = SecretMeta {
            versions: BTreeMap::from([
                ("v1".to_string(), vec!["AWSPREVIOUS".to_string()]),
                ("v2".to_string(), vec!["AWSCURRENT".to_string()]),
            ]),
            ..SecretMeta::default()
        };
        assert_eq!(m.version_with("AWSCURRENT"), Some("v2"));
        assert!(m.has_stage("v1", "AWSPREVIOUS") && !m.has_stage("v1", "AWSCURRENT"));
        assert_eq!(m.version_with("AWSPENDING"), None);
    }
}
