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
    /// The deployment's override, else the vendor's fixed endpoint (`None`: `custom`).
    token_url: Option<String>,
    caps: Capabilities,
}

impl Staged {
    pub fn new(vendor: Vendor, token_url: Option<&str>) -> Self {
        Self {
            vendor,
            token_url: token_url.or(vendor.token_url()).map(str::to_string),
            // The operator stages the value; createSecret never generates one for a staged
            // rotation (it returns before generation), so the empty alphabet is never used.
            caps: Capabilities {
                value_chosen_by_caller: true,
                value_alphabet: &[],
                value_length: 0,
                max_live_secrets: None,
            },
        }
    }
}

#[async_trait]
impl Upstream for Staged {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// Where a table vendor proves secrets; a `custom` server's endpoint is the document's.
    async fn token_endpoint(&self) -> Result<String, UpstreamError> {
        self.token_url.clone().ok_or_else(|| {
            UpstreamError::Profile(
                "a custom staged vendor's token endpoint is rotation.tokenEndpoint or rotation.issuer".into(),
            )
        })
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
