//! Microsoft Entra ID simulator: the application-password part of Microsoft Graph v1.0 (so
//! Microsoft's own Python SDK, `msgraph-sdk`, runs unchanged against it) and the v2.0 token
//! endpoint, with client secrets and federated identity credentials, on one loopback server
//! (Graph paths under `/v1.0/`, login paths under `/{tenant}/`).
//!
//! Contract followed (Graph v1.0 application, addPassword, removePassword, passwordCredential; the
//! Microsoft identity platform's client-credentials and workload identity federation docs):
//! - `GET /v1.0/applications/{id}` and the alternate key `/v1.0/applications(appId='{appId}')`
//!   (honouring `$select`) → the application with `passwordCredentials`, whose `secretText` is
//!   always `null`.
//! - `POST …/addPassword {"passwordCredential": {displayName, endDateTime?}}` → 200 passwordCredential
//!   with `secretText` (40 characters of Entra's alphabet, returned only here), `hint` (its first
//!   three), `keyId`, `startDateTime`, `endDateTime` (default two years).
//!   `POST …/removePassword {"keyId"}` → 204; an unknown keyId is 400 `Request_BadRequest`.
//! - Errors `{"error": {"code", "message", "innerError": {date, request-id, client-request-id}}}`:
//!   401 `InvalidAuthenticationToken`, 403 `Authorization_RequestDenied` ("Insufficient privileges
//!   to complete the operation."), 404 `Request_ResourceNotFound`, 429 `TooManyRequests` with
//!   `Retry-After`.
//! - App management policies: `passwordAddition` refuses addPassword (400
//!   `CredentialTypeNotAllowedAsPerAppPolicy`, "Credential type not allowed as per assigned policy
//!   '<id>'."); `passwordLifetime` refuses an endDateTime beyond the maximum (400
//!   `CredentialInvalidLifetimeAsPerAppPolicy`, "Credential lifetime exceeds the max value allowed as
//!   per assigned policy '<id>'.", the message as reported by Azure CLI users; the codes are the
//!   simulator's).
//! - Permissions come from the caller's token: `Application.ReadWrite.All` (any application of the
//!   tenant), `Application.ReadWrite.OwnedBy` (applications the caller owns), `Application.Read.All`
//!   (read only).
//! - `POST /{tenant}/oauth2/v2.0/token`, `client_credentials`, `scope` = `<resource>/.default`
//!   (AADSTS900144 without one, AADSTS1002012 otherwise): a client secret (Basic or post; any
//!   unexpired password after the propagation delay; AADSTS7000215 otherwise) or a
//!   `client_assertion` matched against the app's federated identity credentials (issuer, subject,
//!   audience), its signature checked with keys fetched from the issuer's discovery document and
//!   JWKS over HTTP, as Entra does (AADSTS70021 no matching record, AADSTS700024 outside its time
//!   range, AADSTS700027 bad signature or claims; AADSTS700211/700213/700212 when the issuer, the
//!   subject or the audience matches no credential, AADSTS70021 when the app has none). Errors carry `error_codes`, `trace_id`,
//!   `correlation_id`, `timestamp`, `error_uri`.
//!
//! Secrets are never logged.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::idp::assertion::{self, Expect, ReplayGuard};
use crate::idp::common::{
    basic_credentials, bind_loopback, json_response, random_alphanumeric, random_from,
    serve_in_background,
};

/// The audience Entra requires of a federated credential's assertion.
pub const EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub mod ops {
    pub const GET_APPLICATION: &str = "applications.get";
    pub const ADD_PASSWORD: &str = "applications.addPassword";
    pub const REMOVE_PASSWORD: &str = "applications.removePassword";
    pub const TOKEN: &str = "token";
}

pub mod roles {
    pub const READ_WRITE_ALL: &str = "Application.ReadWrite.All";
    pub const READ_WRITE_OWNED_BY: &str = "Application.ReadWrite.OwnedBy";
    pub const READ_ALL: &str = "Application.Read.All";
}

/// Characters of Entra-generated client secrets.
const SECRET_ALPHABET: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789~._-";
const DEFAULT_LIFETIME: Duration = Duration::from_secs(2 * 365 * 86_400);
const TOKEN_LIFETIME: Duration = Duration::from_secs(3599);
const POLICY_ID: &str = "538f1913-366a-440a-95a0-e195cb55b282";

