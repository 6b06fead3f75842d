//! What the audit knows about one slice of the account: the providers, and for each secret
//! they reference the facts the rules need. No secret value is kept: values are reduced to
//! their shape (which keys hold non-empty strings, the client id) when read.

use std::collections::BTreeMap;

use crate::agentcore::ProviderRef;
use crate::findings::Timestamp;
use crate::upstream::lineage::Lineage;

pub use crate::secrets::{
    KeyFacts, KeyShape, Lookup, Observed, PolicyVerdict, ReferenceFacts, SecretMeta, ValueShape,
};

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

    /// What the reference rules read, with the key's facts from `keys`.
    pub fn view<'a>(&'a self, keys: &'a BTreeMap<String, KeyFacts>) -> ReferenceFacts<'a> {
        ReferenceFacts {
            reference: &self.reference,
            lookup: &self.lookup,
            policy: self.policy.as_ref(),
            value: self.current.as_ref(),
            key: self
                .meta()
                .and_then(SecretMeta::customer_key)
                .and_then(|k| keys.get(k)),
        }
    }

    /// The secret's ARN when known, else the reference.
    pub fn arn(&self) -> &str {
        self.meta().map_or(&self.reference, |m| m.arn.as_str())
    }
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
    /// The profile accepts a rotation without overlap (`rotation.cutover`).
    pub cutover: bool,
    /// Live secrets whose IdP label says a rotation of ours created them (IdP-generated values).
    pub labelled_ours: Vec<String>,
    /// A staged rotation's revoke reminder facts.
    pub staged: Option<StagedFacts>,
}

/// What the revoke reminder of a staged rotation needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StagedFacts {
    pub vendor: &'static str,
    pub console: &'static str,
    /// AWSPREVIOUS: the version whose secret was superseded.
    pub previous_version: Option<String>,
    /// When AWSCURRENT superseded it.
    pub superseded_at: Option<Timestamp>,
    /// The version the operator marked revoked (tag `agentcore-rotator:revoked`).
    pub revoked_version: Option<String>,
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
