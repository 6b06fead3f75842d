//! Proves a client secret at the IdP's token endpoint with a real `client_credentials` request,
//! retrying with bounded back-off while a new secret propagates.

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Deserialize;

use crate::secret_doc::{ClientAuth, TokenEndpoint};
use crate::sensitive::SecretString;

/// Longest single pause between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(4);

#[derive(Clone)]
pub struct TokenProbe {
    http: reqwest::Client,
    budget: Duration,
    initial_backoff: Duration,
}

/// Where the token request goes, and who chose it.
pub enum ProbeEndpoint<'a> {
    /// Derived by the IdP adapter from coordinates (e.g. a Cognito user pool's domain): scheme
    /// and loopback rules apply, the allowlist does not.
    Derived(&'a str),
    /// Named by the secret document (`rotation.tokenEndpoint` or `rotation.issuer`): its origin
    /// must be in ROTATOR_ALLOWED_TOKEN_ORIGINS.
    Document(&'a TokenEndpoint),
}

pub struct ProbeRequest<'a> {
    pub endpoint: ProbeEndpoint<'a>,
    pub client_id: &'a str,
    pub client_secret: &'a SecretString,
    pub scopes: &'a [String],
    pub auth: ClientAuth,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSuccess {
    pub attempts: u32,
    pub elapsed: Duration,
    pub token_endpoint: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("identity provider rejected the client secret (invalid_client) at {endpoint} after {attempts} attempt(s) over {elapsed:?}; the secret is not (yet) accepted upstream")]
    InvalidClient {
        endpoint: String,
        attempts: u32,
        elapsed: Duration,
    },
    #[error("token endpoint {endpoint} answered {error}: the request was refused for a reason other than the secret; check rotation.scopes and the client's allowed grants")]
    Refused { endpoint: String, error: String },
    #[error("token endpoint {endpoint} did not give a token within {elapsed:?} ({attempts} attempt(s)); last problem: {last}")]
    Unavailable {
        endpoint: String,
        attempts: u32,
        elapsed: Duration,
        last: String,
    },
    #[error("token endpoint discovery from issuer {issuer} failed: {reason}")]
    Discovery { issuer: String, reason: String },
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Metadata {
    issuer: Option<String>,
    token_endpoint: Option<String>,
}

enum Attempt {
    Ok,
    Retry(String, Option<Duration>),
    InvalidClient,
    Fatal(String),
}

impl TokenProbe {
    pub fn new(budget: Duration, initial_backoff: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("a TLS-capable HTTP client");
        Self {
            http,
            budget,
            initial_backoff,
        }
    }

    /// The token endpoint: as configured, or from the issuer's metadata (OIDC discovery first,
    /// then RFC 8414), checking that the metadata names the same issuer.
    pub async fn token_endpoint(&self, endpoint: &ProbeEndpoint<'_>) -> Result<String, ProbeError> {
        let issuer = match endpoint {
            ProbeEndpoint::Derived(url) => return Ok(url.to_string()),
            ProbeEndpoint::Document(TokenEndpoint::Url(url)) => return Ok(url.clone()),
            ProbeEndpoint::Document(TokenEndpoint::Issuer(issuer)) => issuer.trim_end_matches('/'),
        };
        let fail = |reason: String| ProbeError::Discovery {
            issuer: issuer.to_string(),
            reason,
        };
        let mut problems = Vec::new();
        for url in discovery_urls(issuer) {
            let meta = match self.http.get(&url).send().await {
                Ok(r) if r.status().is_success() => r.json::<Metadata>().await,
                Ok(r) => {
                    problems.push(format!("{url}: HTTP {}", r.status().as_u16()));
                    continue;
                }
                Err(e) => {
                    problems.push(format!("{url}: {}", without_url(&e)));
                    continue;
                }
            };
            let meta = meta.map_err(|e| fail(format!("{url}: invalid metadata: {e}")))?;
            if meta.issuer.as_deref().map(|i| i.trim_end_matches('/')) != Some(issuer) {
                return Err(fail(format!("{url} names a different issuer")));
            }
            return meta
                .token_endpoint
                .ok_or_else(|| fail(format!("{url} has no token_endpoint")));
        }
        Err(fail(problems.join("; ")))
    }

    pub async fn probe(&self, req: &ProbeRequest<'_>) -> Result<ProbeSuccess, ProbeError> {
        let endpoint = self.token_endpoint(&req.endpoint).await?;
        let start = Instant::now();
        let deadline = start + self.budget;
        let mut backoff = self.initial_backoff;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (pause, last) = match self.attempt(&endpoint, req).await {
                Attempt::Ok => {
                    return Ok(ProbeSuccess {
                        attempts,
                        elapsed: start.elapsed(),
                        token_endpoint: endpoint,
                    })
                }
                Attempt::Fatal(error) => return Err(ProbeError::Refused { endpoint, error }),
                // A new secret answers invalid_client until it has propagated.
                Attempt::InvalidClient => (backoff, None),
                Attempt::Retry(last, retry_after) => (retry_after.unwrap_or(backoff), Some(last)),
            };
            let now = Instant::now();
            if now + pause >= deadline {
                return Err(match last {
                    None => ProbeError::InvalidClient {
                        endpoint,
                        attempts,
                        elapsed: start.elapsed(),
                    },
                    Some(last) => ProbeError::Unavailable {
                        endpoint,
                        attempts,
                        elapsed: start.elapsed(),
                        last,
                    },
                });
            }
            tracing::debug!(
                attempts,
                pause_ms = pause.as_millis() as u64,
                "token probe retrying"
            );
            tokio::time::sleep(pause).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    async fn attempt(&self, endpoint: &str, req: &ProbeRequest<'_>) -> Attempt {
        let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
        let scope = req.scopes.join(" ");
        if !scope.is_empty() {
            form.push(("scope", &scope));
        }
        let mut request = self.http.post(endpoint);
        match req.auth {
            ClientAuth::ClientSecretBasic => {
                request = request.header(
                    reqwest::header::AUTHORIZATION,
                    basic_authorization(req.client_id, req.client_secret),
                );
            }
            ClientAuth::ClientSecretPost => {
                form.push(("client_id", req.client_id));
                form.push(("client_secret", req.client_secret.expose()));
            }
        }
        let response = match request.form(&form).send().await {
            Ok(r) => r,
            Err(e) => return Attempt::Retry(without_url(&e), None),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body: Option<TokenResponse> = response.json().await.ok();
        let error = body.as_ref().and_then(|b| b.error.clone());
        match (status.as_u16(), error.as_deref()) {
            (200, _) if body.as_ref().is_some_and(|b| b.access_token.is_some()) => Attempt::Ok,
            (_, Some("invalid_client")) => Attempt::InvalidClient,
            (429, _) => Attempt::Retry("HTTP 429 (throttled)".into(), retry_after),
            (s, _) if s >= 500 => Attempt::Retry(format!("HTTP {s}"), retry_after),
            (_, Some(e)) => Attempt::Fatal(sanitize_code(e)),
            (s, None) => Attempt::Fatal(format!("HTTP {s} without an OAuth error")),
        }
    }
}

/// RFC 6749 §2.3.1: form-urlencode id and secret, then base64 `id:secret`.
pub fn basic_authorization(client_id: &str, secret: &SecretString) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", enc(client_id), enc(secret.expose()));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// OIDC appends its suffix to the issuer; RFC 8414 inserts it between host and path.
fn discovery_urls(issuer: &str) -> Vec<String> {
    let mut urls = vec![format!("{issuer}/.well-known/openid-configuration")];
    if let Some((scheme, rest)) = issuer.split_once("://") {
        let (host, path) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
        let path = if path.is_empty() {
            String::new()
        } else {
            format!("/{path}")
        };
        urls.push(format!(
            "{scheme}://{host}/.well-known/oauth-authorization-server{path}"
        ));
    }
    urls
}

/// OAuth error codes are short ASCII tokens; anything else is not echoed.
fn sanitize_code(code: &str) -> String {
    if code.len() <= 64 && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        code.to_string()
    } else {
        "an unrecognised OAuth error".into()
    }
}

/// reqwest errors can include the URL; ours never carry secrets but keep messages short.
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    kind.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_authorization_form_encodes_before_base64() {
        let h = basic_authorization("id:1", &SecretString::new("a+b/c=d:e%f g"));
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(h.strip_prefix("Basic ").unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            "id%3A1:a%2Bb%2Fc%3Dd%3Ae%25f+g"
        );
    }

    #[test]
    fn discovery_tries_oidc_then_rfc8414_insertion() {
        assert_eq!(
            discovery_urls("https://idp.example.com/realms/x"),
            vec![
                "https://idp.example.com/realms/x/.well-known/openid-configuration",
                "https://idp.example.com/.well-known/oauth-authorization-server/realms/x",
            ]
        );
        assert_eq!(
            discovery_urls("http://127.0.0.1:9")[1],
            "http://127.0.0.1:9/.well-known/oauth-authorization-server"
        );
    }

    #[test]
    fn unexpected_error_codes_are_not_echoed() {
        assert_eq!(sanitize_code("invalid_scope"), "invalid_scope");
        assert_eq!(
            sanitize_code("<script>x</script>"),
            "an unrecognised OAuth error"
        );
    }
}
