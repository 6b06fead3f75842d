//! Does a resource policy (secret) or key policy (KMS) let the AgentCore Identity service
//! principal perform one action? Enough IAM evaluation for that question only, reduced to a
//! [`PolicyVerdict`] when the facts are read so nothing downstream keeps policy text.
//!
//! Wildcards in actions and resources match as in IAM. Conditions cannot be evaluated without
//! the request context: a conditional Allow counts (typical ones pin `aws:SourceAccount`), a
//! conditional Deny does not. `NotAction`/`NotPrincipal` statements grant nothing here.

use serde_json::Value;

/// The principal AgentCore Identity reads customer secrets as.
pub const SERVICE_PRINCIPAL: &str = "bedrock-agentcore.amazonaws.com";

/// True when some Allow statement grants `action` (on `resource`, when given) to the service
/// principal and no unconditional Deny refuses it. A missing or unparsable policy grants
/// nothing.
pub fn service_may(policy: Option<&str>, action: &str, resource: Option<&str>) -> bool {
    grant(policy, action, resource).is_some()
}

/// Who an Allow reaches: `None` when it is not granted; `Some(None)` for every source account;
/// `Some(Some(accounts))` when every allowing statement pins `aws:SourceAccount`.
fn grant(policy: Option<&str>, action: &str, resource: Option<&str>) -> Option<Option<Accounts>> {
    let doc = policy.and_then(|p| serde_json::from_str::<Value>(p).ok())?;
    let statements: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => return None,
    };
    let mut allowed: Option<Option<Accounts>> = None;
    for s in statements {
        let applies = principal_matches(s.get("Principal"))
            && strings(s.get("Action")).iter().any(|a| glob(a, action))
            && resource_matches(s.get("Resource"), resource);
        match s.get("Effect").and_then(Value::as_str) {
            Some("Deny") if applies && s.get("Condition").is_none() => return None,
            Some("Allow") if applies => {
                allowed = Some(match (allowed, source_accounts(s.get("Condition"))) {
                    // One unpinned statement reaches every account.
                    (Some(None), _) | (_, None) => None,
                    (None, Some(pinned)) => Some(pinned),
                    // Past what the set holds, no restriction (never a false finding).
                    (Some(Some(mut so_far)), Some(pinned)) => {
                        so_far.extend(&pinned).map(|()| so_far)
                    }
                });
            }
            _ => {}
        }
    }
    allowed
}

/// The accounts a statement's `aws:SourceAccount` condition (`StringEquals`/`StringLike`)
/// allows, when it has one made of plain account ids; any other condition is not evaluated.
fn source_accounts(condition: Option<&Value>) -> Option<Accounts> {
    let condition = condition?.as_object()?;
    let mut found = None;
    for (op, keys) in condition {
        if !matches!(op.as_str(), "StringEquals" | "StringLike") {
            continue;
        }
        for (key, values) in keys.as_object()? {
            if key.eq_ignore_ascii_case("aws:SourceAccount") {
                let mut accounts = Accounts::default();
                for v in strings(Some(values)) {
                    accounts.insert(v)?;
                }
                found = Some(accounts);
            }
        }
    }
    found
}

/// A small set of 12-digit account ids, kept `Copy` so verdicts stay plain values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Accounts {
    ids: [u64; Accounts::MAX],
    len: usize,
}

impl Accounts {
    /// More accounts than this in one condition are treated as no restriction (never a false
    /// finding).
    pub const MAX: usize = 8;

    /// `None` when `id` is not an account id (a wildcard, a typo) or the set is full.
    fn insert(&mut self, id: &str) -> Option<()> {
        if id.len() != 12 || !id.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let n: u64 = id.parse().ok()?;
        if !self.ids[..self.len].contains(&n) {
            if self.len == Self::MAX {
                return None;
            }
            self.ids[self.len] = n;
            self.len += 1;
        }
        Some(())
    }

    /// `None` when the union does not fit.
    fn extend(&mut self, other: &Accounts) -> Option<()> {
        for id in other.iter() {
            self.insert(&id)?;
        }
        Some(())
    }

    pub fn contains(&self, account: &str) -> bool {
        account
            .parse::<u64>()
            .is_ok_and(|n| self.ids[..self.len].contains(&n))
    }

    pub fn iter(&self) -> impl Iterator<Item = String> + '_ {
        self.ids[..self.len].iter().map(|n| format!("{n:012}"))
    }
}

/// What a policy says about one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyVerdict {
    Allows,
    /// Allowed only when the request comes from one of these accounts (`aws:SourceAccount`):
    /// a provider in another account cannot read through it.
    AllowsOnly(Accounts),
    /// No statement allows it, or an unconditional Deny refuses it.
    DoesNotAllow,
    /// The resource has no policy at all.
    Missing,
    /// The policy is not valid JSON.
    Unparseable,
}

