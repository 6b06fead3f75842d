//! The one evaluator of a credential provider's reference: does it resolve the way AgentCore
//! Identity reads it at run time, and to what? Checked in the order the service reads: provider
//! status, Region, existence and deletion, resource policy, KMS key policy, then the value and
//! its JSON key. The rotation (pre-move check and confirmation) and the audit both call
//! [`evaluate`] over facts read through [`crate::secrets::collect`], and both describe a problem
//! with [`describe`], so one finding id has one description whichever path raised it.

use std::fmt;

use super::discovery::{ProviderKind, ProviderRef, SecretSource};
use crate::findings::{catalogue, Rule, Timestamp};
use crate::secrets::{
    identity::is_full_arn, KeyShape, Lookup, Observed, PolicyVerdict, ReferenceFacts, ValueHash,
    ValueShape,
};

/// Why a JSON key does not yield a credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyProblem {
    Missing,
    Empty,
    /// A number, boolean, null, array or object.
    NotString,
}

/// Why a provider's reference does not resolve (or resolves to the wrong value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    ProviderFailed {
        status: String,
        reason: Option<String>,
    },
    /// `clientSecretSource` MANAGED: AgentCore keeps its own copy of the client secret.
    Managed {
        client_id: Option<String>,
    },
    CrossRegion {
        provider_region: String,
        secret_region: String,
    },
    SecretNotFound,
    ScheduledForDeletion {
        on: Option<Timestamp>,
    },
    ResourcePolicyDenies {
        verdict: PolicyVerdict,
        /// The provider's account, when the policy allows only other source accounts.
        account: Option<String>,
    },
    KmsPolicyDenies {
        key: String,
    },
    /// The value is binary or not a JSON object.
    NotJson {
        binary: bool,
    },
    KeyUnusable {
        key: String,
        why: KeyProblem,
    },
    ClientIdMismatch {
        provider_client: String,
        secret_client: String,
    },
    /// Resolves, but not to the rotated value (`how`: what showed it).
    NotRotatedValue {
        how: String,
    },
}

