//! [`SecretStore`] over `aws-sdk-secretsmanager`.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::Client;

use crate::event::RotationToken;
use crate::secrets::store::{Payload, SecretStore, StoreError, VersionInfo, VersionRef};
use crate::secrets::SecretMeta;
use crate::sensitive::SecretString;

/// Pages of ListSecretVersionIds read at most: Secrets Manager keeps about 100 versions of a
/// secret, so a listing that goes on is an endpoint repeating itself, not a bigger secret.
const MAX_VERSION_PAGES: usize = 50;

#[derive(Clone)]
pub struct SecretsManagerStore {
    client: Client,
}

impl SecretsManagerStore {
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            client: Client::new(config),
        }
    }
}

fn store_error<E, R>(operation: &'static str, err: &SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError {
        operation,
        message: super::errors::error_summary(err),
    }
}

#[async_trait]
impl SecretStore for SecretsManagerStore {
    async fn describe(&self, secret_id: &str) -> Result<SecretMeta, StoreError> {
        let out = self
            .client
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| store_error("DescribeSecret", &e))?;
        Ok(super::secret_meta::secret_meta!(
            out,
            out.arn().unwrap_or(secret_id).to_string(),
            version_ids_to_stages
        ))
    }

    async fn list_versions(&self, secret_id: &str) -> Result<Vec<VersionInfo>, StoreError> {
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..MAX_VERSION_PAGES {
            let page = self
                .client
                .list_secret_version_ids()
                .secret_id(secret_id)
                .include_deprecated(true)
                .max_results(100)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| store_error("ListSecretVersionIds", &e))?;
            out.extend(page.versions().iter().filter_map(|v| {
                Some(VersionInfo {
                    id: v.version_id()?.to_string(),
                    stages: v.version_stages().to_vec(),
                    created: v
                        .created_date()
                        .and_then(|d| std::time::SystemTime::try_from(*d).ok()),
                })
            }));
            match page.next_token() {
                Some(t) if !t.is_empty() => next = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
        Err(StoreError {
            operation: "ListSecretVersionIds",
            message: format!(
                "the listing did not end after {MAX_VERSION_PAGES} pages of 100 versions; stopped"
            ),
        })
    }

    async fn get_value(
        &self,
        secret_id: &str,
        version: VersionRef<'_>,
    ) -> Result<Option<Payload>, StoreError> {
        let mut req = self.client.get_secret_value().secret_id(secret_id);
        req = match version {
            VersionRef::Stage(stage) => req.version_stage(stage),
            VersionRef::IdAndStage(id, stage) => req.version_id(id).version_stage(stage),
            VersionRef::Id(id) => req.version_id(id),
        };
        match req.send().await {
            Ok(out) => Ok(Some(match out.secret_string() {
                Some(s) => Payload::Text(SecretString::new(s)),
                None => Payload::Binary,
            })),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(store_error("GetSecretValue", &e)),
        }
    }

    async fn put_pending(
        &self,
        secret_id: &str,
        token: &str,
        value: &SecretString,
        rotation_token: Option<&RotationToken>,
    ) -> Result<(), StoreError> {
        self.client
            .put_secret_value()
            .secret_id(secret_id)
            .client_request_token(token)
            .secret_string(value.expose())
            .version_stages(crate::secrets::store::AWSPENDING)
            .set_rotation_token(rotation_token.map(|t| t.expose().to_string()))
            .send()
            .await
            .map_err(|e| {
                // Defence in depth: a validation message must never echo the value we sent.
                let mut err = store_error("PutSecretValue", &e);
                err.message = err.message.replace(value.expose(), "<redacted>");
                if let Some(t) = rotation_token {
                    err.message = err.message.replace(t.expose(), "<redacted>");
                }
                err
            })?;
        Ok(())
    }

    async fn update_stage(
        &self,
        secret_id: &str,
        stage: &str,
        move_to: Option<&str>,
        remove_from: Option<&str>,
    ) -> Result<(), StoreError> {
        self.client
            .update_secret_version_stage()
            .secret_id(secret_id)
            .version_stage(stage)
            .set_move_to_version_id(move_to.map(str::to_string))
            .set_remove_from_version_id(remove_from.map(str::to_string))
            .send()
            .await
            .map_err(|e| store_error("UpdateSecretVersionStage", &e))?;
        Ok(())
    }
}
