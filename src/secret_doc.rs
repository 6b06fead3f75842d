//! The secret document: the JSON object stored in each secret version.
//!
//! The rotator owns `clientId`, the client-secret key (default `clientSecret`, configurable so
//! AgentCore providers can reference it by `jsonKey`), `clientSecretId`, `rotation` (the
//! profile) and `rotationState`. Every other key is carried over to new versions untouched.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::sensitive::SecretString;

pub const DEFAULT_SECRET_JSON_KEY: &str = "clientSecret";
const OWNED_KEYS: [&str; 4] = ["clientId", "clientSecretId", "rotation", "rotationState"];

/// Which identity provider issues the client secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdpKind {
    Cognito,
    Entra,
    Okta,
    Keycloak,
    /// A vendor whose secrets only its console creates: the operator stages each new value.
    Staged,
}

impl IdpKind {
    /// The `rotation.idp` value.
    pub fn name(self) -> &'static str {
        match self {
            IdpKind::Cognito => "cognito",
            IdpKind::Entra => "entra",
            IdpKind::Okta => "okta",
            IdpKind::Keycloak => "keycloak",
            IdpKind::Staged => "staged",
        }
    }
}

/// How the client authenticates at the token endpoint (RFC 6749 §2.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ClientAuth {
    #[default]
    ClientSecretBasic,
    ClientSecretPost,
}

/// Where the token endpoint is: given, or found by OIDC / RFC 8414 discovery from an issuer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenEndpoint {
    Url(String),
    Issuer(String),
}

/// The `rotation` object: everything needed to rotate and test this client's secret.
#[derive(Clone, Debug, PartialEq)]
pub struct RotationProfile {
    pub idp: IdpKind,
    pub user_pool_id: Option<String>,
    /// A token endpoint the document names. `None`: derived from the IdP coordinates (Cognito:
    /// the user pool's domain). When set, its origin must be in the deployment's allowlist.
    pub token_endpoint: Option<TokenEndpoint>,
    pub scopes: Vec<String>,
    pub client_auth: ClientAuth,
    pub grace_period: Option<Duration>,
    pub secret_json_key: String,
    /// Entra ID: the tenant (`rotation.tenantId`, a GUID or verified domain).
    pub tenant_id: Option<String>,
    /// Okta: the application id (`rotation.appId`, `0oa…`) and the custom authorization server
    /// that proves the secret (`rotation.authorizationServerId`, default `default`).
    pub app_id: Option<String>,
    pub authorization_server_id: Option<String>,
    /// Keycloak: the realm (`rotation.realm`) and whether a rotation without the
    /// `secret-rotation` client policy may cut over with a window of failure (`rotation.cutover`).
    pub realm: Option<String>,
    pub cutover: bool,
    /// The vendor of a staged rotation (`rotation.vendor`).
    pub vendor: Option<crate::upstream::vendors::Vendor>,
}

/// The rotator's bookkeeping for one version (`rotationState`).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct RotationState {
    /// Upstream secret ids that were live before this version's value was pushed upstream.
    /// For IdPs that assign the id after we chose the value (Cognito), this is how we tell
    /// later which upstream secret belongs to this version.
    pub upstream_ids_before: Vec<String>,
    /// When this version was created (seconds since the epoch): the start of the grace period
    /// of the version it supersedes.
    pub created_at: u64,
    /// The AWSCURRENT version this one was created to replace, and the upstream secret behind
    /// it as resolved at createSecret (`None` when it could not be told).
    pub supersedes: Option<Supersedes>,
    /// Live upstream secrets that this secret's rolled-back or abandoned versions created, as
    /// found at createSecret: no version in use holds them, so setSecret may remove them.
    pub leftover_upstream_ids: Vec<String>,
}

/// `rotationState.supersedes`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Supersedes {
    pub version_id: String,
    pub upstream_id: Option<String>,
}

/// Longest grace period a document may ask for (one year).
pub const MAX_GRACE_PERIOD_HOURS: u64 = 24 * 366;