impl Problem {
    pub fn rule(&self) -> &'static Rule {
        match self {
            Problem::ProviderFailed { .. } => &catalogue::REF_PROVIDER_FAILED,
            Problem::Managed { .. } => &catalogue::REF_MANAGED,
            Problem::CrossRegion { .. } => &catalogue::REF_CROSS_REGION,
            Problem::SecretNotFound => &catalogue::REF_SECRET_NOT_FOUND,
            Problem::ScheduledForDeletion { .. } => &catalogue::REF_SECRET_SCHEDULED_FOR_DELETION,
            Problem::ResourcePolicyDenies { .. } => &catalogue::REF_RESOURCE_POLICY_DENIES,
            Problem::KmsPolicyDenies { .. } => &catalogue::REF_KMS_POLICY_DENIES,
            Problem::NotJson { .. } => &catalogue::REF_NOT_JSON,
            Problem::KeyUnusable { .. } => &catalogue::REF_JSON_KEY_UNUSABLE,
            Problem::ClientIdMismatch { .. } => &catalogue::REF_CLIENT_ID_MISMATCH,
            Problem::NotRotatedValue { .. } => &catalogue::REF_STALE_RESOLUTION,
        }
    }

    /// Only the document's content depends on the version; everything else is the same for
    /// every version, so moving AWSCURRENT back cannot fix it.
    pub fn depends_on_version(&self) -> bool {
        matches!(self, Problem::KeyUnusable { .. } | Problem::NotJson { .. })
    }

    /// Whether the finding names the secret besides the provider.
    pub fn about_the_secret(&self) -> bool {
        !matches!(
            self,
            Problem::ProviderFailed { .. } | Problem::Managed { .. }
        )
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let principal = crate::secrets::policy::SERVICE_PRINCIPAL;
        match self {
            Problem::ProviderFailed { status, reason } => write!(
                f,
                "provider status is {status}: {}",
                reason.as_deref().unwrap_or("no failureReason given")
            ),
            Problem::Managed { client_id } => write!(
                f,
                "clientSecretSource is MANAGED: AgentCore keeps its own copy of the client secret{}, which no rotation of a customer secret updates",
                client_id.as_deref().map(|c| format!(" of client {c}")).unwrap_or_default()
            ),
            Problem::CrossRegion {
                provider_region,
                secret_region,
            } => write!(
                f,
                "the provider is in {provider_region} but the secret is in {secret_region}"
            ),
            Problem::SecretNotFound => f.write_str(
                "the referenced secret does not exist (deleted, or recreated under another ARN)",
            ),
            Problem::ScheduledForDeletion { on } => match on {
                Some(t) => write!(f, "the secret is scheduled for deletion on {}", t.to_rfc3339()),
                None => f.write_str("the secret is scheduled for deletion"),
            },
            Problem::ResourcePolicyDenies {
                verdict: PolicyVerdict::AllowsOnly(accounts),
                account,
            } => write!(
                f,
                "the secret's resource policy allows {principal} secretsmanager:GetSecretValue only for aws:SourceAccount {}, not for the provider's account {}: add that account to the condition in the policy of the secret's own account",
                accounts.iter().collect::<Vec<_>>().join(", "),
                account.as_deref().unwrap_or("(unknown)")
            ),
            Problem::ResourcePolicyDenies { verdict, .. } => write!(
                f,
                "the secret's resource policy does not allow {principal} secretsmanager:GetSecretValue ({})",
                match verdict {
                    PolicyVerdict::Missing => "the secret has no resource policy",
                    PolicyVerdict::Unparseable => "the policy is not valid JSON",
                    _ => "no statement allows it",
                }
            ),
            Problem::KmsPolicyDenies { key } => write!(
                f,
                "the key policy of {key} does not allow {principal} kms:Decrypt"
            ),
            Problem::NotJson { binary: true } => f.write_str("the secret value is binary"),
            Problem::NotJson { binary: false } => {
                f.write_str("the secret value is not a JSON object")
            }
            Problem::KeyUnusable { key, why } => match why {
                KeyProblem::Missing => write!(f, "JSON key {key:?} is missing"),
                KeyProblem::Empty => write!(f, "JSON key {key:?} holds an empty string"),
                KeyProblem::NotString => write!(f, "JSON key {key:?} holds no string"),
            },
            Problem::ClientIdMismatch {
                provider_client,
                secret_client,
            } => write!(
                f,
                "the provider uses client id {provider_client} but the secret holds the secret of client {secret_client}"
            ),
            Problem::NotRotatedValue { how } => {
                write!(f, "it does not resolve to the rotated value ({how})")
            }
        }
    }
}

pub fn kind_label(p: &ProviderRef) -> &'static str {
    match p.kind {
        ProviderKind::Oauth2 => "OAuth2",
        ProviderKind::ApiKey => "API-key",
        ProviderKind::Payment => "payment",
    }
}

/// The provider's name, with the reference it is about when it holds several
/// (`wallet-pay (walletSecret)`).
pub fn who(p: &ProviderRef) -> String {
    match p.slot {
        Some(slot) => format!("{} ({slot})", p.name),
        None => p.name.clone(),
    }
}

/// The one description of `problem` for provider `p`: who, which reference, what is wrong.
pub fn describe(p: &ProviderRef, problem: &Problem) -> String {
    let reference = match (p.source, p.secret_arn.as_deref()) {
        (SecretSource::External, Some(arn)) => format!(
            " references {arn} (JSON key {:?})",
            p.json_key.as_deref().unwrap_or_default()
        ),
        _ => String::new(),
    };
    format!(
        "{} provider {}{reference}: {problem}",
        kind_label(p),
        who(p)
    )
}

/// What [`evaluate`] concluded about one provider.
#[derive(Debug, Default, PartialEq)]
pub struct Verdict {
    /// In the order the service meets them; empty when the reference resolves.
    pub problems: Vec<Problem>,
    /// Rules that could not be decided because a read failed.
    pub undecided: Vec<&'static Rule>,
    /// The hash of the credential the reference resolves to, when it does.
    pub value: Option<ValueHash>,
}

/// Rules that need the secret's value.
pub const VALUE_RULES: [&Rule; 3] = [
    &catalogue::REF_JSON_KEY_UNUSABLE,
    &catalogue::REF_NOT_JSON,
    &catalogue::REF_CLIENT_ID_MISMATCH,
];

