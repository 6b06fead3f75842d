//! Keycloak simulator: the client-secret part of the Admin REST API (so the official
//! `@keycloak/keycloak-admin-client` runs unchanged against it), the realm token endpoint for
//! `client_credentials`, and realm OIDC discovery. Paths are Keycloak ≥ 17's (no `/auth`):
//! realms at `{base}/realms/{realm}`, the admin API at `{base}/admin/realms/{realm}`.
//!
//! Contract followed (Keycloak 26.x `ClientResource`, `ClientSecretRotationExecutor`,
//! `OIDCClientSecretConfigWrapper`, `KeycloakErrorHandler`, and responses measured on 26.7.1):
//! - `GET …/clients?clientId=X` → array of ClientRepresentation (`id` is the client's UUID; the
//!   `secret` and, when present, the rotation attributes `client.secret.creation.time`,
//!   `client.secret.expiration.time`, `client.secret.rotated`, `client.secret.rotated.creation.time`,
//!   `client.secret.rotated.expiration.time` (epoch seconds as strings); a caller without
//!   `manage-clients` sees `**********` for both secret values).
//! - `GET`/`PUT …/clients/{uuid}`; PUT (204) replaces the secret in place when `secret` is given
//!   (no overlap: the old value stops working at once, with or without the rotation policy).
//! - `GET …/clients/{uuid}/client-secret` and `POST` (regenerate: 32 alphanumerics chosen by the
//!   server) answer a CredentialRepresentation `{"type":"secret","value":…}`.
//! - `GET …/client-secret/rotated` (404 `Client does not have a rotated secret` when none; an
//!   expired one is still returned, as Keycloak only checks the attribute) and `DELETE` (204,
//!   idempotent).
//! - Without the `secret-rotation` client policy a regenerate replaces the secret at once and drops
//!   any rotated one. With it, the previous secret becomes the rotated secret, valid at the token
//!   endpoint until its expiry; a later regenerate replaces the rotated one (a rotated expiration
//!   of zero keeps none).
//! - Errors as Keycloak sends them: 401 `{"error":"HTTP 401 Unauthorized"}` (no or bad bearer),
//!   403 `{"error":"HTTP 403 Forbidden"}` (a role is missing), 404 `{"error":"Realm not found."}`,
//!   404 `{"error":"Could not find client"}` (403 instead when the caller may not list clients),
//!   400 `{"error":"invalid_request","error_description":"Cannot parse the JSON"}`. One Keycloak
//!   defect is reproduced on purpose: `DELETE …/client-secret/rotated` by a caller without
//!   `manage-clients` answers 500 `unknown_error` (its error handler dereferences a null cause).
//! - Token endpoint: grant checks first (400 `invalid_request` "Missing form parameter:
//!   grant_type", 400 `unsupported_grant_type`), then client authentication: HTTP Basic with
//!   RFC 6749 §2.3.1 form-decoding, or `client_secret_post` (form values win over Basic); unknown
//!   client → 401 `invalid_client`, wrong secret → 401 `unauthorized_client`, both with
//!   "Invalid client or Invalid client credentials". Admin clients authenticate with a signed JWT
//!   (RFC 7523, Keycloak's "Signed JWT" authenticator): `sub` names the client and must equal
//!   `iss`, one audience among the realm issuer, token, introspection, PAR and CIBA endpoints,
//!   `iat` at most 60 s old and at most 15 s ahead, a fresh `jti`; a failure is 400 `invalid_client`
//!   "Client authentication with signed JWT failed: …", and nothing is issued.
//!
//! Admin bearer tokens are opaque (Keycloak issues JWTs; the admin client library only decodes a
//! token that has dots, so an opaque one is never treated as expired on the client side). Secrets
//! are never logged.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::idp::assertion::{self, Expect, ReplayGuard};
use crate::idp::common::{
    basic_credentials, bind_loopback, epoch_secs, json_response, now_secs, random_alphanumeric,
    serve_in_background,
};

/// `client_assertion_type` of RFC 7523 client authentication.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// What Keycloak shows a caller that may view a client but not manage it, instead of a secret.
pub const MASKED: &str = "**********";
/// Keycloak's default access-token lifespan for a new realm (seconds).
const DEFAULT_TOKEN_LIFESPAN: Duration = Duration::from_secs(300);
/// The `secret-rotation` executor's default "Secret Expiration" (29 days).
const DEFAULT_SECRET_EXPIRATION: Duration = Duration::from_secs(29 * 24 * 3600);
/// "Max expiration" of a signed-JWT client assertion (Keycloak's default) and the clock skew it
/// tolerates around `iat`.
const ASSERTION_MAX_AGE_SECS: i64 = 60;
const ASSERTION_SKEW_SECS: i64 = 15;
const INVALID_CLIENT_DESCRIPTION: &str = "Invalid client or Invalid client credentials";

/// Operation names counted by [`KeycloakSim::calls`].
pub mod ops {
    pub const FIND_CLIENTS: &str = "clients.find";
    pub const GET_CLIENT: &str = "clients.get";
    pub const UPDATE_CLIENT: &str = "clients.update";
    pub const GET_SECRET: &str = "client-secret.get";
    pub const REGENERATE_SECRET: &str = "client-secret.regenerate";
    pub const GET_ROTATED: &str = "client-secret.rotated.get";
    pub const DELETE_ROTATED: &str = "client-secret.rotated.delete";
    pub const TOKEN: &str = "token";
    pub const DISCOVERY: &str = "discovery";
}

