//! The IdP adapters of a deployment, built from its AWS configuration: which adapter serves a
//! rotation profile is decided here (and by the function's configuration), never by the document.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_cognitoidentityprovider::Client;

use super::call_counter::CallCounter;
use crate::config::DEFAULT_COGNITO_DOMAIN_URL;
use crate::secret_doc::{cognito_region, IdpKind, RotationProfile};
use crate::upstream::cognito::Cognito;
use crate::upstream::{Upstream, UpstreamDirectory, UpstreamError};

/// Builds IdP adapters from one AWS configuration; Cognito clients are per Region (taken from
/// the user pool id) and reused.
pub struct AwsUpstreams {
    base: SdkConfig,
    cognito: Mutex<HashMap<String, Client>>,
    counter: Option<CallCounter>,
    cognito_domain_url: String,
}

impl AwsUpstreams {
    pub fn new(base: SdkConfig) -> Self {
        Self {
            base,
            cognito: Mutex::new(HashMap::new()),
            counter: None,
            cognito_domain_url: DEFAULT_COGNITO_DOMAIN_URL.to_string(),
        }
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
        }
    }
}
