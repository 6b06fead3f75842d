//! Token endpoints of the vendors whose client secrets only their consoles create (Google,
//! GitHub, Slack, Atlassian, LinkedIn, Salesforce), answering an `authorization_code` request
//! with an invalid code exactly as each vendor's documentation shows: the client is checked
//! first, then the code. One loopback server, one path per vendor (the vendor's own path).
//!
//! | vendor | path | bad client | client ok, bad code |
//! |---|---|---|---|
//! | google | `/token` | 401 `invalid_client` "Unauthorized" | 400 `invalid_grant` "Bad Request" |
//! | github | `/login/oauth/access_token` | 200 `incorrect_client_credentials` | 200 `bad_verification_code` |
//! | slack | `/api/oauth.v2.access` | 200 `ok:false` `invalid_client_id` / `bad_client_secret` | 200 `ok:false` `invalid_code` |
//! | atlassian | `/oauth/token` (JSON body) | 401 `access_denied` "Unauthorized" | 403 `invalid_grant` |
//! | linkedin | `/oauth/v2/accessToken` | 401 `invalid_client` | 400 `invalid_request` naming the authorization code |
//! | salesforce | `/services/oauth2/token` | 400 `invalid_client_id` / `invalid_client` | 400 `invalid_grant` "authentication failure" |
//!
//! A client may hold several secrets at once (vendors let the console add one before the old is
//! revoked). Secrets are never logged.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use agentcore_rotator::upstream::vendors::Vendor;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

use crate::idp::common::{bind_loopback, json_response, serve_in_background};

#[derive(Default)]
struct Sim {
    /// (vendor, client id) → live secrets.
    clients: HashMap<(Vendor, String), Vec<String>>,
    calls: HashMap<Vendor, u32>,
    faults: VecDeque<u16>,
}

type Shared = Arc<Mutex<Sim>>;

pub struct VendorSim {
    base: String,
    state: Shared,
}

fn path_of(vendor: Vendor) -> &'static str {
    match vendor {
        Vendor::Google => "/token",
        Vendor::Github => "/login/oauth/access_token",
        Vendor::Slack => "/api/oauth.v2.access",
        Vendor::Atlassian => "/oauth/token",
        Vendor::Linkedin => "/oauth/v2/accessToken",
        Vendor::Salesforce => "/services/oauth2/token",
        // A customer's own server: the tests use oidc-provider for it.
        Vendor::Custom => "/custom/token",
    }
}