/// Faults and delays the tests can switch on.
struct Knobs {
    /// A new secret is accepted at the token endpoint only after this long.
    propagation_delay: Duration,
    /// Lifespan of the access tokens the token endpoint and the test helpers issue.
    token_lifespan: Duration,
    /// Status codes the next token requests answer with, in order (429 carries `Retry-After`).
    token_faults: VecDeque<u16>,
    /// Status codes the next admin API calls answer with, in order.
    admin_faults: VecDeque<u16>,
    /// How far the server's clock runs ahead when it checks client assertions.
    clock_ahead: Duration,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            propagation_delay: Duration::ZERO,
            token_lifespan: DEFAULT_TOKEN_LIFESPAN,
            token_faults: VecDeque::new(),
            admin_faults: VecDeque::new(),
            clock_ahead: Duration::ZERO,
        }
    }
}

/// The client's `secret-rotation` client policy (executor configuration).
#[derive(Clone, Copy)]
struct RotationPolicy {
    expiration: Duration,
    rotated_expiration: Duration,
}

struct Secret {
    value: String,
    usable_at: Instant,
}

struct Rotated {
    value: String,
    usable_at: Instant,
    created: SystemTime,
    expires: SystemTime,
}

enum Auth {
    /// "Client Id and Secret": the clients whose secrets are rotated.
    Secret {
        secret: Secret,
        created: SystemTime,
        /// Set while the rotation policy applies (`client.secret.expiration.time`).
        expires: Option<SystemTime>,
        rotated: Option<Rotated>,
        policy: Option<RotationPolicy>,
    },
    /// "Signed JWT": an admin client whose service account holds realm-management roles.
    Jwt {
        keys: Vec<Value>,
        roles: Vec<String>,
    },
}

struct Client {
    uuid: String,
    client_id: String,
    auth: Auth,
}

#[derive(Default)]
struct Realm {
    clients: Vec<Client>,
}

impl Realm {
    fn by_client_id(&mut self, client_id: &str) -> Option<&mut Client> {
        self.clients.iter_mut().find(|c| c.client_id == client_id)
    }
}

struct IssuedToken {
    /// `None`: a master-realm administrator, good for every realm.
    realm: Option<String>,
    roles: Vec<String>,
    expires_at: Instant,
}

#[derive(Default)]
struct Sim {
    realms: HashMap<String, Realm>,
    tokens: HashMap<String, IssuedToken>,
    replay: ReplayGuard,
    knobs: Knobs,
    calls: HashMap<String, u32>,
    admin_tokens_issued: u32,
}

type Shared = Arc<Mutex<Sim>>;

/// A running simulator on an ephemeral loopback port, served from its own thread.
pub struct KeycloakSim {
    base: String,
    state: Shared,
}

/// A secret as Keycloak generates one for a "Client Id and Secret" client: 32 alphanumerics.
fn generated_secret() -> String {
    random_alphanumeric(32)
}

fn opaque_token(prefix: &str) -> String {
    format!("{prefix}{}", random_alphanumeric(40))
}

/// Keycloak's admin-side error: `{"error": <prose>}`.
fn kc_error(status: StatusCode, message: &str) -> Response {
    json_response(status, json!({ "error": message }))
}

/// RFC 6749 error body.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(
        status,
        json!({ "error": error, "error_description": description }),
    )
}

fn server_error() -> Response {
    oauth_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "unknown_error",
        "For more on this error consult the server log.",
    )
}

/// The answer of an injected fault (Keycloak does not rate-limit itself; a proxy in front does).
fn injected_fault(status: u16) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if code == StatusCode::TOO_MANY_REQUESTS {
        let mut r = kc_error(code, "HTTP 429 Too Many Requests");
        r.headers_mut()
            .insert("retry-after", HeaderValue::from_static("1"));
        return r;
    }
    let mut r = server_error();
    *r.status_mut() = code;
    r
}

/// A 200 with `Cache-Control: no-cache`, as Keycloak's `@NoCache` GETs answer.
fn ok_no_cache(body: Value) -> Response {
    with_header(
        json_response(StatusCode::OK, body),
        "cache-control",
        "no-cache",
    )
}

fn with_header(mut r: Response, name: &'static str, value: &'static str) -> Response {
    r.headers_mut()
        .insert(name, HeaderValue::from_static(value));
    r
}