impl PolicyVerdict {
    /// Whether the service reading on behalf of `account` is allowed (`None`: the account is
    /// unknown, and an account-restricted Allow is taken at its word).
    pub fn allows_account(&self, account: Option<&str>) -> bool {
        match self {
            PolicyVerdict::Allows => true,
            PolicyVerdict::AllowsOnly(accounts) => account.is_none_or(|a| accounts.contains(a)),
            _ => false,
        }
    }
}

/// Evaluates `policy` (None = no policy attached) for the AgentCore principal doing `action`
/// on `resource` (None for key policies), with [`service_may`].
pub fn evaluate(policy: Option<&str>, action: &str, resource: Option<&str>) -> PolicyVerdict {
    let Some(text) = policy.filter(|p| !p.trim().is_empty()) else {
        return PolicyVerdict::Missing;
    };
    match grant(Some(text), action, resource) {
        Some(None) => return PolicyVerdict::Allows,
        Some(Some(accounts)) => return PolicyVerdict::AllowsOnly(accounts),
        None => {}
    }
    if serde_json::from_str::<serde_json::Value>(text).is_err() {
        PolicyVerdict::Unparseable
    } else {
        PolicyVerdict::DoesNotAllow
    }
}

fn principal_matches(principal: Option<&Value>) -> bool {
    match principal {
        Some(Value::String(s)) => s == "*",
        Some(Value::Object(map)) => {
            strings(map.get("Service")).contains(&SERVICE_PRINCIPAL)
                || strings(map.get("AWS")).contains(&"*")
        }
        _ => false,
    }
}

fn resource_matches(resource: Option<&Value>, wanted: Option<&str>) -> bool {
    match (resource, wanted) {
        (Some(r), Some(wanted)) => strings(Some(r)).iter().any(|r| glob(r, wanted)),
        _ => true,
    }
}

fn strings(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// IAM wildcard match, case-insensitive (actions are; ARNs compared this way lose nothing
/// that matters here).
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let t: Vec<char> = text.to_ascii_lowercase().chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const READ: &str = "secretsmanager:GetSecretValue";

    fn policy(statements: Value) -> String {
        json!({"Version": "2012-10-17", "Statement": statements}).to_string()
    }

    fn allow(principal: Value, action: Value) -> Value {
        json!({"Effect": "Allow", "Principal": principal, "Action": action, "Resource": "*"})
    }

    #[test]
    fn the_service_principal_with_the_action_or_a_wildcard_is_allowed() {
        let p = policy(json!([allow(
            json!({"Service": SERVICE_PRINCIPAL}),
            json!(READ)
        )]));
        assert!(service_may(Some(&p), READ, Some("arn:x")));
        let p = policy(json!([allow(
            json!({"Service": [SERVICE_PRINCIPAL]}),
            json!(["secretsmanager:*"])
        )]));
        assert!(service_may(Some(&p), READ, None));
    }

    #[test]
    fn another_principal_no_policy_or_a_deny_grants_nothing() {
        let other = policy(json!([allow(
            json!({"AWS": "arn:aws:iam::1:root"}),
            json!(READ)
        )]));
        assert!(!service_may(Some(&other), READ, None));
        assert!(!service_may(None, READ, None));
        assert!(!service_may(Some("not json"), READ, None));
        let denied = policy(json!([
            allow(json!({"Service": SERVICE_PRINCIPAL}), json!(READ)),
            {"Effect": "Deny", "Principal": "*", "Action": "secretsmanager:*", "Resource": "*"}
        ]));
        assert!(!service_may(Some(&denied), READ, None));
    }

    #[test]
    fn a_statement_for_another_resource_does_not_grant_this_one() {
        let p = policy(
            json!([{"Effect": "Allow", "Principal": {"Service": SERVICE_PRINCIPAL},
            "Action": READ, "Resource": "arn:aws:secretsmanager:us-east-1:1:secret:other-*"}]),
        );
        assert!(!service_may(
            Some(&p),
            READ,
            Some("arn:aws:secretsmanager:us-east-1:1:secret:mine-AbC123")
        ));
        assert!(service_may(
            Some(&p),
            READ,
            Some("arn:aws:secretsmanager:us-east-1:1:secret:other-AbC123")
        ));
    }

    #[test]
    fn kms_decrypt_must_be_granted_to_the_service() {
        let p = policy(json!([
            allow(
                json!({"AWS": "arn:aws:iam::123456789012:root"}),
                json!("kms:*")
            ),
            allow(
                json!({"Service": SERVICE_PRINCIPAL}),
                json!(["kms:Decrypt", "kms:DescribeKey"])
            )
        ]));
        assert!(service_may(Some(&p), "kms:Decrypt", None));
        let root_only = policy(json!([allow(
            json!({"AWS": "arn:aws:iam::123456789012:root"}),
            json!("kms:*")
        )]));
        assert!(!service_may(Some(&root_only), "kms:Decrypt", None));
    }
}