/// The answer to a request whose client is (`client_ok`) or is not authenticated; the code is
/// always invalid.
fn answer(vendor: Vendor, known_client: bool, client_ok: bool) -> Response {
    let err = |status: StatusCode, error: &str, description: &str| {
        json_response(
            status,
            json!({"error": error, "error_description": description}),
        )
    };
    match (vendor, client_ok) {
        (Vendor::Google, false) => err(StatusCode::UNAUTHORIZED, "invalid_client", "Unauthorized"),
        (Vendor::Google, true) => err(StatusCode::BAD_REQUEST, "invalid_grant", "Bad Request"),
        (Vendor::Github, ok) => json_response(
            StatusCode::OK,
            if ok {
                json!({"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired.", "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code"})
            } else {
                json!({"error": "incorrect_client_credentials", "error_description": "The client_id and/or client_secret passed are incorrect.", "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#incorrect-client-credentials"})
            },
        ),
        (Vendor::Slack, ok) => json_response(
            StatusCode::OK,
            json!({"ok": false, "error": match (ok, known_client) {
                (true, _) => "invalid_code",
                (false, true) => "bad_client_secret",
                (false, false) => "invalid_client_id",
            }}),
        ),
        (Vendor::Atlassian, false) => err(StatusCode::UNAUTHORIZED, "access_denied", "Unauthorized"),
        (Vendor::Atlassian, true) => err(StatusCode::FORBIDDEN, "invalid_grant", "Invalid authorization code"),
        (Vendor::Linkedin, false) => err(StatusCode::UNAUTHORIZED, "invalid_client", "Client authentication failed"),
        (Vendor::Linkedin, true) => err(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Unable to retrieve access token: appid/redirect uri/code verifier does not match authorization code. Or authorization code expired. Or external member binding exists",
        ),
        (Vendor::Salesforce, false) if !known_client => err(StatusCode::BAD_REQUEST, "invalid_client_id", "client identifier invalid"),
        (Vendor::Salesforce, false) => err(StatusCode::BAD_REQUEST, "invalid_client", "invalid client credentials"),
        (Vendor::Salesforce, true) => err(StatusCode::BAD_REQUEST, "invalid_grant", "authentication failure"),
        (Vendor::Custom, _) => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn token(
    Path((vendor, _path)): Path<(String, String)>,
    State(state): State<Shared>,
    body: String,
) -> Response {
    let Some(vendor) = Vendor::parse(&vendor) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut sim = state.lock().unwrap();
    *sim.calls.entry(vendor).or_default() += 1;
    if let Some(status) = sim.faults.pop_front() {
        let mut r = json_response(
            StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            json!({"error": "temporarily_unavailable"}),
        );
        r.headers_mut()
            .insert("retry-after", HeaderValue::from_static("1"));
        return r;
    }
    let fields: HashMap<String, String> = if vendor == Vendor::Atlassian {
        serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .map(|m| {
                m.into_iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect()
    };
    let client_id = fields.get("client_id").cloned().unwrap_or_default();
    let secret = fields.get("client_secret").cloned().unwrap_or_default();
    let secrets = sim.clients.get(&(vendor, client_id));
    let client_ok = secrets.is_some_and(|s| s.contains(&secret));
    answer(vendor, secrets.is_some(), client_ok)
}

impl VendorSim {
    pub fn start() -> VendorSim {
        let state: Shared = Arc::default();
        let (listener, base) = bind_loopback();
        let app = Router::new()
            .route("/{vendor}/{*path}", post(token))
            .with_state(state.clone());
        serve_in_background(listener, app, "vendor token endpoints");
        VendorSim { base, state }
    }

    /// The token endpoint standing in for `vendor`'s (`ROTATOR_VENDOR_TOKEN_URL_<VENDOR>`).
    pub fn token_url(&self, vendor: Vendor) -> String {
        format!("{}/{}{}", self.base, vendor.name(), path_of(vendor))
    }

    /// The origin the rotator must be allowed to reach.
    pub fn origin(&self) -> &str {
        &self.base
    }

    /// A client with one secret, as the vendor's console creates it.
    pub fn register(&self, vendor: Vendor, client_id: &str, secret: &str) {
        self.state
            .lock()
            .unwrap()
            .clients
            .insert((vendor, client_id.to_string()), vec![secret.to_string()]);
    }

    /// Another secret for the client, created in the console (the old one stays valid).
    pub fn add_secret(&self, vendor: Vendor, client_id: &str, secret: &str) {
        self.state
            .lock()
            .unwrap()
            .clients
            .entry((vendor, client_id.to_string()))
            .or_default()
            .push(secret.to_string());
    }

    /// Revokes a secret in the console.
    pub fn revoke(&self, vendor: Vendor, client_id: &str, secret: &str) {
        if let Some(s) = self
            .state
            .lock()
            .unwrap()
            .clients
            .get_mut(&(vendor, client_id.to_string()))
        {
            s.retain(|x| x != secret);
        }
    }

    pub fn calls(&self, vendor: Vendor) -> u32 {
        self.state
            .lock()
            .unwrap()
            .calls
            .get(&vendor)
            .copied()
            .unwrap_or(0)
    }

    /// The next requests answer with these statuses (`Retry-After: 1`).
    pub fn fail_next(&self, statuses: &[u16]) {
        self.state.lock().unwrap().faults.extend(statuses);
    }
}
