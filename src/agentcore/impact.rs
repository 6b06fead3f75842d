//! `agentcore-rotator impact`: what depends on a secret — the providers whose references name
//! it and, under each, the gateway targets that authenticate with that provider.

use serde::Serialize;

use super::check::kind_label;
use super::discovery::{AgentCoreError, ProviderDirectory};
use super::gateways::{GatewayDirectory, GatewayTargetRef};
use super::references::{referencing, Via};
use crate::secrets::SecretIdentity;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Impact {
    pub secret: String,
    pub providers: Vec<Dependent>,
}

/// One reference to the secret and the gateway targets using its provider.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dependent {
    pub kind: &'static str,
    pub name: String,
    pub arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<&'static str>,
    pub json_key: String,
    pub gateway_targets: Vec<GatewayTargetRef>,
}

/// Every provider reference naming `secret` (a name, a partial or a full ARN), with the
/// gateway targets that use each provider.
pub async fn impact(
    directory: &dyn ProviderDirectory,
    gateways: &dyn GatewayDirectory,
    secret: &str,
) -> Result<Impact, AgentCoreError> {
    let (providers, map) = tokio::try_join!(directory.providers(), gateways.targets())?;
    let identity = SecretIdentity::parse(secret);
    let providers = referencing(&providers, &identity, None)
        .into_iter()
        .filter_map(|r| match r.via {
            Via::Reference { json_key, .. } => Some(Dependent {
                kind: kind_label(r.provider),
                name: r.provider.name.clone(),
                arn: r.provider.arn.clone(),
                reference: r.provider.slot,
                json_key: json_key.to_string(),
                gateway_targets: map.using(&r.provider.arn).cloned().collect(),
            }),
            Via::ManagedSameClient => None,
        })
        .collect();
    Ok(Impact {
        secret: secret.to_string(),
        providers,
    })
}

impl Impact {
    /// The tree secret → providers → gateway targets, one line each.
    pub fn tree(&self) -> String {
        let mut out = format!("secret {}\n", self.secret);
        if self.providers.is_empty() {
            out.push_str("└── no credential provider references it\n");
        }
        for (i, p) in self.providers.iter().enumerate() {
            let last = i + 1 == self.providers.len();
            let (branch, indent) = if last {
                ("└──", "    ")
            } else {
                ("├──", "│   ")
            };
            let reference = p.reference.map(|r| format!("{r}, ")).unwrap_or_default();
            out.push_str(&format!(
                "{branch} {} provider {} ({reference}JSON key {:?}) {}\n",
                p.kind, p.name, p.json_key, p.arn
            ));
            if p.gateway_targets.is_empty() {
                out.push_str(&format!("{indent}└── no gateway target uses it\n"));
            }
            for (j, t) in p.gateway_targets.iter().enumerate() {
                let b = if j + 1 == p.gateway_targets.len() {
                    "└──"
                } else {
                    "├──"
                };
                out.push_str(&format!(
                    "{indent}{b} gateway {} target {} {}\n",
                    t.gateway_name,
                    t.target_name,
                    t.resource_id()
                ));
            }
        }
        out
    }
}
