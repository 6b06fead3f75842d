//! Amazon Cognito simulator: the three client-secret operations and `DescribeUserPool` over the
//! AWS JSON 1.1 protocol (so the real `aws-sdk-cognitoidentityprovider` client works unchanged
//! through `AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER`), a token endpoint per user-pool domain
//! for `client_credentials` (`/domain/<prefix>/oauth2/token`, standing in for
//! `https://<prefix>.auth.<region>.amazoncognito.com/oauth2/token`: only that pool's clients are
//! served there, as on Cognito), and per-pool OIDC discovery.
//!
//! Contract followed (Cognito API reference): at most 2 secrets per app client
//! (`LimitExceededException` beyond), the last secret cannot be deleted
//! (`InvalidParameterException`), a caller-supplied value is 24–64 chars of `[\w+]` and is never
//! returned; a generated one is returned once. The token endpoint, like Cognito's, does not
//! form-decode HTTP Basic credentials.

use crate::idp::common::{bind_loopback, serve_in_background};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Value};

/// Faults and delays the tests can switch on.
#[derive(Default)]
struct Knobs {
    /// A new secret is accepted at the token endpoint only after this long.
    propagation_delay: Duration,
    /// Status codes the next token requests answer with, in order (429, 500, 503…).
    token_faults: VecDeque<u16>,
    /// Error codes the next AddUserPoolClientSecret calls fail with.
    add_faults: VecDeque<&'static str>,
}

struct SimSecret {
    id: String,
    value: String,
    created: SystemTime,
    usable_at: Instant,
}

struct SimClient {
    secrets: Vec<SimSecret>,
    scopes: Vec<String>,
}

/// Pool id → (domain prefix, clients).
struct SimPool {
    domain: Option<String>,
    clients: HashMap<String, SimClient>,
}

impl std::ops::Deref for SimPool {
    type Target = HashMap<String, SimClient>;
    fn deref(&self) -> &Self::Target {
        &self.clients
    }
}

impl std::ops::DerefMut for SimPool {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.clients
    }
}

#[derive(Default)]
struct Sim {
    pools: HashMap<String, SimPool>,
    knobs: Knobs,
    calls: HashMap<String, u32>,
    seq: u64,
}

impl Sim {
    fn next_id(&mut self, prefix: &str) -> String {
        self.seq += 1;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos();
        format!("{prefix}{:08x}{:06}", nanos, self.seq)
    }

    fn new_secret(&mut self, value: String) -> SimSecret {
        SimSecret {
            id: self.next_id("cs"),
            value,
            created: SystemTime::now(),
            usable_at: Instant::now() + self.knobs.propagation_delay,
        }
    }
}

type Shared = Arc<Mutex<Sim>>;

/// A running simulator on an ephemeral loopback port, served from its own thread.
pub struct CognitoSim {
    endpoint: String,
    state: Shared,
}

fn aws_error(code: &str, message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [("content-type", "application/x-amz-json-1.1")],
        Json(json!({"__type": code, "message": message.into()})),
    )
        .into_response()
}

fn generated_value() -> String {
    // Cognito-generated secrets are 51 base32-ish characters; uniqueness is all tests need.
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (uuid::Uuid::new_v4().as_bytes()[i % 16]) ^ (i as u8);
    }
    let s = base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes);
    s.replace(['+', '/'], "x")[..43].to_string()
}

fn valid_custom_value(v: &str) -> bool {
    (24..=64).contains(&v.len())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '+')
}

