//! oidc-provider (npm) as an independent real OAuth server.
//!
//! `testkit/oidc/server.mjs` runs [oidc-provider](https://github.com/panva/node-oidc-provider)
//! (OpenID Certified; version pinned in `testkit/oidc/package.json`) on `127.0.0.1` with an
//! OS-chosen port, issuer `http://127.0.0.1:<port>`, the `client_credentials` grant enabled, its
//! in-memory adapter, and only `client_secret_basic` / `client_secret_post` client
//! authentication. It is not our code and not a simulator of ours: it is the reference the token
//! probe is tested against. Each [`OidcServer`] is its own process with its own clients; it stops
//! when the `OidcServer` is dropped (and when this test process exits, since it serves until its
//! stdin closes).
//!
//! # Contract observed (oidc-provider 9.13.3 on Node 20), pinned by `tests/oidc_provider.rs`
//!
//! Discovery: `GET {issuer}/.well-known/openid-configuration` → 200 JSON with
//! `"token_endpoint": "{issuer}/token"` and
//! `"token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"]`;
//! `grant_types_supported` includes `client_credentials`; `scopes_supported` is the configured
//! scopes plus `openid` (oidc-provider always adds it).
//!
//! Token endpoint, `POST {issuer}/token`, body `application/x-www-form-urlencoded` (any other
//! content type → 400 `invalid_request`, "only application/x-www-form-urlencoded content-type
//! bodies are supported on POST /token"). Every response is JSON
//! (`application/json; charset=utf-8`) with `Cache-Control: no-store`.
//!
//! * Success → **200** `{"access_token": "<opaque, 43 chars>", "expires_in": 600,
//!   "token_type": "Bearer"}`, plus `"scope": "api:read"` only when a scope was requested and
//!   granted. Requested scopes the server does not know are dropped silently (still 200).
//! * `client_secret_basic`: `Authorization: Basic base64(enc(client_id) ":" enc(client_secret))`
//!   where `enc` is `application/x-www-form-urlencoded` (RFC 6749 §2.3.1). The server
//!   percent-decodes both halves after turning `+` into a space, so `%20` and `+` both mean a
//!   space. The split is at the first `:` of the decoded base64. Sending the id and secret raw
//!   (what `reqwest::RequestBuilder::basic_auth` does) still works when they hold no `+`, `%`
//!   or (in the id) `:`; otherwise:
//!   - a raw secret with `+`, and any `%` followed by two hex digits, decodes to a different
//!     string → **401** `{"error": "invalid_client", "error_description": "client
//!     authentication failed"}`; so does a raw client_id with `:` (the lookup is for its prefix);
//!   - a raw secret with a `%` not followed by two hex digits → **400** `{"error":
//!     "invalid_request", "error_description": "client_id and client_secret in the authorization
//!     header are not properly encoded"}`.
//!   - A non-`Basic` scheme → 400 `invalid_request` ("invalid authorization header value
//!     format").
//! * `client_secret_post`: `client_id` and `client_secret` form fields (the form encoding is the
//!   body's own).
//! * Wrong secret, or unknown client_id → **401** with the same body as above
//!   (`invalid_client` / "client authentication failed": unknown client and wrong secret are
//!   indistinguishable). When the attempt used the `Authorization` header the 401 also carries
//!   `WWW-Authenticate: Basic realm="{issuer}", error="invalid_client",
//!   error_description="client authentication failed"`; with `client_secret_post` there is no
//!   `WWW-Authenticate`.
//! * The registered `token_endpoint_auth_method` is **not enforced between the two secret
//!   methods**: a client registered for `client_secret_basic` also authenticates with
//!   `client_secret_post` and vice versa. (Use another server, not this one, to test detection of
//!   a wrong auth method.)
//! * Both mechanisms at once → 400 `invalid_request` ("client authentication must only be
//!   provided using one mechanism"); no credentials at all → 400 `invalid_request` ("no client
//!   authentication mechanism provided"); a `client_id` field without a secret → 401
//!   `invalid_client`.
//! * Client authentication is checked before the grant: with valid credentials, a missing
//!   `grant_type` → 400 `invalid_request` ("missing required parameter 'grant_type'"), another
//!   grant type → 400 `unsupported_grant_type`; a scope the client is not registered for (here
//!   `openid`) → 400 `{"error": "invalid_scope", "error_description": "requested scope is not
//!   allowed", "scope": "openid"}`.
//!
//! On stderr (kept, and shown if startup fails) oidc-provider warns that Node 20 is an
//! "Unsupported runtime" (it asks for Node 22 LTS; v9 runs on Node 20 ≥ 20.18) and that its
//! development-only in-memory adapter is used; both are expected here.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::moto::{ensure_setup, repo_root};