struct Password {
    key_id: String,
    display_name: Option<String>,
    secret: String,
    start: SystemTime,
    end: SystemTime,
    usable_at: Instant,
}

#[derive(Clone)]
struct Federated {
    issuer: String,
    subject: String,
    audience: String,
}

struct Application {
    object_id: String,
    app_id: String,
    display_name: String,
    passwords: Vec<Password>,
    owners: HashSet<String>,
    federated: Vec<Federated>,
    roles: HashSet<String>,
    password_addition_blocked: bool,
    max_lifetime: Option<Duration>,
}

struct Token {
    tenant: String,
    caller: String,
    roles: HashSet<String>,
    expires_at: Instant,
}

#[derive(Default)]
struct Knobs {
    propagation_delay: Duration,
    admin_faults: VecDeque<u16>,
    token_faults: VecDeque<u16>,
}

#[derive(Default)]
struct Sim {
    tenants: HashMap<String, Vec<Application>>,
    tokens: HashMap<String, Token>,
    replay: ReplayGuard,
    knobs: Knobs,
    calls: HashMap<String, u32>,
    admin_tokens_issued: u32,
}

type Shared = Arc<Mutex<Sim>>;

pub struct EntraSim {
    base: String,
    state: Shared,
}

fn guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn rfc3339(t: SystemTime) -> String {
    let millis = t
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64;
    aws_smithy_types::DateTime::from_millis(millis)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

fn parse_time(s: &str) -> Option<SystemTime> {
    let t = aws_smithy_types::DateTime::from_str(
        s,
        aws_smithy_types::date_time::Format::DateTimeWithOffset,
    )
    .ok()?;
    SystemTime::try_from(t).ok()
}

/// Graph's error body.
fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        json!({"error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": rfc3339(SystemTime::now()).replace(".000Z", "Z"),
                "request-id": guid(),
                "client-request-id": guid(),
            }
        }}),
    )
}

/// The v2.0 token endpoint's error body.
fn aad_error(status: StatusCode, error: &str, code: u32, text: &str) -> Response {
    let (trace, correlation) = (guid(), guid());
    let now = rfc3339(SystemTime::now());
    json_response(
        status,
        json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {text} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {now}"),
            "error_codes": [code],
            "timestamp": now,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        }),
    )
}

fn injected(status: u16) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    if code == StatusCode::TOO_MANY_REQUESTS {
        let mut r = graph_error(
            code,
            "TooManyRequests",
            "Too many requests are being made. Please retry after some time.",
        );
        r.headers_mut()
            .insert("retry-after", HeaderValue::from_static("1"));
        return r;
    }
    graph_error(code, "serviceNotAvailable", "Service unavailable.")
}

fn credential(p: &Password, with_secret: bool) -> Value {
    json!({
        "customKeyIdentifier": null,
        "displayName": p.display_name,
        "endDateTime": rfc3339(p.end),
        "hint": p.secret.chars().take(3).collect::<String>(),
        "keyId": p.key_id,
        "secretText": if with_secret { json!(p.secret) } else { Value::Null },
        "startDateTime": rfc3339(p.start),
    })
}

/// Which application a Graph path names, and the action after it.
enum Target {
    ObjectId(String),
    AppId(String),
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let Some(v) = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_target(rest: &str) -> Option<(Target, Option<String>)> {
    let rest = percent_decode(rest);
    if let Some(r) = rest.strip_prefix("applications(appId='") {
        let (id, after) = r.split_once("')")?;
        let action = after.strip_prefix('/').filter(|a| !a.is_empty());
        return Some((Target::AppId(id.to_string()), action.map(str::to_string)));
    }
    let r = rest.strip_prefix("applications/")?;
    let mut parts = r.splitn(2, '/');
    let id = parts.next()?.to_string();
    let action = parts.next().filter(|a| !a.is_empty()).map(str::to_string);
    Some((Target::ObjectId(id), action))
}

impl Sim {
    fn count(&mut self, op: &str) {
        *self.calls.entry(op.to_string()).or_default() += 1;
    }

    fn caller(&self, headers: &HeaderMap) -> Option<(String, String, HashSet<String>)> {
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))?;
        let t = self.tokens.get(token.trim())?;
        (t.expires_at > Instant::now())
            .then(|| (t.tenant.clone(), t.caller.clone(), t.roles.clone()))
    }

    fn issue(&mut self, tenant: &str, caller: &str, roles: HashSet<String>) -> String {
        let token = format!("eyJ0eXAi.{}", random_alphanumeric(60));
        self.tokens.insert(
            token.clone(),
            Token {
                tenant: tenant.to_string(),
                caller: caller.to_string(),
                roles,
                expires_at: Instant::now() + TOKEN_LIFETIME,
            },
        );
        token
    }
}

