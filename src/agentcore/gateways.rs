//! Blast radius: which AgentCore Gateway targets use a credential provider for outbound auth
//! (`credentialProviderConfigurations[].credentialProvider.*.providerArn`). Read only when a
//! provider has a finding or when an operator asks (`agentcore-rotator impact`), so a healthy
//! audit never pays for it.

use async_trait::async_trait;
use serde::Serialize;
use tokio::sync::OnceCell;

use super::discovery::AgentCoreError;
use crate::findings::{Finding, Resource, ResourceKind};

/// One gateway target and the providers it authenticates with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayTargetRef {
    pub gateway_id: String,
    pub gateway_name: String,
    pub gateway_arn: String,
    pub target_id: String,
    pub target_name: String,
    pub provider_arns: Vec<String>,
}

impl GatewayTargetRef {
    /// Targets have no ARN of their own: the gateway's ARN, then `/target/<targetId>`.
    pub fn resource_id(&self) -> String {
        format!("{}/target/{}", self.gateway_arn, self.target_id)
    }

    pub fn uses(&self, provider_arn: &str) -> bool {
        self.provider_arns.iter().any(|a| a == provider_arn)
    }
}

/// Every gateway target of the account and Region, and how many calls reading them took.
#[derive(Clone, Debug, Default)]
pub struct GatewayMap {
    pub targets: Vec<GatewayTargetRef>,
    pub reads: u64,
}

impl GatewayMap {
    pub fn using<'a>(
        &'a self,
        provider_arn: &'a str,
    ) -> impl Iterator<Item = &'a GatewayTargetRef> {
        self.targets.iter().filter(move |t| t.uses(provider_arn))
    }
}

#[async_trait]
pub trait GatewayDirectory: Send + Sync {
    /// ListGateways, ListGatewayTargets per gateway, GetGatewayTarget per target.
    async fn targets(&self) -> Result<GatewayMap, AgentCoreError>;
}

fn is_provider(kind: ResourceKind) -> bool {
    matches!(
        kind,
        ResourceKind::ProviderOauth2 | ResourceKind::ProviderApiKey | ResourceKind::ProviderPayment
    )
}

/// Reads the gateways at most once, and only for a finding that names a provider.
pub struct BlastRadius<'a> {
    directory: Option<&'a dyn GatewayDirectory>,
    map: OnceCell<Option<GatewayMap>>,
}

impl<'a> BlastRadius<'a> {
    pub fn new(directory: Option<&'a dyn GatewayDirectory>) -> Self {
        Self {
            directory,
            map: OnceCell::new(),
        }
    }

    /// Calls spent reading gateways so far (0 until a finding needed them).
    pub fn reads(&self) -> u64 {
        self.map
            .get()
            .and_then(|m| m.as_ref())
            .map_or(0, |m| m.reads)
    }

    async fn map(&self) -> Option<&GatewayMap> {
        let directory = self.directory?;
        self.map
            .get_or_init(|| async {
                match directory.targets().await {
                    Ok(map) => Some(map),
                    Err(e) => {
                        // Secondary information: findings still go out, without it.
                        tracing::warn!(error = %e, "could not read gateway targets for the blast radius");
                        None
                    }
                }
            })
            .await
            .as_ref()
    }

    /// Adds to each active finding about a provider the gateway targets that use it: their
    /// ids as resources, their names in the description. Finding ids do not change.
    pub async fn annotate(&self, findings: Vec<Finding>) -> Vec<Finding> {
        let needs = findings
            .iter()
            .any(|f| f.is_active() && f.resources().iter().any(|r| is_provider(r.kind())));
        if !needs {
            return findings;
        }
        let Some(map) = self.map().await else {
            return findings;
        };
        findings
            .into_iter()
            .map(|f| {
                if !f.is_active() {
                    return f;
                }
                let mut targets: Vec<&GatewayTargetRef> = Vec::new();
                for r in f.resources().iter().filter(|r| is_provider(r.kind())) {
                    for t in map.using(r.arn_or_id()) {
                        if !targets.contains(&t) {
                            targets.push(t);
                        }
                    }
                }
                if targets.is_empty() {
                    return f;
                }
                let resources: Vec<Resource> = targets
                    .iter()
                    .filter_map(|t| Resource::gateway_target(t.resource_id()).ok())
                    .collect();
                let names: Vec<String> = targets
                    .iter()
                    .map(|t| format!("{}/{}", t.gateway_name, t.target_name))
                    .collect();
                f.with_dependents(
                    resources,
                    &format!("used by gateway targets {}", names.join(", ")),
                )
            })
            .collect()
    }
}
