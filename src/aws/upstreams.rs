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
use crate::config::{IdpAdmin, DEFAULT_COGNITO_DOMAIN_URL};
use crate::http::OriginPolicy;
use crate::secret_doc::{cognito_region, IdpKind, RotationProfile};
use crate::upstream::admin::jws::{SignedAssertion, Signer};
use crate::upstream::admin::{AdminCredential, ClientCredentials};
use crate::upstream::cognito::Cognito;
use crate::upstream::okta::{self, Okta};
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
    http: reqwest::Client,
    /// The admin credentials, built on first use and kept (tokens in memory only).
    okta_admin: OnceCell<Arc<dyn AdminCredential>>,
}

impl AwsUpstreams {
    pub fn new(base: SdkConfig) -> Self {
        Self {
            base,
            cognito: Mutex::new(HashMap::new()),
            counter: None,
            cognito_domain_url: DEFAULT_COGNITO_DOMAIN_URL.to_string(),
            idp_admin: IdpAdmin::default(),
            http: OriginPolicy::default().client(),
            okta_admin: OnceCell::new(),
        }
    }

    /// The IdP admin APIs this deployment may call (`ROTATOR_OKTA_*`, `ROTATOR_IDP_SIGNING_KEY_ID`
    /// …), and the address rules their requests follow.
    pub fn with_idp_admin(mut self, admin: &IdpAdmin, origins: &OriginPolicy) -> Self {
        self.idp_admin = admin.clone();
        self.http = origins.client();
        self
    }

    async fn signer(&self) -> Result<Arc<dyn Signer>, UpstreamError> {
        let key = self.idp_admin.signing_key_id.as_deref().ok_or_else(|| {
            UpstreamError::Setup("ROTATOR_IDP_SIGNING_KEY_ID is not set: the rotator has no key to sign its admin client assertion with".into())
        })?;
        let mut conf = aws_sdk_kms::config::Builder::from(&self.base);
        if let Some(c) = &self.counter {
            conf = conf.interceptor(c.clone());
        }
        let client = aws_sdk_kms::Client::from_conf(conf.build());
        Ok(Arc::new(KmsSigner::load(client, key).await?))
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
            .get_or_try_init(|| async {
                let token_url = Okta::admin_token_url(&org.url);
                let source = SignedAssertion::new(self.signer().await?, &org.client_id);
                Ok::<_, UpstreamError>(Arc::new(ClientCredentials::new(
                    self.http.clone(),
                    token_url.clone(),
                    token_url,
                    &org.client_id,
                    Some(okta::ADMIN_SCOPES.to_string()),
                    Arc::new(source),
                )) as Arc<dyn AdminCredential>)
            })
            .await?
            .clone();
        Ok(Arc::new(Okta::new(
            self.http.clone(),
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
            IdpKind::Entra | IdpKind::Keycloak => Err(UpstreamError::Setup(format!(
                "rotation.idp {:?} is not wired in this build yet",
                profile.idp.name()
            ))),
        }
    }
}
