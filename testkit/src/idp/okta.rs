//! Okta simulator: the app client-secret part of the Management API (so Okta's own Python SDK,
//! `okta` on PyPI, runs unchanged against it), the org authorization server's token endpoint for
//! the rotator's service app (`client_credentials` with `private_key_jwt`), and custom
//! authorization servers' token endpoints and discovery for apps proving their secrets.
//!
//! Contract followed (Okta Management API "Application Client Auth Credentials", the SDK's
//! `ApplicationSSOPublicKeysApi` and `OAuth2ClientSecret` models, the client-secret-rotation guide):
//! - `GET /api/v1/apps/{appId}/credentials/secrets` → `[OAuth2ClientSecret]` (`id` `ocs…`, `status`
//!   ACTIVE/INACTIVE, `client_secret` masked, `secret_hash`, `created`, `lastUpdated`, `_links`).
//! - `POST …/secrets` (body optional `client_secret`, 14–100 printable characters without spaces, and
//!   `status`) → 201 with the value in full, once. At most two secrets per app, ACTIVE or INACTIVE:
//!   a third is 400 E0000001 "You've reached the maximum number of client secrets per client.".
//! - `GET|DELETE …/secrets/{secretId}`; `POST …/{secretId}/lifecycle/activate|deactivate` (200, the
//!   secret). Only an INACTIVE secret can be deleted; the only ACTIVE secret cannot be deactivated
//!   (400 E0000001 each). Deleting an unknown secret is 404 E0000007.
//! - Errors in Okta's shape `{errorCode, errorSummary, errorLink, errorId, errorCauses}`: 401
//!   E0000011 (no or bad token), 403 E0000006 with `WWW-Authenticate: … error="insufficient_scope"`
//!   (a token without the scope: GET needs `okta.apps.read` or `okta.apps.manage`, writes need
//!   `okta.apps.manage`), 404 E0000007, 429 E0000047 with `X-Rate-Limit-Limit/-Remaining/-Reset`.
//! - Admin access: `Authorization: Bearer` tokens from `POST /oauth2/v1/token` (service apps with
//!   `private_key_jwt`: `aud` the org token endpoint, `iss` = `sub` = client id, a fresh `jti`,
//!   verified against the app's registered JWK by [`crate::idp::assertion`]; the scopes asked
//!   must be granted), or `Authorization: SSWS <api token>` from [`OktaSim::api_token`] (the
//!   space optional: Okta's Python SDK 3.x omits it).
//! - Apps prove secrets at `POST /oauth2/{authServerId}/v1/token` (`client_credentials`, Basic
//!   with RFC 6749 form-decoding or `client_secret_post`): any ACTIVE secret, once propagated;
//!   otherwise 401 `invalid_client`. Discovery at `/oauth2/{id}/.well-known/openid-configuration`
//!   and `/.well-known/oauth-authorization-server`.
//!
//! The three lifecycle refusals use the texts of the error examples in Okta's Management OpenAPI
//! spec (summary "Api validation failed: OAuth2ClientSecretMediated"); other texts are the
//! simulator's where Okta documents only the rule. Secrets are never logged.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::idp::assertion::{self, Expect, ReplayGuard};
use crate::idp::common::{
    basic_credentials, bind_loopback, json_response, now_secs, random_alphanumeric, random_from,
    serve_in_background,
};

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Operation names for [`OktaSim::calls`].
pub mod ops {
    pub const LIST_SECRETS: &str = "secrets.list";
    pub const CREATE_SECRET: &str = "secrets.create";
    pub const GET_SECRET: &str = "secrets.get";
    pub const DELETE_SECRET: &str = "secrets.delete";
    pub const ACTIVATE_SECRET: &str = "secrets.activate";
    pub const DEACTIVATE_SECRET: &str = "secrets.deactivate";
    pub const ADMIN_TOKEN: &str = "token.org";
    pub const APP_TOKEN: &str = "token.app";
}

const MAX_SECRETS: usize = 2;
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// Characters of Okta-generated client secrets.
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

