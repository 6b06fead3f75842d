//! AgentCore Gateway, the part the rotator reads: CreateGateway, ListGateways,
//! CreateGatewayTarget, ListGatewayTargets and GetGatewayTarget (REST paths under `/gateways`,
//! timestamps as date-time strings). A target keeps its `credentialProviderConfigurations` as
//! sent, after checking that each OAuth/API-key provider ARN names a provider that exists, as
//! the service does at create.

use serde_json::{json, Value};

use super::errors::{created, ok, ApiError, Reply};
use super::input::{optional_str, required_str};
use super::paging::page;
use super::state::{now, Ctx, Gateway, GatewayTarget, ProviderKind};

const PAGE_MAX: i64 = 1000;
const PAGE_DEFAULT: i64 = 50;

/// `2026-12-04T05:00:00.123Z`, the wire format of gateway timestamps.
fn date_time(secs: f64) -> String {
    aws_smithy_types::DateTime::from_secs_f64(secs)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

fn gateway_arn(ctx: &Ctx, id: &str) -> String {
    format!(
        "arn:aws:bedrock-agentcore:{}:{}:gateway/{id}",
        ctx.region, ctx.account
    )
}

/// Ten characters from a fresh UUID: ids are opaque to clients.
fn suffix(upper: bool) -> String {
    let raw: String = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    if upper {
        raw.to_uppercase()
    } else {
        raw
    }
}

fn gateway_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Gateway {id} not found"))
}

pub(crate) async fn create_gateway(ctx: &Ctx, body: &Value) -> Reply {
    let name = required_str(body, "name")?;
    if name.is_empty()
        || name.len() > 100
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(ApiError::invalid_field(
            "name",
            "Member must satisfy regular expression pattern: ([0-9a-zA-Z][-]?){1,100}",
        ));
    }
    required_str(body, "roleArn")?;
    let protocol = required_str(body, "protocolType")?.to_string();
    let authorizer = required_str(body, "authorizerType")?.to_string();
    let id = format!("{}-{}", name.to_lowercase(), suffix(false));
    let time = now();
    let gateway = Gateway {
        name: name.to_string(),
        protocol,
        authorizer,
        created: time,
        targets: Default::default(),
    };
    let out = render_gateway(ctx, &id, &gateway);
    ctx.state().gateways.insert(id, gateway);
    created(out)
}

fn render_gateway(ctx: &Ctx, id: &str, g: &Gateway) -> Value {
    json!({
        "gatewayArn": gateway_arn(ctx, id),
        "gatewayId": id,
        "name": g.name,
        "status": "READY",
        "protocolType": g.protocol,
        "authorizerType": g.authorizer,
        "createdAt": date_time(g.created),
        "updatedAt": date_time(g.created),
    })
}

pub(crate) async fn list_gateways(ctx: &Ctx, body: &Value) -> Reply {
    let state = ctx.state();
    let page = page(&state.gateways, body, PAGE_MAX, PAGE_DEFAULT)?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|(id, g)| {
            let mut v = render_gateway(ctx, id, g);
            if let Some(o) = v.as_object_mut() {
                o.remove("gatewayArn");
            }
            v
        })
        .collect();
    let mut out = json!({ "items": items });
    if let Some(token) = page.next_token {
        out["nextToken"] = json!(token);
    }
    ok(out)
}

