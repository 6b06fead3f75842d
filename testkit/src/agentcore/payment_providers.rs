//! Create/Get/Update/Delete/List PaymentCredentialProvider (vendors CoinbaseCDP and
//! StripePrivy). Each holds up to two secrets, each MANAGED or EXTERNAL like the other kinds;
//! the vendor configuration is a tagged union (`coinbaseCdpConfiguration` /
//! `stripePrivyConfiguration`). No status in the API, and no data plane here.

use serde_json::{json, Map, Value};

use super::errors::{created, no_content, ok, ApiError, Reply};
use super::input::{optional_str, provider_name, required_str};
use super::paging::page;
use super::secrets::{delete_managed, orphaned_managed, SecretInput};
use super::state::{now, Ctx, PaymentProvider, ProviderKind, StoredSecret};

const KIND: ProviderKind = ProviderKind::Payment;
const MAX_SECRET_LEN: usize = 65536;

/// A vendor's union member, its two identifier fields and its two secret slots (the second
/// optional for CoinbaseCDP).
struct Vendor {
    name: &'static str,
    member: &'static str,
    ids: [&'static str; 2],
    slots: [(&'static str, bool); 2],
}

const VENDORS: [Vendor; 2] = [
    Vendor {
        name: "CoinbaseCDP",
        member: "coinbaseCdpConfiguration",
        ids: ["apiKeyId", ""],
        slots: [("apiKeySecret", true), ("walletSecret", false)],
    },
    Vendor {
        name: "StripePrivy",
        member: "stripePrivyConfiguration",
        ids: ["appId", "authorizationId"],
        slots: [("appSecret", true), ("authorizationPrivateKey", true)],
    },
];

fn vendor(name: &str) -> Result<&'static Vendor, ApiError> {
    VENDORS.iter().find(|v| v.name == name).ok_or_else(|| {
        ApiError::invalid_field(
            "credentialProviderVendor",
            "Member must satisfy enum value set: [CoinbaseCDP, StripePrivy]",
        )
    })
}

/// The slot's secret input, or `None` for an optional slot with neither value nor reference.
fn parse_slot(config: &Value, slot: &str, required: bool) -> Result<Option<SecretInput>, ApiError> {
    let (source, config_field) = (format!("{slot}Source"), format!("{slot}Config"));
    let empty = optional_str(config, slot)?.is_none_or(str::is_empty)
        && config.get(&config_field).is_none()
        && config.get(&source).is_none();
    if empty && !required {
        return Ok(None);
    }
    SecretInput::parse(config, &source, slot, &config_field, MAX_SECRET_LEN).map(Some)
}

struct Parsed {
    vendor: &'static Vendor,
    ids: Vec<(String, String)>,
    slots: Vec<(&'static str, SecretInput)>,
}

fn parse(body: &Value, vendor_name: &str) -> Result<Parsed, ApiError> {
    let v = vendor(vendor_name)?;
    let input = body
        .get("providerConfigurationInput")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            ApiError::invalid_field("providerConfigurationInput", "Member must not be null")
        })?;
    if input.len() != 1 || !input.contains_key(v.member) {
        return Err(ApiError::invalid_field(
            "providerConfigurationInput",
            format!("{vendor_name} takes exactly one member, {}", v.member),
        ));
    }
    let config = &input[v.member];
    let mut ids = Vec::new();
    for id in v.ids.iter().filter(|f| !f.is_empty()) {
        ids.push((id.to_string(), required_str(config, id)?.to_string()));
    }
    let mut slots = Vec::new();
    for (slot, required) in v.slots {
        if let Some(secret) = parse_slot(config, slot, required)? {
            slots.push((slot, secret));
        }
    }
    Ok(Parsed {
        vendor: v,
        ids,
        slots,
    })
}

async fn store(
    ctx: &Ctx,
    name: &str,
    parsed: &Parsed,
) -> Result<Vec<(&'static str, StoredSecret)>, ApiError> {
    let mut stored = Vec::new();
    for (slot, secret) in &parsed.slots {
        let managed_name = format!("{name}/{slot}");
        let config_field = format!("{}.{slot}Config", parsed.vendor.member);
        stored.push((
            *slot,
            secret
                .store(ctx, KIND, &managed_name, &config_field)
                .await?,
        ));
    }
    Ok(stored)
}

fn render(ctx: &Ctx, name: &str, p: &PaymentProvider, full: bool) -> Value {
    let v = vendor(&p.vendor).expect("stored vendors are known");
    let mut out = json!({
        "name": name,
        "credentialProviderArn": ctx.provider_arn(KIND, name),
        "credentialProviderVendor": v.name,
        "createdTime": p.created,
        "lastUpdatedTime": p.updated,
    });
    if !full {
        return out;
    }
    let mut config = Map::new();
    for (field, value) in &p.ids {
        config.insert(field.clone(), json!(value));
    }
    for (slot, secret) in &p.secrets {
        config.insert(format!("{slot}Arn"), json!({ "secretArn": secret.arn() }));
        match secret {
            StoredSecret::Managed { .. } => {
                config.insert(format!("{slot}Source"), json!("MANAGED"));
            }
            StoredSecret::External { json_key, .. } => {
                config.insert(format!("{slot}Source"), json!("EXTERNAL"));
                config.insert(format!("{slot}JsonKey"), json!(json_key));
            }
        }
    }
    out["providerConfigurationOutput"] = json!({ v.member: config });
    out
}

fn not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("Payment credential provider {name} not found"))
}

