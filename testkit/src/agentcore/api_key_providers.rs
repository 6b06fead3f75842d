//! Create/Get/Update/Delete/List ApiKeyCredentialProvider. No status in the API; the emulator
//! still tracks one so a provider forced into *_FAILED refuses to resolve.

use serde_json::{json, Value};

use super::errors::{created, no_content, ok, ApiError, Reply};
use super::input::provider_name;
use super::paging::page;
use super::secrets::{delete_managed, orphaned_managed, SecretInput};
use super::state::{now, ApiKeyProvider, Ctx, ProviderKind, ProviderStatus, StoredSecret};

const KIND: ProviderKind = ProviderKind::ApiKey;
const SECRET_CONFIG: &str = "apiKeySecretConfig";

fn parse_secret(body: &Value) -> Result<SecretInput, ApiError> {
    SecretInput::parse(body, "apiKeySecretSource", "apiKey", SECRET_CONFIG, 65536)
}

fn render(ctx: &Ctx, name: &str, p: &ApiKeyProvider, with_times: bool) -> Value {
    let mut out = json!({
        "name": name,
        "credentialProviderArn": ctx.provider_arn(KIND, name),
        "apiKeySecretArn": { "secretArn": p.secret.arn() },
    });
    match &p.secret {
        StoredSecret::Managed { .. } => out["apiKeySecretSource"] = json!("MANAGED"),
        StoredSecret::External { json_key, .. } => {
            out["apiKeySecretSource"] = json!("EXTERNAL");
            out["apiKeySecretJsonKey"] = json!(json_key);
        }
    }
    if with_times {
        out["createdTime"] = json!(p.created);
        out["lastUpdatedTime"] = json!(p.updated);
    }
    out
}

fn not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("API key credential provider {name} not found"))
}

pub(crate) async fn create(ctx: &Ctx, body: &Value) -> Reply {
    let name = provider_name(body, "name")?;
    let secret = parse_secret(body)?;
    {
        let mut state = ctx.state();
        if state.name_taken(KIND, name) {
            return Err(ApiError::conflict(format!(
                "API key credential provider {name} already exists"
            )));
        }
        state.reserved.insert((KIND, name.to_string()));
    }
    let stored = secret.store(ctx, KIND, name, SECRET_CONFIG).await;
    let mut state = ctx.state();
    state.reserved.remove(&(KIND, name.to_string()));
    let time = now();
    let provider = ApiKeyProvider {
        secret: stored?,
        status: ProviderStatus::Ready,
        failure_reason: None,
        created: time,
        updated: time,
    };
    let out = render(ctx, name, &provider, false);
    state.api_keys.insert(name.to_string(), provider);
    created(out)
}

pub(crate) async fn get(ctx: &Ctx, body: &Value) -> Reply {
    let name = provider_name(body, "name")?;
    let state = ctx.state();
    let provider = state.api_keys.get(name).ok_or_else(|| not_found(name))?;
    ok(render(ctx, name, provider, true))
}

pub(crate) async fn update(ctx: &Ctx, body: &Value) -> Reply {
    let name = provider_name(body, "name")?;
    let secret = parse_secret(body)?;
    if !ctx.state().api_keys.contains_key(name) {
        return Err(not_found(name));
    }
    let stored = secret.store(ctx, KIND, name, SECRET_CONFIG).await?;
    let (out, orphaned) = {
        let mut state = ctx.state();
        let provider = state
            .api_keys
            .get_mut(name)
            .ok_or_else(|| not_found(name))?;
        let previous = std::mem::replace(&mut provider.secret, stored);
        provider.status = ProviderStatus::Ready;
        provider.failure_reason = None;
        provider.updated = now();
        (
            render(ctx, name, provider, true),
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
        .api_keys
        .remove(name)
        .ok_or_else(|| not_found(name))?;
    if let StoredSecret::Managed { arn } = &removed.secret {
        delete_managed(ctx, arn).await;
    }
    no_content()
}

pub(crate) async fn list(ctx: &Ctx, body: &Value) -> Reply {
    let state = ctx.state();
    let page = page(&state.api_keys, body, 100, 100)?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|(name, p)| {
            json!({
                "name": name,
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
