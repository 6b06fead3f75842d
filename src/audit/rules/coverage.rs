//! Coverage: what the audit could not read is a finding of its own, never a silent pass.

use crate::audit::snapshot::{Lookup, Observed, Snapshot};
use crate::findings::catalogue::{AUD_CROSS_ACCOUNT_UNREADABLE, AUD_UNREADABLE};
use crate::secrets::SecretIdentity;

use super::{secret_resource, Evaluation, RuleContext};

pub fn evaluate(snapshot: &Snapshot, ctx: &RuleContext, out: &mut Evaluation) {
    for facts in snapshot.secrets.values() {
        // A secret of another account: KMS serves key policies to their own account only, so
        // its key policy is that account's audit's to check, not a read this one missed.
        let owner = SecretIdentity::parse(facts.arn()).account;
        let foreign = owner.as_deref().filter(|a| *a != ctx.scope.account_id());
        // Secrets Manager reads of another account's secret that its resource policy refused:
        // the grant to fix is there (AUD-002); any other failure is a read this audit missed.
        let (mut denied, mut failed): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
        let mut sm_read = |what: &str, code: &str| {
            let line = format!("{what} ({code})");
            if foreign.is_some() && code.contains("AccessDenied") {
                denied.push(line);
            } else {
                failed.push(line);
            }
        };
        if let Lookup::Unreadable(code) = &facts.lookup {
            sm_read("DescribeSecret", code);
        }
        if let Some(Observed::Unreadable(code)) = &facts.policy {
            sm_read("GetResourcePolicy", code);
        }
        if let Some(Observed::Unreadable(code)) = &facts.current {
            sm_read("AWSCURRENT value", code);
        }
        if let Some(Observed::Unreadable(code)) = &facts.upstream {
            failed.push(format!("upstream secrets ({code})"));
        }
        if let Some(key) = facts.meta().and_then(|m| m.customer_key()) {
            if let Some(Observed::Unreadable(code)) = snapshot.keys.get(key).map(|k| &k.decrypt) {
                if foreign.is_none() {
                    failed.push(format!("key policy of {key} ({code})"));
                }
            }
        }
        if let (Some(owner), false) = (foreign, denied.is_empty()) {
            out.raise(
                ctx,
                &AUD_CROSS_ACCOUNT_UNREADABLE,
                vec![secret_resource(facts.arn())],
                format!(
                    "{} is in account {owner}; its resource policy there does not let this account's ({}) audit role read it: {}",
                    facts.arn(),
                    ctx.scope.account_id(),
                    denied.join("; ")
                ),
            );
        }
        if !failed.is_empty() {
            out.raise(
                ctx,
                &AUD_UNREADABLE,
                vec![secret_resource(facts.arn())],
                format!("could not read for {}: {}", facts.arn(), failed.join("; ")),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::rules::fixtures::*;

    #[test]
    fn an_unreadable_value_fires_aud_001_naming_the_read() {
        let mut s = healthy();
        secret(&mut s).current = Some(Observed::Unreadable("AccessDeniedException".into()));
        assert_only(&s, &AUD_UNREADABLE);
        let e = crate::audit::rules::evaluate(&s, &ctx());
        assert!(e.findings[0]
            .description()
            .contains("AWSCURRENT value (AccessDeniedException)"));
    }

    #[test]
    fn an_undescribable_secret_fires_aud_001_and_nothing_else() {
        let mut s = healthy();
        secret(&mut s).lookup = Lookup::Unreadable("AccessDeniedException".into());
        assert_only(&s, &AUD_UNREADABLE);
    }

    /// The same snapshot audited from another account (the secret's owner is 123456789012).
    fn from_consumer() -> RuleContext {
        RuleContext::new(
            crate::findings::Scope::new("222233334444", REGION).unwrap(),
            crate::findings::Timestamp::from_millis(NOW),
        )
    }

    #[test]
    fn another_account_s_refusal_is_aud_002_and_any_other_failure_stays_aud_001() {
        let mut s = healthy();
        secret(&mut s).current = Some(Observed::Unreadable("AccessDeniedException".into()));
        let e = crate::audit::rules::evaluate(&s, &from_consumer());
        let rules: Vec<&str> = e.findings.iter().map(|f| f.rule_id()).collect();
        assert!(
            rules.contains(&"AUD-002") && !rules.contains(&"AUD-001"),
            "{rules:?}"
        );
        let d = e
            .findings
            .iter()
            .find(|f| f.rule_id() == "AUD-002")
            .unwrap()
            .description();
        assert!(
            d.contains("is in account 123456789012") && d.contains("(222233334444)"),
            "{d}"
        );

        let mut s = healthy();
        secret(&mut s).current = Some(Observed::Unreadable("ThrottlingException".into()));
        let e = crate::audit::rules::evaluate(&s, &from_consumer());
        let rules: Vec<&str> = e.findings.iter().map(|f| f.rule_id()).collect();
        assert!(
            rules.contains(&"AUD-001") && !rules.contains(&"AUD-002"),
            "{rules:?}"
        );
    }
}