/// `Debug` lists the document's keys, never its values: any key may hold a secret.
#[derive(Clone)]
pub struct SecretDocument {
    raw: Map<String, Value>,
    pub client_id: String,
    pub client_secret: SecretString,
    pub client_secret_id: Option<String>,
    pub profile: RotationProfile,
    pub state: Option<RotationState>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DocumentError {
    #[error("secret value is binary; the rotator needs a JSON object in SecretString")]
    Binary,
    #[error("secret value is not JSON ({0}); the rotator needs a JSON object")]
    NotJson(String),
    #[error("secret value is JSON but not an object; the rotator needs a JSON object")]
    NotObject,
    #[error("secret document is missing field `{0}`")]
    Missing(String),
    #[error("secret document field `{field}` must be {expected}")]
    WrongType {
        field: String,
        expected: &'static str,
    },
    #[error("secret document field `{field}` is invalid: {reason}")]
    Invalid { field: String, reason: String },
}

fn wrong(field: &str, expected: &'static str) -> DocumentError {
    DocumentError::WrongType {
        field: field.to_string(),
        expected,
    }
}

fn string_field(map: &Map<String, Value>, key: &str, path: &str) -> Result<String, DocumentError> {
    match map.get(key) {
        None | Some(Value::Null) => Err(DocumentError::Missing(path.to_string())),
        Some(Value::String(s)) if s.is_empty() => Err(wrong(path, "a non-empty string")),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(wrong(path, "a non-empty string")),
    }
}

fn optional_string(
    map: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<String>, DocumentError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(wrong(path, "a non-empty string or null")),
    }
}

impl SecretDocument {
    /// Parses a secret version's payload. `None` means the version holds a binary value.
    pub fn parse(payload: Option<&SecretString>) -> Result<Self, DocumentError> {
        let text = payload.ok_or(DocumentError::Binary)?;
        let value: Value = serde_json::from_str(text.expose()).map_err(|e| {
            // Only the position: serde_json's message could quote the input.
            DocumentError::NotJson(format!("line {} column {}", e.line(), e.column()))
        })?;
        let Value::Object(raw) = value else {
            return Err(DocumentError::NotObject);
        };
        let profile = parse_profile(&raw)?;
        let client_id = string_field(&raw, "clientId", "clientId")?;
        if profile.vendor == Some(crate::upstream::vendors::Vendor::Custom)
            && profile.token_endpoint.is_none()
        {
            return Err(DocumentError::Invalid {
                field: "rotation.tokenEndpoint".into(),
                reason: "a staged rotation at a custom server proves the secret with client_credentials there: set rotation.tokenEndpoint or rotation.issuer (within ROTATOR_ALLOWED_TOKEN_ORIGINS)".into(),
            });
        }
        if profile.idp == IdpKind::Entra {
            // The application (client) id names the app in Graph URLs.
            if !is_guid(&client_id) {
                return Err(DocumentError::Invalid {
                    field: "clientId".into(),
                    reason: "expected the Entra application (client) id, a GUID".into(),
                });
            }
            if profile.scopes.is_empty() {
                return Err(DocumentError::Invalid {
                    field: "rotation.scopes".into(),
                    reason: "Entra ID's client_credentials grant needs a scope to prove the secret with, e.g. [\"https://graph.microsoft.com/.default\"]".into(),
                });
            }
        }
        let client_secret = SecretString::new(string_field(
            &raw,
            &profile.secret_json_key,
            &profile.secret_json_key,
        )?);
        let client_secret_id = optional_string(&raw, "clientSecretId", "clientSecretId")?;
        let state = match raw.get("rotationState") {
            None | Some(Value::Null) => None,
            Some(Value::Object(s)) => Some(parse_state(s)?),
            Some(_) => return Err(wrong("rotationState", "an object")),
        };
        Ok(Self {
            raw,
            client_id,
            client_secret,
            client_secret_id,
            profile,
            state,
        })
    }

