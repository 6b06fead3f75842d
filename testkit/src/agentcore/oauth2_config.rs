//! `oauth2ProviderConfigInput` / `oauth2ProviderConfigOutput`: a union with one member per
//! vendor family. Vendors without their own member use `includedOauth2ProviderConfig`.

use serde_json::{json, Value};

use super::errors::ApiError;
use super::input::{optional_str, required_str, string_list};
use super::secrets::SecretInput;

/// The 25 `CredentialProviderVendorType` values.
const VENDORS: [&str; 25] = [
    "AtlassianOauth2",
    "Auth0Oauth2",
    "CognitoOauth2",
    "CustomOauth2",
    "CyberArkOauth2",
    "DropboxOauth2",
    "FacebookOauth2",
    "FusionAuthOauth2",
    "GithubOauth2",
    "GoogleOauth2",
    "HubspotOauth2",
    "LinkedinOauth2",
    "MicrosoftOauth2",
    "NotionOauth2",
    "OktaOauth2",
    "OneLoginOauth2",
    "PingOneOauth2",
    "RedditOauth2",
    "SalesforceOauth2",
    "SlackOauth2",
    "SpotifyOauth2",
    "TwitchOauth2",
    "XOauth2",
    "YandexOauth2",
    "ZoomOauth2",
];

/// The config member a vendor must use.
fn member_for_vendor(vendor: &str) -> &'static str {
    match vendor {
        "CustomOauth2" => "customOauth2ProviderConfig",
        "GoogleOauth2" => "googleOauth2ProviderConfig",
        "GithubOauth2" => "githubOauth2ProviderConfig",
        "SlackOauth2" => "slackOauth2ProviderConfig",
        "SalesforceOauth2" => "salesforceOauth2ProviderConfig",
        "MicrosoftOauth2" => "microsoftOauth2ProviderConfig",
        "AtlassianOauth2" => "atlassianOauth2ProviderConfig",
        "LinkedinOauth2" => "linkedinOauth2ProviderConfig",
        _ => "includedOauth2ProviderConfig",
    }
}

/// `Oauth2AuthorizationServerMetadata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub response_types: Option<Vec<String>>,
    pub token_endpoint_auth_methods: Option<Vec<String>>,
}

/// `Oauth2Discovery` union.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Discovery {
    Url(String),
    Metadata(Metadata),
}

/// A provider's vendor configuration, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VendorConfig {
    pub member: &'static str,
    pub client_id: String,
    pub discovery: Discovery,
    /// `clientAuthenticationMethod` (custom providers only).
    pub client_auth_method: Option<String>,
}

/// Parses `credentialProviderVendor` and `oauth2ProviderConfigInput`.
pub(crate) fn parse(body: &Value) -> Result<(String, VendorConfig, SecretInput), ApiError> {
    let vendor = required_str(body, "credentialProviderVendor")?;
    if !VENDORS.contains(&vendor) {
        return Err(ApiError::invalid_field(
            "credentialProviderVendor",
            "Member must satisfy enum value set",
        ));
    }
    let input = match body.get("oauth2ProviderConfigInput") {
        Some(Value::Object(map)) => map,
        _ => {
            return Err(ApiError::invalid_field(
                "oauth2ProviderConfigInput",
                "Member must not be null",
            ))
        }
    };
    let mut members = input.iter().filter(|(_, v)| !v.is_null());
    let (member, config) = match (members.next(), members.next()) {
        (Some(only), None) => only,
        _ => {
            return Err(ApiError::invalid_field(
                "oauth2ProviderConfigInput",
                "Exactly one vendor configuration member must be set",
            ))
        }
    };
    let expected = member_for_vendor(vendor);
    if member != expected {
        return Err(ApiError::invalid_field(
            "oauth2ProviderConfigInput",
            format!("Vendor {vendor} requires {expected}"),
        ));
    }
    let field = |name: &str| format!("oauth2ProviderConfigInput.{member}.{name}");
    let client_id = required_str(config, "clientId")
        .map_err(|_| {
            ApiError::invalid_field(&field("clientId"), "Member must not be null or empty")
        })?
        .to_string();
    let secret = SecretInput::parse(
        config,
        "clientSecretSource",
        "clientSecret",
        "clientSecretConfig",
        2048,
    )?;
    let (discovery, client_auth_method) = match expected {
        "customOauth2ProviderConfig" => custom_discovery(config, &field)?,
        "includedOauth2ProviderConfig" => (included_discovery(config, &field)?, None),
        builtin => (builtin_discovery(builtin, config)?, None),
    };
    let config = VendorConfig {
        member: expected,
        client_id,
        discovery,
        client_auth_method,
    };
    Ok((vendor.to_string(), config, secret))
}