pub(crate) async fn create(ctx: &Ctx, body: &Value) -> Reply {
    let name = provider_name(body, "name")?;
    let parsed = parse(body, required_str(body, "credentialProviderVendor")?)?;
    {
        let mut state = ctx.state();
        if state.name_taken(KIND, name) {
            return Err(ApiError::conflict(format!(
                "Payment credential provider {name} already exists"
            )));
        }
        state.reserved.insert((KIND, name.to_string()));
    }
    let stored = store(ctx, name, &parsed).await;
    let mut state = ctx.state();
    state.reserved.remove(&(KIND, name.to_string()));
    let time = now();
    let provider = PaymentProvider {
        vendor: parsed.vendor.name.to_string(),
        ids: parsed.ids,
        secrets: stored?,
        created: time,
        updated: time,
    };
    let mut out = render(ctx, name, &provider, true);
    if let Some(o) = out.as_object_mut() {
        o.remove("createdTime");
        o.remove("lastUpdatedTime");
    }
    state.payments.insert(name.to_string(), provider);
    created(out)
}

pub(crate) async fn get(ctx: &Ctx, body: &Value) -> Reply {
    let name = provider_name(body, "name")?;
    let state = ctx.state();
    let provider = state.payments.get(name).ok_or_else(|| not_found(name))?;
    ok(render(ctx, name, provider, true))
}

pub(crate) async fn update(ctx: &Ctx, body: &Value) -> Reply {
    let name = provider_name(body, "name")?;
    let vendor_name = match ctx.state().payments.get(name) {
        Some(p) => p.vendor.clone(),
        None => return Err(not_found(name)),
    };
    let vendor_name = optional_str(body, "credentialProviderVendor")?
        .map(str::to_string)
        .unwrap_or(vendor_name);
    let parsed = parse(body, &vendor_name)?;
    let stored = store(ctx, name, &parsed).await?;
    let (out, orphaned) = {
        let mut state = ctx.state();
        let provider = state
            .payments
            .get_mut(name)
            .ok_or_else(|| not_found(name))?;
        let previous = std::mem::replace(&mut provider.secrets, stored);
        provider.vendor = parsed.vendor.name.to_string();
        provider.ids = parsed.ids;
        provider.updated = now();
        let orphaned: Vec<String> = previous
            .into_iter()
            .filter_map(
                |(slot, old)| match provider.secrets.iter().find(|(s, _)| *s == slot) {
                    Some((_, new)) => orphaned_managed(old, new),
                    None => match old {
                        StoredSecret::Managed { arn } => Some(arn),
                        StoredSecret::External { .. } => None,
                    },
                },
            )
            .collect();
        (render(ctx, name, provider, true), orphaned)
    };
    for arn in orphaned {
        delete_managed(ctx, &arn).await;
    }
    ok(out)
}

pub(crate) async fn delete(ctx: &Ctx, body: &Value) -> Reply {
    let name = provider_name(body, "name")?;
    let removed = ctx
        .state()
        .payments
        .remove(name)
        .ok_or_else(|| not_found(name))?;
    for (_, secret) in &removed.secrets {
        if let StoredSecret::Managed { arn } = secret {
            delete_managed(ctx, arn).await;
        }
    }
    no_content()
}

pub(crate) async fn list(ctx: &Ctx, body: &Value) -> Reply {
    let state = ctx.state();
    let page = page(&state.payments, body, 20, 20)?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|(name, p)| render(ctx, name, p, false))
        .collect();
    let mut out = json!({ "credentialProviders": items });
    if let Some(token) = page.next_token {
        out["nextToken"] = json!(token);
    }
    ok(out)
}
