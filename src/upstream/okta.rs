//! Okta app client secrets (`/api/v1/apps/{appId}/credentials/secrets`): caller-chosen values,
//! two secrets per app at most, deactivate before delete, the only active secret cannot be
//! deactivated. The org is the deployment's (`ROTATOR_OKTA_ORG_URL`); the document names the app
//! and the authorization server that proves the secret. The rotator's admin access is an OAuth
//! service app authenticating with a KMS-signed `private_key_jwt` (scope `okta.apps.manage`).

use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{json, Value};

use super::admin::AdminCredential;
use super::generate::WORD_ALPHABET;
use super::rest::{printable_detail, Failure, Rest};
use super::{
    AddedSecret, Capabilities, ClientRef, NewSecret, Upstream, UpstreamError, UpstreamSecret,
};
use crate::findings::Timestamp;

/// The admin scopes the rotator's service app needs.
pub const ADMIN_SCOPES: &str = "okta.apps.read okta.apps.manage";

pub struct Okta {
    rest: Rest,
    org_url: String,
    app_id: String,
    authorization_server_id: String,
    caps: Capabilities,
}

impl Okta {
    /// `org_url` is the deployment's (checked by its configuration), without a trailing slash.
    pub fn new(
        http: reqwest::Client,
        admin: Arc<dyn AdminCredential>,
        org_url: &str,
        app_id: &str,
        authorization_server_id: Option<&str>,
    ) -> Self {
        Self {
            rest: Rest { http, admin },
            org_url: org_url.trim_end_matches('/').to_string(),
            app_id: app_id.to_string(),
            authorization_server_id: authorization_server_id.unwrap_or("default").to_string(),
            caps: Capabilities {
                value_chosen_by_caller: true,
                value_alphabet: WORD_ALPHABET,
                value_length: 64,
                max_live_secrets: Some(2),
            },
        }
    }

    /// The org authorization server's token endpoint, where the admin client gets its token.
    pub fn admin_token_url(org_url: &str) -> String {
        format!("{}/oauth2/v1/token", org_url.trim_end_matches('/'))
    }

    fn secrets_url(&self) -> String {
        format!(
            "{}/api/v1/apps/{}/credentials/secrets",
            self.org_url, self.app_id
        )
    }

    async fn listing(&self, client: &ClientRef) -> Result<Vec<Value>, UpstreamError> {
        const OP: &str = "list app client secrets";
        match self
            .rest
            .call(OP, Method::GET, &self.secrets_url(), None)
            .await?
        {
            Ok(Some(Value::Array(items))) => Ok(items),
            Ok(_) => Err(UpstreamError::Call {
                operation: OP,
                message: "the answer is not a list of secrets".into(),
            }),
            Err(f) => Err(self.classify(OP, client, f)),
        }
    }

    fn classify(&self, op: &'static str, client: &ClientRef, f: Failure) -> UpstreamError {
        let summary = okta_error(&f.body);
        let lower = summary.to_ascii_lowercase();
        if f.status.as_u16() == 400
            && lower.contains("secret")
            && (lower.contains("maximum") || lower.contains("more than") || lower.contains("limit"))
        {
            return UpstreamError::CapacityExceeded { operation: op };
        }
        if f.status.as_u16() == 404 {
            return UpstreamError::ClientNotFound {
                client_id: format!("{} (Okta app {})", client.client_id, self.app_id),
            };
        }
        f.into_error(op, &client.client_id, &summary)
    }

    async fn post(
        &self,
        op: &'static str,
        client: &ClientRef,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>, UpstreamError> {
        self.rest
            .call(op, Method::POST, url, body)
            .await?
            .map_err(|f| self.classify(op, client, f))
    }
}

/// Okta's error body: `errorSummary` and the `errorCauses` summaries, printable.
fn okta_error(body: &Value) -> String {
    let mut parts = vec![body
        .get("errorSummary")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()];
    if let Some(causes) = body.get("errorCauses").and_then(Value::as_array) {
        parts.extend(
            causes
                .iter()
                .filter_map(|c| c.get("errorSummary").and_then(Value::as_str))
                .map(str::to_string),
        );
    }
    if let Some(code) = body.get("errorCode").and_then(Value::as_str) {
        parts.push(format!("({code})"));
    }
    printable_detail(&parts.join(" "))
}

fn secret_of(item: &Value) -> Option<UpstreamSecret> {
    Some(UpstreamSecret {
        id: item.get("id")?.as_str()?.to_string(),
        created: item
            .get("created")
            .and_then(Value::as_str)
            .and_then(Timestamp::parse_rfc3339)
            .map(Timestamp::to_system_time),
        label: None,
    })
}

fn status_of(item: &Value) -> &str {
    item.get("status").and_then(Value::as_str).unwrap_or("")
}

#[async_trait]
impl Upstream for Okta {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn token_endpoint(&self) -> Result<String, UpstreamError> {
        Ok(format!(
            "{}/oauth2/{}/v1/token",
            self.org_url, self.authorization_server_id
        ))
    }

