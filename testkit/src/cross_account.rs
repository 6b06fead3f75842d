//! Cross-account Secrets Manager for the local stack. moto keeps one backend per account and
//! answers a request for another account's secret ARN with ResourceNotFoundException; AWS instead
//! serves it when the secret's resource policy grants the caller, and only for a secret
//! encrypted with a customer managed key whose key policy lets the caller decrypt. This front
//! does what AWS does for the read operations (DescribeSecret, GetResourcePolicy,
//! GetSecretValue), then forwards to moto as the owner; anything else goes to moto unchanged.
//! BatchGetSecretValue does not cross accounts: another account's secret comes back in its
//! `Errors` as AccessDeniedException. ListSecrets lists the caller's own account, as in AWS. Secrets owned by the
//! stack's own account ([`ACCOUNT_ID`]) are served to every other account this way.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

use crate::idp::common::{bind_loopback, serve_in_background};
use crate::moto::{caller_of, sdk_config_for, signing_key, ACCESS_KEY_ID, ACCOUNT_ID};

struct Front {
    moto: String,
    region: String,
    http: reqwest::Client,
}

/// The running front; point a Secrets Manager client's endpoint at [`CrossAccount::endpoint`].
pub struct CrossAccount {
    endpoint: String,
}

impl CrossAccount {
    pub fn start(moto_endpoint: &str, region: &str) -> CrossAccount {
        let (listener, endpoint) = bind_loopback();
        let front = Arc::new(Front {
            moto: moto_endpoint.trim_end_matches('/').to_string(),
            region: region.to_string(),
            http: reqwest::Client::new(),
        });
        let app = Router::new().fallback(handle).with_state(front);
        serve_in_background(listener, app, "cross-account Secrets Manager front");
        CrossAccount { endpoint }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

fn denied(caller: &str, action: &str, resource: &str, why: &str) -> Response {
    let body = json!({
        "__type": "AccessDeniedException",
        "message": format!("User: {caller} is not authorized to perform: {action} on resource: {resource} because {why}"),
    });
    (
        StatusCode::BAD_REQUEST,
        [("content-type", "application/x-amz-json-1.1")],
        body.to_string(),
    )
        .into_response()
}

/// The account a secret ARN names.
fn owner(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    (parts.len() == 7 && parts[0] == "arn" && parts[2] == "secretsmanager").then(|| parts[4])
}

/// The role an assumed-role session ARN stands for (`arn:aws:sts::A:assumed-role/R/S` →
/// `arn:aws:iam::A:role/R`).
fn role_of(caller_arn: &str) -> String {
    match caller_arn.split_once(":assumed-role/") {
        Some((head, rest)) => format!(
            "{}:role/{}",
            head.replacen(":sts:", ":iam:", 1),
            rest.split('/').next().unwrap_or_default()
        ),
        None => caller_arn.to_string(),
    }
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn action_matches(pattern: &str, action: &str) -> bool {
    let (p, a) = (pattern.to_ascii_lowercase(), action.to_ascii_lowercase());
    p == "*"
        || p == a
        || p.strip_suffix('*')
            .is_some_and(|prefix| a.starts_with(prefix))
}

/// Whether a resource or key policy lets principal `role` of `account` do `action` (an Allow
/// naming the role, the account or `*`, and no Deny naming them).
fn policy_grants(policy: Option<&str>, account: &str, role: &str, action: &str) -> bool {
    let Some(doc) = policy.and_then(|p| serde_json::from_str::<Value>(p).ok()) else {
        return false;
    };
    let statements: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(o @ Value::Object(_)) => vec![o],
        _ => return false,
    };
    let root = format!("arn:aws:iam::{account}:root");
    let mut allowed = false;
    for s in statements {
        let principal = s.get("Principal");
        let names = match principal {
            Some(Value::String(p)) if p == "*" => true,
            Some(Value::Object(m)) => strings(m.get("AWS"))
                .iter()
                .any(|p| *p == "*" || *p == account || *p == root || *p == role),
            _ => false,
        };
        let acts = strings(s.get("Action"))
            .iter()
            .any(|a| action_matches(a, action));
        if names && acts {
            match s.get("Effect").and_then(Value::as_str) {
                Some("Deny") => return false,
                Some("Allow") => allowed = true,
                _ => {}
            }
        }
    }
    allowed
}

async fn handle(
    State(front): State<Arc<Front>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let operation = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix("secretsmanager."))
        .unwrap_or_default()
        .to_string();
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let key = signing_key(&headers).unwrap_or_default();
    let (caller_account, caller_arn) = if key == ACCESS_KEY_ID || key.is_empty() {
        (
            ACCOUNT_ID.to_string(),
            format!("arn:aws:iam::{ACCOUNT_ID}:root"),
        )
    } else {
        match caller_of(&front.moto, &front.region, &key).await {
            Some(c) => c,
            None => return forward(&front, method, &uri, &headers, body, None).await,
        }
    };
    let foreign = |id: &str| owner(id).is_some_and(|o| o != caller_account);
    if operation == "BatchGetSecretValue"
        && strings(request.get("SecretIdList"))
            .iter()
            .any(|id| foreign(id))
    {
        return batch_without_foreign(&front, &uri, &headers, &request, &foreign).await;
    }
    let Some(secret) = request
        .get("SecretId")
        .and_then(Value::as_str)
        .filter(|id| foreign(id))
        .map(str::to_string)
    else {
        return forward(&front, method, &uri, &headers, body, None).await;
    };
    let action = format!("secretsmanager:{operation}");
    if !matches!(
        operation.as_str(),
        "DescribeSecret" | "GetResourcePolicy" | "GetSecretValue"
    ) {
        return denied(
            &caller_arn,
            &action,
            &secret,
            "the front serves reads only across accounts",
        );
    }
    if owner(&secret) != Some(ACCOUNT_ID) {
        // Only the stack's own account owns secrets here; moto's answer stands.
        return forward(&front, method, &uri, &headers, body, None).await;
    }
    // The owner's view, through moto with the owner's identity.
    let sm = aws_sdk_secretsmanager::Client::new(&sdk_config_for(&front.moto, &front.region));
    let policy = match sm.get_resource_policy().secret_id(&secret).send().await {
        Ok(p) => p.resource_policy().map(str::to_string),
        // Not found for its owner either: moto's answer is the right one.
        Err(_) => return forward(&front, method, &uri, &headers, body, None).await,
    };
    let role = role_of(&caller_arn);
    if !policy_grants(policy.as_deref(), &caller_account, &role, &action) {
        return denied(
            &caller_arn,
            &action,
            &secret,
            "no resource-based policy allows the action",
        );
    }
    if operation == "GetSecretValue" {
        let described = sm.describe_secret().secret_id(&secret).send().await.ok();
        let Some(key_id) = described
            .as_ref()
            .and_then(|d| d.kms_key_id())
            .map(str::to_string)
        else {
            return denied(
                &caller_arn,
                "kms:Decrypt",
                &secret,
                "a secret encrypted with the AWS managed key cannot be read from another account",
            );
        };
        let kms = aws_sdk_kms::Client::new(&sdk_config_for(&front.moto, &front.region));
        let key_policy = kms
            .get_key_policy()
            .key_id(&key_id)
            .policy_name("default")
            .send()
            .await
            .ok()
            .and_then(|p| p.policy().map(str::to_string));
        if !policy_grants(key_policy.as_deref(), &caller_account, &role, "kms:Decrypt") {
            return denied(
                &caller_arn,
                "kms:Decrypt",
                &key_id,
                "no key policy allows the action",
            );
        }
    }
    forward(&front, method, &uri, &headers, body, Some(ACCESS_KEY_ID)).await
}

/// BatchGetSecretValue does not cross accounts (Secrets Manager lists the operations that do,
/// and it is not one): each other account's secret comes back in `Errors` as
/// AccessDeniedException, the rest is answered as usual.
async fn batch_without_foreign(
    front: &Front,
    uri: &Uri,
    headers: &HeaderMap,
    request: &Value,
    foreign: &(dyn Fn(&str) -> bool + Sync),
) -> Response {
    let ids = strings(request.get("SecretIdList"));
    let (theirs, ours): (Vec<&str>, Vec<&str>) = ids.into_iter().partition(|id| foreign(id));
    let mut answer = json!({"SecretValues": [], "Errors": []});
    if !ours.is_empty() {
        let mut own = request.clone();
        own["SecretIdList"] = json!(ours);
        let forwarded = forward(
            front,
            Method::POST,
            uri,
            headers,
            Bytes::from(own.to_string()),
            None,
        )
        .await;
        let (parts, body) = forwarded.into_parts();
        if !parts.status.is_success() {
            return Response::from_parts(parts, body);
        }
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default();
        answer = serde_json::from_slice(&bytes).unwrap_or(answer);
    }
    let mut errors = answer["Errors"].as_array().cloned().unwrap_or_default();
    for id in theirs {
        errors.push(json!({
            "SecretId": id,
            "ErrorCode": "AccessDeniedException",
            "Message": "BatchGetSecretValue does not read secrets of another account",
        }));
    }
    answer["Errors"] = json!(errors);
    (
        StatusCode::OK,
        [("content-type", "application/x-amz-json-1.1")],
        answer.to_string(),
    )
        .into_response()
}

/// Forwards to moto, as the owner (`as_key`) when given: moto does not check signatures, so
/// the key id in the Authorization header picks the account.
async fn forward(
    front: &Front,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
    as_key: Option<&str>,
) -> Response {
    let caller = signing_key(headers);
    let edit = |name: &str, value: &HeaderValue| -> Option<HeaderValue> {
        match (name, as_key, caller.as_deref()) {
            ("x-amz-security-token", Some(_), _) => None,
            ("authorization", Some(owner), Some(key)) => {
                HeaderValue::from_str(&value.to_str().unwrap_or_default().replacen(
                    &format!("Credential={key}/"),
                    &format!("Credential={owner}/"),
                    1,
                ))
                .ok()
            }
            _ => Some(value.clone()),
        }
    };
    crate::moto::forward(
        &front.http,
        &front.moto,
        (method, uri, headers),
        body,
        &edit,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assumed_role_session_stands_for_its_role() {
        assert_eq!(
            role_of("arn:aws:sts::222233334444:assumed-role/audit/session-1"),
            "arn:aws:iam::222233334444:role/audit"
        );
    }

    #[test]
    fn a_policy_grants_the_named_role_or_account_only() {
        let p = json!({"Statement": [{"Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::222233334444:role/audit"},
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:Describe*"], "Resource": "*"}]})
        .to_string();
        let role = "arn:aws:iam::222233334444:role/audit";
        assert!(policy_grants(
            Some(&p),
            "222233334444",
            role,
            "secretsmanager:GetSecretValue"
        ));
        assert!(policy_grants(
            Some(&p),
            "222233334444",
            role,
            "secretsmanager:DescribeSecret"
        ));
        assert!(!policy_grants(
            Some(&p),
            "222233334444",
            role,
            "secretsmanager:GetResourcePolicy"
        ));
        assert!(!policy_grants(
            Some(&p),
            "222233334444",
            "arn:aws:iam::222233334444:role/other",
            "secretsmanager:GetSecretValue"
        ));
        assert!(!policy_grants(
            None,
            "222233334444",
            role,
            "secretsmanager:GetSecretValue"
        ));
    }
}