fn form_pairs(body: &str) -> HashMap<String, String> {
    form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

/// The caller's realm-management roles, as they apply to the realm in the path.
struct Caller {
    roles: HashSet<String>,
}

impl Caller {
    fn can_manage(&self) -> bool {
        self.roles.contains("manage-clients") || self.roles.contains("realm-admin")
    }
    fn can_view(&self) -> bool {
        self.can_manage() || self.roles.contains("view-clients")
    }
    fn can_list(&self) -> bool {
        self.can_view() || self.roles.contains("query-clients")
    }
}

impl Sim {
    fn count(&mut self, op: &str) {
        *self.calls.entry(op.to_string()).or_default() += 1;
    }

    fn issue_token(&mut self, realm: Option<&str>, roles: Vec<String>) -> (String, u64) {
        let token = opaque_token("kc-");
        let lifespan = self.knobs.token_lifespan;
        self.tokens.insert(
            token.clone(),
            IssuedToken {
                realm: realm.map(str::to_string),
                roles,
                expires_at: Instant::now() + lifespan,
            },
        );
        (token, lifespan.as_secs())
    }

    /// Counts the call, applies an injected fault, authenticates the bearer (401), finds the realm
    /// (404) and resolves the caller's roles there.
    fn admin_prelude(
        &mut self,
        op: &str,
        headers: &HeaderMap,
        realm: &str,
    ) -> Result<Caller, Refusal> {
        self.count(op);
        if let Some(status) = self.knobs.admin_faults.pop_front() {
            return Err(Refusal::Injected(status));
        }
        let bearer = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let token = bearer
            .and_then(|b| self.tokens.get(b))
            .filter(|t| t.expires_at > Instant::now())
            .ok_or(Refusal::Unauthorized)?;
        let roles = match &token.realm {
            None => token.roles.iter().cloned().collect(),
            Some(r) if r == realm => token.roles.iter().cloned().collect(),
            // A service account of another realm holds no roles on this realm's
            // realm-management client.
            Some(_) => HashSet::new(),
        };
        if !self.realms.contains_key(realm) {
            return Err(Refusal::RealmNotFound);
        }
        Ok(Caller { roles })
    }

    fn client_by_uuid(
        &mut self,
        realm: &str,
        uuid: &str,
        caller: &Caller,
    ) -> Result<&mut Client, Refusal> {
        let realm = self.realms.get_mut(realm).expect("realm checked");
        match realm.clients.iter_mut().find(|c| c.uuid == uuid) {
            Some(c) => Ok(c),
            None if caller.can_list() => Err(Refusal::ClientNotFound),
            None => Err(Refusal::Forbidden),
        }
    }
}

/// Why the admin API refused a call, answered with Keycloak's status and body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// A fault injected by [`KeycloakSim::fail_admin_calls`].
    Injected(u16),
    Unauthorized,
    RealmNotFound,
    ClientNotFound,
    Forbidden,
    BadJson,
    /// What Keycloak answers instead of a 403 on `DELETE …/client-secret/rotated` (its error
    /// handler dereferences the absent cause of the ForbiddenException it caught).
    ForbiddenAsServerError,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Injected(status) => injected_fault(status),
            Refusal::Unauthorized => kc_error(StatusCode::UNAUTHORIZED, "HTTP 401 Unauthorized"),
            Refusal::RealmNotFound => kc_error(StatusCode::NOT_FOUND, "Realm not found."),
            Refusal::ClientNotFound => kc_error(StatusCode::NOT_FOUND, "Could not find client"),
            Refusal::Forbidden => kc_error(StatusCode::FORBIDDEN, "HTTP 403 Forbidden"),
            Refusal::BadJson => oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Cannot parse the JSON",
            ),
            Refusal::ForbiddenAsServerError => server_error(),
        }
    }
}

/// `Ok` when `allowed`, else the refusal.
fn require(allowed: bool, refusal: Refusal) -> Result<(), Refusal> {
    if allowed {
        Ok(())
    } else {
        Err(refusal)
    }
}

type AdminResult = Result<Response, Refusal>;

fn credential(value: &str) -> Value {
    json!({ "type": "secret", "value": value })
}

impl Client {
    /// ClientRepresentation as the admin API returns it.
    fn representation(&self, caller: &Caller) -> Value {
        let manage = caller.can_manage();
        let mut attributes = Map::new();
        let mut rep = json!({
            "id": self.uuid,
            "clientId": self.client_id,
            "name": self.client_id,
            "surrogateAuthRequired": false,
            "enabled": true,
            "alwaysDisplayInConsole": false,
            "redirectUris": [],
            "webOrigins": [],
            "notBefore": 0,
            "bearerOnly": false,
            "consentRequired": false,
            "standardFlowEnabled": false,
            "implicitFlowEnabled": false,
            "directAccessGrantsEnabled": false,
            "serviceAccountsEnabled": true,
            "publicClient": false,
            "frontchannelLogout": true,
            "protocol": "openid-connect",
            "authenticationFlowBindingOverrides": {},
            "fullScopeAllowed": true,
            "nodeReRegistrationTimeout": -1,
            "defaultClientScopes": ["web-origins", "acr", "profile", "roles", "basic", "email"],
            "optionalClientScopes": ["address", "phone", "offline_access", "organization", "microprofile-jwt"],
            "access": { "view": caller.can_view(), "configure": manage, "manage": manage },
        });
        match &self.auth {
            Auth::Secret {
                secret,
                created,
                expires,
                rotated,
                ..
            } => {
                rep["clientAuthenticatorType"] = json!("client-secret");
                rep["secret"] = json!(if manage {
                    secret.value.as_str()
                } else {
                    MASKED
                });
                attributes.insert(
                    "client.secret.creation.time".into(),
                    json!(epoch_secs(*created).to_string()),
                );
                if let Some(e) = expires {
                    attributes.insert(
                        "client.secret.expiration.time".into(),
                        json!(epoch_secs(*e).to_string()),
                    );
                }
                if let Some(r) = rotated {
                    let value = if manage { r.value.as_str() } else { MASKED };
                    attributes.insert("client.secret.rotated".into(), json!(value));
                    attributes.insert(
                        "client.secret.rotated.creation.time".into(),
                        json!(epoch_secs(r.created).to_string()),
                    );
                    attributes.insert(
                        "client.secret.rotated.expiration.time".into(),
                        json!(epoch_secs(r.expires).to_string()),
                    );
                }
            }
            Auth::Jwt { .. } => {
                rep["clientAuthenticatorType"] = json!("client-jwt");
                attributes.insert("token.endpoint.auth.signing.alg".into(), json!(""));
            }
        }
        rep["attributes"] = Value::Object(attributes);
        rep
    }