async fn graph(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: String,
) -> Response {
    let rest = uri.path().strip_prefix("/v1.0/").unwrap_or("").to_string();
    let mut sim = state.lock().unwrap();
    let Some((target, action)) = parse_target(&rest) else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("Resource not found for the segment '{rest}'."),
        );
    };
    let op = match (&method, action.as_deref()) {
        (&Method::GET, None) => ops::GET_APPLICATION,
        (&Method::POST, Some("addPassword")) => ops::ADD_PASSWORD,
        (&Method::POST, Some("removePassword")) => ops::REMOVE_PASSWORD,
        _ => {
            return graph_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "Request_BadRequest",
                "Specified HTTP method is not allowed for the request target.",
            )
        }
    };
    sim.count(op);
    if let Some(status) = sim.knobs.admin_faults.pop_front() {
        return injected(status);
    }
    let Some((tenant, caller, roles)) = sim.caller(&headers) else {
        return graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token validation failure. Invalid audience.",
        );
    };
    let delay = sim.knobs.propagation_delay;
    let apps = sim.tenants.entry(tenant).or_default();
    let found = apps.iter_mut().find(|a| match &target {
        Target::ObjectId(id) => &a.object_id == id,
        Target::AppId(id) => &a.app_id == id,
    });
    let Some(app) = found else {
        let id = match target {
            Target::ObjectId(id) | Target::AppId(id) => id,
        };
        return graph_error(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            &format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
        );
    };
    let all = roles.contains(roles::READ_WRITE_ALL);
    let owned = roles.contains(roles::READ_WRITE_OWNED_BY) && app.owners.contains(&caller);
    let may_write = all || owned;
    let may_read = may_write || roles.contains(roles::READ_ALL);
    if !(if op == ops::GET_APPLICATION {
        may_read
    } else {
        may_write
    }) {
        return graph_error(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
    }
    match op {
        ops::GET_APPLICATION => {
            let mut rep = json!({
                "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#applications/$entity",
                "id": app.object_id,
                "appId": app.app_id,
                "displayName": app.display_name,
                "passwordCredentials": app.passwords.iter().map(|p| credential(p, false)).collect::<Vec<_>>(),
            });
            let select = query.as_deref().and_then(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == "$select")
                    .map(|(_, v)| v.into_owned())
            });
            if let (Some(select), Some(map)) = (select, rep.as_object_mut()) {
                let keep: HashSet<&str> = select.split(',').map(str::trim).collect();
                map.retain(|k, _| k.starts_with('@') || keep.contains(k.as_str()));
            }
            json_response(StatusCode::OK, rep)
        }
        ops::ADD_PASSWORD => {
            let req: Value = serde_json::from_str(&body).unwrap_or_default();
            let cred = req.get("passwordCredential").cloned().unwrap_or_default();
            if app.password_addition_blocked {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    "CredentialTypeNotAllowedAsPerAppPolicy",
                    &format!("Credential type not allowed as per assigned policy '{POLICY_ID}'."),
                );
            }
            let start = SystemTime::now();
            let end = match cred.get("endDateTime").and_then(Value::as_str) {
                Some(s) => match parse_time(s) {
                    Some(t) => t,
                    None => {
                        return graph_error(
                            StatusCode::BAD_REQUEST,
                            "Request_BadRequest",
                            "Invalid value specified for property 'endDateTime' of resource 'PasswordCredential'.",
                        )
                    }
                },
                None => start + DEFAULT_LIFETIME,
            };
            if app
                .max_lifetime
                .is_some_and(|max| end.duration_since(start).unwrap_or_default() > max)
            {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    "CredentialInvalidLifetimeAsPerAppPolicy",
                    &format!("Credential lifetime exceeds the max value allowed as per assigned policy '{POLICY_ID}'."),
                );
            }
            let password = Password {
                key_id: guid(),
                display_name: cred
                    .get("displayName")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                secret: random_from(SECRET_ALPHABET, 40),
                start,
                end,
                usable_at: Instant::now() + delay,
            };
            let mut rep = credential(&password, true);
            rep["@odata.context"] = json!(
                "https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.passwordCredential"
            );
            app.passwords.push(password);
            json_response(StatusCode::OK, rep)
        }
        _ => {
            let req: Value = serde_json::from_str(&body).unwrap_or_default();
            let key = req.get("keyId").and_then(Value::as_str).unwrap_or("");
            if !app.passwords.iter().any(|p| p.key_id == key) {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    "Request_BadRequest",
                    &format!("No password credential found with keyId '{key}'."),
                );
            }
            app.passwords.retain(|p| p.key_id != key);
            StatusCode::NO_CONTENT.into_response()
        }
    }
}

