//! The IdP adapters of a deployment, built from its AWS configuration: which adapter serves a
//! rotation profile is decided here (and by the function's configuration), never by the document.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_cognitoidentityprovider::Client;

use tokio::sync::OnceCell;

use super::call_counter::CallCounter;
use super::kms_signer::KmsSigner;
use super::web_identity::{WebIdentityAssertion, ENTRA_EXCHANGE_AUDIENCE};
use crate::config::{IdpAdmin, DEFAULT_COGNITO_DOMAIN_URL};
use crate::http::OriginPolicy;
use crate::secret_doc::{cognito_region, IdpKind, RotationProfile};
use crate::upstream::admin::jws::{SignedAssertion, Signer};
use crate::upstream::admin::{AdminCredential, ClientCredentials};
use crate::upstream::cognito::Cognito;
use crate::upstream::entra::Entra;
use crate::upstream::keycloak::Keycloak;
use crate::upstream::okta::{self, Okta};
use crate::upstream::staged::Staged;
use crate::upstream::{Upstream, UpstreamDirectory, UpstreamError};

/// Builds IdP adapters from one AWS configuration; Cognito clients are per Region (taken from
/// the user pool id) and reused.
pub struct AwsUpstreams {
    base: SdkConfig,
    cognito: Mutex<HashMap<String, Client>>,
    counter: Option<CallCounter>,
    cognito_domain_url: String,
    idp_admin: IdpAdmin,
    /// The hardened client for IdP REST calls (no redirects, bounded, guarded resolver).
    http: std::sync::OnceLock<reqwest::Client>,
    /// The address rules IdP REST calls follow (the deployment's).
    origins: OriginPolicy,
    /// The admin credentials, built on first use and kept (tokens in memory only).
    okta_admin: OnceCell<Arc<dyn AdminCredential>>,
    /// Keycloak admin credentials per admin realm.
    keycloak_admin: Mutex<HashMap<String, Arc<dyn AdminCredential>>>,
    /// Entra management-app credentials per tenant.
    entra_admin: Mutex<HashMap<String, Arc<dyn AdminCredential>>>,
    /// The signer, loaded (GetPublicKey) once.
    signer: OnceCell<Arc<dyn Signer>>,
}

impl AwsUpstreams {
    pub fn new(base: SdkConfig) -> Self {
        Self {
            base,
            cognito: Mutex::new(HashMap::new()),
            counter: None,
            cognito_domain_url: DEFAULT_COGNITO_DOMAIN_URL.to_string(),
            idp_admin: IdpAdmin::default(),
            http: std::sync::OnceLock::new(),
            origins: OriginPolicy::default(),
            okta_admin: OnceCell::new(),
            keycloak_admin: Mutex::new(HashMap::new()),
            entra_admin: Mutex::new(HashMap::new()),
            signer: OnceCell::new(),
        }
    }

    /// The hardened client for IdP calls, built on first use (Cognito-only deployments never
    /// build it).
    fn http(&self) -> reqwest::Client {
        self.http.get_or_init(|| self.origins.client()).clone()
    }

    /// The IdP admin APIs this deployment may call (`ROTATOR_OKTA_*`, `ROTATOR_IDP_SIGNING_KEY_ID`
    /// …), and the address rules their requests follow.
    pub fn with_idp_admin(mut self, admin: &IdpAdmin, origins: &OriginPolicy) -> Self {
        self.idp_admin = admin.clone();
        self.origins = origins.clone();
        self
    }

    async fn signer(&self) -> Result<Arc<dyn Signer>, UpstreamError> {
        let key = self.idp_admin.signing_key_id.as_deref().ok_or_else(|| {
            UpstreamError::Setup("ROTATOR_IDP_SIGNING_KEY_ID is not set: the rotator has no key to sign its admin client assertion with".into())
        })?;
        self.signer
            .get_or_try_init(|| async {
                let mut conf = aws_sdk_kms::config::Builder::from(&self.base);
                if let Some(c) = &self.counter {
                    conf = conf.interceptor(c.clone());
                }
                let client = aws_sdk_kms::Client::from_conf(conf.build());
                Ok(Arc::new(KmsSigner::load(client, key).await?) as Arc<dyn Signer>)
            })
            .await
            .cloned()
    }

    /// `client_credentials` at `token_url` with a KMS-signed assertion whose audience is the
    /// token endpoint.
    async fn signed_admin(
        &self,
        token_url: String,
        client_id: &str,
        scope: Option<String>,
    ) -> Result<Arc<dyn AdminCredential>, UpstreamError> {
        let source = SignedAssertion::new(self.signer().await?, client_id);
        Ok(Arc::new(ClientCredentials::new(
            self.http(),
            token_url.clone(),
            token_url,
            client_id,
            scope,
            Arc::new(source),
        )))
    }

