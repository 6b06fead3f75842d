//! Keycloak client secrets (Admin REST API). Keycloak keeps one secret per client and generates
//! it itself (`POST …/clients/{uuid}/client-secret`). Zero downtime needs the `secret-rotation`
//! client policy: a regenerate then keeps the previous secret valid as the *rotated* secret until
//! its expiry (`GET`/`DELETE …/client-secret/rotated`). Without the policy a regenerate
//! invalidates the old secret at once, so it is refused unless the profile accepts a cut-over.
//!
//! Keycloak secrets have no ids: a secret's id here is `kc-` and the first 16 hex digits of the
//! SHA-256 of its value, so it stays the same when the secret moves from current to rotated and
//! is recognisable without reading anything else. The values are readable (with
//! `manage-clients`), which also settles a crash between the regenerate and our store: the next
//! attempt finds that Keycloak's current secret is not the one AWSCURRENT holds and adopts it
//! (reads its value) instead of regenerating again, which would drop AWSCURRENT's secret.

use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::admin::AdminCredential;
use super::rest::{printable_detail, Failure, Rest};
use super::{
    AddedSecret, Capabilities, ClientRef, NewSecret, Upstream, UpstreamError, UpstreamSecret,
};
use crate::findings::Timestamp;
use crate::sensitive::SecretString;

/// The client attributes Keycloak's secret-rotation executor maintains.
const EXPIRATION: &str = "client.secret.expiration.time";
const CREATION: &str = "client.secret.creation.time";
const ROTATED: &str = "client.secret.rotated";
const ROTATED_CREATION: &str = "client.secret.rotated.creation.time";
const ROTATED_EXPIRATION: &str = "client.secret.rotated.expiration.time";

/// How to make a Keycloak client rotate without a window, for errors that refuse a cut-over.
pub const POLICY_HOWTO: &str = "enable the client-secret-rotation feature, add a client profile with the secret-rotation executor (Rotated Secret Expiration longer than a rotation takes plus AgentCore's caching, e.g. 1 hour) and a client policy whose conditions cover this client; Keycloak marks the client (client.secret.expiration.time) at its next token request or update. Or set rotation.cutover: true to accept that the old secret stops working before the new one is stored";

pub struct Keycloak {
    rest: Rest,
    base_url: String,
    realm: String,
    cutover: bool,
    caps: Capabilities,
}

/// One read of the client: its UUID, the secrets and the rotation attributes.
struct ClientState {
    uuid: String,
    current: Option<SecretString>,
    current_created: Option<Timestamp>,
    rotated: Option<SecretString>,
    rotated_created: Option<Timestamp>,
    rotated_expires: Option<Timestamp>,
    under_policy: bool,
}

impl Keycloak {
    /// `base_url` is the deployment's (checked by its configuration), without a trailing slash;
    /// `realm` is the document's.
    pub fn new(
        http: reqwest::Client,
        admin: Arc<dyn AdminCredential>,
        base_url: &str,
        realm: &str,
        cutover: bool,
    ) -> Self {
        Self {
            rest: Rest { http, admin },
            base_url: base_url.trim_end_matches('/').to_string(),
            realm: realm.to_string(),
            cutover,
            caps: Capabilities {
                value_chosen_by_caller: false,
                value_alphabet: &[],
                value_length: 0,
                // A regenerate replaces the rotated secret: never refused for capacity.
                max_live_secrets: None,
            },
        }
    }

    /// A realm's token endpoint (the admin client's, and where client secrets are proved).
    pub fn token_url(base_url: &str, realm: &str) -> String {
        format!(
            "{}/realms/{realm}/protocol/openid-connect/token",
            base_url.trim_end_matches('/')
        )
    }

    fn clients_url(&self) -> String {
        format!("{}/admin/realms/{}/clients", self.base_url, self.realm)
    }

