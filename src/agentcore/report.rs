//! Findings about provider references: names and ARNs only, never values or hashes. The audit
//! and the rotation both build reference findings with [`problem_finding`].

use super::check::{describe, Problem};
use super::discovery::{ProviderKind, ProviderRef};
use crate::findings::{Finding, FindingsError, Resource, Rule, Scope, Timestamp};
use crate::secrets::SecretIdentity;

/// The account and Region of the rotated secret (findings are filed where the secret is).
pub fn scope_of(secret_arn: &str) -> Option<Scope> {
    let id = SecretIdentity::parse(secret_arn);
    Scope::new(id.account?, id.region?).ok()
}

pub fn provider_resource(p: &ProviderRef) -> Result<Resource, FindingsError> {
    match p.kind {
        ProviderKind::Oauth2 => Resource::provider_oauth2(&p.arn),
        ProviderKind::ApiKey => Resource::provider_api_key(&p.arn),
        ProviderKind::Payment => Resource::provider_payment(&p.arn),
    }
}

/// The finding for one problem of provider `p`, whose reference names `secret` (the secret's
/// ARN when known): the provider, and the secret unless the problem is the provider's own.
pub fn problem_finding(
    scope: &Scope,
    p: &ProviderRef,
    secret: &str,
    problem: &Problem,
    now: Timestamp,
) -> Result<Finding, FindingsError> {
    let mut resources = vec![provider_resource(p)?];
    if problem.about_the_secret() {
        resources.push(Resource::secret(secret)?);
    }
    Finding::new(problem.rule(), scope, resources, describe(p, problem), now)
}

/// ROT-001 / ROT-002: the new version broke `providers`.
pub fn rotation_finding(
    rule: &Rule,
    scope: &Scope,
    secret_arn: &str,
    providers: &[&ProviderRef],
    detail: String,
    now: Timestamp,
) -> Result<Finding, FindingsError> {
    let mut resources = vec![Resource::secret(secret_arn)?];
    for p in providers {
        resources.push(provider_resource(p)?);
    }
    Finding::new(rule, scope, resources, detail, now)
}