#[derive(Clone)]
struct ClientSecret {
    id: String,
    value: String,
    active: bool,
    created: SystemTime,
    updated: SystemTime,
    usable_at: Instant,
}

struct App {
    secrets: Vec<ClientSecret>,
}

struct ServiceApp {
    keys: Vec<Value>,
    scopes: Vec<String>,
}

struct Token {
    scopes: HashSet<String>,
    expires_at: Instant,
}

#[derive(Default)]
struct Knobs {
    propagation_delay: Duration,
    token_lifetime: Option<Duration>,
    admin_faults: VecDeque<u16>,
    token_faults: VecDeque<u16>,
}

#[derive(Default)]
struct Sim {
    apps: HashMap<String, App>,
    auth_servers: HashSet<String>,
    service_apps: HashMap<String, ServiceApp>,
    tokens: HashMap<String, Token>,
    replay: ReplayGuard,
    knobs: Knobs,
    calls: HashMap<String, u32>,
    admin_tokens_issued: u32,
}

type Shared = Arc<Mutex<Sim>>;

/// A running simulator on an ephemeral loopback port, served from its own thread.
pub struct OktaSim {
    base: String,
    state: Shared,
}

/// Okta's timestamps: RFC 3339 with milliseconds.
fn rfc3339(t: SystemTime) -> String {
    let millis = t
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64;
    aws_smithy_types::DateTime::from_millis(millis)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

/// Okta's error body.
fn okta_error(status: StatusCode, code: &str, summary: &str, causes: &[&str]) -> Response {
    json_response(
        status,
        json!({
            "errorCode": code,
            "errorSummary": summary,
            "errorLink": code,
            "errorId": format!("oae{}", random_alphanumeric(22)),
            "errorCauses": causes.iter().map(|c| json!({"errorSummary": c})).collect::<Vec<_>>(),
        }),
    )
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(
        status,
        json!({"error": error, "error_description": description}),
    )
}

enum Refusal {
    Unauthorized,
    Forbidden(&'static str),
    AppNotFound(String),
    SecretNotFound(String),
    Invalid(&'static str),
    /// A secret-lifecycle rule (the cap, the last active secret, deleting an active one).
    Rule(&'static str),
    Injected(u16),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Unauthorized => okta_error(
                StatusCode::UNAUTHORIZED,
                "E0000011",
                "Invalid token provided",
                &[],
            ),
            Refusal::Forbidden(scope) => {
                let mut r = okta_error(
                    StatusCode::FORBIDDEN,
                    "E0000006",
                    "You do not have permission to perform the requested action",
                    &[],
                );
                let value = format!(
                    "Bearer authorization_uri=\"http://okta/oauth2/v1/authorize\", realm=\"http://okta\", scope=\"{scope}\", error=\"insufficient_scope\", error_description=\"The access token provided does not contain the required scopes.\", resource=\"/api/v1/apps\""
                );
                if let Ok(v) = HeaderValue::from_str(&value) {
                    r.headers_mut().insert("www-authenticate", v);
                }
                r
            }
            Refusal::AppNotFound(id) => okta_error(
                StatusCode::NOT_FOUND,
                "E0000007",
                &format!("Not found: Resource not found: {id} (AppInstance)"),
                &[],
            ),
            Refusal::SecretNotFound(id) => okta_error(
                StatusCode::NOT_FOUND,
                "E0000007",
                &format!("Not found: Resource not found: {id} (OAuth2ClientSecret)"),
                &[],
            ),
            Refusal::Invalid(cause) => okta_error(
                StatusCode::BAD_REQUEST,
                "E0000001",
                "Api validation failed: client_secret",
                &[cause],
            ),
            Refusal::Rule(cause) => okta_error(
                StatusCode::BAD_REQUEST,
                "E0000001",
                "Api validation failed: OAuth2ClientSecretMediated",
                &[cause],
            ),
            Refusal::Injected(status) => injected(status),
        }
    }
}

/// An injected fault: 429 as Okta's rate limiter answers, anything else as a bare 5xx.
fn injected(status: u16) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if code == StatusCode::TOO_MANY_REQUESTS {
        let mut r = okta_error(
            code,
            "E0000047",
            "API call exceeded rate limit due to too many requests.",
            &[],
        );
        let reset = (now_secs() + 1).to_string();
        for (name, value) in [
            ("x-rate-limit-limit", "100".to_string()),
            ("x-rate-limit-remaining", "0".to_string()),
            ("x-rate-limit-reset", reset),
        ] {
            if let Ok(v) = HeaderValue::from_str(&value) {
                r.headers_mut().insert(name, v);
            }
        }
        return r;
    }
    okta_error(code, "E0000009", "Internal Server Error", &[])
}

impl Sim {
    fn count(&mut self, op: &str) {
        *self.calls.entry(op.to_string()).or_default() += 1;
    }

    /// Counts, applies a fault, authenticates (SSWS or Bearer) and checks the scope.
    fn admin(&mut self, op: &str, headers: &HeaderMap, write: bool) -> Result<(), Refusal> {
        self.count(op);
        if let Some(status) = self.knobs.admin_faults.pop_front() {
            return Err(Refusal::Injected(status));
        }
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        // Okta's Python SDK 3.x sends `SSWS<token>` without the space in SSWS mode (its generated
        // auth settings concatenate mode and token), and Okta takes it.
        let token = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("SSWS"))
            .map(str::trim)
            .and_then(|t| self.tokens.get(t))
            .filter(|t| t.expires_at > Instant::now())
            .ok_or(Refusal::Unauthorized)?;
        let allowed = if write {
            token.scopes.contains("okta.apps.manage")
        } else {
            token.scopes.contains("okta.apps.manage") || token.scopes.contains("okta.apps.read")
        };
        if !allowed {
            return Err(Refusal::Forbidden(if write {
                "okta.apps.manage"
            } else {
                "okta.apps.read"
            }));
        }
        Ok(())
    }

    fn app(&mut self, app_id: &str) -> Result<&mut App, Refusal> {
        self.apps
            .get_mut(app_id)
            .ok_or_else(|| Refusal::AppNotFound(app_id.to_string()))
    }

    fn issue(&mut self, scopes: HashSet<String>) -> (String, u64) {
        let token = format!("eyOkta.{}", random_alphanumeric(48));
        let lifetime = self.knobs.token_lifetime.unwrap_or(DEFAULT_TOKEN_LIFETIME);
        self.tokens.insert(
            token.clone(),
            Token {
                scopes,
                expires_at: Instant::now() + lifetime,
            },
        );
        (token, lifetime.as_secs())
    }
}

