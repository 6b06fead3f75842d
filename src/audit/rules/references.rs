//! References: does each credential provider's secret reference resolve the way AgentCore
//! Identity reads it at runtime (same Region, existing, readable by the service principal,
//! a JSON object whose `jsonKey` holds a non-empty string)?

use crate::agentcore::{ProviderRef, SecretSource};
use crate::audit::policy::PolicyVerdict;
use crate::audit::snapshot::{KeyShape, Lookup, Observed, SecretFacts, Snapshot, ValueShape};
use crate::findings::{Rule, Severity};

use super::{provider_resource, secret_resource, Evaluation, RuleContext};

// Shared with the rotation's confirmation (same ids, so one finding whoever raises it).
pub use crate::agentcore::rules::{
    REF_CROSS_REGION as CROSS_REGION, REF_JSON_KEY_UNUSABLE as JSON_KEY_MISSING,
    REF_KMS_POLICY_DENIES as KEY_POLICY, REF_PROVIDER_FAILED as PROVIDER_FAILED,
    REF_RESOURCE_POLICY_DENIES as RESOURCE_POLICY, REF_SECRET_NOT_FOUND as SECRET_NOT_FOUND,
    REF_SECRET_SCHEDULED_FOR_DELETION as SCHEDULED_FOR_DELETION,
};

/// "Value not a non-empty string" is the same rule as "JSON key missing" (REF-003: the key is
/// unusable); the finding's description says which.
pub const VALUE_NOT_STRING: Rule = JSON_KEY_MISSING;

pub const NOT_JSON: Rule = Rule {
    id: "REF-010",
    severity: Severity::High,
    title: "Referenced secret is binary or not a JSON object",
    remediation: "Store the secret as a JSON object in SecretString (e.g. {\"clientId\": ..., \"clientSecret\": ...}); AgentCore reads a JSON key from it.",
};
pub const MANAGED_SOURCE: Rule = Rule {
    id: "REF-011",
    severity: Severity::Informational,
    title: "Credential provider keeps its secret in an AgentCore-managed secret",
    remediation: "To rotate the secret, control its KMS key and audit it, store it in your own secret and update the provider with clientSecretSource EXTERNAL.",
};
pub const CLIENT_ID_MISMATCH: Rule = Rule {
    id: "REF-012",
    severity: Severity::High,
    title: "Provider's client id differs from the client id in the secret document",
    remediation: "Update the provider's clientId or the secret document's clientId so both name the same OAuth client; a secret never authenticates another client.",
};

/// Rules that need the secret's value; skipped when it cannot be read.
const VALUE_RULES: [&Rule; 3] = [&JSON_KEY_MISSING, &NOT_JSON, &CLIENT_ID_MISMATCH];

pub fn evaluate(snapshot: &Snapshot, ctx: &RuleContext, out: &mut Evaluation) {
    for p in &snapshot.providers {
        provider(snapshot, p, ctx, out);
    }
}