    async fn entra(&self, profile: &RotationProfile) -> Result<Arc<dyn Upstream>, UpstreamError> {
        let app = self.idp_admin.entra.as_ref().ok_or_else(|| {
            UpstreamError::Setup(
                "this deployment has no Entra ID management app: set ROTATOR_ENTRA_ADMIN_CLIENT_ID"
                    .into(),
            )
        })?;
        let tenant = profile
            .tenant_id
            .as_deref()
            .ok_or_else(|| UpstreamError::Profile("rotation.tenantId is required".into()))?;
        let admin = {
            let mut cache = self.entra_admin.lock().unwrap_or_else(|p| p.into_inner());
            cache
                .entry(tenant.to_string())
                .or_insert_with(|| {
                    let mut conf = aws_sdk_sts::config::Builder::from(&self.base);
                    if let Some(c) = &self.counter {
                        conf = conf.interceptor(c.clone());
                    }
                    let sts = aws_sdk_sts::Client::from_conf(conf.build());
                    Arc::new(ClientCredentials::new(
                        self.http(),
                        Entra::token_url(&app.login_url, tenant),
                        ENTRA_EXCHANGE_AUDIENCE,
                        &app.client_id,
                        Some(Entra::graph_scope(&app.graph_url)),
                        Arc::new(WebIdentityAssertion::new(sts)),
                    ))
                })
                .clone()
        };
        Ok(Arc::new(Entra::new(
            self.http(),
            admin,
            &app.graph_url,
            &app.login_url,
            tenant,
        )))
    }

    async fn keycloak(
        &self,
        profile: &RotationProfile,
    ) -> Result<Arc<dyn Upstream>, UpstreamError> {
        let server = self.idp_admin.keycloak.as_ref().ok_or_else(|| {
            UpstreamError::Setup("this deployment has no Keycloak server: set ROTATOR_KEYCLOAK_URL and ROTATOR_KEYCLOAK_ADMIN_CLIENT_ID".into())
        })?;
        let realm = profile
            .realm
            .as_deref()
            .ok_or_else(|| UpstreamError::Profile("rotation.realm is required".into()))?;
        let admin_realm = server.realm.as_deref().unwrap_or(realm);
        let cached = self
            .keycloak_admin
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(admin_realm)
            .cloned();
        let admin = match cached {
            Some(a) => a,
            None => {
                let token_url = Keycloak::token_url(&server.client.url, admin_realm);
                let a = self
                    .signed_admin(token_url, &server.client.client_id, None)
                    .await?;
                self.keycloak_admin
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(admin_realm.to_string())
                    .or_insert(a)
                    .clone()
            }
        };
        Ok(Arc::new(Keycloak::new(
            self.http(),
            admin,
            &server.client.url,
            realm,
            profile.cutover,
        )))
    }

    async fn okta(&self, profile: &RotationProfile) -> Result<Arc<dyn Upstream>, UpstreamError> {
        let org = self.idp_admin.okta.as_ref().ok_or_else(|| {
            UpstreamError::Setup("this deployment has no Okta org: set ROTATOR_OKTA_ORG_URL and ROTATOR_OKTA_ADMIN_CLIENT_ID".into())
        })?;
        let app_id = profile
            .app_id
            .as_deref()
            .ok_or_else(|| UpstreamError::Profile("rotation.appId is required".into()))?;
        let admin = self
            .okta_admin
            .get_or_try_init(|| {
                self.signed_admin(
                    Okta::admin_token_url(&org.url),
                    &org.client_id,
                    Some(okta::ADMIN_SCOPES.to_string()),
                )
            })
            .await?
            .clone();
        Ok(Arc::new(Okta::new(
            self.http(),
            admin,
            &org.url,
            app_id,
            profile.authorization_server_id.as_deref(),
        )))
    }

    /// Where Cognito prefix domains are served (`ROTATOR_COGNITO_DOMAIN_URL`, default
    /// [`DEFAULT_COGNITO_DOMAIN_URL`]: configurable only so a local stack can stand in for it).
    pub fn with_cognito_domain_url(mut self, url: impl Into<String>) -> Self {
        self.cognito_domain_url = url.into();
        self
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
                Ok(Arc::new(Cognito::new(
                    self.cognito_client(region),
                    pool,
                    &self.cognito_domain_url,
                )))
            }
            IdpKind::Okta => self.okta(profile).await,
            IdpKind::Keycloak => self.keycloak(profile).await,
            IdpKind::Entra => self.entra(profile).await,
            IdpKind::Staged => {
                let vendor = profile
                    .vendor
                    .ok_or_else(|| UpstreamError::Profile("rotation.vendor is required".into()))?;
                Ok(Arc::new(Staged::new(
                    vendor,
                    self.idp_admin
                        .vendor_token_urls
                        .get(&vendor)
                        .map(String::as_str),
                )))
            }
        }
    }
}
