//! The M2M flow: a real client_credentials request to the provider's token endpoint.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;

use super::oauth2_config::{Discovery, VendorConfig};
use super::resolve::ResolvedSecret;

/// Why the IdP did not hand out a token. Carries no secret and no IdP free text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenError {
    Discovery(String),
    Transport(String),
    /// The IdP refused: HTTP status and its OAuth `error` code when it sent one.
    Rejected {
        status: u16,
        error: Option<String>,
    },
    BadResponse,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::Discovery(e) => write!(f, "discovery failed: {e}"),
            TokenError::Transport(e) => write!(f, "token request failed: {e}"),
            TokenError::Rejected { status, error } => write!(
                f,
                "token endpoint answered HTTP {status} ({})",
                error.as_deref().unwrap_or("no error code")
            ),
            TokenError::BadResponse => f.write_str("token response had no access_token"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthMethod {
    Basic,
    Post,
}

/// Token endpoint and the client authentication methods it advertises.
async fn endpoint(
    http: &reqwest::Client,
    discovery: &Discovery,
) -> Result<(String, Vec<String>), TokenError> {
    match discovery {
        Discovery::Metadata(m) => Ok((
            m.token_endpoint.clone(),
            m.token_endpoint_auth_methods.clone().unwrap_or_default(),
        )),
        Discovery::Url(url) => {
            let err = |e: reqwest::Error| TokenError::Discovery(e.without_url().to_string());
            let doc: Value = http
                .get(url)
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .map_err(err)?
                .json()
                .await
                .map_err(err)?;
            let token = doc["token_endpoint"]
                .as_str()
                .ok_or_else(|| TokenError::Discovery("no token_endpoint".into()))?;
            let methods = doc["token_endpoint_auth_methods_supported"]
                .as_array()
                .map(|l| {
                    l.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            Ok((token.to_string(), methods))
        }
    }
}

/// The configured method wins; else what the server advertises; else basic, which RFC 6749
/// §2.3.1 makes mandatory for servers.
fn auth_method(config: &VendorConfig, advertised: &[String]) -> AuthMethod {
    match config.client_auth_method.as_deref() {
        Some("CLIENT_SECRET_POST") => return AuthMethod::Post,
        Some("CLIENT_SECRET_BASIC") => return AuthMethod::Basic,
        _ => {}
    }
    let has = |m: &str| advertised.iter().any(|a| a == m);
    if !has("client_secret_basic") && has("client_secret_post") {
        AuthMethod::Post
    } else {
        AuthMethod::Basic
    }
}

/// application/x-www-form-urlencoded, as RFC 6749 §2.3.1 requires for the Basic credentials.
pub(crate) fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Runs client_credentials and returns the access token.
pub(crate) async fn client_credentials(
    http: &reqwest::Client,
    config: &VendorConfig,
    secret: &ResolvedSecret,
    scopes: &[String],
    extra: &[(String, String)],
) -> Result<String, TokenError> {
    let (token_endpoint, advertised) = endpoint(http, &config.discovery).await?;
    let mut form: Vec<(String, String)> = vec![("grant_type".into(), "client_credentials".into())];
    if !scopes.is_empty() {
        form.push(("scope".into(), scopes.join(" ")));
    }
    form.extend(extra.iter().cloned());
    let mut request = http
        .post(&token_endpoint)
        .header("accept", "application/json");
    match auth_method(config, &advertised) {
        AuthMethod::Basic => {
            let pair = format!(
                "{}:{}",
                form_encode(&config.client_id),
                form_encode(secret.expose_secret())
            );
            request = request.header("authorization", format!("Basic {}", STANDARD.encode(pair)));
        }
        AuthMethod::Post => {
            form.push(("client_id".into(), config.client_id.clone()));
            form.push(("client_secret".into(), secret.expose_secret().to_string()));
        }
    }
    let response = request
        .form(&form)
        .send()
        .await
        .map_err(|e| TokenError::Transport(e.without_url().to_string()))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(TokenError::Rejected {
            status: status.as_u16(),
            error: body["error"].as_str().map(str::to_string),
        });
    }
    body["access_token"]
        .as_str()
        .map(str::to_string)
        .ok_or(TokenError::BadResponse)
}

#[cfg(test)]
mod tests {
    use super::form_encode;

    #[test]
    fn form_encoding_escapes_reserved_characters_and_turns_spaces_into_plus() {
        assert_eq!(form_encode("a b+c/d:e%f~"), "a+b%2Bc%2Fd%3Ae%25f%7E");
        assert_eq!(form_encode("Az09*-._"), "Az09*-._");
        assert_eq!(form_encode("é"), "%C3%A9");
    }
}
