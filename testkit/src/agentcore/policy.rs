//! Just enough IAM policy evaluation to decide whether a resource policy (secret) or key policy
//! (KMS) lets the AgentCore service principal do one action.
//!
//! Actions and resources match as IAM matches them: actions case-insensitively, `*` and `?`
//! wildcards in both (`secretsmanager:*` grants GetSecretValue, as in IAM). The principal must be
//! the service (or `*`). Conditions cannot be evaluated here, so a conditional Allow is taken as
//! satisfied (typical ones pin aws:SourceAccount) and a conditional Deny is ignored. Kept apart
//! from the product's evaluator on purpose: the emulator is a second opinion, not a copy.

use serde_json::Value;

/// The request being authorised.
pub(crate) struct Request<'a> {
    pub service: &'a str,
    pub action: &'a str,
    /// Checked against `Resource` when given (resource policies); key policies pass None.
    pub resource: Option<&'a str>,
}

/// True when some Allow statement grants the request and no Deny statement refuses it.
pub(crate) fn allows(policy: &str, request: &Request<'_>) -> bool {
    let Ok(doc) = serde_json::from_str::<Value>(policy) else {
        return false;
    };
    let statements: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => return false,
    };
    let mut allowed = false;
    for statement in statements {
        match statement.get("Effect").and_then(Value::as_str) {
            Some("Deny") if denies(statement, request) => return false,
            Some("Allow") if grants(statement, request) => allowed = true,
            _ => {}
        }
    }
    allowed
}

fn grants(statement: &Value, request: &Request<'_>) -> bool {
    applies(statement, request)
}

fn denies(statement: &Value, request: &Request<'_>) -> bool {
    statement.get("Condition").is_none() && applies(statement, request)
}

fn applies(statement: &Value, request: &Request<'_>) -> bool {
    principal_matches(statement.get("Principal"), request.service)
        && strings(statement.get("Action")).iter().any(|a| {
            glob(
                &a.to_ascii_lowercase(),
                &request.action.to_ascii_lowercase(),
            )
        })
        && resource_matches(statement.get("Resource"), request.resource)
}

fn principal_matches(principal: Option<&Value>, service: &str) -> bool {
    match principal {
        Some(Value::String(s)) => s == "*",
        Some(Value::Object(map)) => {
            strings(map.get("Service")).contains(&service) || strings(map.get("AWS")).contains(&"*")
        }
        _ => false,
    }
}

fn resource_matches(resource: Option<&Value>, wanted: Option<&str>) -> bool {
    let (Some(resource), Some(wanted)) = (resource, wanted) else {
        return true;
    };
    strings(Some(resource)).iter().any(|r| glob(r, wanted))
}

/// A string or a list of strings.
fn strings(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// IAM-style wildcard match (`*` any run, `?` one character).
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
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

    const SERVICE: &str = "bedrock-agentcore.amazonaws.com";

    fn read(resource: Option<&'static str>) -> Request<'static> {
        Request {
            service: SERVICE,
            action: "secretsmanager:GetSecretValue",
            resource,
        }
    }

    fn policy(effect: &str, action: Value) -> String {
        serde_json::json!({"Version": "2012-10-17", "Statement": [{
            "Effect": effect, "Principal": {"Service": SERVICE}, "Action": action, "Resource": "*"
        }]})
        .to_string()
    }

    #[test]
    fn an_exact_action_or_a_list_containing_it_is_allowed() {
        assert!(allows(
            &policy("Allow", "secretsmanager:GetSecretValue".into()),
            &read(None)
        ));
        let list = serde_json::json!([
            "secretsmanager:DescribeSecret",
            "secretsmanager:GetSecretValue"
        ]);
        assert!(allows(&policy("Allow", list), &read(Some("arn:x"))));
    }

    /// Before: `secretsmanager:*` was not taken as granting GetSecretValue; IAM grants it.
    #[test]
    fn a_wildcard_action_counts_as_an_allow_and_as_a_deny_as_in_iam() {
        assert!(allows(
            &policy("Allow", "secretsmanager:*".into()),
            &read(None)
        ));
        assert!(allows(
            &policy("Allow", "SecretsManager:Get*".into()),
            &read(None)
        ));
        assert!(!allows(
            &policy("Allow", "secretsmanager:Describe*".into()),
            &read(None)
        ));
        let both = serde_json::json!({"Statement": [
            {"Effect": "Allow", "Principal": {"Service": SERVICE}, "Action": "secretsmanager:GetSecretValue", "Resource": "*"},
            {"Effect": "Deny", "Principal": "*", "Action": "secretsmanager:*", "Resource": "*"}
        ]});
        assert!(!allows(&both.to_string(), &read(None)));
    }

    #[test]
    fn a_wildcard_resource_matches_as_in_iam() {
        let scoped = |resource: &str| {
            serde_json::json!({"Statement": {
                "Effect": "Allow", "Principal": {"Service": SERVICE},
                "Action": "secretsmanager:GetSecretValue", "Resource": resource
            }})
            .to_string()
        };
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:agents/okta-AbC123";
        assert!(allows(
            &scoped("arn:aws:secretsmanager:us-east-1:123456789012:secret:agents/*"),
            &read(Some(arn))
        ));
        assert!(!allows(
            &scoped("arn:aws:secretsmanager:us-east-1:123456789012:secret:other/*"),
            &read(Some(arn))
        ));
    }

    #[test]
    fn another_principal_or_a_missing_policy_grants_nothing() {
        let other = serde_json::json!({"Statement": {
            "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "secretsmanager:GetSecretValue", "Resource": "*"
        }});
        assert!(!allows(&other.to_string(), &read(None)));
        assert!(!allows("", &read(None)));
    }

    #[test]
    fn glob_matches_iam_wildcards() {
        assert!(glob("secretsmanager:*", "secretsmanager:getsecretvalue"));
        assert!(glob("kms:?ecrypt", "kms:decrypt"));
        assert!(!glob("kms:encrypt", "kms:decrypt"));
    }
}
