//! Microsoft Entra ID application passwords (Microsoft Graph v1.0): `addPassword` returns the
//! server-generated value once with its `keyId`; `removePassword {keyId}`; the application's
//! `passwordCredentials` list them without values. Entra keeps many passwords per application,
//! so rotations overlap freely. Our passwords carry `displayName` = [`super::label_for`] the
//! rotation's token (how a crashed rotation's password is recognised) and an `endDateTime` from
//! the rotation schedule plus grace. Graph and the login endpoint are the deployment's
//! (`ROTATOR_ENTRA_GRAPH_URL`, `ROTATOR_ENTRA_LOGIN_URL`); the document names the tenant and the
//! application (client) id. The rotator's own access is its management app's token, obtained
//! with an AWS-signed web identity token as client assertion (no stored secret).

use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{json, Value};

use super::admin::AdminCredential;
use super::rest::{printable_detail, Failure, Rest};
use super::{
    AddedSecret, Capabilities, ClientRef, NewSecret, Upstream, UpstreamError, UpstreamSecret,
};
use crate::findings::Timestamp;
use crate::secret_doc::is_guid;
use crate::sensitive::SecretString;

/// The Graph application permission the management app needs (it must own each rotated app).
pub const ADMIN_PERMISSION: &str = "Application.ReadWrite.OwnedBy";

pub struct Entra {
    rest: Rest,
    graph_url: String,
    login_url: String,
    tenant: String,
    caps: Capabilities,
}

impl Entra {
    /// `graph_url` and `login_url` are the deployment's (checked by its configuration), without
    /// a trailing slash; `tenant` is the document's.
    pub fn new(
        http: reqwest::Client,
        admin: Arc<dyn AdminCredential>,
        graph_url: &str,
        login_url: &str,
        tenant: &str,
    ) -> Self {
        Self {
            rest: Rest { http, admin },
            graph_url: graph_url.trim_end_matches('/').to_string(),
            login_url: login_url.trim_end_matches('/').to_string(),
            tenant: tenant.to_string(),
            caps: Capabilities {
                value_chosen_by_caller: false,
                value_alphabet: &[],
                value_length: 0,
                max_live_secrets: None,
            },
        }
    }

    /// A tenant's v2.0 token endpoint (the management app's, and where client secrets are proved).
    pub fn token_url(login_url: &str, tenant: &str) -> String {
        format!(
            "{}/{tenant}/oauth2/v2.0/token",
            login_url.trim_end_matches('/')
        )
    }

    /// The scope of a Graph token: the Graph resource's `.default`.
    pub fn graph_scope(graph_url: &str) -> String {
        format!("{}/.default", graph_url.trim_end_matches('/'))
    }

    fn app_url(&self, client: &ClientRef) -> Result<String, UpstreamError> {
        if !is_guid(&client.client_id) {
            return Err(UpstreamError::Profile(
                "clientId must be the Entra application (client) id, a GUID".into(),
            ));
        }
        Ok(format!(
            "{}/v1.0/applications(appId='{}')",
            self.graph_url, client.client_id
        ))
    }

