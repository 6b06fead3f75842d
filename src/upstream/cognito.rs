//! Amazon Cognito user pool app clients: two live secrets at most, caller-chosen values,
//! `AddUserPoolClientSecret` / `ListUserPoolClientSecrets` / `DeleteUserPoolClientSecret`.
//! The token endpoint is the user pool's own domain (`DescribeUserPool`), never the document's.

use async_trait::async_trait;
use aws_sdk_cognitoidentityprovider::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cognitoidentityprovider::Client;

use super::generate::WORD_ALPHABET;
use super::{
    AddedSecret, Capabilities, ClientRef, NewSecret, Upstream, UpstreamError, UpstreamSecret,
};
use crate::secret_doc::cognito_region;

/// Pages of ListUserPoolClientSecrets read at most: a client has two secrets at most, so a
/// listing that goes on is an endpoint repeating itself.
const MAX_SECRET_PAGES: usize = 10;

pub struct Cognito {
    client: Client,
    user_pool_id: String,
    domain_url: String,
    capabilities: Capabilities,
}

impl Cognito {
    pub fn new(client: Client, user_pool_id: impl Into<String>, domain_url: &str) -> Self {
        Self {
            client,
            user_pool_id: user_pool_id.into(),
            domain_url: domain_url.to_string(),
            capabilities: Capabilities {
                value_chosen_by_caller: true,
                value_alphabet: WORD_ALPHABET,
                value_length: 64,
                max_live_secrets: Some(2),
            },
        }
    }
}

fn classify<E, R>(operation: &'static str, client_id: &str, err: SdkError<E, R>) -> UpstreamError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = err.code().unwrap_or_default().to_string();
    let message = err.message().map(str::to_string).unwrap_or_else(|| {
        aws_sdk_cognitoidentityprovider::error::DisplayErrorContext(&err).to_string()
    });
    match code.as_str() {
        "LimitExceededException" => UpstreamError::CapacityExceeded { operation },
        "ResourceNotFoundException" => UpstreamError::ClientNotFound {
            client_id: client_id.to_string(),
        },
        "NotAuthorizedException" | "AccessDeniedException" => {
            UpstreamError::AccessDenied { operation, message }
        }
        _ => UpstreamError::Call {
            operation,
            message: if code.is_empty() {
                message
            } else {
                format!("{code}: {message}")
            },
        },
    }
}

/// The token endpoint of a pool with `custom_domain` or prefix `domain`. Both come from the
/// Cognito API; they are checked to be plain host names / prefixes so nothing can steer the URL.
pub fn token_endpoint_of(
    domain_url: &str,
    region: &str,
    domain: Option<&str>,
    custom_domain: Option<&str>,
) -> Result<String, String> {
    let host_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
    if let Some(custom) = custom_domain.filter(|d| !d.is_empty()) {
        let custom = custom.to_ascii_lowercase();
        if !custom.chars().all(host_char) || custom.starts_with('.') || !custom.contains('.') {
            return Err(format!("custom domain {custom:?} is not a host name"));
        }
        return Ok(format!("https://{custom}/oauth2/token"));
    }
    let Some(prefix) = domain.filter(|d| !d.is_empty()) else {
        return Err("the user pool has no domain; Cognito serves client_credentials only on a pool domain (create one with `aws cognito-idp create-user-pool-domain`)".into());
    };
    let valid = prefix.len() <= 63
        && prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !prefix.starts_with('-')
        && !prefix.ends_with('-');
    if !valid {
        return Err(format!(
            "domain prefix {prefix:?} is not a Cognito domain prefix"
        ));
    }
    Ok(format!(
        "{}/oauth2/token",
        domain_url
            .replace("{domain}", prefix)
            .replace("{region}", region)
            .trim_end_matches('/')
    ))
}

#[async_trait]
impl Upstream for Cognito {
    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    async fn token_endpoint(&self) -> Result<String, UpstreamError> {
        let out = self
            .client
            .describe_user_pool()
            .user_pool_id(&self.user_pool_id)
            .send()
            .await
            .map_err(|e| match classify("DescribeUserPool", "-", e) {
                UpstreamError::ClientNotFound { .. } => UpstreamError::Profile(format!(
                    "user pool {} does not exist (or the rotation role may not describe it)",
                    self.user_pool_id
                )),
                other => other,
            })?;
        let pool = out.user_pool();
        let region = cognito_region(&self.user_pool_id).unwrap_or_default();
        token_endpoint_of(
            &self.domain_url,
            region,
            pool.and_then(|p| p.domain()),
            pool.and_then(|p| p.custom_domain()),
        )
        .map_err(|why| {
            UpstreamError::Profile(format!(
                "no token endpoint for user pool {}: {why}",
                self.user_pool_id
            ))
        })
    }