    /// Regenerates the secret as `POST …/client-secret` does, applying the rotation policy.
    fn regenerate(&mut self, propagation: Duration) -> Option<String> {
        let Auth::Secret {
            secret,
            created,
            expires,
            rotated,
            policy,
        } = &mut self.auth
        else {
            return None;
        };
        let now = SystemTime::now();
        let new = Secret {
            value: generated_secret(),
            usable_at: Instant::now() + propagation,
        };
        let value = new.value.clone();
        let old = std::mem::replace(secret, new);
        *created = now;
        match policy {
            Some(p) => {
                *rotated = (!p.rotated_expiration.is_zero()).then(|| Rotated {
                    value: old.value,
                    usable_at: old.usable_at,
                    created: now,
                    expires: now + p.rotated_expiration,
                });
                *expires = Some(now + p.expiration);
            }
            None => {
                *rotated = None;
                *expires = None;
            }
        }
        Some(value)
    }

    /// The secret-rotation executor's first sight of a client at a token request: it records
    /// `client.secret.expiration.time` when the client has none.
    fn mark_under_policy(&mut self) {
        if let Auth::Secret {
            expires,
            policy: Some(p),
            ..
        } = &mut self.auth
        {
            if expires.is_none() {
                *expires = Some(SystemTime::now() + p.expiration);
            }
        }
    }

    /// Sets the secret in place as `PUT …/clients/{uuid}` with a `secret` does: no overlap; the
    /// rotation info survives only under the policy.
    fn set_secret(&mut self, value: &str, propagation: Duration) {
        if let Auth::Secret {
            secret,
            created,
            expires,
            rotated,
            policy,
        } = &mut self.auth
        {
            if secret.value != value {
                *secret = Secret {
                    value: value.to_string(),
                    usable_at: Instant::now() + propagation,
                };
                *created = SystemTime::now();
            }
            if policy.is_none() {
                *rotated = None;
                *expires = None;
            }
        }
    }

    /// Would the "Client Id and Secret" authenticator accept `candidate` now?
    fn secret_accepted(&self, candidate: &str) -> bool {
        let Auth::Secret {
            secret,
            expires,
            rotated,
            ..
        } = &self.auth
        else {
            return false;
        };
        let now = Instant::now();
        let current = secret.value == candidate && secret.usable_at <= now;
        let via_rotated = rotated.as_ref().is_some_and(|r| {
            r.value == candidate && r.usable_at <= now && r.expires > SystemTime::now()
        });
        let main_expired = expires.is_some_and(|e| e <= SystemTime::now());
        (current || via_rotated) && !main_expired
    }
}