/// Each configuration's type is known and the provider it names exists.
fn check_credentials(ctx: &Ctx, configs: &Value) -> Result<(), ApiError> {
    let field = "credentialProviderConfigurations";
    // The model: an array of a fixed number of 1 item.
    let list = configs
        .as_array()
        .filter(|l| l.len() == 1)
        .ok_or_else(|| ApiError::invalid_field(field, "Member must have exactly 1 item"))?;
    let state = ctx.state();
    for c in list {
        let (member, kind) = match c.get("credentialProviderType").and_then(Value::as_str) {
            Some("GATEWAY_IAM_ROLE") => continue,
            Some("OAUTH") => ("oauthCredentialProvider", ProviderKind::Oauth2),
            Some("API_KEY") => ("apiKeyCredentialProvider", ProviderKind::ApiKey),
            _ => {
                return Err(ApiError::invalid_field(
                    field,
                    "credentialProviderType must be one of [GATEWAY_IAM_ROLE, OAUTH, API_KEY]",
                ))
            }
        };
        let arn = c
            .pointer(&format!("/credentialProvider/{member}/providerArn"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ApiError::invalid_field(field, format!("{member}.providerArn is required"))
            })?;
        let name = arn.rsplit('/').next().unwrap_or_default();
        if ctx.provider_arn(kind, name) != arn || !state.name_taken(kind, name) {
            return Err(ApiError::invalid_field(
                field,
                format!("Credential provider {arn} does not exist"),
            ));
        }
    }
    Ok(())
}

pub(crate) async fn create_target(ctx: &Ctx, body: &Value) -> Reply {
    let gateway_id = required_str(body, "gatewayIdentifier")?.to_string();
    let name = required_str(body, "name")?.to_string();
    let target_configuration = body
        .get("targetConfiguration")
        .cloned()
        .ok_or_else(|| ApiError::invalid_field("targetConfiguration", "Member must not be null"))?;
    let configs = body
        .get("credentialProviderConfigurations")
        .cloned()
        .unwrap_or(json!([{"credentialProviderType": "GATEWAY_IAM_ROLE"}]));
    check_credentials(ctx, &configs)?;
    let description = optional_str(body, "description")?.map(str::to_string);
    let mut state = ctx.state();
    let gateway = state
        .gateways
        .get_mut(&gateway_id)
        .ok_or_else(|| gateway_not_found(&gateway_id))?;
    if gateway.targets.values().any(|t| t.name == name) {
        return Err(ApiError::conflict(format!("Target {name} already exists")));
    }
    let target = GatewayTarget {
        name,
        description,
        created: now(),
        target_configuration,
        credentials: configs,
    };
    let target_id = suffix(true);
    let out = render_target(ctx, &gateway_id, &target_id, &target);
    gateway.targets.insert(target_id, target);
    created(out)
}

fn render_target(ctx: &Ctx, gateway_id: &str, target_id: &str, t: &GatewayTarget) -> Value {
    let mut out = json!({
        "gatewayArn": gateway_arn(ctx, gateway_id),
        "targetId": target_id,
        "name": t.name,
        "status": "READY",
        "createdAt": date_time(t.created),
        "updatedAt": date_time(t.created),
        "targetConfiguration": t.target_configuration,
        "credentialProviderConfigurations": t.credentials,
    });
    if let Some(d) = &t.description {
        out["description"] = json!(d);
    }
    out
}

pub(crate) async fn list_targets(ctx: &Ctx, body: &Value) -> Reply {
    let gateway_id = required_str(body, "gatewayIdentifier")?;
    let state = ctx.state();
    let gateway = state
        .gateways
        .get(gateway_id)
        .ok_or_else(|| gateway_not_found(gateway_id))?;
    let page = page(&gateway.targets, body, PAGE_MAX, PAGE_DEFAULT)?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|(id, t)| {
            json!({
                "targetId": id,
                "name": t.name,
                "status": "READY",
                "createdAt": date_time(t.created),
                "updatedAt": date_time(t.created),
            })
        })
        .collect();
    let mut out = json!({ "items": items });
    if let Some(token) = page.next_token {
        out["nextToken"] = json!(token);
    }
    ok(out)
}

pub(crate) async fn get_target(ctx: &Ctx, body: &Value) -> Reply {
    let gateway_id = required_str(body, "gatewayIdentifier")?;
    let target_id = required_str(body, "targetId")?;
    let state = ctx.state();
    let gateway = state
        .gateways
        .get(gateway_id)
        .ok_or_else(|| gateway_not_found(gateway_id))?;
    let target = gateway
        .targets
        .get(target_id)
        .ok_or_else(|| ApiError::not_found(format!("Target {target_id} not found")))?;
    ok(render_target(ctx, gateway_id, target_id, target))
}
