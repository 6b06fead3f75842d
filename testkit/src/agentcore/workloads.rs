//! Create/Get/Delete WorkloadIdentity: the registry GetWorkloadAccessToken checks names against.

use serde_json::{json, Value};

use super::errors::{created, no_content, ok, ApiError, Reply};
use super::input::{string_list, workload_name};
use super::state::{now, Ctx, State, Workload};

fn render(ctx: &Ctx, name: &str, w: &Workload, with_times: bool) -> Value {
    let mut out = json!({
        "name": name,
        "workloadIdentityArn": ctx.workload_arn(name),
        "allowedResourceOauth2ReturnUrls": w.return_urls,
    });
    if with_times {
        out["createdTime"] = json!(w.created);
        out["lastUpdatedTime"] = json!(w.updated);
    }
    out
}

/// Registers a workload identity; false when the name is taken.
pub(crate) fn register(state: &mut State, name: &str, return_urls: Vec<String>) -> bool {
    if state.workloads.contains_key(name) {
        return false;
    }
    let time = now();
    state.workloads.insert(
        name.to_string(),
        Workload {
            return_urls,
            created: time,
            updated: time,
        },
    );
    true
}

pub(crate) async fn create(ctx: &Ctx, body: &Value) -> Reply {
    let name = workload_name(body, "name")?;
    let return_urls = string_list(body, "allowedResourceOauth2ReturnUrls")?;
    let mut state = ctx.state();
    if !register(&mut state, name, return_urls) {
        return Err(ApiError::conflict(format!(
            "Workload identity {name} already exists"
        )));
    }
    created(render(ctx, name, &state.workloads[name], false))
}

pub(crate) async fn get(ctx: &Ctx, body: &Value) -> Reply {
    let name = workload_name(body, "name")?;
    let state = ctx.state();
    let workload = state
        .workloads
        .get(name)
        .ok_or_else(|| ApiError::not_found(format!("Workload identity {name} not found")))?;
    ok(render(ctx, name, workload, true))
}

pub(crate) async fn delete(ctx: &Ctx, body: &Value) -> Reply {
    let name = workload_name(body, "name")?;
    let mut state = ctx.state();
    if state.workloads.remove(name).is_none() {
        return Err(ApiError::not_found(format!(
            "Workload identity {name} not found"
        )));
    }
    // Tokens of a deleted workload stop working.
    state.tokens.retain(|_, workload| workload != name);
    no_content()
}