fn secret_client(client_id: &str, value: String) -> Client {
    Client {
        uuid: uuid::Uuid::new_v4().to_string(),
        client_id: client_id.to_string(),
        auth: Auth::Secret {
            secret: Secret {
                value,
                usable_at: Instant::now(),
            },
            created: SystemTime::now(),
            expires: None,
            rotated: None,
            policy: None,
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Admin REST API

type AdminPath = Path<(String, String)>;

async fn find_clients(
    Path(realm): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    State(state): State<Shared>,
    headers: HeaderMap,
) -> AdminResult {
    let mut sim = state.lock().unwrap();
    let caller = sim.admin_prelude(ops::FIND_CLIENTS, &headers, &realm)?;
    require(caller.can_list(), Refusal::Forbidden)?;
    let search = query.get("search").is_some_and(|v| v == "true");
    let wanted = query.get("clientId").filter(|v| !v.is_empty());
    let first: usize = query.get("first").and_then(|v| v.parse().ok()).unwrap_or(0);
    let max: usize = query.get("max").and_then(|v| v.parse().ok()).unwrap_or(100);
    let list: Vec<Value> = sim.realms[&realm]
        .clients
        .iter()
        .filter(|c| match wanted {
            None => true,
            Some(w) if search => c.client_id.to_lowercase().contains(&w.to_lowercase()),
            Some(w) => &c.client_id == w,
        })
        .skip(first)
        .take(max)
        .map(|c| c.representation(&caller))
        .collect();
    Ok(ok_no_cache(Value::Array(list)))
}

async fn get_client(
    Path((realm, uuid)): AdminPath,
    State(state): State<Shared>,
    headers: HeaderMap,
) -> AdminResult {
    let mut sim = state.lock().unwrap();
    let caller = sim.admin_prelude(ops::GET_CLIENT, &headers, &realm)?;
    let client = sim.client_by_uuid(&realm, &uuid, &caller)?;
    require(caller.can_view(), Refusal::Forbidden)?;
    Ok(ok_no_cache(client.representation(&caller)))
}

async fn update_client(
    Path((realm, uuid)): AdminPath,
    State(state): State<Shared>,
    headers: HeaderMap,
    body: String,
) -> AdminResult {
    let mut sim = state.lock().unwrap();
    let caller = sim.admin_prelude(ops::UPDATE_CLIENT, &headers, &realm)?;
    let delay = sim.knobs.propagation_delay;
    let client = sim.client_by_uuid(&realm, &uuid, &caller)?;
    require(caller.can_manage(), Refusal::Forbidden)?;
    let rep: Value = serde_json::from_str(&body).map_err(|_| Refusal::BadJson)?;
    // Only the secret is simulated; the other fields of the representation are accepted and
    // ignored.
    if let Some(secret) = rep.get("secret").and_then(Value::as_str) {
        client.set_secret(secret, delay);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn get_secret(
    Path((realm, uuid)): AdminPath,
    State(state): State<Shared>,
    headers: HeaderMap,
) -> AdminResult {
    let mut sim = state.lock().unwrap();
    let caller = sim.admin_prelude(ops::GET_SECRET, &headers, &realm)?;
    let client = sim.client_by_uuid(&realm, &uuid, &caller)?;
    require(caller.can_manage(), Refusal::Forbidden)?;
    let body = match &client.auth {
        Auth::Secret { secret, .. } => credential(&secret.value),
        // A client without a secret: the representation has no value.
        Auth::Jwt { .. } => json!({ "type": "secret" }),
    };
    Ok(ok_no_cache(body))
}

async fn regenerate_secret(
    Path((realm, uuid)): AdminPath,
    State(state): State<Shared>,
    headers: HeaderMap,
) -> AdminResult {
    let mut sim = state.lock().unwrap();
    let caller = sim.admin_prelude(ops::REGENERATE_SECRET, &headers, &realm)?;
    let delay = sim.knobs.propagation_delay;
    let client = sim.client_by_uuid(&realm, &uuid, &caller)?;
    require(caller.can_manage(), Refusal::Forbidden)?;
    Ok(match client.regenerate(delay) {
        Some(value) => json_response(StatusCode::OK, credential(&value)),
        None => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "this simulator regenerates secrets of client-secret clients only",
        ),
    })
}

async fn get_rotated(
    Path((realm, uuid)): AdminPath,
    State(state): State<Shared>,
    headers: HeaderMap,
) -> AdminResult {
    let mut sim = state.lock().unwrap();
    let caller = sim.admin_prelude(ops::GET_ROTATED, &headers, &realm)?;
    let client = sim.client_by_uuid(&realm, &uuid, &caller)?;
    require(caller.can_manage(), Refusal::Forbidden)?;
    Ok(match &client.auth {
        Auth::Secret {
            rotated: Some(r), ..
        } => ok_no_cache(credential(&r.value)),
        // Present means present: an expired rotated secret is still returned.
        _ => kc_error(
            StatusCode::NOT_FOUND,
            "Client does not have a rotated secret",
        ),
    })
}

async fn delete_rotated(
    Path((realm, uuid)): AdminPath,
    State(state): State<Shared>,
    headers: HeaderMap,
) -> AdminResult {
    let mut sim = state.lock().unwrap();
    let caller = sim.admin_prelude(ops::DELETE_ROTATED, &headers, &realm)?;
    let client = sim.client_by_uuid(&realm, &uuid, &caller)?;
    require(caller.can_manage(), Refusal::ForbiddenAsServerError)?;
    if let Auth::Secret { rotated, .. } = &mut client.auth {
        *rotated = None;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn admin_not_found() -> Response {
    kc_error(StatusCode::NOT_FOUND, "HTTP 404 Not Found")
}

// ---------------------------------------------------------------------------------------------
// Token endpoint and discovery

fn issuer_of(base: &str, realm: &str) -> String {
    format!("{base}/realms/{realm}")
}

/// The audiences Keycloak's "Signed JWT" authenticator accepts.
fn assertion_audiences(base: &str, realm: &str) -> Vec<String> {
    let issuer = issuer_of(base, realm);
    vec![
        issuer.clone(),
        format!("{issuer}/protocol/openid-connect/token"),
        format!("{issuer}/protocol/openid-connect/token/introspect"),
        format!("{issuer}/protocol/openid-connect/ext/par/request"),
        format!("{issuer}/protocol/openid-connect/ext/ciba/auth"),
    ]
}

fn token_response(token: &str, expires_in: u64) -> Response {
    let body = json!({
        "access_token": token,
        "expires_in": expires_in,
        "refresh_expires_in": 0,
        "token_type": "Bearer",
        "not-before-policy": 0,
        "scope": "profile email",
    });
    let r = json_response(StatusCode::OK, body);
    with_header(
        with_header(r, "cache-control", "no-store"),
        "pragma",
        "no-cache",
    )
}

fn signed_jwt_failure(reason: &str) -> Response {
    oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_client",
        &format!("Client authentication with signed JWT failed: {reason}"),
    )
}

/// Claims of a compact JWS, read without verifying it (to find the client, as Keycloak does).
fn unverified_claims(jwt: &str) -> Option<Value> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The checks of Keycloak's assertion validator that the shared verifier does not make (or makes
/// more loosely): one audience only, and the assertion's age against "Max expiration".
fn keycloak_assertion_rules(claims: &Value, now: i64) -> Result<(), String> {
    if claims
        .get("aud")
        .and_then(Value::as_array)
        .is_some_and(|a| a.len() > 1)
    {
        return Err("Multiple audiences not allowed".into());
    }
    match claims.get("iat").and_then(Value::as_i64) {
        Some(iat) if iat > now + ASSERTION_SKEW_SECS => {
            Err("Token was issued in the future".into())
        }
        Some(iat) if now > iat + ASSERTION_MAX_AGE_SECS + ASSERTION_SKEW_SECS => {
            Err("Token was issued too far in the past to be used now".into())
        }
        Some(_) => Ok(()),
        // Without iat, Keycloak bounds the remaining lifetime by "Max expiration" instead (the
        // wording of this message is the simulator's).
        None => match claims.get("exp").and_then(Value::as_i64) {
            Some(exp) if exp - now > ASSERTION_MAX_AGE_SECS + ASSERTION_SKEW_SECS => {
                Err("Token expiration is beyond the client's max expiration".into())
            }
            _ => Ok(()),
        },
    }
}

fn authenticate_assertion(
    sim: &mut Sim,
    base: &str,
    realm: &str,
    form: &HashMap<String, String>,
) -> Response {
    let assertion_type = form
        .get("client_assertion_type")
        .map(String::as_str)
        .unwrap_or("");
    if assertion_type != JWT_BEARER {
        return signed_jwt_failure(&format!(
            "Parameter client_assertion_type has value '{assertion_type}' but expected is '{JWT_BEARER}'"
        ));
    }
    let Some(jwt) = form.get("client_assertion") else {
        return signed_jwt_failure("client_assertion parameter missing");
    };
    let Some(claims) = unverified_claims(jwt) else {
        return signed_jwt_failure("Token is not a valid JWS");
    };
    let Some(sub) = claims
        .get("sub")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return signed_jwt_failure("Token sub claim is required");
    };
    let unknown = || {
        oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            INVALID_CLIENT_DESCRIPTION,
        )
    };
    let Some(client) = sim.realms.get_mut(realm).and_then(|r| r.by_client_id(&sub)) else {
        return unknown();
    };
    let Auth::Jwt { keys, roles } = &client.auth else {
        // The client's authenticator is not "Signed JWT": the assertion authenticates nothing.
        return unknown();
    };
    // An assertion whose iss differs from sub is not the client's own: this authenticator skips
    // it and the flow ends without an authenticated client.
    if claims.get("iss").and_then(Value::as_str) != Some(sub.as_str()) {
        return unknown();
    }
    if form.get("client_id").is_some_and(|id| id != &sub) {
        return signed_jwt_failure("client_id parameter does not match authenticated client");
    }
    let now = now_secs() + sim.knobs.clock_ahead.as_secs() as i64;
    if let Err(reason) = keycloak_assertion_rules(&claims, now) {
        return signed_jwt_failure(&reason);
    }
    let audiences = assertion_audiences(base, realm);
    let audiences: Vec<&str> = audiences.iter().map(String::as_str).collect();
    let expect = Expect {
        audiences: &audiences,
        issuer: Some(&sub),
        subject: Some(&sub),
    };
    let (keys, roles) = (keys.clone(), roles.clone());
    if let Err(reason) = assertion::verify_at(jwt, &keys, &expect, &sim.replay, now) {
        return signed_jwt_failure(&reason);
    }
    let (token, expires_in) = sim.issue_token(Some(realm), roles);
    sim.admin_tokens_issued += 1;
    token_response(&token, expires_in)
}

async fn token(
    Path(realm): Path<String>,
    State((state, base)): State<(Shared, String)>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let mut sim = state.lock().unwrap();
    sim.count(ops::TOKEN);
    if !sim.realms.contains_key(&realm) {
        return kc_error(StatusCode::NOT_FOUND, "Realm does not exist");
    }
    if let Some(status) = sim.knobs.token_faults.pop_front() {
        return injected_fault(status);
    }
    let form = form_pairs(&body);
    match form.get("grant_type").map(String::as_str) {
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Missing form parameter: grant_type",
            )
        }
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Unsupported grant_type",
            )
        }
    }
    if form.contains_key("client_assertion") || form.contains_key("client_assertion_type") {
        return authenticate_assertion(&mut sim, &base, &realm, &form);
    }
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
    let basic = basic_credentials(&headers);
    let (mut client_id, mut secret) = match basic {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (None, None),
    };
    if authorization.is_some() && client_id.is_none() && !form.contains_key("client_id") {
        let mut r = StatusCode::UNAUTHORIZED.into_response();
        if let Ok(v) = HeaderValue::from_str(&format!("Basic realm=\"{realm}\"")) {
            r.headers_mut().insert("www-authenticate", v);
        }
        return r;
    }
    if let Some(id) = form.get("client_id") {
        client_id = Some(id.clone());
    }
    if let Some(s) = form.get("client_secret") {
        secret = Some(s.clone());
    }
    let Some(client_id) = client_id else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "Missing client_id parameter",
        );
    };
    let Some(client) = sim
        .realms
        .get_mut(&realm)
        .and_then(|r| r.by_client_id(&client_id))
    else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            INVALID_CLIENT_DESCRIPTION,
        );
    };
    if matches!(client.auth, Auth::Jwt { .. }) {
        return signed_jwt_failure("Parameter client_assertion_type is missing");
    }
    if !secret.is_some_and(|s| client.secret_accepted(&s)) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            INVALID_CLIENT_DESCRIPTION,
        );
    }
    client.mark_under_policy();
    let (token, expires_in) = sim.issue_token(Some(&realm), Vec::new());
    token_response(&token, expires_in)
}

