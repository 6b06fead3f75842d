//! A vendor whose client secrets only its console creates (staged rotation): the rotator sees no
//! list of the vendor's secrets and adds or removes nothing there; the operator stages each new
//! value and revokes the old one. Proving a value is [`super::vendors::prove`].

use async_trait::async_trait;

use super::vendors::Vendor;
use super::{
    AddedSecret, Capabilities, ClientRef, NewSecret, Upstream, UpstreamError, UpstreamSecret,
};

pub struct Staged {
    vendor: Vendor,
    token_url: String,
    caps: Capabilities,
}

impl Staged {
    /// `token_url`: the deployment's override, else the vendor's fixed endpoint.
    pub fn new(vendor: Vendor, token_url: Option<&str>) -> Self {
        Self {
            vendor,
            token_url: token_url.unwrap_or(vendor.token_url()).to_string(),
            caps: Capabilities {
                value_chosen_by_caller: true,
                value_alphabet: &[],
                value_length: 0,
                max_live_secrets: None,
            },
        }
    }

    pub fn vendor(&self) -> Vendor {
        self.vendor
    }
}

#[async_trait]
impl Upstream for Staged {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn token_endpoint(&self) -> Result<String, UpstreamError> {
        Ok(self.token_url.clone())
    }

    /// The vendor's secrets are not visible to the rotator.
    async fn list_secrets(&self, _: &ClientRef) -> Result<Vec<UpstreamSecret>, UpstreamError> {
        Ok(Vec::new())
    }

    async fn add_secret(
        &self,
        _: &ClientRef,
        _: &NewSecret<'_>,
    ) -> Result<AddedSecret, UpstreamError> {
        Err(UpstreamError::Setup(format!(
            "a staged rotation adds nothing at {}: the operator creates the secret in the {}",
            self.vendor.name(),
            self.vendor.console()
        )))
    }

    /// Revoking is the operator's, in the vendor's console (the audit reminds them).
    async fn remove_secret(&self, _: &ClientRef, _: &str) -> Result<(), UpstreamError> {
        Ok(())
    }
}
