//! The ports the rotation steps use to check credential providers, bundled.

use std::sync::Arc;

use super::discovery::ProviderDirectory;
use super::gateways::GatewayDirectory;
use super::probe::DataPlane;
use crate::findings::Emitters;
use crate::secrets::SecretInventory;

/// Wired by [`crate::aws::agentcore::hooks_from_lookup`] (or by tests with fakes) and handed to
/// [`crate::rotation::Rotator::with_agentcore`].
#[derive(Clone)]
pub struct AgentCoreHooks {
    pub directory: Arc<dyn ProviderDirectory>,
    /// Reads the referenced secrets' facts (the audit's port and adapter).
    pub secrets: Arc<dyn SecretInventory>,
    /// Set when a workload identity is configured (`ROTATOR_WORKLOAD_NAME`).
    pub data_plane: Option<Arc<dyn DataPlane>>,
    /// Lists the gateway targets that use a provider in the findings about it.
    pub gateways: Option<Arc<dyn GatewayDirectory>>,
    pub emitters: Arc<Emitters>,
}