fn provider(snapshot: &Snapshot, p: &ProviderRef, ctx: &RuleContext, out: &mut Evaluation) {
    let pres = provider_resource(p);
    if p.is_failed() {
        let reason = p
            .failure_reason
            .as_deref()
            .unwrap_or("no failureReason given");
        out.raise(
            ctx,
            &PROVIDER_FAILED,
            vec![pres.clone()],
            format!(
                "provider {} is {}: {reason}",
                p.name,
                p.status.as_deref().unwrap_or("failed")
            ),
        );
    }
    if p.source == SecretSource::Managed {
        out.raise(
            ctx,
            &MANAGED_SOURCE,
            vec![pres],
            format!("provider {} uses clientSecretSource MANAGED", p.name),
        );
        return;
    }
    let Some(reference) = p.secret_arn.as_deref() else {
        return;
    };
    let Some(facts) = snapshot.secrets.get(reference) else {
        return;
    };
    let sres = secret_resource(facts.arn());
    let both = || vec![pres.clone(), sres.clone()];
    let meta = match &facts.lookup {
        Lookup::CrossRegion { region } => {
            out.raise(
                ctx,
                &CROSS_REGION,
                both(),
                format!(
                    "provider {} references {reference} in {region}; this provider is in {}",
                    p.name, snapshot.region
                ),
            );
            return;
        }
        Lookup::NotFound => {
            out.raise(
                ctx,
                &SECRET_NOT_FOUND,
                both(),
                format!(
                    "provider {} references {reference}, which does not exist",
                    p.name
                ),
            );
            return;
        }
        Lookup::Unreadable(_) => {
            out.skip(super::CATALOGUE, facts.arn());
            return;
        }
        Lookup::Found(meta) => meta,
    };
    if let Some(deleted) = meta.deleted_date {
        out.raise(
            ctx,
            &SCHEDULED_FOR_DELETION,
            both(),
            format!(
                "provider {} references {}, scheduled for deletion on {}",
                p.name,
                meta.arn,
                deleted.to_rfc3339()
            ),
        );
        return;
    }
    match &facts.policy {
        Some(Observed::Ok(PolicyVerdict::Allows)) => {}
        Some(Observed::Ok(verdict)) => {
            let why = match verdict {
                PolicyVerdict::Missing => "it has no resource policy",
                PolicyVerdict::Unparseable => "its resource policy is not valid JSON",
                _ => "no statement allows bedrock-agentcore.amazonaws.com secretsmanager:GetSecretValue",
            };
            out.raise(
                ctx,
                &RESOURCE_POLICY,
                both(),
                format!("provider {} references {}: {why}", p.name, meta.arn),
            );
        }
        Some(Observed::Unreadable(_)) | None => out.skip(&[&RESOURCE_POLICY], facts.arn()),
    }
    if let Some(key) = meta.customer_key() {
        match snapshot.keys.get(key).map(|k| &k.decrypt) {
            Some(Observed::Ok(PolicyVerdict::Allows)) => {}
            Some(Observed::Ok(_)) => out.raise(ctx, &KEY_POLICY, both(), format!("provider {} references {}, encrypted with {key}, whose key policy does not allow bedrock-agentcore.amazonaws.com kms:Decrypt", p.name, meta.arn)),
            Some(Observed::Unreadable(_)) | None => out.skip(&[&KEY_POLICY], facts.arn()),
        }
    }
    value(p, facts, ctx, out, both());
}