    /// The next version: same keys, a new client secret, the IdP's id for it when known, and
    /// fresh rotation state.
    pub fn next_version(
        &self,
        secret: SecretString,
        secret_id: Option<String>,
        state: RotationState,
    ) -> SecretDocument {
        let mut next = self.clone();
        next.client_secret = secret;
        next.client_secret_id = secret_id;
        next.state = Some(state);
        next
    }

    /// Serialises to the JSON stored in Secrets Manager, keys in their original order.
    pub fn to_secret_string(&self) -> SecretString {
        let mut raw = self.raw.clone();
        raw.insert(
            self.profile.secret_json_key.clone(),
            Value::String(self.client_secret.expose().to_string()),
        );
        raw.insert(
            "clientSecretId".into(),
            self.client_secret_id
                .clone()
                .map_or(Value::Null, Value::String),
        );
        if let Some(state) = &self.state {
            let mut value = serde_json::json!({
                "upstreamIdsBefore": state.upstream_ids_before,
                "createdAt": state.created_at,
            });
            if let Some(s) = &state.supersedes {
                value["supersedes"] = serde_json::json!({
                    "versionId": s.version_id,
                    "upstreamId": s.upstream_id,
                });
            }
            if !state.leftover_upstream_ids.is_empty() {
                value["leftoverUpstreamIds"] = serde_json::json!(state.leftover_upstream_ids);
            }
            raw.insert("rotationState".into(), value);
        }
        SecretString::new(Value::Object(raw).to_string())
    }

    /// The IdP coordinates this document rotates, in the form of the binding tag
    /// (`cognito:<userPoolId>/<clientId>`).
    pub fn coordinates(&self) -> String {
        let p = &self.profile;
        let scope = match p.idp {
            IdpKind::Cognito => p.user_pool_id.as_deref(),
            IdpKind::Entra => p.tenant_id.as_deref(),
            IdpKind::Okta => p.app_id.as_deref(),
            IdpKind::Keycloak => p.realm.as_deref(),
            IdpKind::Staged => p.vendor.map(|v| v.name()),
        };
        format!(
            "{}:{}/{}",
            p.idp.name(),
            scope.unwrap_or_default(),
            self.client_id
        )
    }

    /// The value under an arbitrary top-level key, if it is a non-empty string (AgentCore's
    /// `jsonKey` resolution).
    pub fn string_at(&self, key: &str) -> Option<SecretString> {
        match self.raw.get(key) {
            Some(Value::String(s)) if !s.is_empty() => Some(SecretString::new(s.clone())),
            _ => None,
        }
    }
}

impl std::fmt::Debug for SecretDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretDocument")
            .field("keys", &self.raw.keys().collect::<Vec<_>>())
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("client_secret_id", &self.client_secret_id)
            .field("profile", &self.profile)
            .field("state", &self.state)
            .finish()
    }
}

fn string_array(
    s: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Vec<String>, DocumentError> {
    match s.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| wrong(path, "an array of strings")),
        Some(_) => Err(wrong(path, "an array of strings")),
    }
}

fn parse_state(s: &Map<String, Value>) -> Result<RotationState, DocumentError> {
    let ids = string_array(s, "upstreamIdsBefore", "rotationState.upstreamIdsBefore")?;
    let leftovers = string_array(
        s,
        "leftoverUpstreamIds",
        "rotationState.leftoverUpstreamIds",
    )?;
    let supersedes = match s.get("supersedes") {
        None | Some(Value::Null) => None,
        Some(Value::Object(o)) => Some(Supersedes {
            version_id: string_field(o, "versionId", "rotationState.supersedes.versionId")?,
            upstream_id: optional_string(o, "upstreamId", "rotationState.supersedes.upstreamId")?,
        }),
        Some(_) => return Err(wrong("rotationState.supersedes", "an object")),
    };
    let created_at = match s.get("createdAt") {
        None | Some(Value::Null) => 0,
        Some(v) => v
            .as_u64()
            .ok_or_else(|| wrong("rotationState.createdAt", "seconds since the epoch"))?,
    };
    Ok(RotationState {
        upstream_ids_before: ids,
        created_at,
        supersedes,
        leftover_upstream_ids: leftovers,
    })
}