/// Evaluates provider `p` against the facts of the secret it references (`None`: the provider
/// has no reference, or it was not read). `home_region` is where the providers were listed.
pub fn evaluate(p: &ProviderRef, facts: Option<ReferenceFacts<'_>>, home_region: &str) -> Verdict {
    let mut v = Verdict::default();
    if p.is_failed() {
        v.problems.push(Problem::ProviderFailed {
            status: p.status.clone().unwrap_or_else(|| "failed".into()),
            reason: p.failure_reason.clone(),
        });
    }
    if p.source == SecretSource::Managed {
        v.problems.push(Problem::Managed {
            client_id: p.client_id.clone(),
        });
        return v;
    }
    let Some(facts) = facts else {
        return v;
    };
    let provider_region = super::references::arn_region(&p.arn).unwrap_or(home_region);
    // The service reads on behalf of the provider's account (a consumer account may hold it).
    let provider_account = super::references::arn_account(&p.arn);
    let secret_region = match facts.lookup {
        Lookup::CrossRegion { region } => Some(region.as_str()),
        _ => super::references::arn_region(facts.reference),
    };
    if let Some(secret_region) = secret_region.filter(|s| *s != provider_region) {
        v.problems.push(Problem::CrossRegion {
            provider_region: provider_region.to_string(),
            secret_region: secret_region.to_string(),
        });
        return v;
    }
    let meta = match facts.lookup {
        Lookup::Found(meta) => meta,
        Lookup::NotFound | Lookup::CrossRegion { .. } => {
            v.problems.push(Problem::SecretNotFound);
            return v;
        }
        Lookup::Unreadable(_) => {
            v.undecided.extend(catalogue::REFERENCES.iter().copied());
            return v;
        }
    };
    // A provider holds a full ARN; a secret recreated under the same name has another one,
    // and the service will not find the old one.
    if is_full_arn(facts.reference) && meta.arn != facts.reference {
        v.problems.push(Problem::SecretNotFound);
        return v;
    }
    if meta.deleted_date.is_some() {
        v.problems.push(Problem::ScheduledForDeletion {
            on: meta.deleted_date,
        });
        return v;
    }
    match facts.policy {
        Some(Observed::Ok(verdict)) if verdict.allows_account(provider_account) => {}
        Some(Observed::Ok(verdict)) => v.problems.push(Problem::ResourcePolicyDenies {
            verdict: *verdict,
            account: provider_account.map(str::to_string),
        }),
        Some(Observed::Unreadable(_)) | None => {
            v.undecided.push(&catalogue::REF_RESOURCE_POLICY_DENIES)
        }
    }
    if let Some(key) = meta.customer_key() {
        match facts.key.map(|k| (&k.decrypt, k.key_arn.as_deref())) {
            Some((Observed::Ok(PolicyVerdict::Allows), _)) => {}
            Some((Observed::Ok(_), arn)) => v.problems.push(Problem::KmsPolicyDenies {
                key: arn.unwrap_or(key).to_string(),
            }),
            Some((Observed::Unreadable(_), _)) | None => {
                v.undecided.push(&catalogue::REF_KMS_POLICY_DENIES)
            }
        }
    }
    value(p, facts.value, &mut v);
    v
}

