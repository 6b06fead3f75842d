//! References: does each credential provider's secret reference resolve the way AgentCore
//! Identity reads it at runtime? The rules are [`crate::agentcore::check::evaluate`], the same
//! evaluator the rotation's pre-move check and confirmation call, and each finding is built by
//! [`crate::agentcore::report::problem_finding`], so a finding id has one description whichever
//! path raised it.

use crate::agentcore::check;
use crate::agentcore::references::arn_account;
use crate::agentcore::report::problem_finding;
use crate::agentcore::ProviderRef;
use crate::audit::snapshot::{Lookup, Snapshot};

use super::{Evaluation, RuleContext};

pub fn evaluate(snapshot: &Snapshot, ctx: &RuleContext, out: &mut Evaluation) {
    for p in &snapshot.providers {
        provider(snapshot, p, ctx, out);
    }
}

fn provider(snapshot: &Snapshot, p: &ProviderRef, ctx: &RuleContext, out: &mut Evaluation) {
    let facts = p
        .secret_arn
        .as_deref()
        .and_then(|reference| snapshot.secrets.get(reference));
    if let Some(f) = facts {
        if matches!(f.lookup, Lookup::Unreadable(_)) {
            out.skip(
                &crate::findings::catalogue::audit().collect::<Vec<_>>(),
                f.arn(),
            );
        }
    }
    let view = facts.map(|f| {
        let mut view = f.view(&snapshot.keys);
        // KMS serves a key policy to the key's own account only: read from here, another
        // account's key always looks missing. Its account's audit judges it (REF-006 skipped).
        let key_account = view
            .key
            .and_then(|k| k.key_arn.as_deref())
            .or_else(|| f.meta().and_then(|m| m.customer_key()))
            .and_then(arn_account);
        if key_account.is_some_and(|a| a != ctx.scope.account_id()) {
            view.key = None;
        }
        view
    });
    let verdict = check::evaluate(p, view, &snapshot.region);
    let secret = facts.map_or("", |f| f.arn());
    for problem in &verdict.problems {
        out.push(problem_finding(&ctx.scope, p, secret, problem, ctx.now));
    }
    if !secret.is_empty() {
        out.skip(&verdict.undecided, secret);
    }
}

#[cfg(test)]
mod tests {
    use crate::agentcore::SecretSource;
    use crate::audit::rules::fixtures::*;
    use crate::audit::snapshot::*;
    use crate::findings::catalogue::*;
    use crate::findings::Rule;
    use crate::findings::Timestamp;

    #[test]
    fn a_missing_secret_fires_secret_not_found_only() {
        let mut s = healthy();
        secret(&mut s).lookup = Lookup::NotFound;
        assert_only(&s, &REF_SECRET_NOT_FOUND);
    }

    #[test]
    fn a_secret_scheduled_for_deletion_fires_and_skips_the_value_checks() {
        let mut s = healthy();
        meta(&mut s).deleted_date = Some(Timestamp::from_millis(NOW + 7 * DAY));
        assert_only(&s, &REF_SECRET_SCHEDULED_FOR_DELETION);
    }

    #[test]
    fn a_missing_json_key_fires_json_key_missing() {
        let mut s = healthy();
        s.providers[0].json_key = Some("client_secret".into());
        assert_only(&s, &REF_JSON_KEY_UNUSABLE);
    }

    #[test]
    fn an_empty_or_non_string_value_fires_the_json_key_rule_too() {
        for doc in [
            r#"{"clientId":"client-1","clientSecret":""}"#,
            r#"{"clientId":"client-1","clientSecret":7}"#,
        ] {
            let mut s = healthy();
            secret(&mut s).current = Some(Observed::Ok(ValueShape::of_text(doc)));
            assert_only(&s, &REF_JSON_KEY_UNUSABLE);
        }
    }

    #[test]
    fn a_binary_or_non_json_secret_fires_not_json() {
        for shape in [ValueShape::Binary, ValueShape::of_text("not json")] {
            let mut s = healthy();
            secret(&mut s).current = Some(Observed::Ok(shape));
            assert_only(&s, &REF_NOT_JSON);
        }
    }

