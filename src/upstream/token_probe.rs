//! Proves a client secret at the IdP's token endpoint with a real `client_credentials` request,
//! retrying with bounded back-off while a new secret propagates.
//!
//! Which hosts it talks to is the function's configuration ([`OriginPolicy`]): a URL the secret
//! document names must have an allowed origin, and is checked before anything is sent.

use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::Url;
use serde::Deserialize;

use super::vendors;
use crate::http::{self, OriginError, OriginPolicy, BODY_LIMIT};
use crate::secret_doc::{ClientAuth, TokenEndpoint};
use crate::sensitive::SecretString;

/// Longest single pause between attempts.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(4);

#[derive(Clone)]
pub struct TokenProbe {
    http: reqwest::Client,
    policy: OriginPolicy,
    budget: Duration,
    initial_backoff: Duration,
}

/// Where the token request goes, and who chose it.
#[derive(Clone, Copy, Debug)]
pub enum ProbeEndpoint<'a> {
    /// Derived by the IdP adapter from coordinates (e.g. a Cognito user pool's domain): scheme and loopback rules apply, the allowlist does not.
    Derived(&'a str),
    /// Named by the secret document (`rotation.tokenEndpoint` or `rotation.issuer`): its origin must be in ROTATOR_ALLOWED_TOKEN_ORIGINS.
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
    /// Origin and path ([`http::printable`]): what the success log line prints.
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
    /// The URL is not one the function may call; nothing was sent.
    #[error("token probe not sent: {0}")]
    NotAllowed(#[from] OriginError),
    #[error("token endpoint {endpoint} answered a redirect ({redirect}); redirects are not followed: name the final token endpoint in the secret document (its origin must be allowed)")]
    Redirected { endpoint: String, redirect: String },
    #[error("token endpoint {endpoint} gave an unusable answer: {reason}")]
    BadResponse { endpoint: String, reason: String },
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
    Redirected(String),
    BadResponse(String),
}

impl TokenProbe {
    /// A probe that retries for `budget`, first pausing `initial_backoff`, and sends requests
    /// only where `policy` allows.
    pub fn new(budget: Duration, initial_backoff: Duration, policy: OriginPolicy) -> Self {
        Self {
            http: policy.client(),
            policy,
            budget,
            initial_backoff,
        }
    }

    /// Proves a client secret at a staged vendor ([`vendors::prove`]) with this probe's client,
    /// budget and back-off, at an endpoint the policy allows as derived.
    pub async fn prove_at_vendor(
        &self,
        vendor: vendors::Vendor,
        url: &str,
        client_id: &str,
        client_secret: &SecretString,
    ) -> Result<u32, vendors::ProofError> {
        let url = self
            .policy
            .check_derived(url, "vendor token endpoint")
            .map_err(|e| vendors::ProofError::Inconclusive {
                vendor: vendor.name(),
                attempts: 0,
                elapsed: Duration::ZERO,
                last: e.to_string(),
            })?;
        vendors::prove(
            &self.http,
            vendor,
            url.as_str(),
            client_id,
            client_secret,
            self.budget,
            self.initial_backoff,
        )
        .await
    }

    /// The token endpoint, checked against the policy: as derived or named, or from the
    /// issuer's metadata (OIDC discovery first, then RFC 8414), checking that the metadata names
    /// the same issuer and that the token endpoint it names is allowed too.
    pub async fn token_endpoint(&self, endpoint: ProbeEndpoint<'_>) -> Result<Url, ProbeError> {
        let issuer = match endpoint {
            ProbeEndpoint::Derived(url) => {
                return Ok(self.policy.check_derived(url, "derived token endpoint")?)
            }
            ProbeEndpoint::Document(TokenEndpoint::Url(url)) => {
                return Ok(self.policy.check_document(url, "rotation.tokenEndpoint")?)
            }
            ProbeEndpoint::Document(TokenEndpoint::Issuer(issuer)) => issuer.trim_end_matches('/'),
        };
        let printed_issuer =
            http::printable(&self.policy.check_document(issuer, "rotation.issuer")?);
        let fail = |reason: String| ProbeError::Discovery {
            issuer: printed_issuer.clone(),
            reason,
        };
        let mut problems = Vec::new();
        for url in discovery_urls(issuer) {
            let target = self.policy.check_document(&url, "rotation.issuer")?;
            let url = http::printable(&target);
            let response = match self.http.get(target).send().await {
                Ok(r) => r,
                Err(e) => {
                    problems.push(format!("{url}: {}", http::describe(&e)));
                    continue;
                }
            };
            if let Some(redirect) = http::redirect_summary(&response) {
                problems.push(format!("{url}: a redirect ({redirect}), not followed"));
                continue;
            }
            if !response.status().is_success() {
                problems.push(format!("{url}: HTTP {}", response.status().as_u16()));
                continue;
            }
            let body = http::read_capped(response, BODY_LIMIT)
                .await
                .map_err(|e| fail(format!("{url}: {e}")))?;
            let meta: Metadata = serde_json::from_slice(&body)
                .map_err(|e| fail(format!("{url}: invalid metadata: {e}")))?;
            if meta.issuer.as_deref().map(|i| i.trim_end_matches('/')) != Some(issuer) {
                return Err(fail(format!("{url} names a different issuer")));
            }
            let token_endpoint = meta
                .token_endpoint
                .ok_or_else(|| fail(format!("{url} has no token_endpoint")))?;
            return Ok(self
                .policy
                .check_document(&token_endpoint, "discovered token_endpoint")?);
        }
        Err(fail(problems.join("; ")))
    }

    pub async fn probe(&self, req: &ProbeRequest<'_>) -> Result<ProbeSuccess, ProbeError> {
        let url = self.token_endpoint(req.endpoint).await?;
        let endpoint = http::printable(&url);
        let start = Instant::now();
        let mut backoff = self.initial_backoff;
        let mut attempts: u32 = 0;
        loop {
            attempts = attempts.saturating_add(1);
            let (pause, last) = match self.attempt(&url, req).await {
                Attempt::Ok => {
                    return Ok(ProbeSuccess {
                        attempts,
                        elapsed: start.elapsed(),
                        token_endpoint: endpoint,
                    })
                }
                Attempt::Fatal(error) => return Err(ProbeError::Refused { endpoint, error }),
                Attempt::Redirected(redirect) => {
                    return Err(ProbeError::Redirected { endpoint, redirect })
                }
                Attempt::BadResponse(reason) => {
                    return Err(ProbeError::BadResponse { endpoint, reason })
                }
                // A new secret answers invalid_client until it has propagated.
                Attempt::InvalidClient => (backoff, None),
                // Retry-After is a floor: never sooner than our own back-off.
                Attempt::Retry(last, retry_after) => (
                    retry_after.map_or(backoff, |ra| ra.max(backoff)),
                    Some(last),
                ),
            };
            // No Instant arithmetic: a pause as long as a server cares to ask for (or a budget
            // as long as configured) cannot overflow; it only ends the probe.
            let remaining = self.budget.saturating_sub(start.elapsed());
            if pause >= remaining {
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
                pause_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX),
                "token probe retrying"
            );
            tokio::time::sleep(pause).await;
            backoff = backoff.saturating_mul(2).min(MAX_BACKOFF);
        }
    }

    async fn attempt(&self, endpoint: &Url, req: &ProbeRequest<'_>) -> Attempt {
        let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
        let scope = req.scopes.join(" ");
        if !scope.is_empty() {
            form.push(("scope", &scope));
        }
        let mut request = self.http.post(endpoint.clone());
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
            Err(e) => return Attempt::Retry(http::describe(&e), None),
        };
        if let Some(redirect) = http::redirect_summary(&response) {
            return Attempt::Redirected(redirect);
        }
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(retry_after_seconds);
        let retryable = status == 429 || status >= 500;
        let body = match http::read_capped(response, BODY_LIMIT).await {
            Ok(body) => Some(body),
            Err(_) if retryable => None,
            Err(e @ http::BodyError::TooLarge { .. }) => {
                return Attempt::BadResponse(format!("HTTP {status} with {e}"))
            }
            Err(e) => return Attempt::Retry(e.to_string(), None),
        };
        let body: Option<TokenResponse> = body.and_then(|b| serde_json::from_slice(&b).ok());
        let error = body.as_ref().and_then(|b| b.error.clone());
        match (status, error.as_deref()) {
            (200, _) if body.as_ref().is_some_and(|b| b.access_token.is_some()) => Attempt::Ok,
            (_, Some("invalid_client")) => Attempt::InvalidClient,
            // Keycloak answers a wrong (or not yet propagated) secret with 401 unauthorized_client.
            (401, Some("unauthorized_client")) => Attempt::InvalidClient,
            (429, _) => Attempt::Retry("HTTP 429 (throttled)".into(), retry_after),
            (s, _) if s >= 500 => Attempt::Retry(format!("HTTP {s}"), retry_after),
            (_, Some(e)) => Attempt::Fatal(sanitize_code(e)),
            (s, None) => Attempt::Fatal(format!("HTTP {s} without an OAuth error")),
        }
    }
}

/// `Retry-After` in its delay-seconds form (RFC 9110 §10.2.3); the HTTP-date form and anything
/// unparsable are ignored (our own back-off applies).
fn retry_after_seconds(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
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
    fn retry_after_takes_seconds_and_ignores_dates_and_garbage() {
        assert_eq!(retry_after_seconds(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(
            retry_after_seconds("18446744073709551615"),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(retry_after_seconds("-1"), None);
        assert_eq!(retry_after_seconds("99999999999999999999999"), None);
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
