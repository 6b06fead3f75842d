//! Amazon Cognito user pool app clients: two live secrets at most, caller-chosen values,
//! `AddUserPoolClientSecret` / `ListUserPoolClientSecrets` / `DeleteUserPoolClientSecret`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_cognitoidentityprovider::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cognitoidentityprovider::Client;

use super::generate::WORD_ALPHABET;
use super::{
    AddedSecret, Capabilities, ClientRef, Upstream, UpstreamDirectory, UpstreamError,
    UpstreamSecret,
};
use crate::aws::call_counter::CallCounter;
use crate::secret_doc::{cognito_region, IdpKind, RotationProfile};
use crate::sensitive::SecretString;

pub struct Cognito {
    client: Client,
    user_pool_id: String,
    capabilities: Capabilities,
}

impl Cognito {
    pub fn new(client: Client, user_pool_id: impl Into<String>) -> Self {
        Self {
            client,
            user_pool_id: user_pool_id.into(),
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

#[async_trait]
impl Upstream for Cognito {
    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    async fn list_secrets(&self, client: &ClientRef) -> Result<Vec<UpstreamSecret>, UpstreamError> {
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        loop {
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
                })
            }));
            match page.next_token() {
                Some(t) if !t.is_empty() => next = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }

    async fn add_secret(
        &self,
        client: &ClientRef,
        value: Option<&SecretString>,
    ) -> Result<AddedSecret, UpstreamError> {
        let value = value.ok_or_else(|| {
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

/// Builds IdP adapters from one AWS configuration; Cognito clients are per Region (taken from
/// the user pool id) and reused.
pub struct AwsUpstreams {
    base: SdkConfig,
    cognito: Mutex<HashMap<String, Client>>,
    counter: Option<CallCounter>,
}

impl AwsUpstreams {
    pub fn new(base: SdkConfig) -> Self {
        Self {
            base,
            cognito: Mutex::new(HashMap::new()),
            counter: None,
        }
    }

    /// With every IdP API attempt counted by `counter` (the audit summary).
    pub fn counted(base: SdkConfig, counter: &CallCounter) -> Self {
        Self {
            counter: Some(counter.clone()),
            ..Self::new(base)
        }
    }

    fn cognito_client(&self, region: &str) -> Client {
        let mut clients = self.cognito.lock().unwrap_or_else(|p| p.into_inner());
        clients
            .entry(region.to_string())
            .or_insert_with(|| {
                let mut conf = aws_sdk_cognitoidentityprovider::config::Builder::from(&self.base)
                    .region(aws_config::Region::new(region.to_string()));
                if let Some(c) = &self.counter {
                    conf = conf.interceptor(c.clone());
                }
                Client::from_conf(conf.build())
            })
            .clone()
    }
}

#[async_trait]
impl UpstreamDirectory for AwsUpstreams {
    async fn upstream_for(
        &self,
        profile: &RotationProfile,
    ) -> Result<Arc<dyn Upstream>, UpstreamError> {
        match profile.idp {
            IdpKind::Cognito => {
                let pool = profile.user_pool_id.as_deref().ok_or_else(|| {
                    UpstreamError::Profile("rotation.userPoolId is required".into())
                })?;
                let region = cognito_region(pool).ok_or_else(|| {
                    UpstreamError::Profile("rotation.userPoolId has no Region prefix".into())
                })?;
                Ok(Arc::new(Cognito::new(self.cognito_client(region), pool)))
            }
        }
    }
}