fn parse_profile(raw: &Map<String, Value>) -> Result<RotationProfile, DocumentError> {
    let p = match raw.get("rotation") {
        None | Some(Value::Null) => return Err(DocumentError::Missing("rotation".into())),
        Some(Value::Object(p)) => p,
        Some(_) => return Err(wrong("rotation", "an object")),
    };
    let idp = match string_field(p, "idp", "rotation.idp")?.as_str() {
        "cognito" => IdpKind::Cognito,
        "entra" => IdpKind::Entra,
        "okta" => IdpKind::Okta,
        "keycloak" => IdpKind::Keycloak,
        "staged" => IdpKind::Staged,
        "auth0" => {
            return Err(DocumentError::Invalid {
                field: "rotation.idp".into(),
                reason: format!("\"auth0\" is not supported (Auth0 keeps one secret, so rotation breaks callers; Secrets Manager rotates Auth0 client secrets itself); {SUPPORTED_IDPS}"),
            })
        }
        _ => {
            return Err(DocumentError::Invalid {
                field: "rotation.idp".into(),
                reason: format!("unknown identity provider; {SUPPORTED_IDPS}"),
            })
        }
    };
    let user_pool_id = optional_string(p, "userPoolId", "rotation.userPoolId")?;
    if idp == IdpKind::Cognito {
        let id = user_pool_id
            .as_deref()
            .ok_or_else(|| DocumentError::Missing("rotation.userPoolId".into()))?;
        if cognito_region(id).is_none() {
            return Err(DocumentError::Invalid {
                field: "rotation.userPoolId".into(),
                reason: "expected <region>_<id>, e.g. us-east-1_AbC123".into(),
            });
        }
    }
    let coordinate = |key: &str, kind: IdpKind, expected: &'static str, ok: fn(&str) -> bool| {
        let path = format!("rotation.{key}");
        let value = optional_string(p, key, &path)?;
        match (&value, idp == kind) {
            (None, true) => Err(DocumentError::Missing(path)),
            (Some(v), _) if !ok(v) => Err(DocumentError::Invalid {
                field: path,
                reason: format!("expected {expected}"),
            }),
            _ => Ok(value),
        }
    };
    let tenant_id = coordinate(
        "tenantId",
        IdpKind::Entra,
        "a tenant GUID or domain name",
        |v| is_name(v, b".-") && v.contains(['.', '-']),
    )?;
    let app_id = coordinate(
        "appId",
        IdpKind::Okta,
        "an Okta application id such as 0oa1b2c3d4",
        |v| is_name(v, b""),
    )?;
    let authorization_server_id =
        match optional_string(p, "authorizationServerId", "rotation.authorizationServerId")? {
            Some(v) if !is_name(&v, b"") => {
                return Err(DocumentError::Invalid {
                    field: "rotation.authorizationServerId".into(),
                    reason: "expected an authorization server id such as default or aus1a2b3c"
                        .into(),
                })
            }
            v => v,
        };
    let realm = coordinate(
        "realm",
        IdpKind::Keycloak,
        "a realm name (letters, digits, '.', '_', '-')",
        |v| is_name(v, b"._-"),
    )?;
    let vendor = match (optional_string(p, "vendor", "rotation.vendor")?, idp) {
        (None, IdpKind::Staged) => return Err(DocumentError::Missing("rotation.vendor".into())),
        (None, _) => None,
        (Some(v), IdpKind::Staged) => {
            Some(crate::upstream::vendors::Vendor::parse(&v).ok_or_else(|| {
                DocumentError::Invalid {
                    field: "rotation.vendor".into(),
                    reason: format!(
                        "unknown vendor {v:?}; supported: {}",
                        crate::upstream::vendors::Vendor::names()
                    ),
                }
            })?)
        }
        (Some(_), _) => {
            return Err(DocumentError::Invalid {
                field: "rotation.vendor".into(),
                reason: "only a staged rotation (rotation.idp \"staged\") names a vendor".into(),
            })
        }
    };
    let cutover = match p.get("cutover") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(wrong("rotation.cutover", "true or false")),
    };
    let token_endpoint = match (
        optional_string(p, "tokenEndpoint", "rotation.tokenEndpoint")?,
        optional_string(p, "issuer", "rotation.issuer")?,
    ) {
        (Some(url), None) => Some(TokenEndpoint::Url(require_http_url(
            url,
            "rotation.tokenEndpoint",
        )?)),
        (None, Some(iss)) => Some(TokenEndpoint::Issuer(require_http_url(
            iss,
            "rotation.issuer",
        )?)),
        (Some(_), Some(_)) => {
            return Err(DocumentError::Invalid {
                field: "rotation.tokenEndpoint".into(),
                reason: "set either tokenEndpoint or issuer, not both".into(),
            })
        }
        (None, None) => None,
    };
    let scopes = match p.get("scopes") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().filter(|s| !s.is_empty()).map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| wrong("rotation.scopes", "an array of non-empty strings"))?,
        Some(_) => return Err(wrong("rotation.scopes", "an array of non-empty strings")),
    };
    let client_auth =
        match optional_string(p, "clientAuthentication", "rotation.clientAuthentication")?
            .as_deref()
        {
            None | Some("client_secret_basic") => ClientAuth::ClientSecretBasic,
            Some("client_secret_post") => ClientAuth::ClientSecretPost,
            Some(_) => {
                return Err(DocumentError::Invalid {
                    field: "rotation.clientAuthentication".into(),
                    reason: "expected \"client_secret_basic\" or \"client_secret_post\"".into(),
                })
            }
        };
    let grace_period = match p.get("gracePeriodHours") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let hours = v
                .as_u64()
                .ok_or_else(|| wrong("rotation.gracePeriodHours", "a whole number of hours"))?;
            if hours > MAX_GRACE_PERIOD_HOURS {
                return Err(DocumentError::Invalid {
                    field: "rotation.gracePeriodHours".into(),
                    reason: format!("at most {MAX_GRACE_PERIOD_HOURS} hours (one year)"),
                });
            }
            Some(Duration::from_secs(hours * 3600))
        }
    };
    let secret_json_key = optional_string(p, "secretJsonKey", "rotation.secretJsonKey")?
        .unwrap_or_else(|| DEFAULT_SECRET_JSON_KEY.to_string());
    if OWNED_KEYS.contains(&secret_json_key.as_str()) {
        return Err(DocumentError::Invalid {
            field: "rotation.secretJsonKey".into(),
            reason: format!("{secret_json_key:?} is reserved for the rotator's own fields"),
        });
    }
    Ok(RotationProfile {
        idp,
        user_pool_id,
        token_endpoint,
        scopes,
        client_auth,
        grace_period,
        secret_json_key,
        tenant_id,
        app_id,
        authorization_server_id,
        realm,
        cutover,
        vendor,
    })
}