#[cfg(test)]
mod verdict_tests {
    use super::*;
    use serde_json::{json, Value};

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:s-AbCdEf";
    const READ: &str = "secretsmanager:GetSecretValue";

    fn allow(principal: Value, action: &str) -> String {
        json!({"Statement": [{"Effect": "Allow", "Principal": principal, "Action": action, "Resource": "*"}]}).to_string()
    }

    #[test]
    fn the_service_principal_with_the_action_or_a_covering_wildcard_is_allowed() {
        let p = allow(json!({"Service": SERVICE_PRINCIPAL}), READ);
        assert_eq!(evaluate(Some(&p), READ, Some(ARN)), PolicyVerdict::Allows);
        let wild = allow(
            json!({"Service": [SERVICE_PRINCIPAL]}),
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
            {"Effect": "Allow", "Principal": {"Service": SERVICE_PRINCIPAL}, "Action": READ, "Resource": "*"},
            {"Effect": "Deny", "Principal": "*", "Action": "secretsmanager:*", "Resource": "*"}
        ]}).to_string();
        assert_eq!(
            evaluate(Some(&denied), READ, Some(ARN)),
            PolicyVerdict::DoesNotAllow
        );
    }

    #[test]
    fn a_resource_naming_another_secret_does_not_allow() {
        let p = json!({"Statement": {"Effect": "Allow", "Principal": {"Service": SERVICE_PRINCIPAL}, "Action": READ, "Resource": "arn:aws:secretsmanager:us-east-1:123456789012:secret:other-*"}}).to_string();
        assert_eq!(
            evaluate(Some(&p), READ, Some(ARN)),
            PolicyVerdict::DoesNotAllow
        );
        // Key policies are evaluated without a resource.
        assert_eq!(evaluate(Some(&p), READ, None), PolicyVerdict::Allows);
    }

    #[test]
    fn an_allow_pinned_to_source_accounts_reaches_only_those_accounts() {
        let pinned = |accounts: Value| {
            json!({"Statement": [{
                "Effect": "Allow", "Principal": {"Service": SERVICE_PRINCIPAL}, "Action": READ,
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": accounts}}
            }]})
            .to_string()
        };
        let one = evaluate(Some(&pinned(json!("111122223333"))), READ, Some(ARN));
        assert!(matches!(one, PolicyVerdict::AllowsOnly(_)));
        assert!(one.allows_account(Some("111122223333")));
        assert!(!one.allows_account(Some("444455556666")));
        assert!(one.allows_account(None));
        let two = evaluate(
            Some(&pinned(json!(["111122223333", "444455556666"]))),
            READ,
            Some(ARN),
        );
        assert!(two.allows_account(Some("444455556666")));
        // A wildcard or anything but plain account ids is not narrowed.
        let wild = evaluate(Some(&pinned(json!("*"))), READ, Some(ARN));
        assert_eq!(wild, PolicyVerdict::Allows);
        // An unpinned statement beside a pinned one reaches every account.
        let mixed = json!({"Statement": [
            {"Effect": "Allow", "Principal": {"Service": SERVICE_PRINCIPAL}, "Action": READ, "Resource": "*",
             "Condition": {"StringEquals": {"aws:SourceAccount": "111122223333"}}},
            {"Effect": "Allow", "Principal": {"Service": SERVICE_PRINCIPAL}, "Action": READ, "Resource": "*"}
        ]}).to_string();
        assert_eq!(
            evaluate(Some(&mixed), READ, Some(ARN)),
            PolicyVerdict::Allows
        );
        // Two pinned statements naming more accounts together than the set holds: not narrowed.
        let many =
            |from: u64| -> Vec<String> { (from..from + 5).map(|n| format!("{n:012}")).collect() };
        let wide = json!({"Statement": [
            {"Effect": "Allow", "Principal": {"Service": SERVICE_PRINCIPAL}, "Action": READ, "Resource": "*",
             "Condition": {"StringEquals": {"aws:SourceAccount": many(100_000_000_000)}}},
            {"Effect": "Allow", "Principal": {"Service": SERVICE_PRINCIPAL}, "Action": READ, "Resource": "*",
             "Condition": {"StringEquals": {"aws:SourceAccount": many(200_000_000_000)}}}
        ]})
        .to_string();
        let v = evaluate(Some(&wide), READ, Some(ARN));
        assert_eq!(v, PolicyVerdict::Allows);
        assert!(v.allows_account(Some("200000000004")));
    }
}