async fn discovery(
    Path(realm): Path<String>,
    State((state, base)): State<(Shared, String)>,
) -> Response {
    let mut sim = state.lock().unwrap();
    sim.count(ops::DISCOVERY);
    if !sim.realms.contains_key(&realm) {
        return kc_error(StatusCode::NOT_FOUND, "Realm does not exist");
    }
    let issuer = issuer_of(&base, &realm);
    let oidc = format!("{issuer}/protocol/openid-connect");
    json_response(
        StatusCode::OK,
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{oidc}/auth"),
            "token_endpoint": format!("{oidc}/token"),
            "introspection_endpoint": format!("{oidc}/token/introspect"),
            "userinfo_endpoint": format!("{oidc}/userinfo"),
            "end_session_endpoint": format!("{oidc}/logout"),
            "jwks_uri": format!("{oidc}/certs"),
            "grant_types_supported": ["authorization_code", "client_credentials", "implicit", "password", "refresh_token"],
            "response_types_supported": ["code", "none", "id_token", "token", "id_token token", "code id_token", "code token", "code id_token token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic", "client_secret_post", "tls_client_auth", "client_secret_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256", "PS256", "HS256"],
            "scopes_supported": ["openid", "profile", "email", "roles", "web-origins", "acr", "basic", "service_account"],
            "authorization_response_iss_parameter_supported": true,
        }),
    )
}