    fn classify(&self, op: &'static str, client: &ClientRef, f: Failure) -> UpstreamError {
        let text = |k: &str| f.body.get(k).and_then(Value::as_str).unwrap_or("");
        let detail = format!("{} {}", text("error"), text("error_description"));
        match f.status.as_u16() {
            403 => UpstreamError::AccessDenied {
                operation: op,
                message: format!(
                    "the rotator's admin client lacks the realm-management role manage-clients in realm {} ({})",
                    self.realm,
                    printable_detail(detail.trim())
                ),
            },
            404 if detail.contains("Realm") => UpstreamError::ClientNotFound {
                client_id: format!("{} (Keycloak has no realm {})", client.client_id, self.realm),
            },
            _ => f.into_error(op, &client.client_id, detail.trim()),
        }
    }

    async fn call(
        &self,
        op: &'static str,
        client: &ClientRef,
        method: Method,
        url: &str,
    ) -> Result<Option<Value>, UpstreamError> {
        self.rest
            .call(op, method, url, None)
            .await?
            .map_err(|f| self.classify(op, client, f))
    }

    async fn read(&self, client: &ClientRef) -> Result<ClientState, UpstreamError> {
        const OP: &str = "find client";
        let url = reqwest::Url::parse_with_params(
            &self.clients_url(),
            &[("clientId", client.client_id.as_str())],
        )
        .map_err(|e| UpstreamError::Setup(format!("Keycloak URL: {e}")))?;
        let found = self.call(OP, client, Method::GET, url.as_str()).await?;
        let rep = found
            .as_ref()
            .and_then(Value::as_array)
            .and_then(|a| {
                a.iter()
                    .find(|c| c.get("clientId").and_then(Value::as_str) == Some(&client.client_id))
            })
            .ok_or_else(|| UpstreamError::ClientNotFound {
                client_id: format!("{} (realm {})", client.client_id, self.realm),
            })?;
        let attr = |k: &str| rep.pointer(&format!("/attributes/{}", k.replace('/', "~1")));
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        // Keycloak keeps these attributes as epoch seconds.
        let epoch = |k: &str| {
            text(attr(k))
                .and_then(|s| s.parse::<u64>().ok())
                .map(|secs| Timestamp::from_millis(secs.saturating_mul(1000)))
        };
        let secret = |v: Option<String>| -> Result<Option<SecretString>, UpstreamError> {
            match v {
                Some(s) if !s.is_empty() && s.chars().all(|c| c == '*') => {
                    Err(UpstreamError::AccessDenied {
                        operation: OP,
                        message: format!(
                            "Keycloak masks the secrets of client {}: the rotator's admin client needs the realm-management role manage-clients in realm {}",
                            client.client_id, self.realm
                        ),
                    })
                }
                Some(s) if !s.is_empty() => Ok(Some(SecretString::new(s))),
                _ => Ok(None),
            }
        };
        if rep.get("publicClient").and_then(Value::as_bool) == Some(true)
            || rep
                .get("clientAuthenticatorType")
                .and_then(Value::as_str)
                .is_some_and(|t| t != "client-secret")
        {
            return Err(UpstreamError::Profile(format!(
                "Keycloak client {} does not authenticate with a client secret (public or signed-JWT client)",
                client.client_id
            )));
        }
        Ok(ClientState {
            // The id goes into admin URL paths: only a path-safe one is taken.
            uuid: text(rep.get("id"))
                .filter(|id| {
                    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                })
                .ok_or(UpstreamError::Call {
                    operation: OP,
                    message: "the client representation has no usable id".into(),
                })?,
            current: secret(text(rep.get("secret")))?,
            current_created: epoch(CREATION),
            rotated: secret(text(attr(ROTATED)))?,
            rotated_created: epoch(ROTATED_CREATION),
            rotated_expires: epoch(ROTATED_EXPIRATION),
            under_policy: attr(EXPIRATION).is_some(),
        })
    }

    fn secret_url(&self, uuid: &str) -> String {
        format!("{}/{uuid}/client-secret", self.clients_url())
    }
}

