//! JSON calls to an IdP's management API (Okta, Microsoft Graph, Keycloak): a bearer from the
//! admin credential, the hardened client (no redirects, bounded time and body), a few retries
//! on 429/503 within a small budget honouring `Retry-After` (or Okta's `X-Rate-Limit-Reset`), and errors classified the way the
//! rotation needs them (not found, denied, capacity, throttled). Bodies are never logged;
//! an IdP's error text is kept short and printable.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::admin::AdminCredential;
use super::UpstreamError;
use crate::http::{self, BODY_LIMIT};

/// Attempts per call, and the longest `Retry-After` waited for inside one call (longer
/// throttling ends the call; Secrets Manager retries the step).
const ATTEMPTS: u32 = 3;
const MAX_WAIT: Duration = Duration::from_secs(5);

/// An answer that was not a success, for the adapter to classify further. Its Debug output
/// leaves the body out: an IdP's error body is the IdP's text, not ours to print.
pub struct Failure {
    pub status: StatusCode,
    pub body: Value,
    pub retry_after: Option<Duration>,
}

pub struct Rest {
    pub http: reqwest::Client,
    pub admin: Arc<dyn AdminCredential>,
}

impl Rest {
    /// One call; `Ok(None)` for an empty success body (204).
    pub async fn call(
        &self,
        operation: &'static str,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Result<Option<Value>, Failure>, UpstreamError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let bearer = self.admin.bearer().await?;
            let mut request = self
                .http
                .request(method.clone(), url)
                .bearer_auth(bearer.expose())
                .header("Accept", "application/json");
            if let Some(b) = body {
                request = request.json(b);
            }
            let response = request.send().await.map_err(|e| UpstreamError::Call {
                operation,
                message: http::describe(&e),
            })?;
            if let Some(redirect) = http::redirect_summary(&response) {
                return Err(UpstreamError::Call {
                    operation,
                    message: format!(
                        "the IdP answered with a redirect ({redirect}); redirects are never followed"
                    ),
                });
            }
            let status = response.status();
            let retry_after = retry_after(response.headers(), status);
            let bytes =
                http::read_capped(response, BODY_LIMIT)
                    .await
                    .map_err(|e| UpstreamError::Call {
                        operation,
                        message: e.to_string(),
                    })?;
            let json = if bytes.is_empty() {
                None
            } else {
                serde_json::from_slice(&bytes).ok()
            };
            if status.is_success() {
                return Ok(Ok(json));
            }
            let transient = status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::SERVICE_UNAVAILABLE;
            let wait = retry_after.unwrap_or(Duration::from_millis(200 * u64::from(attempt)));
            if transient && attempt < ATTEMPTS && wait <= MAX_WAIT {
                tokio::time::sleep(wait).await;
                continue;
            }
            return Ok(Err(Failure {
                status,
                body: json.unwrap_or(Value::Null),
                retry_after,
            }));
        }
    }
}

impl std::fmt::Debug for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Failure")
            .field("status", &self.status)
            .field("retry_after", &self.retry_after)
            .finish_non_exhaustive()
    }
}

impl Failure {
    /// The generic classification; adapters match vendor codes (capacity, policy) first.
    pub fn into_error(
        self,
        operation: &'static str,
        client_id: &str,
        detail: &str,
    ) -> UpstreamError {
        let message = printable_detail(detail);
        match self.status.as_u16() {
            404 => UpstreamError::ClientNotFound {
                client_id: client_id.to_string(),
            },
            401 | 403 => UpstreamError::AccessDenied { operation, message },
            429 => UpstreamError::Throttled {
                operation,
                retry_after_secs: self.retry_after.map(|d| d.as_secs()),
            },
            status => UpstreamError::Call {
                operation,
                message: format!("HTTP {status}: {message}"),
            },
        }
    }
}

/// `Retry-After` in seconds (HTTP dates are rare from IdPs and treated as absent), else, for a
/// 429, Okta's `X-Rate-Limit-Reset` (the epoch second the limit resets; Okta sends it on every
/// answer, so on a 503 it says nothing about when to retry), capped so a huge value cannot
/// overflow anything.
fn retry_after(headers: &reqwest::header::HeaderMap, status: StatusCode) -> Option<Duration> {
    let header = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<u64>().ok();
    if let Some(secs) = header("retry-after") {
        return Some(Duration::from_secs(secs.min(3600)));
    }
    if status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let reset = header("x-rate-limit-reset")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(Duration::from_secs(
        reset.saturating_sub(now).clamp(1, 3600),
    ))
}

/// An IdP's error text as errors print it: one line, printable ASCII, at most 300 characters.
pub fn printable_detail(detail: &str) -> String {
    let cleaned: String = detail
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                ' '
            }
        })
        .take(300)
        .collect();
    if cleaned.trim().is_empty() {
        "no detail given".into()
    } else {
        cleaned.trim().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_comes_from_retry_after_or_oktas_reset_time() {
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "3".into())]),
                StatusCode::TOO_MANY_REQUESTS
            ),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "99999999999".into())]),
                StatusCode::TOO_MANY_REQUESTS
            ),
            Some(Duration::from_secs(3600))
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let in_two = retry_after(
            &headers(&[("x-rate-limit-reset", (now + 2).to_string())]),
            StatusCode::TOO_MANY_REQUESTS,
        )
        .unwrap();
        assert!((1..=2).contains(&in_two.as_secs()), "{in_two:?}");
        // A reset time already past still waits a moment.
        assert_eq!(
            retry_after(
                &headers(&[("x-rate-limit-reset", (now - 10).to_string())]),
                StatusCode::TOO_MANY_REQUESTS
            ),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "soon".into())]),
                StatusCode::TOO_MANY_REQUESTS
            ),
            None
        );
        assert_eq!(
            retry_after(&HeaderMap::new(), StatusCode::TOO_MANY_REQUESTS),
            None
        );
        // Okta sends its reset time on every answer: a 503 waits the ordinary back-off.
        assert_eq!(
            retry_after(
                &headers(&[("x-rate-limit-reset", (now + 30).to_string())]),
                StatusCode::SERVICE_UNAVAILABLE
            ),
            None
        );
    }
}