async fn certs(Path(realm): Path<String>, State((state, _)): State<(Shared, String)>) -> Response {
    if !state.lock().unwrap().realms.contains_key(&realm) {
        return kc_error(StatusCode::NOT_FOUND, "Realm does not exist");
    }
    // Access tokens are opaque here: there is no signing key to publish.
    json_response(StatusCode::OK, json!({ "keys": [] }))
}

// ---------------------------------------------------------------------------------------------
// The handle tests hold

impl KeycloakSim {
    pub fn start() -> KeycloakSim {
        let state: Shared = Arc::default();
        let (listener, base) = bind_loopback();
        let clients = "/admin/realms/{realm}/clients";
        // The admin client asks for the collection with a trailing slash (`…/clients/?clientId=`),
        // which Keycloak serves like the bare path.
        let admin = Router::new()
            .route(clients, get(find_clients))
            .route(&format!("{clients}/"), get(find_clients))
            .route(
                &format!("{clients}/{{id}}"),
                get(get_client).put(update_client),
            )
            .route(
                &format!("{clients}/{{id}}/client-secret"),
                get(get_secret).post(regenerate_secret),
            )
            .route(
                &format!("{clients}/{{id}}/client-secret/rotated"),
                get(get_rotated).delete(delete_rotated),
            )
            .route("/admin/{*rest}", axum::routing::any(admin_not_found))
            .with_state(state.clone());
        let oidc = Router::new()
            .route(
                "/realms/{realm}/.well-known/openid-configuration",
                get(discovery),
            )
            .route("/realms/{realm}/protocol/openid-connect/token", post(token))
            .route("/realms/{realm}/protocol/openid-connect/certs", get(certs))
            .with_state((state.clone(), base.clone()));
        let app = admin.merge(oidc);
        serve_in_background(listener, app, "keycloak simulator");
        KeycloakSim { base, state }
    }