impl App {
    fn secret(&mut self, id: &str) -> Result<&mut ClientSecret, Refusal> {
        self.secrets
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or_else(|| Refusal::SecretNotFound(id.to_string()))
    }

    fn accepts(&self, secret: &str, now: Instant) -> bool {
        self.secrets
            .iter()
            .any(|s| s.active && s.value == secret && s.usable_at <= now)
    }
}

/// OAuth2ClientSecret as Okta returns it; the value in full only when just created.
fn representation(base: &str, app_id: &str, s: &ClientSecret, full: bool) -> Value {
    let masked = if full {
        s.value.clone()
    } else {
        let tail: String = s
            .value
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("******{tail}")
    };
    let hash =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(s.value.as_bytes()));
    let href = format!("{base}/api/v1/apps/{app_id}/credentials/secrets/{}", s.id);
    let lifecycle = if s.active {
        json!({"deactivate": {"href": format!("{href}/lifecycle/deactivate"), "hints": {"allow": ["POST"]}}})
    } else {
        json!({
            "activate": {"href": format!("{href}/lifecycle/activate"), "hints": {"allow": ["POST"]}},
            "delete": {"href": href, "hints": {"allow": ["DELETE"]}},
        })
    };
    let mut links = json!({"self": {"href": href, "hints": {"allow": ["GET"]}}});
    if let (Some(l), Some(extra)) = (links.as_object_mut(), lifecycle.as_object()) {
        l.extend(extra.clone());
    }
    json!({
        "id": s.id,
        "status": if s.active { "ACTIVE" } else { "INACTIVE" },
        "client_secret": masked,
        "secret_hash": hash,
        "created": rfc3339(s.created),
        "lastUpdated": rfc3339(s.updated),
        "_links": links,
    })
}

