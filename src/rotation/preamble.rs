//! The checks Secrets Manager's rotation template runs before every step.

use super::RotationError;
use crate::secrets::store::{AWSCURRENT, AWSPENDING, AWSPREVIOUS};
use crate::secrets::SecretMeta;

#[derive(Debug, PartialEq, Eq)]
pub enum Preamble {
    /// The token is the pending version: run the step.
    Proceed,
    /// The token already carries AWSCURRENT: an earlier run finished.
    AlreadyCurrent,
    /// finishSecret moved AWSCURRENT back from the token (it carries AWSPREVIOUS and still
    /// AWSPENDING: the function died before dropping it). Promoting it again would break the
    /// same providers again, so the rotation ends here.
    RolledBack { current: String },
}

pub fn check(desc: &SecretMeta, token: &str) -> Result<Preamble, RotationError> {
    if desc.managed_rotation {
        return Err(RotationError::ManagedExternally(match &desc.managed_type {
            Some(t) => format!("managed external secret of type {t}"),
            None => "managed rotation".into(),
        }));
    }
    if !desc.rotation_enabled {
        return Err(RotationError::RotationNotEnabled);
    }
    if !desc.versions.contains_key(token) {
        return Err(RotationError::TokenNotFound);
    }
    if desc.has_stage(token, AWSCURRENT) {
        return Ok(Preamble::AlreadyCurrent);
    }
    if desc.has_stage(token, AWSPENDING) && desc.has_stage(token, AWSPREVIOUS) {
        return Ok(Preamble::RolledBack {
            current: desc
                .version_with(AWSCURRENT)
                .unwrap_or_default()
                .to_string(),
        });
    }
    if !desc.has_stage(token, AWSPENDING) {
        return Err(match desc.version_with(AWSPENDING) {
            Some(other) => RotationError::PreviousRotationIncomplete {
                pending_version: other.to_string(),
            },
            None => RotationError::TokenNotPending,
        });
    }
    Ok(Preamble::Proceed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(enabled: bool, versions: &[(&str, &[&str])]) -> SecretMeta {
        SecretMeta {
            arn: "arn:aws:secretsmanager:us-east-1:1:secret:s-AbCdEf".into(),
            rotation_enabled: enabled,
            versions: versions
                .iter()
                .map(|(v, s)| (v.to_string(), s.iter().map(|x| x.to_string()).collect()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn pending_token_proceeds() {
        let d = desc(true, &[("old", &["AWSCURRENT"]), ("t", &["AWSPENDING"])]);
        assert_eq!(check(&d, "t").unwrap(), Preamble::Proceed);
    }

    #[test]
    fn rotation_disabled_is_an_error() {
        let d = desc(false, &[("t", &["AWSPENDING"])]);
        assert!(matches!(
            check(&d, "t"),
            Err(RotationError::RotationNotEnabled)
        ));
    }

    #[test]
    fn a_managed_external_secret_is_refused_naming_its_type() {
        let mut d = desc(true, &[("old", &["AWSCURRENT"]), ("t", &["AWSPENDING"])]);
        d.managed_rotation = true;
        d.managed_type = Some("OktaOAuthClientSecret".into());
        let err = check(&d, "t").unwrap_err().to_string();
        assert!(
            err.contains("OktaOAuthClientSecret") && err.contains("rotates this secret itself"),
            "{err}"
        );
    }

    #[test]
    fn unknown_token_is_an_error() {
        let d = desc(true, &[("old", &["AWSCURRENT"])]);
        assert!(matches!(check(&d, "t"), Err(RotationError::TokenNotFound)));
    }

    #[test]
    fn current_token_short_circuits() {
        let d = desc(true, &[("t", &["AWSCURRENT", "AWSPENDING"])]);
        assert_eq!(check(&d, "t").unwrap(), Preamble::AlreadyCurrent);
    }

    #[test]
    fn pending_elsewhere_names_the_incomplete_rotation() {
        let d = desc(
            true,
            &[
                ("old", &["AWSCURRENT"]),
                ("stray", &["AWSPENDING"]),
                ("t", &[]),
            ],
        );
        match check(&d, "t") {
            Err(RotationError::PreviousRotationIncomplete { pending_version }) => {
                assert_eq!(pending_version, "stray")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_rolled_back_token_still_pending_is_not_promoted_again() {
        let d = desc(
            true,
            &[
                ("old", &["AWSCURRENT"]),
                ("t", &["AWSPENDING", "AWSPREVIOUS"]),
            ],
        );
        assert_eq!(
            check(&d, "t").unwrap(),
            Preamble::RolledBack {
                current: "old".into()
            }
        );
    }

    #[test]
    fn token_without_any_pending_label_is_an_error() {
        let d = desc(true, &[("old", &["AWSCURRENT"]), ("t", &["AWSPREVIOUS"])]);
        assert!(matches!(
            check(&d, "t"),
            Err(RotationError::TokenNotPending)
        ));
    }
}
