//! A secret's KMS key as far as the AgentCore principal decrypting is concerned: read through
//! the [`SecretInventory`] port and evaluated here, never in an adapter.

use super::facts::Observed;
use super::inventory::{KeyPolicyRead, ReadError, SecretInventory};
use super::policy::{self, PolicyVerdict};

/// A customer-managed KMS key's policy, evaluated for the AgentCore principal decrypting.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyFacts {
    pub key_arn: Option<String>,
    pub decrypt: Observed<PolicyVerdict>,
}

/// Reads and evaluates the key `key_id` (an id, ARN or alias, as DescribeSecret names it). A
/// key given by ARN whose policy does not let the service decrypt is checked for being AWS
/// managed (those need no grant) before it is reported.
pub async fn read(inventory: &dyn SecretInventory, key_id: &str) -> KeyFacts {
    match read_policy(inventory, key_id).await {
        Ok(facts) => facts,
        Err(e) => KeyFacts {
            key_arn: None,
            decrypt: Observed::Unreadable(e.code),
        },
    }
}

async fn read_policy(inventory: &dyn SecretInventory, key_id: &str) -> Result<KeyFacts, ReadError> {
    let allows = KeyFacts {
        key_arn: None,
        decrypt: Observed::Ok(PolicyVerdict::Allows),
    };
    Ok(match inventory.key_policy(key_id).await? {
        KeyPolicyRead::AwsManaged => allows,
        KeyPolicyRead::Missing => KeyFacts {
            key_arn: None,
            decrypt: Observed::Ok(PolicyVerdict::DoesNotAllow),
        },
        KeyPolicyRead::Customer { key_arn, policy } => {
            let verdict = policy::evaluate(policy.as_deref(), "kms:Decrypt", None);
            // Key policies are not narrowed by account here: only whether the service may decrypt.
            let verdict = match verdict {
                PolicyVerdict::AllowsOnly(_) => PolicyVerdict::Allows,
                v => v,
            };
            if verdict != PolicyVerdict::Allows
                && !key_id.contains("alias/")
                && inventory.key_is_aws_managed(&key_arn).await? == Some(true)
            {
                return Ok(allows);
            }
            KeyFacts {
                key_arn: Some(key_arn),
                decrypt: Observed::Ok(verdict),
            }
        }
    })
}
