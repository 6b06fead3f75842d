//! Findings about provider references: names and ARNs only, never values or hashes.

use super::check::Problem;
use super::discovery::{ProviderKind, ProviderRef};
use super::identity::SecretIdentity;
use super::rules;
use crate::findings::{Finding, FindingsError, Resource, Rule, Scope, Timestamp};

/// The account and Region of the rotated secret (findings are filed where the secret is).
pub fn scope_of(secret_arn: &str) -> Option<Scope> {
    let id = SecretIdentity::parse(secret_arn);
    Scope::new(id.account?, id.region?).ok()
}

pub fn provider_resource(p: &ProviderRef) -> Result<Resource, FindingsError> {
    match p.kind {
        ProviderKind::Oauth2 => Resource::provider_oauth2(&p.arn),
        ProviderKind::ApiKey => Resource::provider_api_key(&p.arn),
    }
}

pub fn kind_label(p: &ProviderRef) -> &'static str {
    match p.kind {
        ProviderKind::Oauth2 => "OAuth2",
        ProviderKind::ApiKey => "API-key",
    }
}

/// One problem of one provider's reference to `secret_arn`.
pub fn problem_finding(
    scope: &Scope,
    p: &ProviderRef,
    secret_arn: &str,
    problem: &Problem,
    now: Timestamp,
) -> Result<Finding, FindingsError> {
    let detail = format!(
        "{} provider {} references {secret_arn} (JSON key {:?}): {problem}",
        kind_label(p),
        p.name,
        p.json_key.as_deref().unwrap_or_default()
    );
    about(problem.rule(), scope, p, secret_arn, detail, now)
}

/// A finding of `rule` about provider `p` and secret `secret_arn`.
pub fn about(
    rule: &Rule,
    scope: &Scope,
    p: &ProviderRef,
    secret_arn: &str,
    detail: String,
    now: Timestamp,
) -> Result<Finding, FindingsError> {
    Finding::new(
        rule,
        scope,
        vec![provider_resource(p)?, Resource::secret(secret_arn)?],
        detail,
        now,
    )
}

/// A MANAGED provider for the rotated client.
pub fn managed_finding(
    scope: &Scope,
    p: &ProviderRef,
    secret_arn: &str,
    now: Timestamp,
) -> Result<Finding, FindingsError> {
    let detail = format!(
        "{} provider {} is MANAGED for client {} and keeps its own copy of the client secret; rotation of {secret_arn} does not update it",
        kind_label(p),
        p.name,
        p.client_id.as_deref().unwrap_or_default()
    );
    about(
        &rules::REF_MANAGED_SAME_CLIENT,
        scope,
        p,
        secret_arn,
        detail,
        now,
    )
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