type AppPath = Path<String>;
type SecretPath = Path<(String, String)>;
type Ctx = State<(Shared, String)>;

async fn list_secrets(
    Path(app_id): AppPath,
    State((state, base)): Ctx,
    headers: HeaderMap,
) -> Response {
    let mut sim = state.lock().unwrap();
    let result = (|| {
        sim.admin(ops::LIST_SECRETS, &headers, false)?;
        let app = sim.app(&app_id)?;
        Ok(json_response(
            StatusCode::OK,
            Value::Array(
                app.secrets
                    .iter()
                    .map(|s| representation(&base, &app_id, s, false))
                    .collect(),
            ),
        ))
    })();
    result.unwrap_or_else(Refusal::into_response)
}

fn valid_secret(v: &str) -> bool {
    (14..=100).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_graphic())
}

async fn create_secret(
    Path(app_id): AppPath,
    State((state, base)): Ctx,
    headers: HeaderMap,
    body: String,
) -> Response {
    let mut sim = state.lock().unwrap();
    let delay = sim.knobs.propagation_delay;
    let result = (|| {
        sim.admin(ops::CREATE_SECRET, &headers, true)?;
        let req: Value = if body.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(&body)
                .map_err(|_| Refusal::Invalid("The request body was not well-formed."))?
        };
        let app = sim.app(&app_id)?;
        if app.secrets.len() >= MAX_SECRETS {
            return Err(Refusal::Rule(
                "You've reached the maximum number of client secrets per client.",
            ));
        }
        let value = match req.get("client_secret") {
            None | Some(Value::Null) => random_from(SECRET_ALPHABET, 64),
            Some(Value::String(v)) if valid_secret(v) => v.clone(),
            Some(_) => {
                return Err(Refusal::Invalid(
                    "client_secret: The client secret must be between 14 and 100 printable characters, without spaces.",
                ))
            }
        };
        let active = match req.get("status").and_then(Value::as_str) {
            None | Some("ACTIVE") => true,
            Some("INACTIVE") => false,
            Some(_) => return Err(Refusal::Invalid("status: Must be ACTIVE or INACTIVE.")),
        };
        let now = SystemTime::now();
        let secret = ClientSecret {
            id: format!("ocs{}", random_alphanumeric(17)),
            value,
            active,
            created: now,
            updated: now,
            usable_at: Instant::now() + delay,
        };
        let rep = representation(&base, &app_id, &secret, true);
        app.secrets.push(secret);
        Ok(json_response(StatusCode::CREATED, rep))
    })();
    result.unwrap_or_else(Refusal::into_response)
}

async fn get_secret(
    Path((app_id, secret_id)): SecretPath,
    State((state, base)): Ctx,
    headers: HeaderMap,
) -> Response {
    let mut sim = state.lock().unwrap();
    let result = (|| {
        sim.admin(ops::GET_SECRET, &headers, false)?;
        let s = sim.app(&app_id)?.secret(&secret_id)?;
        Ok(json_response(
            StatusCode::OK,
            representation(&base, &app_id, s, false),
        ))
    })();
    result.unwrap_or_else(Refusal::into_response)
}

async fn delete_secret(
    Path((app_id, secret_id)): SecretPath,
    State((state, _)): Ctx,
    headers: HeaderMap,
) -> Response {
    let mut sim = state.lock().unwrap();
    let result = (|| {
        sim.admin(ops::DELETE_SECRET, &headers, true)?;
        let app = sim.app(&app_id)?;
        if app.secret(&secret_id)?.active {
            return Err(Refusal::Rule(
                "You can't delete an active client secret. Deactivate the secret before deleting it.",
            ));
        }
        app.secrets.retain(|s| s.id != secret_id);
        Ok(StatusCode::NO_CONTENT.into_response())
    })();
    result.unwrap_or_else(Refusal::into_response)
}