fn value(
    p: &ProviderRef,
    facts: &SecretFacts,
    ctx: &RuleContext,
    out: &mut Evaluation,
    resources: Vec<Option<crate::findings::Resource>>,
) {
    let arn = facts.arn();
    let shape = match &facts.current {
        Some(Observed::Ok(shape)) => shape,
        Some(Observed::Unreadable(_)) | None => {
            out.skip(&VALUE_RULES, arn);
            return;
        }
    };
    let (keys, doc_client) = match shape {
        ValueShape::Binary => {
            out.raise(
                ctx,
                &NOT_JSON,
                resources,
                format!(
                    "provider {} references {arn}, whose AWSCURRENT value is binary",
                    p.name
                ),
            );
            return;
        }
        ValueShape::NotJsonObject => {
            out.raise(
                ctx,
                &NOT_JSON,
                resources,
                format!(
                    "provider {} references {arn}, whose AWSCURRENT value is not a JSON object",
                    p.name
                ),
            );
            return;
        }
        ValueShape::Object { keys, client_id } => (keys, client_id),
    };
    let key = p.json_key.as_deref().unwrap_or_default();
    match keys.get(key) {
        None => out.raise(
            ctx,
            &JSON_KEY_MISSING,
            resources.clone(),
            format!(
                "provider {} reads key {key:?} of {arn}; AWSCURRENT has no such key",
                p.name
            ),
        ),
        Some(KeyShape::NonEmptyString) => {}
        Some(shape) => {
            let what = if *shape == KeyShape::EmptyString {
                "an empty string"
            } else {
                "no string"
            };
            out.raise(
                ctx,
                &VALUE_NOT_STRING,
                resources.clone(),
                format!(
                    "provider {} reads key {key:?} of {arn}; it holds {what}",
                    p.name
                ),
            );
        }
    }
    if let (Some(provider_client), Some(doc_client)) = (p.client_id.as_deref(), doc_client) {
        if provider_client != doc_client {
            out.raise(ctx, &CLIENT_ID_MISMATCH, resources, format!("provider {} uses client id {provider_client}; {arn} holds the secret of client {doc_client}", p.name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::rules::fixtures::*;
    use crate::audit::snapshot::*;
    use crate::findings::Timestamp;

    #[test]
    fn a_missing_secret_fires_secret_not_found_only() {
        let mut s = healthy();
        secret(&mut s).lookup = Lookup::NotFound;
        assert_only(&s, &SECRET_NOT_FOUND);
    }

    #[test]
    fn a_secret_scheduled_for_deletion_fires_and_skips_the_value_checks() {
        let mut s = healthy();
        meta(&mut s).deleted_date = Some(Timestamp::from_millis(NOW + 7 * DAY));
        assert_only(&s, &SCHEDULED_FOR_DELETION);
    }

    #[test]
    fn a_missing_json_key_fires_json_key_missing() {
        let mut s = healthy();
        s.providers[0].json_key = Some("client_secret".into());
        assert_only(&s, &JSON_KEY_MISSING);
    }

    #[test]
    fn an_empty_or_non_string_value_fires_the_json_key_rule_too() {
        for doc in [
            r#"{"clientId":"client-1","clientSecret":""}"#,
            r#"{"clientId":"client-1","clientSecret":7}"#,
        ] {
            let mut s = healthy();
            secret(&mut s).current = Some(Observed::Ok(ValueShape::of_text(doc)));
            assert_only(&s, &VALUE_NOT_STRING);
        }
    }

    #[test]
    fn a_binary_or_non_json_secret_fires_not_json() {
        for shape in [ValueShape::Binary, ValueShape::of_text("not json")] {
            let mut s = healthy();
            secret(&mut s).current = Some(Observed::Ok(shape));
            assert_only(&s, &NOT_JSON);
        }
    }

    #[test]
    fn a_cross_region_reference_fires_cross_region() {
        let mut s = healthy();
        secret(&mut s).lookup = Lookup::CrossRegion {
            region: "eu-west-1".into(),
        };
        assert_only(&s, &CROSS_REGION);
    }

    #[test]
    fn a_resource_policy_without_the_service_principal_fires_resource_policy() {
        for verdict in [
            PolicyVerdict::Missing,
            PolicyVerdict::DoesNotAllow,
            PolicyVerdict::Unparseable,
        ] {
            let mut s = healthy();
            secret(&mut s).policy = Some(Observed::Ok(verdict));
            assert_only(&s, &RESOURCE_POLICY);
        }
    }

    #[test]
    fn a_key_policy_without_decrypt_fires_key_policy_and_the_default_key_never_does() {
        let mut s = healthy();
        s.keys.get_mut(KEY).unwrap().decrypt = Observed::Ok(PolicyVerdict::DoesNotAllow);
        assert_only(&s, &KEY_POLICY);
        meta(&mut s).kms_key_id = None;
        assert!(raised(&s).is_empty());
    }

    #[test]
    fn a_failed_provider_fires_provider_failed_with_its_reason() {
        let mut s = healthy();
        s.providers[0].status = Some("UPDATE_FAILED".into());
        s.providers[0].failure_reason = Some("secret not readable".into());
        assert_only(&s, &PROVIDER_FAILED);
        let e = crate::audit::rules::evaluate(&s, &ctx());
        assert!(e.findings[0]
            .description()
            .contains("UPDATE_FAILED: secret not readable"));
    }

    #[test]
    fn a_managed_provider_is_informational_and_not_checked_further() {
        let mut s = healthy();
        s.providers[0].source = SecretSource::Managed;
        secret(&mut s).lookup = Lookup::NotFound;
        let ids = raised(&s);
        assert_eq!(ids, vec![MANAGED_SOURCE.id.to_string()]);
    }

    #[test]
    fn a_different_client_id_fires_client_id_mismatch() {
        let mut s = healthy();
        s.providers[0].client_id = Some("client-2".into());
        assert_only(&s, &CLIENT_ID_MISMATCH);
    }

    #[test]
    fn unreadable_facts_skip_their_rules_instead_of_passing_them() {
        let mut s = healthy();
        secret(&mut s).current = Some(Observed::Unreadable("AccessDeniedException".into()));
        secret(&mut s).policy = Some(Observed::Unreadable("AccessDeniedException".into()));
        let e = crate::audit::rules::evaluate(&s, &ctx());
        assert!(e
            .skipped
            .contains(&(JSON_KEY_MISSING.id, SECRET.to_string())));
        assert!(e
            .skipped
            .contains(&(RESOURCE_POLICY.id, SECRET.to_string())));
    }
}
