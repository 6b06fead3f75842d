//! Facts read about a secret, as the reference checks need them: how it was looked up, whether
//! its resource policy lets AgentCore read it, the shape of the value a provider would get, and
//! its key. [`ReferenceFacts`] is the borrowed view the one evaluator
//! ([`crate::agentcore::check`]) takes, whoever read them (the audit's wave collector or the
//! rotation's [`super::collect::read_one`]).

use super::keys::KeyFacts;
use super::meta::SecretMeta;
use super::policy::PolicyVerdict;
use super::shape::ValueShape;

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

/// Everything about one referenced secret the reference rules read. `None` fields were not
/// read (e.g. a deleted secret's policy): the rules depending on them are skipped.
#[derive(Clone, Copy, Debug)]
pub struct ReferenceFacts<'a> {
    /// The secret id exactly as the provider names it.
    pub reference: &'a str,
    pub lookup: &'a Lookup,
    pub policy: Option<&'a Observed<PolicyVerdict>>,
    /// The shape of the value the provider resolves (AWSCURRENT, or the version checked).
    pub value: Option<&'a Observed<ValueShape>>,
    /// The customer-managed key's facts (`None` with the default key, or when unread).
    pub key: Option<&'a KeyFacts>,
}