    async fn list_secrets(&self, client: &ClientRef) -> Result<Vec<UpstreamSecret>, UpstreamError> {
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..MAX_SECRET_PAGES {
            let page = self
                .client
                .list_user_pool_client_secrets()
                .user_pool_id(&self.user_pool_id)
                .client_id(&client.client_id)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| classify("ListUserPoolClientSecrets", &client.client_id, e))?;
            out.extend(page.client_secrets().iter().filter_map(|s| {
                Some(UpstreamSecret {
                    id: s.client_secret_id()?.to_string(),
                    created: s
                        .client_secret_create_date()
                        .and_then(|d| std::time::SystemTime::try_from(*d).ok()),
                    label: None,
                })
            }));
            match page.next_token() {
                Some(t) if !t.is_empty() => next = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
        Err(UpstreamError::Call {
            operation: "ListUserPoolClientSecrets",
            message: format!("the listing did not end after {MAX_SECRET_PAGES} pages; stopped"),
        })
    }

    async fn add_secret(
        &self,
        client: &ClientRef,
        new: &NewSecret<'_>,
    ) -> Result<AddedSecret, UpstreamError> {
        let value = new.value.ok_or_else(|| {
            UpstreamError::Profile(
                "Cognito secrets are chosen by the rotator; no value given".into(),
            )
        })?;
        let out = self
            .client
            .add_user_pool_client_secret()
            .user_pool_id(&self.user_pool_id)
            .client_id(&client.client_id)
            .client_secret(value.expose())
            .send()
            .await
            .map_err(|e| {
                // Defence in depth: a validation message must never echo the value we sent.
                match classify("AddUserPoolClientSecret", &client.client_id, e) {
                    UpstreamError::Call { operation, message } => UpstreamError::Call {
                        operation,
                        message: message.replace(value.expose(), "<redacted>"),
                    },
                    other => other,
                }
            })?;
        let id = out
            .client_secret_descriptor()
            .and_then(|d| d.client_secret_id())
            .ok_or(UpstreamError::Call {
                operation: "AddUserPoolClientSecret",
                message: "response has no ClientSecretId".into(),
            })?;
        Ok(AddedSecret {
            id: id.to_string(),
            value: None,
        })
    }

    async fn remove_secret(
        &self,
        client: &ClientRef,
        secret_id: &str,
    ) -> Result<(), UpstreamError> {
        let result = self
            .client
            .delete_user_pool_client_secret()
            .user_pool_id(&self.user_pool_id)
            .client_id(&client.client_id)
            .client_secret_id(secret_id)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match classify("DeleteUserPoolClientSecret", &client.client_id, e) {
                // Already gone is success, as long as the client itself still exists.
                UpstreamError::ClientNotFound { .. } => {
                    let live = self.list_secrets(client).await?;
                    if live.iter().any(|s| s.id == secret_id) {
                        Err(UpstreamError::Call {
                            operation: "DeleteUserPoolClientSecret",
                            message: format!(
                                "secret {secret_id} is still listed after ResourceNotFound"
                            ),
                        })
                    } else {
                        Ok(())
                    }
                }
                other => Err(other),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_COGNITO_DOMAIN_URL;

    #[test]
    fn the_token_endpoint_comes_from_the_pools_domain() {
        assert_eq!(
            token_endpoint_of(
                DEFAULT_COGNITO_DOMAIN_URL,
                "eu-west-1",
                Some("agents"),
                None
            )
            .unwrap(),
            "https://agents.auth.eu-west-1.amazoncognito.com/oauth2/token"
        );
        assert_eq!(
            token_endpoint_of(
                DEFAULT_COGNITO_DOMAIN_URL,
                "eu-west-1",
                Some("agents"),
                Some("Auth.Example.com")
            )
            .unwrap(),
            "https://auth.example.com/oauth2/token"
        );
    }

    #[test]
    fn a_pool_without_a_domain_or_with_a_strange_one_has_no_token_endpoint() {
        let err = token_endpoint_of(DEFAULT_COGNITO_DOMAIN_URL, "r", None, None).unwrap_err();
        assert!(err.contains("create-user-pool-domain"), "{err}");
        for bad in ["evil.com/x", "a@b", "UPPER", "-x", "x/../y"] {
            assert!(token_endpoint_of(DEFAULT_COGNITO_DOMAIN_URL, "r", Some(bad), None).is_err());
        }
        for bad in ["evil.com/path", "user@evil.com", "evil.com:81", "localhost"] {
            assert!(token_endpoint_of(DEFAULT_COGNITO_DOMAIN_URL, "r", None, Some(bad)).is_err());
        }
    }
}