/// The keys of an issuer, fetched as Entra does: discovery, then `jwks_uri`.
async fn issuer_keys(issuer: &str) -> Result<Vec<Value>, String> {
    let http = reqwest::Client::new();
    let discovery: Value = http
        .get(format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        ))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let jwks_uri = discovery
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or("no jwks_uri")?;
    let jwks: Value = http
        .get(jwks_uri)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    Ok(jwks
        .get("keys")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default())
}

fn claims_of(jwt: &str) -> Value {
    jwt.split('.')
        .nth(1)
        .and_then(|c| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(c)
                .ok()
        })
        .and_then(|c| serde_json::from_slice(&c).ok())
        .unwrap_or_default()
}

async fn token(
    Path(tenant): Path<String>,
    State((state, base)): State<(Shared, String)>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let (federated, graph_roles) = {
        let mut sim = state.lock().unwrap();
        sim.count(ops::TOKEN);
        if let Some(status) = sim.knobs.token_faults.pop_front() {
            return injected(status);
        }
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type.",
            );
        }
        let Some(scope) = form.get("scope") else {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'scope'.",
            );
        };
        let Some(resource) = scope.strip_suffix("/.default").filter(|r| !r.contains(' ')) else {
            return aad_error(StatusCode::BAD_REQUEST, "invalid_scope", 1002012, &format!("The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."));
        };
        let is_graph = resource == base || resource == "https://graph.microsoft.com";
        let basic = basic_credentials(&headers);
        let client_id = basic
            .as_ref()
            .map(|(id, _)| id.clone())
            .or_else(|| form.get("client_id").cloned())
            .unwrap_or_default();
        let now = Instant::now();
        let delay_free = |p: &Password| p.usable_at <= now && p.end > SystemTime::now();
        let Some(app) = sim
            .tenants
            .get(&tenant)
            .and_then(|apps| apps.iter().find(|a| a.app_id == client_id))
        else {
            return aad_error(StatusCode::BAD_REQUEST, "unauthorized_client", 700016, &format!("Application with identifier '{client_id}' was not found in the directory '{tenant}'."));
        };
        let roles: HashSet<String> = if is_graph {
            app.roles.clone()
        } else {
            HashSet::new()
        };
        if let Some(jwt) = form.get("client_assertion") {
            if form.get("client_assertion_type").map(String::as_str) != Some(JWT_BEARER) {
                return aad_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    700025,
                    "Client assertion type is not supported.",
                );
            }
            let claims = claims_of(jwt);
            let text = |k: &str| {
                claims
                    .get(k)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            let aud_ok = |want: &str| match claims.get("aud") {
                Some(Value::String(a)) => a == want,
                Some(Value::Array(l)) => l.iter().any(|a| a.as_str() == Some(want)),
                _ => false,
            };
            let record = app
                .federated
                .iter()
                .find(|f| {
                    f.issuer == text("iss") && f.subject == text("sub") && aud_ok(&f.audience)
                })
                .cloned();
            let Some(record) = record else {
                // Entra names the part that matched no record: issuer, then subject, then audience.
                let (iss, sub) = (text("iss"), text("sub"));
                let by_issuer: Vec<&Federated> =
                    app.federated.iter().filter(|f| f.issuer == iss).collect();
                let (code, what) = if app.federated.is_empty() {
                    (
                        70021,
                        "No matching federated identity record found for presented assertion."
                            .to_string(),
                    )
                } else if by_issuer.is_empty() {
                    (700211, format!("No matching federated identity record found for presented assertion issuer '{iss}'."))
                } else if !by_issuer.iter().any(|f| f.subject == sub) {
                    (700213, format!("No matching federated identity record found for presented assertion subject '{sub}'."))
                } else {
                    (700212, "No matching federated identity record found for presented assertion audience.".to_string())
                };
                return aad_error(StatusCode::BAD_REQUEST, "invalid_request", code, &what);
            };
            (Some((jwt.clone(), record, client_id.clone())), roles)
        } else {
            let secret = basic
                .map(|(_, s)| s)
                .or_else(|| form.get("client_secret").cloned())
                .unwrap_or_default();
            if !app
                .passwords
                .iter()
                .any(|p| p.secret == secret && delay_free(p))
            {
                return aad_error(StatusCode::UNAUTHORIZED, "invalid_client", 7000215, &format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."));
            }
            let token = sim.issue(&tenant, &client_id, roles);
            return json_response(
                StatusCode::OK,
                json!({"token_type": "Bearer", "expires_in": TOKEN_LIFETIME.as_secs(), "ext_expires_in": TOKEN_LIFETIME.as_secs(), "access_token": token}),
            );
        }
    };
    let Some((jwt, record, client_id)) = federated else {
        return aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            "Invalid client.",
        );
    };
    // The lock is not held while the issuer's keys are fetched.
    let keys = match issuer_keys(&record.issuer).await {
        Ok(k) => k,
        Err(e) => {
            return aad_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                50166,
                &format!("Request to External OIDC endpoint failed: {e}."),
            )
        }
    };
    let mut sim = state.lock().unwrap();
    let expect = Expect {
        audiences: &[record.audience.as_str()],
        issuer: Some(&record.issuer),
        subject: Some(&record.subject),
    };
    if let Err(reason) = assertion::verify(&jwt, &keys, &expect, &sim.replay) {
        let code = if reason.contains("expired") || reason.contains("valid yet") {
            700024
        } else {
            700027
        };
        return aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            code,
            &format!("Client assertion failed validation: {reason}."),
        );
    }
    let token = sim.issue(&tenant, &client_id, graph_roles);
    sim.admin_tokens_issued += 1;
    json_response(
        StatusCode::OK,
        json!({"token_type": "Bearer", "expires_in": TOKEN_LIFETIME.as_secs(), "ext_expires_in": TOKEN_LIFETIME.as_secs(), "access_token": token}),
    )
}