async fn lifecycle(
    Path((app_id, secret_id, action)): Path<(String, String, String)>,
    State((state, base)): Ctx,
    headers: HeaderMap,
) -> Response {
    let mut sim = state.lock().unwrap();
    let delay = sim.knobs.propagation_delay;
    let result = (|| {
        let (op, activate) = match action.as_str() {
            "activate" => (ops::ACTIVATE_SECRET, true),
            "deactivate" => (ops::DEACTIVATE_SECRET, false),
            _ => {
                return Err(Refusal::SecretNotFound(format!(
                    "{secret_id}/lifecycle/{action}"
                )))
            }
        };
        sim.admin(op, &headers, true)?;
        let app = sim.app(&app_id)?;
        let active_count = app.secrets.iter().filter(|s| s.active).count();
        let s = app.secret(&secret_id)?;
        if !activate && s.active && active_count == 1 {
            return Err(Refusal::Rule(
                "You can't deactivate the only active client secret.",
            ));
        }
        if activate && !s.active {
            s.usable_at = Instant::now() + delay;
        }
        s.active = activate;
        s.updated = SystemTime::now();
        let rep = representation(&base, &app_id, s, false);
        Ok(json_response(StatusCode::OK, rep))
    })();
    result.unwrap_or_else(Refusal::into_response)
}

async fn api_not_found(State((state, _)): Ctx) -> Response {
    state.lock().unwrap().count("not-found");
    okta_error(
        StatusCode::NOT_FOUND,
        "E0000022",
        "The endpoint does not support the provided HTTP method",
        &[],
    )
}

fn form_of(body: &str) -> HashMap<String, String> {
    form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

/// The org authorization server: service apps with `private_key_jwt` get okta.* scopes.
async fn org_token(State((state, base)): Ctx, body: String) -> Response {
    let mut sim = state.lock().unwrap();
    sim.count(ops::ADMIN_TOKEN);
    if let Some(status) = sim.knobs.token_faults.pop_front() {
        return injected(status);
    }
    let form = form_of(&body);
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server. Configured grant types: [client_credentials].",
        );
    }
    if form.get("client_assertion_type").map(String::as_str) != Some(JWT_BEARER) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed. Either the client or the client credentials are invalid.",
        );
    }
    let jwt = form.get("client_assertion").cloned().unwrap_or_default();
    let claims = jwt
        .split('.')
        .nth(1)
        .and_then(|c| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(c)
                .ok()
        })
        .and_then(|c| serde_json::from_slice::<Value>(&c).ok())
        .unwrap_or_default();
    let client_id = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let Some(app) = sim.service_apps.get(&client_id) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The client_assertion token has an invalid subject.",
        );
    };
    if form.get("client_id").is_some_and(|id| id != &client_id) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The client_id does not match the client_assertion subject.",
        );
    }
    let (keys, granted) = (app.keys.clone(), app.scopes.clone());
    let audience = format!("{base}/oauth2/v1/token");
    let expect = Expect {
        audiences: &[audience.as_str()],
        issuer: Some(&client_id),
        subject: Some(&client_id),
    };
    if let Err(reason) = assertion::verify(&jwt, &keys, &expect, &sim.replay) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &format!("The client_assertion token is invalid: {reason}"),
        );
    }
    let asked: HashSet<String> = form
        .get("scope")
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    if asked.is_empty() || !asked.iter().all(|s| granted.contains(s)) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "The requested scope is invalid, unknown, or malformed.",
        );
    }
    let scope = asked.iter().cloned().collect::<Vec<_>>().join(" ");
    let (token, expires_in) = sim.issue(asked);
    sim.admin_tokens_issued += 1;
    json_response(
        StatusCode::OK,
        json!({"token_type": "Bearer", "expires_in": expires_in, "access_token": token, "scope": scope}),
    )
}

