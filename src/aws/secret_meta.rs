//! The one mapping of DescribeSecret (and of a ListSecrets entry, the same accessors) to
//! [`crate::secrets::SecretMeta`], used by the rotation's store and the secrets reader alike.

use crate::findings::Timestamp;

/// [`SecretMeta`] from a DescribeSecret answer or a ListSecrets entry: two SDK types with the
/// same accessors (the version map's aside), mapped in one place. Of the tags both return, only
/// the binding tag's value is kept.
#[macro_export]
#[doc(hidden)]
macro_rules! secret_meta {
    ($e:expr, $arn:expr, $versions:ident) => {
        $crate::secrets::SecretMeta {
            arn: $arn,
            name: $e.name().unwrap_or_default().to_string(),
            deleted_date: $crate::aws::secret_meta::ts($e.deleted_date()),
            kms_key_id: $e.kms_key_id().map(str::to_string),
            rotation_enabled: $e.rotation_enabled().unwrap_or(false),
            rotation_lambda_arn: $e
                .rotation_lambda_arn()
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            rotation_lambda_exists: None,
            managed_rotation: $e.owning_service().is_some()
                || !$e.external_secret_rotation_metadata().is_empty()
                || $e.r#type().is_some_and(|t| !t.is_empty()),
            managed_type: $e.r#type().filter(|t| !t.is_empty()).map(str::to_string),
            created: $crate::aws::secret_meta::ts($e.created_date()),
            last_rotated: $crate::aws::secret_meta::ts($e.last_rotated_date()),
            last_changed: $crate::aws::secret_meta::ts($e.last_changed_date()),
            next_rotation: $crate::aws::secret_meta::ts($e.next_rotation_date()),
            versions: $e
                .$versions()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            binding: $e
                .tags()
                .iter()
                .find(|t| t.key() == Some($crate::rotation::binding::BINDING_TAG))
                .map(|t| t.value().unwrap_or_default().to_string()),
            revoked_version: $e
                .tags()
                .iter()
                .find(|t| t.key() == Some($crate::aws::staging::REVOKED_TAG))
                .map(|t| t.value().unwrap_or_default().to_string()),
        }
    };
}

pub use secret_meta;

/// An SDK timestamp as ours (`None` when absent or before 1970).
pub fn ts(t: Option<&aws_smithy_types::DateTime>) -> Option<Timestamp> {
    t.and_then(|d| d.to_millis().ok())
        .and_then(|m| u64::try_from(m).ok())
        .map(Timestamp::from_millis)
}
