//! Reading a referenced secret's facts through the [`SecretInventory`] port, one building block
//! per fact. The audit's wave collector ([`crate::audit::collect::Collector`]) batches and
//! caches these across many secrets; the rotation's pre-move check and confirmation read one
//! secret with [`read_one`]. Both hand the result to the same evaluator
//! ([`crate::agentcore::check::evaluate`]).

use super::facts::{Lookup, Observed, ReferenceFacts};
use super::identity::SecretIdentity;
use super::inventory::{ReadError, SecretInventory};
use super::keys::{self, KeyFacts};
use super::policy::{self, PolicyVerdict};
use super::shape::ValueShape;
use super::store::{Payload, VersionRef};
use crate::secret_doc::SecretDocument;

/// The lookup of `reference` from `region`: a reference into another Region is not looked up
/// (AgentCore cannot read it anyway).
pub async fn lookup(inventory: &dyn SecretInventory, reference: &str, region: &str) -> Lookup {
    match SecretIdentity::parse(reference).region {
        Some(other) if other != region => Lookup::CrossRegion { region: other },
        _ => inventory.describe(reference).await,
    }
}

/// The resource policy, evaluated for the AgentCore principal reading the secret.
pub async fn policy_verdict(inventory: &dyn SecretInventory, arn: &str) -> Observed<PolicyVerdict> {
    match inventory.resource_policy(arn).await {
        Ok(p) => Observed::Ok(policy::evaluate(
            p.as_deref(),
            "secretsmanager:GetSecretValue",
            Some(arn),
        )),
        Err(e) => Observed::Unreadable(e.code),
    }
}

/// A value's shape, plus its rotator document when it is one.
pub fn shape(
    read: Result<Option<Payload>, ReadError>,
) -> (Observed<ValueShape>, Option<SecretDocument>) {
    match read {
        Err(e) => (Observed::Unreadable(e.code), None),
        Ok(None) => (Observed::Unreadable("NoAwsCurrentValue".into()), None),
        Ok(Some(Payload::Binary)) => (Observed::Ok(ValueShape::Binary), None),
        Ok(Some(Payload::Text(text))) => {
            let doc = SecretDocument::parse(Some(&text)).ok();
            (Observed::Ok(ValueShape::of_text(text.expose())), doc)
        }
    }
}

/// One secret's facts, owned; [`SecretRead::view`] is what the evaluator takes.
#[derive(Clone, Debug)]
pub struct SecretRead {
    pub reference: String,
    pub lookup: Lookup,
    pub policy: Option<Observed<PolicyVerdict>>,
    pub value: Option<Observed<ValueShape>>,
    pub key: Option<KeyFacts>,
}

impl SecretRead {
    pub fn view(&self) -> ReferenceFacts<'_> {
        ReferenceFacts {
            reference: &self.reference,
            lookup: &self.lookup,
            policy: self.policy.as_ref(),
            value: self.value.as_ref(),
            key: self.key.as_ref(),
        }
    }

    /// The first read that failed, for an error message (codes only).
    pub fn unreadable(&self) -> Option<String> {
        if let Lookup::Unreadable(c) = &self.lookup {
            return Some(format!("DescribeSecret: {c}"));
        }
        [
            ("GetResourcePolicy", self.policy.as_ref().and_then(code_of)),
            (
                "GetKeyPolicy",
                self.key.as_ref().and_then(|k| code_of(&k.decrypt)),
            ),
            ("GetSecretValue", self.value.as_ref().and_then(code_of)),
        ]
        .into_iter()
        .find_map(|(op, code)| code.map(|c| format!("{op}: {c}")))
    }
}

fn code_of<T>(o: &Observed<T>) -> Option<&str> {
    match o {
        Observed::Unreadable(c) => Some(c),
        Observed::Ok(_) => None,
    }
}

/// Reads `reference` as a provider names it, with the value at `at`: DescribeSecret,
/// GetResourcePolicy, the key policy of a customer-managed key, and the value. Nothing more is
/// read for a secret that is missing, in another Region or scheduled for deletion.
pub async fn read_one(
    inventory: &dyn SecretInventory,
    reference: &str,
    region: &str,
    at: VersionRef<'_>,
) -> SecretRead {
    let lookup = lookup(inventory, reference, region).await;
    let mut read = SecretRead {
        reference: reference.to_string(),
        lookup,
        policy: None,
        value: None,
        key: None,
    };
    let Lookup::Found(meta) = &read.lookup else {
        return read;
    };
    if meta.deleted_date.is_some() {
        return read;
    }
    let arn = meta.arn.clone();
    let key_id = meta.customer_key().map(str::to_string);
    let (policy, value, key) = tokio::join!(
        policy_verdict(inventory, &arn),
        inventory.value_at(&arn, at),
        async {
            match &key_id {
                Some(k) => Some(keys::read(inventory, k).await),
                None => None,
            }
        }
    );
    read.policy = Some(policy);
    read.value = Some(shape(value).0);
    read.key = key;
    read
}