fn epoch(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

async fn json_rpc(State(state): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix("AWSCognitoIdentityProviderService."))
        .unwrap_or_default()
        .to_string();
    let Ok(input) = serde_json::from_str::<Value>(&body) else {
        return aws_error("SerializationException", "request body is not JSON");
    };
    let mut sim = state.lock().unwrap();
    *sim.calls.entry(target.clone()).or_default() += 1;
    let field = |k: &str| {
        input
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (pool_id, client_id) = (field("UserPoolId"), field("ClientId"));
    if !matches!(
        target.as_str(),
        "AddUserPoolClientSecret"
            | "ListUserPoolClientSecrets"
            | "DeleteUserPoolClientSecret"
            | "DescribeUserPool"
    ) {
        return aws_error(
            "UnknownOperationException",
            format!("{target} is not simulated"),
        );
    }
    if !sim.pools.contains_key(&pool_id) {
        return aws_error(
            "ResourceNotFoundException",
            format!("User pool {pool_id} does not exist."),
        );
    }
    if target == "DescribeUserPool" {
        let pool = &sim.pools[&pool_id];
        let region = pool_id.split('_').next().unwrap_or_default();
        let mut out = json!({
            "Id": pool_id,
            "Name": format!("pool-{pool_id}"),
            "Arn": format!("arn:aws:cognito-idp:{region}:123456789012:userpool/{pool_id}"),
            "CreationDate": epoch(SystemTime::now()),
            "LastModifiedDate": epoch(SystemTime::now()),
        });
        if let Some(d) = &pool.domain {
            out["Domain"] = json!(d);
        }
        return Json(json!({"UserPool": out})).into_response();
    }
    if !sim.pools[&pool_id].contains_key(&client_id) {
        return aws_error(
            "ResourceNotFoundException",
            format!("User pool client {client_id} does not exist."),
        );
    }
    match target.as_str() {
        "AddUserPoolClientSecret" => {
            if let Some(code) = sim.knobs.add_faults.pop_front() {
                return aws_error(code, "injected fault");
            }
            if sim.pools[&pool_id][&client_id].secrets.len() >= 2 {
                return aws_error(
                    "LimitExceededException",
                    "An app client can have at most 2 client secrets.",
                );
            }
            let custom = input
                .get("ClientSecret")
                .and_then(Value::as_str)
                .map(str::to_string);
            if custom.as_deref().is_some_and(|v| !valid_custom_value(v)) {
                return aws_error(
                    "InvalidParameterException",
                    "ClientSecret must be 24-64 characters matching [\\w+]+",
                );
            }
            let generated = custom.is_none();
            let secret = sim.new_secret(custom.unwrap_or_else(generated_value));
            let mut descriptor = json!({"ClientSecretId": secret.id, "ClientSecretCreateDate": epoch(secret.created)});
            if generated {
                descriptor["ClientSecretValue"] = json!(secret.value);
            }
            sim.pools
                .get_mut(&pool_id)
                .unwrap()
                .get_mut(&client_id)
                .unwrap()
                .secrets
                .push(secret);
            Json(json!({"ClientSecretDescriptor": descriptor})).into_response()
        }
        "ListUserPoolClientSecrets" => {
            let secrets: Vec<Value> = sim.pools[&pool_id][&client_id]
                .secrets
                .iter()
                .map(
                    |s| json!({"ClientSecretId": s.id, "ClientSecretCreateDate": epoch(s.created)}),
                )
                .collect();
            Json(json!({"ClientSecrets": secrets})).into_response()
        }
        _ => {
            let id = field("ClientSecretId");
            let client = sim
                .pools
                .get_mut(&pool_id)
                .unwrap()
                .get_mut(&client_id)
                .unwrap();
            let Some(pos) = client.secrets.iter().position(|s| s.id == id) else {
                return aws_error(
                    "ResourceNotFoundException",
                    format!("Client secret {id} does not exist."),
                );
            };
            if client.secrets.len() == 1 {
                return aws_error(
                    "InvalidParameterException",
                    "The last client secret of an app client cannot be deleted.",
                );
            }
            client.secrets.remove(pos);
            Json(json!({})).into_response()
        }
    }
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({"error": error}))).into_response()
}

async fn token(
    Path(domain): Path<String>,
    State(state): State<Shared>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let form: HashMap<String, String> = form_pairs(&body);
    let mut sim = state.lock().unwrap();
    *sim.calls.entry("oauth2/token".into()).or_default() += 1;
    let Some(pool_id) = sim
        .pools
        .iter()
        .find(|(_, p)| p.domain.as_deref() == Some(domain.as_str()))
        .map(|(id, _)| id.clone())
    else {
        return (StatusCode::NOT_FOUND, "no such domain").into_response();
    };
    if let Some(status) = sim.knobs.token_faults.pop_front() {
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return oauth_error(
            code,
            if status == 429 {
                "slow_down"
            } else {
                "server_error"
            },
        );
    }
    // Cognito takes the Basic credentials as they are: no form-decoding.
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        });
    let (client_id, secret) = match (basic, form.get("client_id"), form.get("client_secret")) {
        (Some(pair), _, _) => pair,
        (None, Some(id), Some(s)) => (id.clone(), s.clone()),
        _ => return oauth_error(StatusCode::BAD_REQUEST, "invalid_client"),
    };
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    // A domain serves its own pool's clients only.
    let Some(client) = sim.pools[&pool_id].get(&client_id) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_client");
    };
    let now = Instant::now();
    if !client
        .secrets
        .iter()
        .any(|s| s.value == secret && s.usable_at <= now)
    {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_client");
    }
    let requested: Vec<&str> = form.get("scope").map_or(vec![], |s| s.split(' ').collect());
    if requested
        .iter()
        .any(|s| !client.scopes.iter().any(|a| a == s))
    {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_scope");
    }
    let token = format!("sim-access-{}", uuid::Uuid::new_v4().simple());
    Json(json!({"access_token": token, "expires_in": 3600, "token_type": "Bearer"})).into_response()
}