    fn lock(&self) -> MutexGuard<'_, Sim> {
        self.state.lock().unwrap()
    }

    fn with_client<T>(&self, realm: &str, client_id: &str, f: impl FnOnce(&mut Client) -> T) -> T {
        let mut sim = self.lock();
        let client = sim
            .realms
            .get_mut(realm)
            .and_then(|r| r.by_client_id(client_id))
            .unwrap_or_else(|| panic!("no client {client_id} in realm {realm}"));
        f(client)
    }

    /// The server root (`baseUrl` of the admin client; no `/auth` prefix).
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `{base}/realms/{realm}`: the realm's issuer (discovery at `<issuer>/.well-known/openid-configuration`).
    pub fn issuer(&self, realm: &str) -> String {
        issuer_of(&self.base, realm)
    }

    pub fn token_endpoint(&self, realm: &str) -> String {
        format!("{}/protocol/openid-connect/token", self.issuer(realm))
    }

    /// `{base}/admin/realms/{realm}`: the realm's admin API root.
    pub fn admin_url(&self, realm: &str) -> String {
        format!("{}/admin/realms/{realm}", self.base)
    }

    /// Creates the realm if it does not exist yet.
    pub fn create_realm(&self, realm: &str) {
        self.lock().realms.entry(realm.to_string()).or_default();
    }

    /// A confidential "Client Id and Secret" client with a service account, creating the realm if
    /// needed: (its UUID, its generated secret).
    pub fn create_client(&self, realm: &str, client_id: &str) -> (String, String) {
        let mut sim = self.lock();
        let realm = sim.realms.entry(realm.to_string()).or_default();
        assert!(
            realm.by_client_id(client_id).is_none(),
            "client {client_id} already exists"
        );
        let secret = generated_secret();
        let client = secret_client(client_id, secret.clone());
        let uuid = client.uuid.clone();
        realm.clients.push(client);
        (uuid, secret)
    }

    /// A "Signed JWT" admin client verified against `jwk`, whose service account holds `roles`
    /// of the realm's `realm-management` client (e.g. `manage-clients`); creates the realm if
    /// needed. Returns its UUID.
    pub fn register_admin_client(
        &self,
        realm: &str,
        client_id: &str,
        jwk: Value,
        roles: &[&str],
    ) -> String {
        let mut sim = self.lock();
        let realm = sim.realms.entry(realm.to_string()).or_default();
        assert!(
            realm.by_client_id(client_id).is_none(),
            "client {client_id} already exists"
        );
        let uuid = uuid::Uuid::new_v4().to_string();
        realm.clients.push(Client {
            uuid: uuid.clone(),
            client_id: client_id.to_string(),
            auth: Auth::Jwt {
                keys: vec![jwk],
                roles: roles.iter().map(|r| r.to_string()).collect(),
            },
        });
        uuid
    }

    /// Applies a `secret-rotation` client policy to the client, with Keycloak's default "Secret
    /// Expiration" (29 days) and the given "Rotated Secret Expiration".
    pub fn enable_secret_rotation(
        &self,
        realm: &str,
        client_id: &str,
        rotated_expiration: Duration,
    ) {
        self.enable_secret_rotation_with(
            realm,
            client_id,
            DEFAULT_SECRET_EXPIRATION,
            rotated_expiration,
        );
    }

    /// As [`Self::enable_secret_rotation`], with an explicit "Secret Expiration" (the current
    /// secret stops working after it, counted from the next regenerate).
    pub fn enable_secret_rotation_with(
        &self,
        realm: &str,
        client_id: &str,
        expiration: Duration,
        rotated_expiration: Duration,
    ) {
        assert!(
            rotated_expiration <= expiration,
            "Keycloak refuses a rotated expiration longer than the secret expiration"
        );
        self.with_client(realm, client_id, |c| {
            if let Auth::Secret { policy, .. } = &mut c.auth {
                *policy = Some(RotationPolicy {
                    expiration,
                    rotated_expiration,
                });
            }
        });
    }

    /// Removes the policy: the next regenerate drops any rotated secret (one already rotated keeps
    /// working until then or until its expiry, as in Keycloak with the feature still enabled).
    pub fn disable_secret_rotation(&self, realm: &str, client_id: &str) {
        self.with_client(realm, client_id, |c| {
            if let Auth::Secret { policy, .. } = &mut c.auth {
                *policy = None;
            }
        });
    }

    /// A bearer of a master-realm administrator (`manage-clients` in every realm), minted
    /// directly, for tests that drive the admin API without the assertion flow.
    pub fn admin_token_for_tests(&self) -> String {
        self.lock()
            .issue_token(None, vec!["manage-clients".into()])
            .0
    }

    /// A bearer valid in `realm` holding exactly `roles` (e.g. `&[]` or `&["view-clients"]`).
    pub fn admin_token_with_roles(&self, realm: &str, roles: &[&str]) -> String {
        let roles = roles.iter().map(|r| r.to_string()).collect();
        self.lock().issue_token(Some(realm), roles).0
    }

    /// The client's UUID (the `id` of the admin API paths).
    pub fn client_uuid(&self, realm: &str, client_id: &str) -> String {
        self.with_client(realm, client_id, |c| c.uuid.clone())
    }

    /// The `clientId`s of the realm's clients.
    pub fn client_ids(&self, realm: &str) -> Vec<String> {
        self.lock()
            .realms
            .get(realm)
            .map(|r| r.clients.iter().map(|c| c.client_id.clone()).collect())
            .unwrap_or_default()
    }

    pub fn current_secret(&self, realm: &str, client_id: &str) -> String {
        self.with_client(realm, client_id, |c| match &c.auth {
            Auth::Secret { secret, .. } => secret.value.clone(),
            Auth::Jwt { .. } => panic!("{client_id} has no secret"),
        })
    }

    pub fn rotated_secret(&self, realm: &str, client_id: &str) -> Option<String> {
        self.with_client(realm, client_id, |c| match &c.auth {
            Auth::Secret { rotated, .. } => rotated.as_ref().map(|r| r.value.clone()),
            Auth::Jwt { .. } => None,
        })
    }

    /// Regenerates the secret behind the rotator's back (an administrator pressing "Regenerate"),
    /// applying the policy like the API does; returns the new value.
    pub fn regenerate_out_of_band(&self, realm: &str, client_id: &str) -> String {
        self.with_client(realm, client_id, |c| c.regenerate(Duration::ZERO))
            .expect("a client-secret client")
    }

    /// Sets the secret behind the rotator's back, usable at once (PUT semantics: no overlap).
    pub fn set_secret_out_of_band(&self, realm: &str, client_id: &str, value: &str) {
        self.with_client(realm, client_id, |c| c.set_secret(value, Duration::ZERO));
    }

    /// Makes the client's rotated secret expire now (it stays readable, as in Keycloak).
    pub fn expire_rotated_secret(&self, realm: &str, client_id: &str) {
        self.with_client(realm, client_id, |c| {
            if let Auth::Secret {
                rotated: Some(r), ..
            } = &mut c.auth
            {
                r.expires = SystemTime::now();
            }
        });
    }

    /// Runs the server's clock `ahead` when it checks client assertions (they look expired).
    pub fn set_clock_ahead(&self, ahead: Duration) {
        self.lock().knobs.clock_ahead = ahead;
    }

    /// Deletes a client, as an administrator would in the console.
    pub fn delete_client(&self, realm: &str, client_id: &str) {
        let mut sim = self.lock();
        if let Some(r) = sim.realms.get_mut(realm) {
            r.clients.retain(|c| c.client_id != client_id);
        }
    }

    /// Does the token endpoint accept this secret for the client right now (ignoring faults)?
    pub fn accepts(&self, realm: &str, client_id: &str, secret: &str) -> bool {
        let mut sim = self.lock();
        sim.realms
            .get_mut(realm)
            .and_then(|r| r.by_client_id(client_id))
            .is_some_and(|c| c.secret_accepted(secret))
    }

    /// Admin tokens issued by the token endpoint to admin clients (assertions accepted).
    pub fn admin_tokens_issued(&self) -> u32 {
        self.lock().admin_tokens_issued
    }

    /// Expires every access token issued so far (admin and client tokens alike).
    pub fn expire_tokens(&self) {
        let now = Instant::now();
        for t in self.lock().tokens.values_mut() {
            t.expires_at = now;
        }
    }

    pub fn set_propagation_delay(&self, delay: Duration) {
        self.lock().knobs.propagation_delay = delay;
    }

    /// Lifespan of tokens issued from now on (default 300 s, Keycloak's realm default).
    pub fn set_token_lifespan(&self, lifespan: Duration) {
        self.lock().knobs.token_lifespan = lifespan;
    }

    /// The next token requests answer these statuses, in order (429 with `Retry-After: 1`).
    pub fn fail_token_requests(&self, statuses: &[u16]) {
        self.lock().knobs.token_faults.extend(statuses);
    }

    /// The next admin API calls answer these statuses, in order (429 with `Retry-After: 1`).
    pub fn fail_admin_calls(&self, statuses: &[u16]) {
        self.lock().knobs.admin_faults.extend(statuses);
    }

    /// Calls counted per operation (see [`ops`]).
    pub fn calls(&self, operation: &str) -> u32 {
        self.lock().calls.get(operation).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_32_alphanumerics() {
        let s = generated_secret();
        assert_eq!(s.len(), 32);
        assert!(s.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(s, generated_secret());
    }
}