    fn classify(&self, op: &'static str, client: &ClientRef, f: Failure) -> UpstreamError {
        let code = f
            .body
            .pointer("/error/code")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let message = f
            .body
            .pointer("/error/message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let text = printable_detail(&format!("{code}: {message}"));
        let lower = format!("{code} {message}").to_ascii_lowercase();
        // A policy refusal is a 400; a 403 or a 429 that mentions a policy (Conditional Access,
        // throttling) is not an app management policy.
        if f.status.as_u16() == 400 && lower.contains("policy") {
            let policy = if lower.contains("lifetime") || lower.contains("enddatetime") {
                "passwordLifetime"
            } else {
                "passwordAddition"
            };
            return UpstreamError::Policy {
                operation: op,
                policy: format!("{policy} (app management policy)"),
                message: format!("{text}; the tenant's or the application's app management policy restricts password credentials: exempt this application, or raise the allowed lifetime above the rotation interval plus grace"),
            };
        }
        match f.status.as_u16() {
            404 => UpstreamError::ClientNotFound {
                client_id: format!("{} (tenant {})", client.client_id, self.tenant),
            },
            403 => UpstreamError::AccessDenied {
                operation: op,
                message: format!("{text}; the rotator's management app needs the Graph application permission {ADMIN_PERMISSION} (admin-consented) and must be an owner of application {}", client.client_id),
            },
            _ => f.into_error(op, &client.client_id, &text),
        }
    }

    async fn call(
        &self,
        op: &'static str,
        client: &ClientRef,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>, UpstreamError> {
        self.rest
            .call(op, method, url, body)
            .await?
            .map_err(|f| self.classify(op, client, f))
    }
}

fn time(item: &Value, key: &str) -> Option<Timestamp> {
    item.get(key)
        .and_then(Value::as_str)
        .and_then(Timestamp::parse_rfc3339)
}

#[async_trait]
impl Upstream for Entra {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn token_endpoint(&self) -> Result<String, UpstreamError> {
        Ok(Self::token_url(&self.login_url, &self.tenant))
    }

    /// The passwords that have not expired.
    async fn list_secrets(&self, client: &ClientRef) -> Result<Vec<UpstreamSecret>, UpstreamError> {
        const OP: &str = "read application passwords";
        let url = format!(
            "{}?$select=id,appId,passwordCredentials",
            self.app_url(client)?
        );
        let app = self.call(OP, client, Method::GET, &url, None).await?;
        let creds = app
            .as_ref()
            .and_then(|a| a.get("passwordCredentials"))
            .and_then(Value::as_array)
            .ok_or(UpstreamError::Call {
                operation: OP,
                message: "the application has no passwordCredentials list".into(),
            })?;
        let now = Timestamp::now();
        Ok(creds
            .iter()
            .filter(|c| time(c, "endDateTime").is_none_or(|end| end > now))
            .filter_map(|c| {
                Some(UpstreamSecret {
                    id: c.get("keyId")?.as_str()?.to_string(),
                    created: time(c, "startDateTime").map(Timestamp::to_system_time),
                    label: c
                        .get("displayName")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                })
            })
            .collect())
    }

    async fn add_secret(
        &self,
        client: &ClientRef,
        new: &NewSecret<'_>,
    ) -> Result<AddedSecret, UpstreamError> {
        const OP: &str = "addPassword";
        let end = Timestamp::from(SystemTime::now() + new.expires_after);
        let body = json!({"passwordCredential": {
            "displayName": new.label,
            "endDateTime": end.to_rfc3339(),
        }});
        let url = format!("{}/addPassword", self.app_url(client)?);
        let created = self
            .call(OP, client, Method::POST, &url, Some(&body))
            .await?
            .unwrap_or_default();
        let id = created.get("keyId").and_then(Value::as_str);
        let value = created.get("secretText").and_then(Value::as_str);
        match (id, value) {
            (Some(id), Some(value)) if !value.is_empty() => Ok(AddedSecret {
                id: id.to_string(),
                value: Some(SecretString::new(value.to_string())),
            }),
            _ => Err(UpstreamError::Call {
                operation: OP,
                message: "the answer holds no keyId or secretText".into(),
            }),
        }
    }

    /// Removing a password already gone succeeds: Graph answers 400 "No password credential
    /// found with keyId …", so no listing is needed first.
    async fn remove_secret(
        &self,
        client: &ClientRef,
        secret_id: &str,
    ) -> Result<(), UpstreamError> {
        const OP: &str = "removePassword";
        let url = format!("{}/removePassword", self.app_url(client)?);
        let body = json!({"keyId": secret_id});
        match self.rest.call(OP, Method::POST, &url, Some(&body)).await? {
            Ok(_) => Ok(()),
            Err(f)
                if f.status.as_u16() == 400
                    && f.body
                        .pointer("/error/message")
                        .and_then(Value::as_str)
                        .is_some_and(|m| m.contains("No password credential found")) =>
            {
                Ok(())
            }
            Err(f) => Err(self.classify(OP, client, f)),
        }
    }
}