fn form_pairs(body: &str) -> HashMap<String, String> {
    form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

async fn discovery(Path(pool): Path<String>, State(state): State<(Shared, String)>) -> Response {
    let (sim, endpoint) = state;
    let Some(domain) = sim
        .lock()
        .unwrap()
        .pools
        .get(&pool)
        .map(|p| p.domain.clone())
    else {
        return (StatusCode::NOT_FOUND, "unknown user pool").into_response();
    };
    let Some(domain) = domain else {
        return (StatusCode::NOT_FOUND, "user pool has no domain").into_response();
    };
    Json(json!({
        "issuer": format!("{endpoint}/{pool}"),
        "token_endpoint": format!("{endpoint}/domain/{domain}/oauth2/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }))
    .into_response()
}

impl CognitoSim {
    pub fn start() -> CognitoSim {
        let state: Shared = Arc::default();
        let (listener, endpoint) = bind_loopback();
        let app = Router::new()
            .route("/", post(json_rpc))
            .route("/domain/{domain}/oauth2/token", post(token))
            .with_state(state.clone())
            .merge(
                Router::new()
                    .route("/{pool}/.well-known/openid-configuration", get(discovery))
                    .with_state((state.clone(), endpoint.clone())),
            );
        serve_in_background(listener, app, "cognito simulator");
        CognitoSim { endpoint, state }
    }

    /// Base URL for `AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// `ROTATOR_COGNITO_DOMAIN_URL` for this simulator: prefix domains served under `/domain/`.
    pub fn domain_url(&self) -> String {
        format!("{}/domain/{{domain}}", self.endpoint)
    }

    /// The token endpoint of a pool's domain.
    pub fn token_endpoint(&self, pool_id: &str) -> String {
        let domain = self.lock().pools[pool_id]
            .domain
            .clone()
            .expect("pool has a domain");
        format!("{}/domain/{domain}/oauth2/token", self.endpoint)
    }

    /// The OIDC issuer of a pool (discovery at `<issuer>/.well-known/openid-configuration`).
    pub fn issuer(&self, pool_id: &str) -> String {
        format!("{}/{pool_id}", self.endpoint)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sim> {
        self.state.lock().unwrap()
    }

    /// A user pool with a prefix domain (as every pool that serves client_credentials has).
    pub fn create_user_pool(&self, region: &str) -> String {
        let id = self.create_user_pool_without_domain(region);
        let domain = format!("agents-{}", id.split('_').nth(1).unwrap_or_default()).to_lowercase();
        self.lock().pools.get_mut(&id).expect("pool").domain = Some(domain);
        id
    }

    pub fn create_user_pool_without_domain(&self, region: &str) -> String {
        let mut sim = self.lock();
        let id = format!("{region}_{}", sim.next_id("P"));
        sim.pools.insert(
            id.clone(),
            SimPool {
                domain: None,
                clients: HashMap::new(),
            },
        );
        id
    }

    /// A confidential app client with one Cognito-generated secret: (client id, secret id, value).
    pub fn create_client(&self, pool_id: &str, scopes: &[&str]) -> (String, String, String) {
        let mut sim = self.lock();
        let client_id = sim.next_id("client");
        let secret = SimSecret {
            usable_at: Instant::now(),
            ..sim.new_secret(generated_value())
        };
        let out = (client_id.clone(), secret.id.clone(), secret.value.clone());
        sim.pools.get_mut(pool_id).expect("pool exists").insert(
            client_id,
            SimClient {
                secrets: vec![secret],
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
            },
        );
        out
    }

    /// Adds a secret out of band (someone else's, or a crashed run's leftover); returns its id.
    pub fn add_secret_out_of_band(&self, pool_id: &str, client_id: &str, value: &str) -> String {
        let mut sim = self.lock();
        let secret = SimSecret {
            usable_at: Instant::now(),
            ..sim.new_secret(value.to_string())
        };
        let id = secret.id.clone();
        sim.pools
            .get_mut(pool_id)
            .unwrap()
            .get_mut(client_id)
            .unwrap()
            .secrets
            .push(secret);
        id
    }

    /// Deletes a secret out of band (an administrator revoking it), bypassing the API's rules.
    pub fn revoke_out_of_band(&self, pool_id: &str, client_id: &str, secret_id: &str) {
        let mut sim = self.lock();
        let client = sim
            .pools
            .get_mut(pool_id)
            .unwrap()
            .get_mut(client_id)
            .unwrap();
        client.secrets.retain(|s| s.id != secret_id);
    }

    pub fn secret_ids(&self, pool_id: &str, client_id: &str) -> Vec<String> {
        self.lock().pools[pool_id][client_id]
            .secrets
            .iter()
            .map(|s| s.id.clone())
            .collect()
    }

    /// Does the IdP accept this secret right now (ignoring propagation and faults)?
    pub fn accepts(&self, client_id: &str, secret: &str) -> bool {
        let sim = self.lock();
        let now = Instant::now();
        sim.pools
            .values()
            .filter_map(|p| p.get(client_id))
            .any(|c| {
                c.secrets
                    .iter()
                    .any(|s| s.value == secret && s.usable_at <= now)
            })
    }

    pub fn set_propagation_delay(&self, delay: Duration) {
        self.lock().knobs.propagation_delay = delay;
    }

    pub fn fail_token_requests(&self, statuses: &[u16]) {
        self.lock().knobs.token_faults.extend(statuses);
    }

    pub fn fail_next_add(&self, code: &'static str) {
        self.lock().knobs.add_faults.push_back(code);
    }

    pub fn calls(&self, operation: &str) -> u32 {
        self.lock().calls.get(operation).copied().unwrap_or(0)
    }
}