const SUPPORTED_IDPS: &str =
    "supported: \"cognito\", \"entra\", \"okta\", \"keycloak\", \"staged\"";

/// An IdP coordinate that ends up in a URL path: ASCII letters and digits plus `extra`, at
/// most 128 characters, not starting with punctuation (so never `..`, `/` or `?`).
pub(crate) fn is_name(v: &str, extra: &[u8]) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.as_bytes()[0].is_ascii_alphanumeric()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, hex digits.
pub(crate) fn is_guid(v: &str) -> bool {
    v.len() == 36
        && v.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

fn require_http_url(url: String, field: &str) -> Result<String, DocumentError> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(url)
    } else {
        Err(DocumentError::Invalid {
            field: field.to_string(),
            reason: "expected an http(s) URL".into(),
        })
    }
}

/// The Region encoded in a Cognito user pool id (`us-east-1_AbC123` → `us-east-1`).
pub fn cognito_region(user_pool_id: &str) -> Option<&str> {
    let (region, rest) = user_pool_id.split_once('_')?;
    let valid = !rest.is_empty()
        && region.split('-').count() >= 3
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    valid.then_some(region)
}

/// Seconds since the epoch, for `rotationState.createdAt`.
pub fn epoch_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: Value) -> Result<SecretDocument, DocumentError> {
        SecretDocument::parse(Some(&SecretString::new(v.to_string())))
    }

    fn valid() -> Value {
        json!({
            "clientId": "abc123",
            "clientSecret": "s3cr3t-value",
            "clientSecretId": "csid-1",
            "owner": "team-payments",
            "rotation": {
                "idp": "cognito",
                "userPoolId": "us-east-1_AbC123",
                "tokenEndpoint": "https://auth.example.com/oauth2/token",
                "scopes": ["api/read"],
                "gracePeriodHours": 2
            }
        })
    }

    #[test]
    fn parses_a_complete_document() {
        let d = doc(valid()).unwrap();
        assert_eq!(d.client_id, "abc123");
        assert_eq!(d.client_secret.expose(), "s3cr3t-value");
        assert_eq!(d.client_secret_id.as_deref(), Some("csid-1"));
        assert_eq!(d.profile.grace_period, Some(Duration::from_secs(7200)));
        assert_eq!(d.profile.client_auth, ClientAuth::ClientSecretBasic);
        assert_eq!(d.profile.secret_json_key, "clientSecret");
        assert!(d.state.is_none());
    }

    #[test]
    fn next_version_keeps_foreign_keys_and_order() {
        let d = doc(valid()).unwrap();
        let next = d.next_version(
            SecretString::new("new-value"),
            None,
            RotationState {
                upstream_ids_before: vec!["csid-1".into()],
                created_at: 42,
                supersedes: Some(Supersedes {
                    version_id: "v-1".into(),
                    upstream_id: Some("csid-1".into()),
                }),
                leftover_upstream_ids: vec!["csid-0".into()],
            },
        );
        let v: Value = serde_json::from_str(next.to_secret_string().expose()).unwrap();
        assert_eq!(v["owner"], "team-payments");
        assert_eq!(v["clientSecret"], "new-value");
        assert_eq!(v["clientSecretId"], Value::Null);
        assert_eq!(v["rotationState"]["upstreamIdsBefore"], json!(["csid-1"]));
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            &keys[..5],
            [
                "clientId",
                "clientSecret",
                "clientSecretId",
                "owner",
                "rotation"
            ]
        );
        assert_eq!(
            v["rotationState"]["supersedes"],
            json!({"versionId": "v-1", "upstreamId": "csid-1"})
        );
        let reparsed = doc(v).unwrap().state.unwrap();
        assert_eq!(reparsed.created_at, 42);
        assert_eq!(
            reparsed.supersedes.unwrap().upstream_id.as_deref(),
            Some("csid-1")
        );
        assert_eq!(reparsed.leftover_upstream_ids, ["csid-0"]);
    }

    #[test]
    fn custom_secret_json_key_is_used() {
        let mut v = valid();
        v["rotation"]["secretJsonKey"] = json!("client_secret");
        v.as_object_mut().unwrap().remove("clientSecret");
        v["client_secret"] = json!("other");
        let d = doc(v).unwrap();
        assert_eq!(d.client_secret.expose(), "other");
    }

    #[test]
    fn binary_and_non_json_and_non_object_are_rejected() {
        assert_eq!(
            SecretDocument::parse(None).unwrap_err(),
            DocumentError::Binary
        );
        let e = SecretDocument::parse(Some(&SecretString::new("hunter2 plain"))).unwrap_err();
        assert!(matches!(e, DocumentError::NotJson(_)));
        assert!(!e.to_string().contains("hunter2"));
        assert_eq!(doc(json!(["a"])).unwrap_err(), DocumentError::NotObject);
    }

    #[test]
    fn each_missing_field_is_named() {
        for (path, remove) in [
            ("clientId", vec!["clientId"]),
            ("clientSecret", vec!["clientSecret"]),
            ("rotation", vec!["rotation"]),
        ] {
            let mut v = valid();
            for k in remove {
                v.as_object_mut().unwrap().remove(k);
            }
            assert_eq!(doc(v).unwrap_err(), DocumentError::Missing(path.into()));
        }
        for (field, path) in [
            ("userPoolId", "rotation.userPoolId"),
            ("idp", "rotation.idp"),
        ] {
            let mut v = valid();
            v["rotation"].as_object_mut().unwrap().remove(field);
            assert_eq!(doc(v).unwrap_err(), DocumentError::Missing(path.into()));
        }
    }

    #[test]
    fn wrongly_typed_fields_are_named() {
        let cases = [
            (json!({"clientId": 7}), "clientId"),
            (json!({"clientSecret": ""}), "clientSecret"),
            (json!({"clientSecretId": 3}), "clientSecretId"),
            (json!({"rotation": "cognito"}), "rotation"),
        ];
        for (patch, field) in cases {
            let mut v = valid();
            for (k, val) in patch.as_object().unwrap() {
                v[k] = val.clone();
            }
            let err = doc(v).unwrap_err();
            assert!(
                matches!(&err, DocumentError::WrongType { field: f, .. } if f == field),
                "{field}: {err}"
            );
        }
        let mut v = valid();
        v["rotation"]["gracePeriodHours"] = json!("two");
        assert!(doc(v)
            .unwrap_err()
            .to_string()
            .contains("rotation.gracePeriodHours"));
        let mut v = valid();
        v["rotation"]["scopes"] = json!("api/read");
        assert!(doc(v).unwrap_err().to_string().contains("rotation.scopes"));
    }

    #[test]
    fn invalid_values_are_explained() {
        let mut v = valid();
        v["rotation"]["idp"] = json!("auth0");
        assert!(doc(v).unwrap_err().to_string().contains("not supported"));
        let mut v = valid();
        v["rotation"]["idp"] = json!("okta");
        assert!(doc(v).unwrap_err().to_string().contains("rotation.appId"));
        // Coordinates end up in URL paths: nothing but names.
        for (idp, key, bad) in [
            ("okta", "appId", "0oa1/../../users"),
            ("okta", "appId", "0oa1?x=1"),
            ("keycloak", "realm", "../master"),
            ("keycloak", "realm", "a/b"),
            ("entra", "tenantId", "common"),
            ("entra", "tenantId", "evil.com/x"),
        ] {
            let mut v = valid();
            v["rotation"]["idp"] = json!(idp);
            v["rotation"][key] = json!(bad);
            let err = doc(v).unwrap_err().to_string();
            assert!(
                err.contains(&format!("rotation.{key}")),
                "{idp} {bad}: {err}"
            );
        }
        let mut v = valid();
        v["rotation"]["idp"] = json!("okta");
        v["rotation"]["appId"] = json!("0oa1b2c3d4");
        let d = doc(v).unwrap();
        assert_eq!(d.coordinates(), format!("okta:0oa1b2c3d4/{}", d.client_id));
        let mut v = valid();
        v["rotation"]["userPoolId"] = json!("nope");
        assert!(doc(v)
            .unwrap_err()
            .to_string()
            .contains("rotation.userPoolId"));
        let mut v = valid();
        v["rotation"]["clientAuthentication"] = json!("private_key_jwt");
        assert!(doc(v)
            .unwrap_err()
            .to_string()
            .contains("clientAuthentication"));
        let mut v = valid();
        v["rotation"]["secretJsonKey"] = json!("clientId");
        assert!(doc(v).unwrap_err().to_string().contains("reserved"));
        let mut v = valid();
        v["rotation"]["issuer"] = json!("https://issuer.example.com");
        assert!(doc(v).unwrap_err().to_string().contains("not both"));
    }

    #[test]
    fn a_staged_document_names_a_known_vendor_and_a_custom_one_its_endpoint() {
        let staged = |vendor: &str, endpoint: Option<&str>| {
            let mut v = valid();
            v["rotation"]["idp"] = json!("staged");
            v["rotation"]["vendor"] = json!(vendor);
            let r = v["rotation"].as_object_mut().unwrap();
            r.remove("tokenEndpoint");
            if let Some(e) = endpoint {
                r.insert("tokenEndpoint".into(), json!(e));
            }
            doc(v)
        };
        let d = staged("google", None).unwrap();
        assert_eq!(d.coordinates(), format!("staged:google/{}", d.client_id));
        let err = staged("okta", None).unwrap_err().to_string();
        assert!(
            err.contains("rotation.vendor") && err.contains("custom"),
            "{err}"
        );
        let err = staged("custom", None).unwrap_err().to_string();
        assert!(err.contains("rotation.tokenEndpoint"), "{err}");
        assert!(staged("custom", Some("https://idp.example.com/token")).is_ok());
        let mut v = valid();
        v["rotation"]["vendor"] = json!("google");
        assert!(doc(v)
            .unwrap_err()
            .to_string()
            .contains("only a staged rotation"));
    }

    #[test]
    fn an_entra_document_names_a_guid_client_and_a_scope() {
        let entra = |client: &str, scopes: Value| {
            let mut v = valid();
            v["clientId"] = json!(client);
            v["rotation"]["idp"] = json!("entra");
            v["rotation"]["tenantId"] = json!("contoso.onmicrosoft.com");
            v["rotation"]["scopes"] = scopes;
            doc(v)
        };
        let guid = "11111111-2222-3333-4444-555555555555";
        let d = entra(guid, json!(["https://graph.microsoft.com/.default"])).unwrap();
        assert_eq!(
            d.coordinates(),
            format!("entra:contoso.onmicrosoft.com/{guid}")
        );
        for bad in [
            "abc123",
            "11111111-2222-3333-4444-55555555555'",
            "../applications",
        ] {
            let err = entra(bad, json!(["x/.default"])).unwrap_err().to_string();
            assert!(err.contains("clientId") && err.contains("GUID"), "{err}");
        }
        let err = entra(guid, json!([])).unwrap_err().to_string();
        assert!(err.contains("rotation.scopes"), "{err}");
    }

    #[test]
    fn the_token_endpoint_is_optional_and_the_coordinates_name_pool_and_client() {
        let mut v = valid();
        v["rotation"]
            .as_object_mut()
            .unwrap()
            .remove("tokenEndpoint");
        let d = doc(v).unwrap();
        assert_eq!(d.profile.token_endpoint, None);
        assert_eq!(d.coordinates(), "cognito:us-east-1_AbC123/abc123");
    }

    #[test]
    fn a_grace_period_beyond_a_year_or_that_would_overflow_is_refused() {
        for hours in [json!(MAX_GRACE_PERIOD_HOURS + 1), json!(u64::MAX)] {
            let mut v = valid();
            v["rotation"]["gracePeriodHours"] = hours;
            let err = doc(v).unwrap_err().to_string();
            assert!(
                err.contains("rotation.gracePeriodHours") && err.contains("at most"),
                "{err}"
            );
        }
        let mut v = valid();
        v["rotation"]["gracePeriodHours"] = json!(MAX_GRACE_PERIOD_HOURS);
        assert!(doc(v).is_ok());
    }

    #[test]
    fn debug_shows_keys_but_no_value_of_any_key() {
        let mut v = valid();
        v["apiKey"] = json!("api-key-value-secret");
        let text = format!("{:?}", doc(v).unwrap());
        assert!(text.contains("apiKey") && text.contains("abc123"), "{text}");
        assert!(
            !text.contains("s3cr3t-value") && !text.contains("api-key-value-secret"),
            "{text}"
        );
    }

    #[test]
    fn errors_never_contain_the_secret() {
        let mut v = valid();
        v["clientId"] = json!(["s3cr3t-value"]);
        assert!(!doc(v).unwrap_err().to_string().contains("s3cr3t-value"));
    }

    #[test]
    fn cognito_region_comes_from_the_pool_id() {
        assert_eq!(cognito_region("eu-west-2_AbC"), Some("eu-west-2"));
        assert_eq!(cognito_region("AbC"), None);
        assert_eq!(cognito_region("us-east-1_"), None);
    }
}
