//! AgentCore Gateway targets through the control-plane SDK: which providers each target uses.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_bedrockagentcorecontrol as control;
use control::types::CredentialProvider;
use tokio::task::JoinSet;

use super::agentcore::{control_client, error};
use crate::agentcore::discovery::AgentCoreError;
use crate::agentcore::gateways::{GatewayDirectory, GatewayMap, GatewayTargetRef};
use crate::agentcore::settings::AgentCoreSettings;
use crate::aws::call_counter::CallCounter;

/// Model maximum page size of both lists.
const PAGE_SIZE: i32 = 1000;

#[derive(Clone)]
pub struct AgentCoreGateways {
    client: control::Client,
    concurrency: usize,
}

impl AgentCoreGateways {
    pub fn new(
        sdk: &SdkConfig,
        settings: &AgentCoreSettings,
        counter: Option<&CallCounter>,
    ) -> Self {
        Self {
            client: control_client(sdk, settings, counter),
            concurrency: settings.concurrency.max(1),
        }
    }
}

#[async_trait]
impl GatewayDirectory for AgentCoreGateways {
    async fn targets(&self) -> Result<GatewayMap, AgentCoreError> {
        let mut map = GatewayMap::default();
        let mut pages = self
            .client
            .list_gateways()
            .max_results(PAGE_SIZE)
            .into_paginator()
            .send();
        let mut gateways = Vec::new();
        while let Some(page) = pages.next().await {
            map.reads += 1;
            let page = page.map_err(|e| error("ListGateways", &e))?;
            for g in page.items() {
                gateways.push((g.gateway_id().to_string(), g.name().to_string()));
            }
        }
        let mut gets = JoinSet::new();
        for (gateway_id, gateway_name) in gateways {
            let mut pages = self
                .client
                .list_gateway_targets()
                .gateway_identifier(&gateway_id)
                .max_results(PAGE_SIZE)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                map.reads += 1;
                let page = match page {
                    Ok(p) => p,
                    // Deleted since it was listed.
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_resource_not_found_exception()) =>
                    {
                        break
                    }
                    Err(e) => return Err(error("ListGatewayTargets", &e)),
                };
                for t in page.items() {
                    while gets.len() >= self.concurrency {
                        collect(&mut gets, &mut map).await?;
                    }
                    let (client, gid, gname, tid) = (
                        self.client.clone(),
                        gateway_id.clone(),
                        gateway_name.clone(),
                        t.target_id().to_string(),
                    );
                    gets.spawn(async move { get_target(client, gid, gname, tid).await });
                    map.reads += 1;
                }
            }
        }
        while !gets.is_empty() {
            collect(&mut gets, &mut map).await?;
        }
        map.targets.sort_by(|a, b| {
            (&a.gateway_name, &a.target_name).cmp(&(&b.gateway_name, &b.target_name))
        });
        Ok(map)
    }
}

type Got = Result<Option<GatewayTargetRef>, AgentCoreError>;

async fn collect(gets: &mut JoinSet<Got>, map: &mut GatewayMap) -> Result<(), AgentCoreError> {
    if let Some(joined) = gets.join_next().await {
        let got = joined.map_err(|e| AgentCoreError {
            operation: "GetGatewayTarget",
            message: format!("task failed: {e}"),
        })??;
        map.targets.extend(got);
    }
    Ok(())
}

async fn get_target(
    client: control::Client,
    gateway_id: String,
    gateway_name: String,
    target_id: String,
) -> Got {
    let out = match client
        .get_gateway_target()
        .gateway_identifier(&gateway_id)
        .target_id(&target_id)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(error("GetGatewayTarget", &e)),
    };
    let provider_arns = out
        .credential_provider_configurations()
        .iter()
        .filter_map(|c| match c.credential_provider()? {
            CredentialProvider::OauthCredentialProvider(p) => Some(p.provider_arn().to_string()),
            CredentialProvider::ApiKeyCredentialProvider(p) => Some(p.provider_arn().to_string()),
            _ => None,
        })
        .collect();
    Ok(Some(GatewayTargetRef {
        gateway_id,
        gateway_name,
        gateway_arn: out.gateway_arn().to_string(),
        target_id: out.target_id().to_string(),
        target_name: out.name().to_string(),
        provider_arns,
    }))
}
