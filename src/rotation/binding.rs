//! Which IdP client a secret may rotate is decided by an administrator, outside the document:
//! the tag `agentcore-rotator:binding` (`cognito:<userPoolId>/<clientId>`). Whoever can write a
//! secret version can change the document, so the document alone must never choose the client
//! whose credentials the rotation mints or deletes.

use super::RotationError;
use crate::secret_doc::SecretDocument;
use crate::secrets::SecretMeta;

pub const BINDING_TAG: &str = "agentcore-rotator:binding";

/// Refuses a document whose IdP coordinates are not the ones the secret is bound to.
pub fn check(
    desc: &SecretMeta,
    doc: &SecretDocument,
    stage: &'static str,
) -> Result<(), RotationError> {
    let document = doc.coordinates();
    match desc.binding.as_deref().map(str::trim) {
        None | Some("") => Err(RotationError::Unbound {
            secret: desc.arn.clone(),
            document,
        }),
        Some(bound) if bound == document => Ok(()),
        Some(bound) => Err(RotationError::BindingMismatch {
            bound: bound.to_string(),
            document,
            stage,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sensitive::SecretString;
    use serde_json::json;

    fn doc(pool: &str, client: &str) -> SecretDocument {
        let v = json!({"clientId": client, "clientSecret": "v",
            "rotation": {"idp": "cognito", "userPoolId": pool}});
        SecretDocument::parse(Some(&SecretString::new(v.to_string()))).unwrap()
    }

    fn desc(tag: Option<&str>) -> SecretMeta {
        SecretMeta {
            arn: "arn:aws:secretsmanager:us-east-1:1:secret:s".into(),
            binding: tag.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn a_document_naming_the_bound_client_passes() {
        check(
            &desc(Some("cognito:us-east-1_A/client1")),
            &doc("us-east-1_A", "client1"),
            "AWSCURRENT",
        )
        .unwrap();
    }

    #[test]
    fn another_client_or_pool_than_the_bound_one_is_refused_naming_both() {
        for (pool, client) in [("us-east-1_A", "victim"), ("us-east-1_B", "client1")] {
            let err = check(
                &desc(Some("cognito:us-east-1_A/client1")),
                &doc(pool, client),
                "AWSPENDING",
            )
            .unwrap_err()
            .to_string();
            assert!(err.contains("cognito:us-east-1_A/client1"), "{err}");
            assert!(err.contains(&format!("cognito:{pool}/{client}")), "{err}");
            assert!(
                err.contains("AWSPENDING") && err.contains(BINDING_TAG),
                "{err}"
            );
        }
    }

    #[test]
    fn an_unbound_secret_is_refused_with_the_command_that_binds_it() {
        for tag in [None, Some(" ")] {
            let err = check(&desc(tag), &doc("us-east-1_A", "c1"), "AWSCURRENT")
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("tag-resource") && err.contains("cognito:us-east-1_A/c1"),
                "{err}"
            );
        }
    }
}