fn value(p: &ProviderRef, shape: Option<&Observed<ValueShape>>, v: &mut Verdict) {
    let (keys, secret_client) = match shape {
        Some(Observed::Ok(ValueShape::Object { keys, client_id })) => (keys, client_id),
        Some(Observed::Ok(ValueShape::Binary)) => {
            v.problems.push(Problem::NotJson { binary: true });
            return;
        }
        Some(Observed::Ok(ValueShape::NotJsonObject)) => {
            v.problems.push(Problem::NotJson { binary: false });
            return;
        }
        Some(Observed::Unreadable(_)) | None => {
            v.undecided.extend(VALUE_RULES);
            return;
        }
    };
    let key = p.json_key.as_deref().unwrap_or_default();
    let why = match keys.get(key) {
        Some(KeyShape::NonEmptyString(hash)) => {
            v.value = Some(*hash);
            None
        }
        None => Some(KeyProblem::Missing),
        Some(KeyShape::EmptyString) => Some(KeyProblem::Empty),
        Some(KeyShape::NotAString) => Some(KeyProblem::NotString),
    };
    if let Some(why) = why {
        v.problems.push(Problem::KeyUnusable {
            key: key.to_string(),
            why,
        });
    }
    if let (Some(provider_client), Some(secret_client)) = (p.client_id.as_deref(), secret_client) {
        if provider_client != secret_client {
            v.problems.push(Problem::ClientIdMismatch {
                provider_client: provider_client.to_string(),
                secret_client: secret_client.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::{KeyFacts, SecretMeta};

    const SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:agents/okta-AbC123";

    fn provider(json_key: &str) -> ProviderRef {
        ProviderRef {
            kind: ProviderKind::ApiKey,
            name: "partner".into(),
            arn: "arn:aws:bedrock-agentcore:us-east-1:123456789012:token-vault/default/apikeycredentialprovider/partner".into(),
            vendor: None,
            slot: None,
            source: SecretSource::External,
            secret_arn: Some(SECRET.into()),
            json_key: Some(json_key.into()),
            status: Some("READY".into()),
            failure_reason: None,
            client_id: None,
        }
    }

    fn judge(p: &ProviderRef, lookup: Lookup, value: &str) -> Verdict {
        let policy = Observed::Ok(PolicyVerdict::Allows);
        let value = Observed::Ok(ValueShape::of_text(value));
        let key: Option<&KeyFacts> = None;
        evaluate(
            p,
            Some(ReferenceFacts {
                reference: SECRET,
                lookup: &lookup,
                policy: Some(&policy),
                value: Some(&value),
                key,
            }),
            "us-east-1",
        )
    }

    fn found(arn: &str) -> Lookup {
        Lookup::Found(SecretMeta {
            arn: arn.into(),
            ..SecretMeta::default()
        })
    }

    #[test]
    fn a_json_key_resolves_to_the_hash_of_its_string_or_says_why_not() {
        let doc = r#"{"apiKey":"k-123","n":1,"e":""}"#;
        let ok = judge(&provider("apiKey"), found(SECRET), doc);
        assert_eq!(
            (ok.problems, ok.value),
            (vec![], Some(ValueHash::of("k-123")))
        );
        for (key, why) in [
            ("absent", KeyProblem::Missing),
            ("n", KeyProblem::NotString),
            ("e", KeyProblem::Empty),
        ] {
            let v = judge(&provider(key), found(SECRET), doc);
            assert_eq!(
                v.problems,
                vec![Problem::KeyUnusable {
                    key: key.into(),
                    why
                }]
            );
            assert_eq!(v.value, None);
        }
        let text = judge(&provider("apiKey"), found(SECRET), "plain");
        assert_eq!(text.problems, vec![Problem::NotJson { binary: false }]);
    }

    #[test]
    fn a_full_arn_of_a_deleted_and_recreated_secret_does_not_resolve() {
        let recreated = "arn:aws:secretsmanager:us-east-1:123456789012:secret:agents/okta-Zz9Yy8";
        let v = judge(&provider("apiKey"), found(recreated), r#"{"apiKey":"k"}"#);
        assert_eq!(v.problems, vec![Problem::SecretNotFound]);
    }

    #[test]
    fn an_unreadable_secret_decides_nothing_and_problems_come_in_the_services_order() {
        let v = judge(
            &provider("apiKey"),
            Lookup::Unreadable("AccessDeniedException".into()),
            "{}",
        );
        assert!(v.problems.is_empty() && !v.undecided.is_empty());
        let mut failed = provider("absent");
        failed.status = Some("UPDATE_FAILED".into());
        let v = judge(&failed, found(SECRET), r#"{"apiKey":"k"}"#);
        assert_eq!(v.problems[0].rule().id, "REF-007");
        assert_eq!(v.problems[1].rule().id, "REF-003");
    }

    #[test]
    fn only_document_problems_depend_on_the_version() {
        assert!(Problem::KeyUnusable {
            key: "k".into(),
            why: KeyProblem::Missing
        }
        .depends_on_version());
        assert!(Problem::NotJson { binary: true }.depends_on_version());
        assert!(!Problem::ResourcePolicyDenies {
            verdict: PolicyVerdict::Missing,
            account: None,
        }
        .depends_on_version());
        assert!(!Problem::ScheduledForDeletion { on: None }.depends_on_version());
    }
}