    #[test]
    fn a_cross_region_reference_fires_cross_region() {
        let mut s = healthy();
        secret(&mut s).lookup = Lookup::CrossRegion {
            region: "eu-west-1".into(),
        };
        assert_only(&s, &REF_CROSS_REGION);
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
            assert_only(&s, &REF_RESOURCE_POLICY_DENIES);
        }
    }

    #[test]
    fn a_key_policy_without_decrypt_fires_key_policy_and_the_default_key_never_does() {
        let mut s = healthy();
        s.keys.get_mut(KEY).unwrap().decrypt = Observed::Ok(PolicyVerdict::DoesNotAllow);
        assert_only(&s, &REF_KMS_POLICY_DENIES);
        meta(&mut s).kms_key_id = None;
        assert!(raised(&s).is_empty());
    }

    #[test]
    fn a_failed_provider_fires_provider_failed_with_its_reason() {
        let mut s = healthy();
        s.providers[0].status = Some("UPDATE_FAILED".into());
        s.providers[0].failure_reason = Some("secret not readable".into());
        assert_only(&s, &REF_PROVIDER_FAILED);
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
        assert_eq!(ids, vec![REF_MANAGED.id.to_string()]);
    }

    #[test]
    fn a_different_client_id_fires_client_id_mismatch() {
        let mut s = healthy();
        s.providers[0].client_id = Some("client-2".into());
        assert_only(&s, &REF_CLIENT_ID_MISMATCH);
    }

    #[test]
    fn unreadable_facts_skip_their_rules_instead_of_passing_them() {
        let mut s = healthy();
        secret(&mut s).current = Some(Observed::Unreadable("AccessDeniedException".into()));
        secret(&mut s).policy = Some(Observed::Unreadable("AccessDeniedException".into()));
        let e = crate::audit::rules::evaluate(&s, &ctx());
        assert!(e
            .skipped
            .contains(&(REF_JSON_KEY_UNUSABLE.id, SECRET.to_string())));
        assert!(e
            .skipped
            .contains(&(REF_RESOURCE_POLICY_DENIES.id, SECRET.to_string())));
    }

    /// For every reference rule: the audit's finding (a snapshot evaluated by the audit) and the
    /// rotation's (the evaluator's problem for the same facts, reported as the rotation reports
    /// it) carry the same id and the same description.
    #[test]
    fn each_reference_rule_has_one_description_whichever_path_raises_it() {
        let mut scenarios: Vec<(&Rule, Snapshot)> = Vec::new();
        let mut add = |rule: &'static Rule, change: &dyn Fn(&mut Snapshot)| {
            let mut s = healthy();
            change(&mut s);
            scenarios.push((rule, s));
        };
        add(&REF_SECRET_NOT_FOUND, &|s| {
            secret(s).lookup = Lookup::NotFound
        });
        add(&REF_SECRET_SCHEDULED_FOR_DELETION, &|s| {
            meta(s).deleted_date = Some(Timestamp::from_millis(NOW + DAY))
        });
        add(&REF_JSON_KEY_UNUSABLE, &|s| {
            s.providers[0].json_key = Some("client_secret".into())
        });
        add(&REF_NOT_JSON, &|s| {
            secret(s).current = Some(Observed::Ok(ValueShape::Binary))
        });
        add(&REF_CROSS_REGION, &|s| {
            secret(s).lookup = Lookup::CrossRegion {
                region: "eu-west-1".into(),
            }
        });
        add(&REF_RESOURCE_POLICY_DENIES, &|s| {
            secret(s).policy = Some(Observed::Ok(PolicyVerdict::Missing))
        });
        add(&REF_KMS_POLICY_DENIES, &|s| {
            s.keys.get_mut(KEY).unwrap().decrypt = Observed::Ok(PolicyVerdict::DoesNotAllow)
        });
        add(&REF_PROVIDER_FAILED, &|s| {
            s.providers[0].status = Some("CREATE_FAILED".into())
        });
        add(&REF_MANAGED, &|s| {
            s.providers[0].source = SecretSource::Managed
        });
        add(&REF_CLIENT_ID_MISMATCH, &|s| {
            s.providers[0].client_id = Some("client-2".into())
        });
        let mut covered = Vec::new();
        for (rule, s) in &scenarios {
            let audit = crate::audit::rules::evaluate(s, &ctx());
            let from_audit: Vec<_> = audit
                .findings
                .iter()
                .filter(|f| f.rule_id() == rule.id)
                .collect();
            assert_eq!(from_audit.len(), 1, "{}: {:?}", rule.id, audit.findings);
            let p = &s.providers[0];
            let facts = s.secrets.get(SECRET).map(|f| f.view(&s.keys));
            let verdict = crate::agentcore::check::evaluate(p, facts, REGION);
            let problem = verdict
                .problems
                .iter()
                .find(|x| x.rule().id == rule.id)
                .unwrap_or_else(|| panic!("{}: {:?}", rule.id, verdict));
            let from_rotation = crate::agentcore::report::problem_finding(
                &ctx().scope,
                p,
                SECRET,
                problem,
                ctx().now,
            )
            .unwrap();
            assert_eq!(from_rotation.description(), from_audit[0].description());
            assert_eq!(from_rotation.id(), from_audit[0].id(), "{}", rule.id);
            covered.push(rule.id);
        }
        // REF-009 (not the rotated value) is the rotation's alone: it has one path.
        for r in REFERENCES {
            assert!(
                covered.contains(&r.id) || r.id == REF_STALE_RESOLUTION.id,
                "{} has no scenario",
                r.id
            );
        }
    }
}