/// A custom authorization server: apps prove a client secret with `client_credentials`.
async fn app_token(
    Path(server): Path<String>,
    State((state, _)): Ctx,
    headers: HeaderMap,
    body: String,
) -> Response {
    let mut sim = state.lock().unwrap();
    sim.count(ops::APP_TOKEN);
    if let Some(status) = sim.knobs.token_faults.pop_front() {
        return injected(status);
    }
    if !sim.auth_servers.contains(&server) {
        return okta_error(
            StatusCode::NOT_FOUND,
            "E0000007",
            &format!("Not found: Resource not found: {server} (AuthorizationServer)"),
            &[],
        );
    }
    let form = form_of(&body);
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        );
    }
    let (client_id, secret) = match basic_credentials(&headers) {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (
            form.get("client_id").cloned(),
            form.get("client_secret").cloned(),
        ),
    };
    let (Some(client_id), Some(secret)) = (client_id, secret) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed. Either the client or the client credentials are invalid.",
        );
    };
    let now = Instant::now();
    if !sim
        .apps
        .get(&client_id)
        .is_some_and(|a| a.accepts(&secret, now))
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The client secret supplied for a confidential client is invalid.",
        );
    }
    let (token, expires_in) = sim.issue(HashSet::new());
    json_response(
        StatusCode::OK,
        json!({"token_type": "Bearer", "expires_in": expires_in, "access_token": token, "scope": form.get("scope").cloned().unwrap_or_default()}),
    )
}

async fn discovery(Path(server): Path<String>, State((state, base)): Ctx) -> Response {
    if !state.lock().unwrap().auth_servers.contains(&server) {
        return okta_error(
            StatusCode::NOT_FOUND,
            "E0000007",
            &format!("Not found: Resource not found: {server} (AuthorizationServer)"),
            &[],
        );
    }
    let issuer = format!("{base}/oauth2/{server}");
    json_response(
        StatusCode::OK,
        json!({
            "issuer": issuer,
            "token_endpoint": format!("{issuer}/v1/token"),
            "jwks_uri": format!("{issuer}/v1/keys"),
            "grant_types_supported": ["client_credentials", "authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"],
        }),
    )
}

impl OktaSim {
    pub fn start() -> OktaSim {
        let state: Shared = Arc::default();
        state.lock().unwrap().auth_servers.insert("default".into());
        let (listener, base) = bind_loopback();
        let secrets = "/api/v1/apps/{app}/credentials/secrets";
        let app = Router::new()
            .route(secrets, get(list_secrets).post(create_secret))
            .route(
                &format!("{secrets}/{{secret}}"),
                get(get_secret).delete(delete_secret),
            )
            .route(
                &format!("{secrets}/{{secret}}/lifecycle/{{action}}"),
                post(lifecycle),
            )
            .route("/api/{*rest}", axum::routing::any(api_not_found))
            .route("/oauth2/v1/token", post(org_token))
            .route("/oauth2/{server}/v1/token", post(app_token))
            .route(
                "/oauth2/{server}/.well-known/openid-configuration",
                get(discovery),
            )
            .route(
                "/oauth2/{server}/.well-known/oauth-authorization-server",
                get(discovery),
            )
            .with_state((state.clone(), base.clone()));
        serve_in_background(listener, app, "okta simulator");
        OktaSim { base, state }
    }