fn custom_discovery(
    config: &Value,
    field: &dyn Fn(&str) -> String,
) -> Result<(Discovery, Option<String>), ApiError> {
    let method = optional_str(config, "clientAuthenticationMethod")?;
    if let Some(m) = method {
        if !matches!(m, "CLIENT_SECRET_BASIC" | "CLIENT_SECRET_POST") {
            // PRIVATE_KEY_JWT and AWS_IAM_ID_TOKEN_JWT are real values the emulator cannot serve.
            return Err(ApiError::invalid_field(
                &field("clientAuthenticationMethod"),
                "The emulator supports CLIENT_SECRET_BASIC and CLIENT_SECRET_POST",
            ));
        }
    }
    let discovery = match config.get("oauthDiscovery") {
        Some(d @ Value::Object(_)) => d,
        _ => {
            return Err(ApiError::invalid_field(
                &field("oauthDiscovery"),
                "Member must not be null",
            ))
        }
    };
    let parsed = if let Some(url) = optional_str(discovery, "discoveryUrl")? {
        Discovery::Url(url.to_string())
    } else if let Some(meta) = discovery.get("authorizationServerMetadata") {
        let opt_list = |name: &str| -> Result<Option<Vec<String>>, ApiError> {
            meta.get(name).map(|_| string_list(meta, name)).transpose()
        };
        Discovery::Metadata(Metadata {
            issuer: required_str(meta, "issuer")?.to_string(),
            authorization_endpoint: required_str(meta, "authorizationEndpoint")?.to_string(),
            token_endpoint: required_str(meta, "tokenEndpoint")?.to_string(),
            response_types: opt_list("responseTypes")?,
            token_endpoint_auth_methods: opt_list("tokenEndpointAuthMethods")?,
        })
    } else {
        return Err(ApiError::invalid_field(
            &field("oauthDiscovery"),
            "Exactly one of discoveryUrl or authorizationServerMetadata must be set",
        ));
    };
    Ok((parsed, method.map(str::to_string)))
}

/// Included vendors name their endpoints directly; with only an issuer the service discovers
/// the rest from the issuer's well-known document.
fn included_discovery(
    config: &Value,
    field: &dyn Fn(&str) -> String,
) -> Result<Discovery, ApiError> {
    let issuer = optional_str(config, "issuer")?;
    let authorization = optional_str(config, "authorizationEndpoint")?;
    match (optional_str(config, "tokenEndpoint")?, issuer) {
        (Some(token), _) => Ok(Discovery::Metadata(Metadata {
            issuer: issuer.unwrap_or_default().to_string(),
            authorization_endpoint: authorization.unwrap_or_default().to_string(),
            token_endpoint: token.to_string(),
            response_types: None,
            token_endpoint_auth_methods: None,
        })),
        (None, Some(issuer)) => Ok(Discovery::Url(format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        ))),
        (None, None) => Err(ApiError::invalid_field(
            &field("tokenEndpoint"),
            "Either issuer or tokenEndpoint must be set",
        )),
    }
}

/// Built-in vendors come with their endpoints pre-configured, as the service does.
fn builtin_discovery(member: &str, config: &Value) -> Result<Discovery, ApiError> {
    let (issuer, authorization, token) = match member {
        "googleOauth2ProviderConfig" => (
            "https://accounts.google.com".to_string(),
            "https://accounts.google.com/o/oauth2/v2/auth".to_string(),
            "https://oauth2.googleapis.com/token".to_string(),
        ),
        "githubOauth2ProviderConfig" => (
            "https://github.com".to_string(),
            "https://github.com/login/oauth/authorize".to_string(),
            "https://github.com/login/oauth/access_token".to_string(),
        ),
        "slackOauth2ProviderConfig" => (
            "https://slack.com".to_string(),
            "https://slack.com/oauth/v2/authorize".to_string(),
            "https://slack.com/api/oauth.v2.access".to_string(),
        ),
        "salesforceOauth2ProviderConfig" => (
            "https://login.salesforce.com".to_string(),
            "https://login.salesforce.com/services/oauth2/authorize".to_string(),
            "https://login.salesforce.com/services/oauth2/token".to_string(),
        ),
        "microsoftOauth2ProviderConfig" => {
            let tenant = optional_str(config, "tenantId")?.unwrap_or("common");
            let base = format!("https://login.microsoftonline.com/{tenant}");
            (
                format!("{base}/v2.0"),
                format!("{base}/oauth2/v2.0/authorize"),
                format!("{base}/oauth2/v2.0/token"),
            )
        }
        "atlassianOauth2ProviderConfig" => (
            "https://auth.atlassian.com".to_string(),
            "https://auth.atlassian.com/authorize".to_string(),
            "https://auth.atlassian.com/oauth/token".to_string(),
        ),
        _ => (
            "https://www.linkedin.com/oauth".to_string(),
            "https://www.linkedin.com/oauth/v2/authorization".to_string(),
            "https://www.linkedin.com/oauth/v2/accessToken".to_string(),
        ),
    };
    Ok(Discovery::Metadata(Metadata {
        issuer,
        authorization_endpoint: authorization,
        token_endpoint: token,
        response_types: None,
        token_endpoint_auth_methods: None,
    }))
}

impl VendorConfig {
    /// `oauth2ProviderConfigOutput`: the same union member, with clientId and oauthDiscovery.
    pub(crate) fn output(&self) -> Value {
        let discovery = match &self.discovery {
            Discovery::Url(url) => json!({ "discoveryUrl": url }),
            Discovery::Metadata(m) => {
                let mut meta = json!({
                    "issuer": m.issuer,
                    "authorizationEndpoint": m.authorization_endpoint,
                    "tokenEndpoint": m.token_endpoint,
                });
                if let Some(types) = &m.response_types {
                    meta["responseTypes"] = json!(types);
                }
                if let Some(methods) = &m.token_endpoint_auth_methods {
                    meta["tokenEndpointAuthMethods"] = json!(methods);
                }
                json!({ "authorizationServerMetadata": meta })
            }
        };
        let mut inner = json!({ "clientId": self.client_id, "oauthDiscovery": discovery });
        if let Some(method) = &self.client_auth_method {
            inner["clientAuthenticationMethod"] = json!(method);
        }
        json!({ self.member: inner })
    }
}
