//! Policy verdicts for the AgentCore service principal, evaluated once at collection time so
//! the snapshot keeps a verdict, not the policy text. The evaluation itself is the rotation's
//! ([`crate::agentcore::policy`]); this adds the "no policy" and "not JSON" cases the audit
//! reports differently.

use crate::agentcore::policy::service_may;
pub use crate::agentcore::policy::SERVICE_PRINCIPAL as AGENTCORE_PRINCIPAL;

/// What a policy says about one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyVerdict {
    Allows,
    /// No statement allows it, or an unconditional Deny refuses it.
    DoesNotAllow,
    /// The resource has no policy at all.
    Missing,
    /// The policy is not valid JSON.
    Unparseable,
}

/// Evaluates `policy` (None = no policy attached) for the AgentCore principal doing `action`
/// on `resource` (None for key policies), with [`crate::agentcore::policy::service_may`].
pub fn evaluate(policy: Option<&str>, action: &str, resource: Option<&str>) -> PolicyVerdict {
    let Some(text) = policy.filter(|p| !p.trim().is_empty()) else {
        return PolicyVerdict::Missing;
    };
    if service_may(Some(text), action, resource) {
        PolicyVerdict::Allows
    } else if serde_json::from_str::<serde_json::Value>(text).is_err() {
        PolicyVerdict::Unparseable
    } else {
        PolicyVerdict::DoesNotAllow
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:s-AbCdEf";
    const READ: &str = "secretsmanager:GetSecretValue";

    fn allow(principal: Value, action: &str) -> String {
        json!({"Statement": [{"Effect": "Allow", "Principal": principal, "Action": action, "Resource": "*"}]}).to_string()
    }

    #[test]
    fn the_service_principal_with_the_action_or_a_covering_wildcard_is_allowed() {
        let p = allow(json!({"Service": AGENTCORE_PRINCIPAL}), READ);
        assert_eq!(evaluate(Some(&p), READ, Some(ARN)), PolicyVerdict::Allows);
        let wild = allow(
            json!({"Service": [AGENTCORE_PRINCIPAL]}),
            "secretsmanager:Get*",
        );
        assert_eq!(
            evaluate(Some(&wild), READ, Some(ARN)),
            PolicyVerdict::Allows
        );
    }

    #[test]
    fn another_principal_no_policy_or_a_deny_do_not_allow() {
        let other = allow(json!({"AWS": "arn:aws:iam::123456789012:root"}), READ);
        assert_eq!(
            evaluate(Some(&other), READ, Some(ARN)),
            PolicyVerdict::DoesNotAllow
        );
        assert_eq!(evaluate(None, READ, Some(ARN)), PolicyVerdict::Missing);
        assert_eq!(
            evaluate(Some("{"), READ, Some(ARN)),
            PolicyVerdict::Unparseable
        );
        let denied = json!({"Statement": [
            {"Effect": "Allow", "Principal": {"Service": AGENTCORE_PRINCIPAL}, "Action": READ, "Resource": "*"},
            {"Effect": "Deny", "Principal": "*", "Action": "secretsmanager:*", "Resource": "*"}
        ]}).to_string();
        assert_eq!(
            evaluate(Some(&denied), READ, Some(ARN)),
            PolicyVerdict::DoesNotAllow
        );
    }

    #[test]
    fn a_resource_naming_another_secret_does_not_allow() {
        let p = json!({"Statement": {"Effect": "Allow", "Principal": {"Service": AGENTCORE_PRINCIPAL}, "Action": READ, "Resource": "arn:aws:secretsmanager:us-east-1:123456789012:secret:other-*"}}).to_string();
        assert_eq!(
            evaluate(Some(&p), READ, Some(ARN)),
            PolicyVerdict::DoesNotAllow
        );
        // Key policies are evaluated without a resource.
        assert_eq!(evaluate(Some(&p), READ, None), PolicyVerdict::Allows);
    }
}