async fn discovery(
    Path(tenant): Path<String>,
    State((_, base)): State<(Shared, String)>,
) -> Response {
    json_response(
        StatusCode::OK,
        json!({
            "issuer": format!("{base}/{tenant}/v2.0"),
            "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
            "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        }),
    )
}

impl EntraSim {
    pub fn start() -> EntraSim {
        let state: Shared = Arc::default();
        let (listener, base) = bind_loopback();
        let graph_routes = Router::new()
            .route("/v1.0/{*rest}", axum::routing::any(graph))
            .with_state(state.clone());
        let login = Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route(
                "/{tenant}/v2.0/.well-known/openid-configuration",
                axum::routing::get(discovery),
            )
            .with_state((state.clone(), base.clone()));
        let app = graph_routes.merge(login);
        serve_in_background(listener, app, "entra simulator");
        EntraSim { base, state }
    }

    fn lock(&self) -> MutexGuard<'_, Sim> {
        self.state.lock().unwrap()
    }

    fn with_app<T>(&self, tenant: &str, app_id: &str, f: impl FnOnce(&mut Application) -> T) -> T {
        let mut sim = self.lock();
        let app = sim
            .tenants
            .get_mut(tenant)
            .and_then(|apps| apps.iter_mut().find(|a| a.app_id == app_id))
            .unwrap_or_else(|| panic!("no application {app_id} in tenant {tenant}"));
        f(app)
    }

    /// Graph's base (paths `/v1.0/…`).
    pub fn graph_url(&self) -> &str {
        &self.base
    }

    /// The login host (token endpoint `{login}/{tenant}/oauth2/v2.0/token`).
    pub fn login_url(&self) -> &str {
        &self.base
    }

    pub fn token_endpoint(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.base)
    }

    pub fn create_tenant(&self, tenant_id: &str) {
        self.lock()
            .tenants
            .entry(tenant_id.to_string())
            .or_default();
    }

    /// An application registration: (object id, appId = client id).
    pub fn create_application(&self, tenant: &str, display_name: &str) -> (String, String) {
        let (object_id, app_id) = (guid(), guid());
        self.lock()
            .tenants
            .entry(tenant.to_string())
            .or_default()
            .push(Application {
                object_id: object_id.clone(),
                app_id: app_id.clone(),
                display_name: display_name.to_string(),
                passwords: Vec::new(),
                owners: HashSet::new(),
                federated: Vec::new(),
                roles: HashSet::new(),
                password_addition_blocked: false,
                max_lifetime: None,
            });
        (object_id, app_id)
    }

    /// A password added as someone in the portal would: (keyId, secretText).
    pub fn add_password_out_of_band(
        &self,
        tenant: &str,
        app_id: &str,
        display_name: &str,
    ) -> (String, String) {
        self.with_app(tenant, app_id, |app| {
            let p = Password {
                key_id: guid(),
                display_name: Some(display_name.to_string()),
                secret: random_from(SECRET_ALPHABET, 40),
                start: SystemTime::now(),
                end: SystemTime::now() + DEFAULT_LIFETIME,
                usable_at: Instant::now(),
            };
            let out = (p.key_id.clone(), p.secret.clone());
            app.passwords.push(p);
            out
        })
    }

    /// Graph application permissions (app roles, admin-consented) of `app_id`'s service principal.
    pub fn grant_app_roles(&self, tenant: &str, app_id: &str, roles: &[&str]) {
        self.with_app(tenant, app_id, |app| {
            app.roles.extend(roles.iter().map(|r| r.to_string()))
        });
    }

    pub fn add_owner(&self, tenant: &str, owned_app_id: &str, owner_app_id: &str) {
        self.with_app(tenant, owned_app_id, |app| {
            app.owners.insert(owner_app_id.to_string());
        });
    }

    pub fn add_federated_credential(
        &self,
        tenant: &str,
        app_id: &str,
        issuer: &str,
        subject: &str,
        audience: &str,
    ) {
        self.with_app(tenant, app_id, |app| {
            app.federated.push(Federated {
                issuer: issuer.to_string(),
                subject: subject.to_string(),
                audience: audience.to_string(),
            })
        });
    }

    pub fn set_password_addition_blocked(&self, tenant: &str, app_id: &str, blocked: bool) {
        self.with_app(tenant, app_id, |app| {
            app.password_addition_blocked = blocked
        });
    }

    pub fn set_max_password_lifetime(&self, tenant: &str, app_id: &str, max: Option<Duration>) {
        self.with_app(tenant, app_id, |app| app.max_lifetime = max);
    }

    /// (keyId, displayName) of the application's passwords, oldest first.
    pub fn passwords(&self, tenant: &str, app_id: &str) -> Vec<(String, Option<String>)> {
        self.with_app(tenant, app_id, |app| {
            app.passwords
                .iter()
                .map(|p| (p.key_id.clone(), p.display_name.clone()))
                .collect()
        })
    }

    /// The secret values of the application's passwords (for leak checks).
    pub fn secret_values(&self, tenant: &str, app_id: &str) -> Vec<String> {
        self.with_app(tenant, app_id, |app| {
            app.passwords.iter().map(|p| p.secret.clone()).collect()
        })
    }

    /// Does the token endpoint accept this secret for the app (ignoring delay and faults)?
    pub fn accepts(&self, tenant: &str, app_id: &str, secret: &str) -> bool {
        self.with_app(tenant, app_id, |app| {
            app.passwords
                .iter()
                .any(|p| p.secret == secret && p.end > SystemTime::now())
        })
    }

    /// A Graph token for a caller holding `roles`, minted directly.
    pub fn admin_token_for_tests(&self, tenant: &str, roles: &[&str]) -> String {
        let roles = roles.iter().map(|r| r.to_string()).collect();
        self.lock().issue(tenant, "tests", roles)
    }

    pub fn set_propagation_delay(&self, d: Duration) {
        self.lock().knobs.propagation_delay = d;
    }

    pub fn fail_admin_calls(&self, statuses: &[u16]) {
        self.lock().knobs.admin_faults.extend(statuses);
    }

    pub fn fail_token_requests(&self, statuses: &[u16]) {
        self.lock().knobs.token_faults.extend(statuses);
    }

    pub fn calls(&self, operation: &str) -> u32 {
        self.lock().calls.get(operation).copied().unwrap_or(0)
    }

    pub fn admin_tokens_issued(&self) -> u32 {
        self.lock().admin_tokens_issued
    }

    pub fn expire_tokens(&self) {
        let past = Instant::now();
        for t in self.lock().tokens.values_mut() {
            t.expires_at = past;
        }
    }
}