    fn lock(&self) -> MutexGuard<'_, Sim> {
        self.state.lock().unwrap()
    }

    /// `http://127.0.0.1:PORT`, the org URL.
    pub fn org_url(&self) -> &str {
        &self.base
    }

    /// The org authorization server's token endpoint (service apps' admin tokens).
    pub fn admin_token_endpoint(&self) -> String {
        format!("{}/oauth2/v1/token", self.base)
    }

    /// A custom authorization server's token endpoint.
    pub fn token_endpoint(&self, auth_server_id: &str) -> String {
        format!("{}/oauth2/{auth_server_id}/v1/token", self.base)
    }

    pub fn create_authorization_server(&self, id: &str) {
        self.lock().auth_servers.insert(id.to_string());
    }

    /// An OIDC service app with one ACTIVE Okta-generated secret: (app id = client id, secret).
    pub fn create_app(&self, _label: &str) -> (String, String) {
        let id = format!("0oa{}", random_alphanumeric(17));
        let value = random_from(SECRET_ALPHABET, 64);
        let now = SystemTime::now();
        self.lock().apps.insert(
            id.clone(),
            App {
                secrets: vec![ClientSecret {
                    id: format!("ocs{}", random_alphanumeric(17)),
                    value: value.clone(),
                    active: true,
                    created: now,
                    updated: now,
                    usable_at: Instant::now(),
                }],
            },
        );
        (id, value)
    }

    /// A service app authenticating with `private_key_jwt` against `jwk`, granted `scopes`.
    pub fn register_admin_client(&self, client_id: &str, jwk: Value, scopes: &[&str]) {
        self.lock().service_apps.insert(
            client_id.to_string(),
            ServiceApp {
                keys: vec![jwk],
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
            },
        );
    }

    /// An SSWS API token with read and manage rights on apps.
    pub fn api_token(&self) -> String {
        let scopes = ["okta.apps.read", "okta.apps.manage"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        self.lock().issue(scopes).0
    }

    /// (id, status) of the app's secrets, oldest first.
    pub fn secrets(&self, app_id: &str) -> Vec<(String, String)> {
        self.lock()
            .apps
            .get(app_id)
            .map(|a| {
                a.secrets
                    .iter()
                    .map(|s| {
                        let status = if s.active { "ACTIVE" } else { "INACTIVE" };
                        (s.id.clone(), status.to_string())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The values of the app's ACTIVE secrets (for leak checks).
    pub fn active_values(&self, app_id: &str) -> Vec<String> {
        self.lock()
            .apps
            .get(app_id)
            .map(|a| {
                a.secrets
                    .iter()
                    .filter(|s| s.active)
                    .map(|s| s.value.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Adds a secret as someone with console access would; returns its id.
    pub fn add_secret_out_of_band(&self, app_id: &str, value: &str, active: bool) -> String {
        let mut sim = self.lock();
        let app = sim.apps.get_mut(app_id).expect("app");
        let now = SystemTime::now();
        let id = format!("ocs{}", random_alphanumeric(17));
        app.secrets.push(ClientSecret {
            id: id.clone(),
            value: value.to_string(),
            active,
            created: now,
            updated: now,
            usable_at: Instant::now(),
        });
        id
    }

    /// Does the token endpoint accept this secret for the app (ignoring delay and faults)?
    pub fn accepts(&self, auth_server_id: &str, client_id: &str, secret: &str) -> bool {
        let sim = self.lock();
        sim.auth_servers.contains(auth_server_id)
            && sim
                .apps
                .get(client_id)
                .is_some_and(|a| a.secrets.iter().any(|s| s.active && s.value == secret))
    }

    pub fn set_propagation_delay(&self, d: Duration) {
        self.lock().knobs.propagation_delay = d;
    }

    pub fn set_token_lifetime(&self, d: Duration) {
        self.lock().knobs.token_lifetime = Some(d);
    }

    /// The next admin API calls answer with these statuses, in order.
    pub fn fail_admin_calls(&self, statuses: &[u16]) {
        self.lock().knobs.admin_faults.extend(statuses);
    }

    /// The next token requests (either endpoint) answer with these statuses, in order.
    pub fn fail_token_requests(&self, statuses: &[u16]) {
        self.lock().knobs.token_faults.extend(statuses);
    }

    pub fn calls(&self, operation: &str) -> u32 {
        self.lock().calls.get(operation).copied().unwrap_or(0)
    }

    pub fn admin_tokens_issued(&self) -> u32 {
        self.lock().admin_tokens_issued
    }

    /// Every access token issued so far stops working.
    pub fn expire_tokens(&self) {
        let past = Instant::now();
        for t in self.lock().tokens.values_mut() {
            t.expires_at = past;
        }
    }
}