    /// The ACTIVE secrets: an INACTIVE one authenticates nothing.
    async fn list_secrets(&self, client: &ClientRef) -> Result<Vec<UpstreamSecret>, UpstreamError> {
        Ok(self
            .listing(client)
            .await?
            .iter()
            .filter(|s| status_of(s) == "ACTIVE")
            .filter_map(secret_of)
            .collect())
    }

    async fn add_secret(
        &self,
        client: &ClientRef,
        new: &NewSecret<'_>,
    ) -> Result<AddedSecret, UpstreamError> {
        const OP: &str = "create app client secret";
        let value = new.value.ok_or_else(|| {
            UpstreamError::Profile("Okta secrets are chosen by the rotator; no value given".into())
        })?;
        let body = json!({"client_secret": value.expose(), "status": "ACTIVE"});
        let mut made_room = false;
        loop {
            match self
                .post(OP, client, &self.secrets_url(), Some(&body))
                .await
            {
                Ok(Some(created)) => {
                    let id =
                        created
                            .get("id")
                            .and_then(Value::as_str)
                            .ok_or(UpstreamError::Call {
                                operation: OP,
                                message: "the answer names no secret id".into(),
                            })?;
                    return Ok(AddedSecret {
                        id: id.to_string(),
                        value: None,
                    });
                }
                Ok(None) => {
                    return Err(UpstreamError::Call {
                        operation: OP,
                        message: "the answer is empty".into(),
                    })
                }
                // At the cap with an INACTIVE secret taking a slot: it authenticates nothing,
                // so it is deleted (once) to make room.
                Err(UpstreamError::CapacityExceeded { .. }) if !made_room => {
                    let inactive = self
                        .listing(client)
                        .await?
                        .into_iter()
                        .filter(|s| status_of(s) == "INACTIVE")
                        .filter_map(|s| secret_of(&s))
                        .min_by_key(|s| s.created);
                    let Some(inactive) = inactive else {
                        return Err(UpstreamError::CapacityExceeded { operation: OP });
                    };
                    tracing::info!(upstream_secret_id = %inactive.id, "deleting an inactive Okta secret that takes a slot");
                    self.delete(client, &inactive.id).await?;
                    made_room = true;
                }
                Err(e) => {
                    return Err(match e {
                        UpstreamError::Call { operation, message } => UpstreamError::Call {
                            operation,
                            message: message.replace(value.expose(), "<redacted>"),
                        },
                        other => other,
                    })
                }
            }
        }
    }

    async fn remove_secret(
        &self,
        client: &ClientRef,
        secret_id: &str,
    ) -> Result<(), UpstreamError> {
        let listing = self.listing(client).await?;
        let Some(item) = listing
            .iter()
            .find(|s| s.get("id").and_then(Value::as_str) == Some(secret_id))
        else {
            return Ok(());
        };
        if status_of(item) == "ACTIVE" {
            let url = format!("{}/{secret_id}/lifecycle/deactivate", self.secrets_url());
            self.post("deactivate app client secret", client, &url, None)
                .await?;
        }
        self.delete(client, secret_id).await
    }
}

impl Okta {
    async fn delete(&self, client: &ClientRef, secret_id: &str) -> Result<(), UpstreamError> {
        const OP: &str = "delete app client secret";
        let url = format!("{}/{secret_id}", self.secrets_url());
        match self.rest.call(OP, Method::DELETE, &url, None).await? {
            Ok(_) => Ok(()),
            Err(f) if f.status.as_u16() == 404 => Ok(()),
            Err(f) => Err(self.classify(OP, client, f)),
        }
    }
}
