//! Create/Get/Update/Delete/List Oauth2CredentialProvider.

use serde_json::{json, Value};

use super::errors::{created, no_content, ok, ApiError, Reply};
use super::input::provider_name;
use super::oauth2_config;
use super::paging::page;
use super::secrets::{delete_managed, orphaned_managed};
use super::state::{now, Ctx, Oauth2Provider, ProviderKind, ProviderStatus, StoredSecret};

const KIND: ProviderKind = ProviderKind::Oauth2;
const SECRET_CONFIG: &str = "clientSecretConfig";

/// Which operation's output shape to render.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Create,
    Get,
    Update,
}

fn render(ctx: &Ctx, name: &str, p: &Oauth2Provider, shape: Shape) -> Value {
    let mut out = json!({
        "name": name,
        "credentialProviderArn": ctx.provider_arn(KIND, name),
        "clientSecretArn": { "secretArn": p.secret.arn() },
        "callbackUrl": p.callback_url,
        "oauth2ProviderConfigOutput": p.config.output(),
        "status": p.status.as_str(),
    });
    match &p.secret {
        StoredSecret::Managed { .. } => out["clientSecretSource"] = json!("MANAGED"),
        StoredSecret::External { json_key, .. } => {
            out["clientSecretSource"] = json!("EXTERNAL");
            out["clientSecretJsonKey"] = json!(json_key);
        }
    }
    if shape != Shape::Create {
        out["credentialProviderVendor"] = json!(p.vendor);
        out["createdTime"] = json!(p.created);
        out["lastUpdatedTime"] = json!(p.updated);
    }
    if shape == Shape::Get {
        if let Some(reason) = &p.failure_reason {
            out["failureReason"] = json!(reason);
        }
    }
    out
}

fn not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("OAuth2 credential provider {name} not found"))
}

pub(crate) async fn create(ctx: &Ctx, body: &Value) -> Reply {
    let name = provider_name(body, "name")?;
    let (vendor, config, secret) = oauth2_config::parse(body)?;
    {
        let mut state = ctx.state();
        if state.name_taken(KIND, name) {
            return Err(ApiError::conflict(format!(
                "OAuth2 credential provider {name} already exists"
            )));
        }
        state.reserved.insert((KIND, name.to_string()));
    }
    let stored = secret.store(ctx, KIND, name, SECRET_CONFIG).await;
    let mut state = ctx.state();
    state.reserved.remove(&(KIND, name.to_string()));
    let time = now();
    let provider = Oauth2Provider {
        vendor,
        config,
        secret: stored?,
        callback_url: format!(
            "https://bedrock-agentcore.{}.amazonaws.com/identities/oauth2/callback/{}",
            ctx.region,
            uuid::Uuid::new_v4()
        ),
        status: ProviderStatus::Ready,
        failure_reason: None,
        created: time,
        updated: time,
    };
    let out = render(ctx, name, &provider, Shape::Create);
    state.oauth2.insert(name.to_string(), provider);
    created(out)
}

pub(crate) async fn get(ctx: &Ctx, body: &Value) -> Reply {
    let name = provider_name(body, "name")?;
    let state = ctx.state();
    let provider = state.oauth2.get(name).ok_or_else(|| not_found(name))?;
    ok(render(ctx, name, provider, Shape::Get))
}

/// Full replace: vendor and the whole config are required, as in the service.
pub(crate) async fn update(ctx: &Ctx, body: &Value) -> Reply {
    let name = provider_name(body, "name")?;
    let (vendor, config, secret) = oauth2_config::parse(body)?;
    if !ctx.state().oauth2.contains_key(name) {
        return Err(not_found(name));
    }
    let stored = secret.store(ctx, KIND, name, SECRET_CONFIG).await?;
    let (out, orphaned) = {
        let mut state = ctx.state();
        let provider = state.oauth2.get_mut(name).ok_or_else(|| not_found(name))?;
        let previous = std::mem::replace(&mut provider.secret, stored);
        provider.vendor = vendor;
        provider.config = config;
        provider.status = ProviderStatus::Ready;
        provider.failure_reason = None;
        provider.updated = now();
        (
            render(ctx, name, provider, Shape::Update),
            orphaned_managed(previous, &provider.secret),
        )
    };
    if let Some(arn) = orphaned {
        delete_managed(ctx, &arn).await;
    }
    ok(out)
}

pub(crate) async fn delete(ctx: &Ctx, body: &Value) -> Reply {
    let name = provider_name(body, "name")?;
    let removed = ctx
        .state()
        .oauth2
        .remove(name)
        .ok_or_else(|| not_found(name))?;
    if let StoredSecret::Managed { arn } = &removed.secret {
        delete_managed(ctx, arn).await;
    }
    no_content()
}

/// Items carry no secret reference: finding who references a secret needs a Get per provider.
pub(crate) async fn list(ctx: &Ctx, body: &Value) -> Reply {
    let state = ctx.state();
    let page = page(&state.oauth2, body, 20, 20)?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|(name, p)| {
            json!({
                "name": name,
                "credentialProviderVendor": p.vendor,
                "credentialProviderArn": ctx.provider_arn(KIND, name),
                "createdTime": p.created,
                "lastUpdatedTime": p.updated,
            })
        })
        .collect();
    let mut out = json!({ "credentialProviders": items });
    if let Some(token) = page.next_token {
        out["nextToken"] = json!(token);
    }
    ok(out)
}