/// Scopes a server started with [`OidcServer::start`] knows and grants to every client.
pub const DEFAULT_SCOPES: &[&str] = &["api:read", "api:write"];

/// How long to wait for the server's ready line.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Client authentication method at the token endpoint (RFC 6749 §2.3.1, OIDC Core §9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    /// HTTP Basic with the form-urlencoded client_id and client_secret.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
}

impl AuthMethod {
    /// The registered metadata value (`token_endpoint_auth_method`).
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
        }
    }
}

/// A confidential client registered with the server, allowed the `client_credentials` grant
/// and every scope of the server. Keep id and secret to printable ASCII (`%x20-7E`, RFC 6749
/// VSCHAR): oidc-provider rejects anything else in a Basic header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcClient {
    pub client_id: String,
    pub client_secret: String,
    pub auth_method: AuthMethod,
}

impl OidcClient {
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        auth_method: AuthMethod,
    ) -> Self {
        OidcClient {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            auth_method,
        }
    }
}

/// A running oidc-provider; the process is stopped on drop.
pub struct OidcServer {
    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub issuer: String,
    pub port: u16,
    token_endpoint: String,
    stderr: Arc<Mutex<String>>,
    stdin: Option<ChildStdin>,
    child: Child,
}

impl OidcServer {
    /// Starts a server with `clients` and [`DEFAULT_SCOPES`].
    pub fn start(clients: &[OidcClient]) -> OidcServer {
        Self::start_with_scopes(clients, DEFAULT_SCOPES)
    }

    /// Starts a server with `clients`, each allowed every one of `scopes`.
    pub fn start_with_scopes(clients: &[OidcClient], scopes: &[&str]) -> OidcServer {
        ensure_setup();
        let clients_json = serde_json::to_string(
            &clients
                .iter()
                .map(|c| {
                    json!({
                        "client_id": c.client_id,
                        "client_secret": c.client_secret,
                        "token_endpoint_auth_method": c.auth_method.as_str(),
                    })
                })
                .collect::<Vec<_>>(),
        )
        .expect("clients serialize");
        let mut child = Command::new("node")
            .arg(repo_root().join("testkit/oidc/server.mjs"))
            .env("OIDC_CLIENTS", clients_json)
            .env("OIDC_SCOPES", scopes.join(" "))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("failed to start node (Node.js 20+ must be on PATH; run scripts/setup)");

        // Keep stderr (oidc-provider's notices, our startup errors) for failure messages.
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut child_stderr = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = child_stderr.read(&mut buf) {
                sink.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });

        // Read the ready line on a thread so a hung start times out; keep draining stdout
        // afterwards so the server never writes into a closed pipe.
        let (tx, rx) = mpsc::channel();
        let child_stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            let mut reader = BufReader::new(child_stdout);
            let mut line = String::new();
            let read = reader.read_line(&mut line).map(|_| line);
            let _ = tx.send(read);
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });

        let stdin = child.stdin.take();
        let mut server = OidcServer {
            issuer: String::new(),
            port: 0,
            token_endpoint: String::new(),
            stderr,
            stdin,
            child,
        };
        let line = match rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(line)) if !line.trim().is_empty() => line,
            Ok(Ok(_)) => server.fail_start("it exited before printing its ready line"),
            Ok(Err(e)) => server.fail_start(&format!("reading its stdout failed: {e}")),
            Err(_) => server.fail_start(&format!("no ready line within {START_TIMEOUT:?}")),
        };
        let ready: serde_json::Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => server.fail_start(&format!("bad ready line {line:?}: {e}")),
        };
        match (
            ready["issuer"].as_str(),
            ready["port"].as_u64().and_then(|p| u16::try_from(p).ok()),
            ready["token_endpoint"].as_str(),
        ) {
            (Some(issuer), Some(port), Some(token_endpoint)) => {
                server.issuer = issuer.to_string();
                server.port = port;
                server.token_endpoint = token_endpoint.to_string();
            }
            _ => server.fail_start(&format!("incomplete ready line {line:?}")),
        }
        server
    }

    /// The token endpoint as published in the discovery document (`{issuer}/token`).
    pub fn token_endpoint(&self) -> &str {
        &self.token_endpoint
    }

    /// `{issuer}/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    /// What the server has written to stderr so far (oidc-provider's notices and errors).
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn fail_start(&mut self, why: &str) -> ! {
        self.stop();
        // Give the stderr reader a moment to collect the last words.
        std::thread::sleep(Duration::from_millis(200));
        panic!(
            "oidc-provider did not start: {why}\nstderr:\n{}",
            self.stderr()
        );
    }

    fn stop(&mut self) {
        // Closing stdin asks the server to exit; kill makes sure of it.
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OidcServer {
    fn drop(&mut self) {
        self.stop();
    }
}
