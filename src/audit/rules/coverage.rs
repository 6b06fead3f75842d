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
        let foreign = owner
            .as_deref()
            .is_some_and(|a| a != ctx.scope.account_id());
        let mut failed: Vec<String> = Vec::new();
        if let Lookup::Unreadable(code) = &facts.lookup {
            failed.push(format!("DescribeSecret ({code})"));
        }
        if let Some(Observed::Unreadable(code)) = &facts.policy {
            failed.push(format!("GetResourcePolicy ({code})"));
        }
        if let Some(Observed::Unreadable(code)) = &facts.current {
            failed.push(format!("AWSCURRENT value ({code})"));
        }
        if let Some(Observed::Unreadable(code)) = &facts.upstream {
            failed.push(format!("upstream secrets ({code})"));
        }
        if let Some(key) = facts.meta().and_then(|m| m.customer_key()) {
            if let Some(Observed::Unreadable(code)) = snapshot.keys.get(key).map(|k| &k.decrypt) {
                if !foreign {
                    failed.push(format!("key policy of {key} ({code})"));
                }
            }
        }
        if failed.is_empty() {
            continue;
        }
        let (rule, detail) = match owner.filter(|_| foreign) {
            Some(owner) => (
                &AUD_CROSS_ACCOUNT_UNREADABLE,
                format!(
                    "{} is in account {owner}; its resource policy there does not let this account's ({}) audit role read it: {}",
                    facts.arn(),
                    ctx.scope.account_id(),
                    failed.join("; ")
                ),
            ),
            None => (
                &AUD_UNREADABLE,
                format!("could not read for {}: {}", facts.arn(), failed.join("; ")),
            ),
        };
        out.raise(ctx, rule, vec![secret_resource(facts.arn())], detail);
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
}