/// The id of a Keycloak secret: `kc-` and 16 hex digits of its SHA-256.
pub fn secret_id(value: &SecretString) -> String {
    let digest = Sha256::digest(value.expose().as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("kc-{hex}")
}

#[async_trait]
impl Upstream for Keycloak {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn token_endpoint(&self) -> Result<String, UpstreamError> {
        Ok(Self::token_url(&self.base_url, &self.realm))
    }

    /// The current secret and the rotated one while it has not expired (an expired rotated
    /// secret authenticates nothing, though Keycloak still returns it).
    async fn list_secrets(&self, client: &ClientRef) -> Result<Vec<UpstreamSecret>, UpstreamError> {
        let state = self.read(client).await?;
        let mut live = Vec::with_capacity(2);
        if let Some(v) = &state.rotated {
            if state.rotated_expires.is_none_or(|e| e > Timestamp::now()) {
                live.push(UpstreamSecret {
                    id: secret_id(v),
                    created: state.rotated_created.map(Timestamp::to_system_time),
                    label: None,
                });
            }
        }
        if let Some(v) = &state.current {
            live.push(UpstreamSecret {
                id: secret_id(v),
                created: state.current_created.map(Timestamp::to_system_time),
                label: None,
            });
        }
        Ok(live)
    }

    /// Regenerates, unless Keycloak's current secret is already not AWSCURRENT's (a crashed
    /// attempt, or a regenerate outside the rotator): that one is adopted, as regenerating again
    /// would drop AWSCURRENT's secret from the rotated slot.
    async fn add_secret(
        &self,
        client: &ClientRef,
        new: &NewSecret<'_>,
    ) -> Result<AddedSecret, UpstreamError> {
        const OP: &str = "regenerate client secret";
        let state = self.read(client).await?;
        let current_id = new.current.map(secret_id);
        if let (Some(value), Some(current_id)) = (&state.current, &current_id) {
            if &secret_id(value) != current_id {
                tracing::info!(
                    upstream_secret_id = %secret_id(value),
                    "adopting Keycloak's current secret, which AWSCURRENT does not hold (a crashed attempt or a regenerate outside the rotator)"
                );
                return Ok(AddedSecret {
                    id: secret_id(value),
                    value: Some(value.clone()),
                });
            }
        }
        if !state.under_policy && !self.cutover {
            return Err(UpstreamError::Policy {
                operation: OP,
                policy: "secret-rotation".into(),
                message: format!(
                    "Keycloak client {} in realm {} is not under a secret-rotation client policy, so a regenerate would invalidate the secret AgentCore uses before the new one is stored; {POLICY_HOWTO}",
                    client.client_id, self.realm
                ),
            });
        }
        let answer = self
            .call(OP, client, Method::POST, &self.secret_url(&state.uuid))
            .await?;
        let value = answer
            .as_ref()
            .and_then(|a| a.get("value"))
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(|v| SecretString::new(v.to_string()))
            .ok_or(UpstreamError::Call {
                operation: OP,
                message: "the answer holds no secret value".into(),
            })?;
        match (&current_id, state.under_policy) {
            (Some(expected), true) => {
                let after = self.read(client).await?;
                if after.rotated.as_ref().map(secret_id).as_ref() != Some(expected) {
                    tracing::warn!("Keycloak did not keep the previous secret as the rotated secret: the secret-rotation policy no longer covers this client (or its Rotated Secret Expiration is 0); the new secret is stored at once to shorten the window");
                }
            }
            (_, false) => tracing::warn!(
                "cut-over rotation (rotation.cutover: true): the previous Keycloak secret stopped working at the regenerate"
            ),
            _ => {}
        }
        Ok(AddedSecret {
            id: secret_id(&value),
            value: Some(value),
        })
    }

    /// Removes the rotated secret when it is the one named; Keycloak's current secret cannot be
    /// removed, only replaced (the next createSecret adopts or replaces it), so naming it is a
    /// no-op.
    async fn remove_secret(
        &self,
        client: &ClientRef,
        secret_id_: &str,
    ) -> Result<(), UpstreamError> {
        let state = self.read(client).await?;
        if state.rotated.as_ref().map(secret_id).as_deref() == Some(secret_id_) {
            let url = format!("{}/rotated", self.secret_url(&state.uuid));
            self.call("delete rotated client secret", client, Method::DELETE, &url)
                .await?;
        } else if state.current.as_ref().map(secret_id).as_deref() == Some(secret_id_) {
            tracing::info!(upstream_secret_id = %secret_id_, "Keycloak's current secret cannot be removed, only replaced; left for the next rotation");
        }
        Ok(())
    }
}
