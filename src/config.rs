//! Runtime configuration, read from an injected lookup so tests never touch the process
//! environment.

use std::time::Duration;

use crate::http::OriginPolicy;
use crate::upstream::vendors::Vendor;

/// Default for `ROTATOR_COGNITO_DOMAIN_URL`: where a Cognito prefix domain lives.
pub const DEFAULT_COGNITO_DOMAIN_URL: &str = "https://{domain}.auth.{region}.amazoncognito.com";

/// Longest `ROTATOR_DEFAULT_GRACE_PERIOD_HOURS` accepted: one year.
pub const MAX_GRACE_PERIOD_HOURS: u64 = 8760;

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Total time the token probe may spend retrying (propagation delay, 429, 5xx).
    pub probe_budget: Duration,
    /// First back-off between token probe attempts; doubles up to `probe_budget`.
    pub probe_initial_backoff: Duration,
    /// Grace period for documents whose rotation profile does not set one.
    pub default_grace_period: Duration,
    /// `ROTATOR_ALLOWED_TOKEN_ORIGINS` and `ROTATOR_ALLOW_LOOPBACK_HTTP`: which origins a secret
    /// document may send the token probe to.
    pub origins: OriginPolicy,
    /// `ROTATOR_COGNITO_DOMAIN_URL`: URL template of a Cognito prefix domain, with `{domain}`
    /// (and optionally `{region}`) to fill in.
    pub cognito_domain_url: String,
    /// Which IdP admin APIs this deployment may call, and as whom.
    pub idp_admin: IdpAdmin,
}

/// The deployment's IdP admin access (the document names only coordinates inside these).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IdpAdmin {
    /// `ROTATOR_IDP_SIGNING_KEY_ID`: the KMS asymmetric key (RSA 2048+ or ECC_NIST_P256,
    /// SIGN_VERIFY) that signs the admin client assertions for Okta and Keycloak.
    pub signing_key_id: Option<String>,
    /// `ROTATOR_OKTA_ORG_URL` + `ROTATOR_OKTA_ADMIN_CLIENT_ID`.
    pub okta: Option<AdminClient>,
    /// `ROTATOR_KEYCLOAK_URL` + `ROTATOR_KEYCLOAK_ADMIN_CLIENT_ID` (+ the optional
    /// `ROTATOR_KEYCLOAK_ADMIN_REALM`).
    pub keycloak: Option<KeycloakAdmin>,
    /// `ROTATOR_ENTRA_ADMIN_CLIENT_ID` (+ `ROTATOR_ENTRA_LOGIN_URL`, `ROTATOR_ENTRA_GRAPH_URL`).
    pub entra: Option<EntraAdmin>,
    /// `ROTATOR_VENDOR_TOKEN_URL_<VENDOR>`: where a staged vendor's token endpoint is, when not
    /// the vendor's own (an egress proxy, a local stack).
    pub vendor_token_urls: std::collections::BTreeMap<Vendor, String>,
}

/// Default `ROTATOR_ENTRA_LOGIN_URL` and `ROTATOR_ENTRA_GRAPH_URL` (Microsoft's global cloud).
pub const DEFAULT_ENTRA_LOGIN_URL: &str = "https://login.microsoftonline.com";
pub const DEFAULT_ENTRA_GRAPH_URL: &str = "https://graph.microsoft.com";

/// The rotator's Entra ID management app, reached by AWS outbound identity federation.
#[derive(Clone, Debug, PartialEq)]
pub struct EntraAdmin {
    /// The management app's application (client) id.
    pub client_id: String,
    pub login_url: String,
    pub graph_url: String,
}

/// The Keycloak server and the rotator's "Signed JWT" admin client there.
#[derive(Clone, Debug, PartialEq)]
pub struct KeycloakAdmin {
    pub client: AdminClient,
    /// The realm the admin client lives in (`master` for a server-wide service account);
    /// `None`: the realm each document names (a service account per realm).
    pub realm: Option<String>,
}

/// An IdP's base URL (origin only) and the rotator's admin client there.
#[derive(Clone, Debug, PartialEq)]
pub struct AdminClient {
    pub url: String,
    pub client_id: String,
}

impl IdpAdmin {
    /// `ROTATOR_IDP_SIGNING_KEY_ID`, `ROTATOR_OKTA_*` and `ROTATOR_KEYCLOAK_*`: read here only,
    /// for the rotation and the audit alike.
    pub fn from_lookup(
        env: &Settings<impl Fn(&str) -> Option<String>>,
        origins: &OriginPolicy,
    ) -> Result<Self, ConfigError> {
        let signing_key_id = env.text("ROTATOR_IDP_SIGNING_KEY_ID");
        let okta = admin_client(
            env,
            origins,
            "ROTATOR_OKTA_ORG_URL",
            "ROTATOR_OKTA_ADMIN_CLIENT_ID",
            UrlShape::Origin,
        )?;
        // Keycloak may be served under a path (`/auth` before Keycloak 17, or KC_HTTP_RELATIVE_PATH).
        let keycloak = admin_client(
            env,
            origins,
            "ROTATOR_KEYCLOAK_URL",
            "ROTATOR_KEYCLOAK_ADMIN_CLIENT_ID",
            UrlShape::Prefix,
        )?;
        let admin_realm = env.text("ROTATOR_KEYCLOAK_ADMIN_REALM");
        if let Some(realm) = &admin_realm {
            if !crate::secret_doc::is_name(realm, b"._-") {
                return Err(ConfigError {
                    key: "ROTATOR_KEYCLOAK_ADMIN_REALM",
                    value: realm.clone(),
                    expected: "a realm name (letters, digits, '.', '_', '-')".into(),
                });
            }
        }
        for (set, url_key) in [
            (okta.is_some(), "ROTATOR_OKTA_ORG_URL"),
            (keycloak.is_some(), "ROTATOR_KEYCLOAK_URL"),
        ] {
            if set && signing_key_id.is_none() {
                return Err(ConfigError {
                    key: "ROTATOR_IDP_SIGNING_KEY_ID",
                    value: String::new(),
                    expected: format!(
                        "set when {url_key} is: the KMS key that signs the admin client assertion"
                    ),
                });
            }
        }
        let entra = match env.text("ROTATOR_ENTRA_ADMIN_CLIENT_ID") {
            None => None,
            Some(client_id) => {
                if !crate::secret_doc::is_guid(&client_id) {
                    return Err(ConfigError {
                        key: "ROTATOR_ENTRA_ADMIN_CLIENT_ID",
                        value: client_id,
                        expected: "the management app's application (client) id, a GUID".into(),
                    });
                }
                let url = |key: &'static str, default: &str| {
                    let url = env.text(key).unwrap_or_else(|| default.to_string());
                    deployment_url(origins, key, &url, UrlShape::Origin)
                };
                Some(EntraAdmin {
                    client_id,
                    login_url: url("ROTATOR_ENTRA_LOGIN_URL", DEFAULT_ENTRA_LOGIN_URL)?,
                    graph_url: url("ROTATOR_ENTRA_GRAPH_URL", DEFAULT_ENTRA_GRAPH_URL)?,
                })
            }
        };
        let mut vendor_token_urls = std::collections::BTreeMap::new();
        for vendor in crate::upstream::vendors::ALL {
            let Some(key) = vendor.url_setting() else {
                continue;
            };
            if let Some(url) = env.text(key) {
                let url = deployment_url(origins, key, &url, UrlShape::Endpoint)?;
                vendor_token_urls.insert(vendor, url);
            }
        }
        Ok(Self {
            vendor_token_urls,
            entra,
            signing_key_id,
            okta,
            keycloak: keycloak.map(|client| KeycloakAdmin {
                client,
                realm: admin_realm,
            }),
        })
    }
}

/// Which parts a deployment-set IdP URL may have besides scheme, host and port.
#[derive(Clone, Copy, PartialEq)]
enum UrlShape {
    /// Scheme, host and port only.
    Origin,
    /// A path prefix too (Keycloak's `/auth`).
    Prefix,
    /// Any path (a vendor's token endpoint).
    Endpoint,
}

/// A URL a deployment sets for the function to call: checked by the rules for derived endpoints
/// (https, or http on loopback with `ROTATOR_ALLOW_LOOPBACK_HTTP`), with no query, fragment or
/// credentials, and the shape `shape` allows; without a trailing slash.
fn deployment_url(
    origins: &OriginPolicy,
    key: &'static str,
    url: &str,
    shape: UrlShape,
) -> Result<String, ConfigError> {
    let bad = || {
        ConfigError {
        key,
        value: redact_credentials(url),
        expected: format!(
            "an https URL such as https://idp.example.com ({}no query; http only for loopback hosts with ROTATOR_ALLOW_LOOPBACK_HTTP=true)",
            match shape {
                UrlShape::Origin => "no path, ",
                UrlShape::Prefix => "a path prefix allowed, ",
                UrlShape::Endpoint => "",
            }
        ),
    }
    };
    let parsed = origins.check_derived(url, key).map_err(|_| bad())?;
    if (shape == UrlShape::Origin && !matches!(parsed.path(), "" | "/"))
        || parsed.query().is_some()
        || parsed.fragment().is_some()
    {
        return Err(bad());
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// A base URL (checked by [`deployment_url`]) and the admin client id, both set or both unset.
fn admin_client(
    env: &Settings<impl Fn(&str) -> Option<String>>,
    origins: &OriginPolicy,
    url_key: &'static str,
    client_key: &'static str,
    shape: UrlShape,
) -> Result<Option<AdminClient>, ConfigError> {
    match (env.text(url_key), env.text(client_key)) {
        (None, None) => Ok(None),
        (Some(url), Some(client_id)) => Ok(Some(AdminClient {
            url: deployment_url(origins, url_key, &url, shape)?,
            client_id,
        })),
        (Some(_), None) => Err(ConfigError {
            key: client_key,
            value: String::new(),
            expected: format!("set when {url_key} is: the rotator's admin client id"),
        }),
        (None, Some(v)) => Err(ConfigError {
            key: url_key,
            value: String::new(),
            expected: format!("set when {client_key} is ({v:?})"),
        }),
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            probe_budget: Duration::from_secs(30),
            probe_initial_backoff: Duration::from_millis(250),
            default_grace_period: Duration::from_secs(24 * 3600),
            origins: OriginPolicy::default(),
            cognito_domain_url: DEFAULT_COGNITO_DOMAIN_URL.to_string(),
            idp_admin: IdpAdmin::default(),
        }
    }
}

/// A configuration value the function cannot start with: which key, what it holds (credentials
/// in URLs redacted) and what it accepts. The one configuration error of every function.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid configuration: {key}={value:?} is not {expected}")]
pub struct ConfigError {
    pub key: &'static str,
    pub value: String,
    pub expected: String,
}

/// Reads configuration values through an injected lookup: values are trimmed, an empty one is
/// unset, and every parse failure is a [`ConfigError`] naming the key and the accepted values.
pub struct Settings<F>(pub F);

impl<F: Fn(&str) -> Option<String>> Settings<F> {
    /// The trimmed value, `None` when unset or empty.
    pub fn text(&self, key: &str) -> Option<String> {
        (self.0)(key)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// `on`/`true`/`1`/`yes` or `off`/`false`/`0`/`no` (any case); `default` when unset.
    pub fn flag(&self, key: &'static str, default: bool) -> Result<bool, ConfigError> {
        let Some(v) = self.text(key) else {
            return Ok(default);
        };
        match v.to_ascii_lowercase().as_str() {
            "on" | "true" | "1" | "yes" => Ok(true),
            "off" | "false" | "0" | "no" => Ok(false),
            _ => Err(ConfigError {
                key,
                value: v,
                expected: "on or off (true/false)".into(),
            }),
        }
    }

    /// A whole number within `min..=max`.
    pub fn number(
        &self,
        key: &'static str,
        min: u64,
        max: u64,
    ) -> Result<Option<u64>, ConfigError> {
        let Some(v) = self.text(key) else {
            return Ok(None);
        };
        match v.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(ConfigError {
                key,
                value: v,
                expected: format!("a whole number from {min} to {max}"),
            }),
        }
    }

    /// A whole number of `unit`s within `min..=max` (bounded, so it cannot overflow).
    pub fn duration(
        &self,
        key: &'static str,
        unit: Duration,
        min: u64,
        max: u64,
    ) -> Result<Option<Duration>, ConfigError> {
        Ok(self
            .number(key, min, max)?
            .map(|n| unit.saturating_mul(u32::try_from(n).unwrap_or(u32::MAX))))
    }

    /// `ROTATOR_DEFAULT_GRACE_PERIOD_HOURS` (0 to [`MAX_GRACE_PERIOD_HOURS`]): read here only, for
    /// the rotation and the audit alike.
    pub fn default_grace_period(&self) -> Result<Option<Duration>, ConfigError> {
        self.duration(
            "ROTATOR_DEFAULT_GRACE_PERIOD_HOURS",
            Duration::from_secs(3600),
            0,
            MAX_GRACE_PERIOD_HOURS,
        )
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = Config::default();
        let env = Settings(&lookup);
        let second = Duration::from_secs(1);
        if let Some(d) = env.duration("ROTATOR_PROBE_BUDGET_SECONDS", second, 0, 900)? {
            config.probe_budget = d;
        }
        let ms = Duration::from_millis(1);
        if let Some(d) = env.duration("ROTATOR_PROBE_INITIAL_BACKOFF_MS", ms, 0, 60_000)? {
            config.probe_initial_backoff = d.max(ms);
        }
        if let Some(d) = env.default_grace_period()? {
            config.default_grace_period = d;
        }
        config.origins = origin_policy_from_lookup(&lookup)?;
        config.cognito_domain_url = cognito_domain_url_from_lookup(&lookup, &config.origins)?;
        config.idp_admin = IdpAdmin::from_lookup(&env, &config.origins)?;
        Ok(config)
    }
}

/// `ROTATOR_COGNITO_DOMAIN_URL` (default [`DEFAULT_COGNITO_DOMAIN_URL`]), checked against the
/// rules for derived endpoints; shared by every function that derives Cognito endpoints.
pub fn cognito_domain_url_from_lookup(
    lookup: impl Fn(&str) -> Option<String>,
    origins: &OriginPolicy,
) -> Result<String, ConfigError> {
    match Settings(&lookup).text(COGNITO_DOMAIN_URL_KEY) {
        None => Ok(DEFAULT_COGNITO_DOMAIN_URL.to_string()),
        Some(template) => {
            check_cognito_domain_url(&template, origins)?;
            Ok(template)
        }
    }
}

const COGNITO_DOMAIN_URL_KEY: &str = "ROTATOR_COGNITO_DOMAIN_URL";

/// `ROTATOR_ALLOW_LOOPBACK_HTTP` (`true`/`false`, default false) and
/// `ROTATOR_ALLOWED_TOKEN_ORIGINS` (default empty); shared by every function that probes.
pub fn origin_policy_from_lookup(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<OriginPolicy, ConfigError> {
    let env = Settings(&lookup);
    let allow_loopback_http = env.flag(crate::http::ALLOW_LOOPBACK_KEY, false)?;
    let origins_key = crate::http::ALLOWED_ORIGINS_KEY;
    let list = env.text(origins_key).unwrap_or_default();
    OriginPolicy::parse_allowlist(&list, allow_loopback_http).map_err(|expected| ConfigError {
        key: origins_key,
        value: redact_credentials(&list),
        expected: expected.to_string(),
    })
}

/// The template must name `{domain}` and, filled in, pass the scheme and address rules of
/// endpoints derived from coordinates.
fn check_cognito_domain_url(template: &str, origins: &OriginPolicy) -> Result<(), ConfigError> {
    let error = |expected: &str| ConfigError {
        key: COGNITO_DOMAIN_URL_KEY,
        value: redact_credentials(template),
        expected: expected.to_string(),
    };
    if !template.contains("{domain}") {
        return Err(error(
            "a URL template containing {domain}, e.g. https://{domain}.auth.{region}.amazoncognito.com",
        ));
    }
    let example = template
        .replace("{domain}", "example")
        .replace("{region}", "us-east-1");
    origins
        .check_derived(&example, COGNITO_DOMAIN_URL_KEY)
        .map(|_| ())
        .map_err(|e| {
            error(match e {
                crate::http::OriginError::Invalid { .. } => {
                    "a URL template such as https://{domain}.auth.{region}.amazoncognito.com"
                }
                crate::http::OriginError::Credentials { .. } => {
                    "a URL template without user:password@"
                }
                crate::http::OriginError::Address { .. } => {
                    "a URL template on a permitted host (link-local and metadata addresses never; loopback only with ROTATOR_ALLOW_LOOPBACK_HTTP=true)"
                }
                _ => "an https URL template (http only for loopback hosts, with ROTATOR_ALLOW_LOOPBACK_HTTP=true)",
            })
        })
}

/// Configuration values are echoed in errors, except a URL's `user:password@`.
fn redact_credentials(value: &str) -> String {
    if value.contains('@') {
        "<not shown: contains user:password@>".to_string()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        assert_eq!(Config::from_lookup(|_| None).unwrap(), Config::default());
    }

    #[test]
    fn values_are_read_from_the_lookup() {
        let c = Config::from_lookup(|k| match k {
            "ROTATOR_PROBE_BUDGET_SECONDS" => Some("5".into()),
            "ROTATOR_DEFAULT_GRACE_PERIOD_HOURS" => Some("2".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.probe_budget, Duration::from_secs(5));
        assert_eq!(c.default_grace_period, Duration::from_secs(7200));
    }

    #[test]
    fn one_reader_parses_flags_bounded_numbers_and_durations_and_names_what_it_accepts() {
        let env = Settings(|k: &str| match k {
            "FLAG" => Some(" Off ".into()),
            "BAD_FLAG" => Some("maybe".into()),
            "N" => Some("7".into()),
            "EMPTY" => Some("  ".into()),
            _ => None,
        });
        assert_eq!(env.flag("FLAG", true), Ok(false));
        assert_eq!(env.flag("UNSET", true), Ok(true));
        let err = env.flag("BAD_FLAG", false).unwrap_err();
        assert_eq!((err.key, err.value.as_str()), ("BAD_FLAG", "maybe"));
        assert!(err.to_string().contains("on or off"), "{err}");
        assert_eq!(env.number("N", 1, 10), Ok(Some(7)));
        assert_eq!(env.number("EMPTY", 1, 10), Ok(None));
        let err = env.number("N", 8, 10).unwrap_err();
        assert!(
            err.to_string().contains("a whole number from 8 to 10"),
            "{err}"
        );
        assert_eq!(
            env.duration("N", Duration::from_secs(60), 0, 10),
            Ok(Some(Duration::from_secs(420)))
        );
    }

    #[test]
    fn a_non_number_is_an_error_naming_the_key() {
        let err = Config::from_lookup(|k| {
            (k == "ROTATOR_PROBE_BUDGET_SECONDS").then(|| "soon".to_string())
        })
        .unwrap_err();
        assert_eq!(err.key, "ROTATOR_PROBE_BUDGET_SECONDS");
        assert!(err.to_string().contains("a whole number"));
    }

    fn with(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(move |k| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn a_grace_period_that_would_overflow_is_an_error_not_a_panic() {
        for h in ["18446744073709551615", "5124095576030432", "8761"] {
            let err = with(&[("ROTATOR_DEFAULT_GRACE_PERIOD_HOURS", h)]).unwrap_err();
            assert_eq!(err.key, "ROTATOR_DEFAULT_GRACE_PERIOD_HOURS");
            assert!(err.to_string().contains("from 0 to 8760"), "{err}");
        }
        let c = with(&[("ROTATOR_DEFAULT_GRACE_PERIOD_HOURS", "8760")]).unwrap();
        assert_eq!(c.default_grace_period, Duration::from_secs(8760 * 3600));
    }

    #[test]
    fn by_default_no_origin_is_allowed_loopback_is_off_and_cognito_domains_are_aws() {
        let c = Config::from_lookup(|_| None).unwrap();
        assert!(c.origins.allowed.is_empty());
        assert!(!c.origins.allow_loopback_http);
        assert_eq!(
            c.cognito_domain_url,
            "https://{domain}.auth.{region}.amazoncognito.com"
        );
    }

    #[test]
    fn allowed_origins_and_loopback_are_read_from_the_lookup() {
        let c = with(&[
            (
                "ROTATOR_ALLOWED_TOKEN_ORIGINS",
                "https://login.example.com,https://idp.example.com:8443  http://127.0.0.1:4000",
            ),
            ("ROTATOR_ALLOW_LOOPBACK_HTTP", "TRUE"),
        ])
        .unwrap();
        assert!(c.origins.allow_loopback_http);
        assert_eq!(
            c.origins.allowlist(),
            "https://login.example.com, https://idp.example.com:8443, http://127.0.0.1:4000"
        );
    }

    #[test]
    fn invalid_origin_settings_are_errors_naming_the_key() {
        for (pairs, key) in [
            (
                vec![(
                    "ROTATOR_ALLOWED_TOKEN_ORIGINS",
                    "https://login.example.com/oauth2",
                )],
                "ROTATOR_ALLOWED_TOKEN_ORIGINS",
            ),
            (
                vec![("ROTATOR_ALLOWED_TOKEN_ORIGINS", "http://login.example.com")],
                "ROTATOR_ALLOWED_TOKEN_ORIGINS",
            ),
            (
                vec![("ROTATOR_ALLOWED_TOKEN_ORIGINS", "http://127.0.0.1:4000")],
                "ROTATOR_ALLOWED_TOKEN_ORIGINS",
            ),
            (
                vec![("ROTATOR_ALLOWED_TOKEN_ORIGINS", "https://169.254.169.254")],
                "ROTATOR_ALLOWED_TOKEN_ORIGINS",
            ),
            (
                vec![("ROTATOR_ALLOW_LOOPBACK_HTTP", "maybe")],
                "ROTATOR_ALLOW_LOOPBACK_HTTP",
            ),
            (
                vec![("ROTATOR_COGNITO_DOMAIN_URL", "https://auth.example.com")],
                "ROTATOR_COGNITO_DOMAIN_URL",
            ),
            (
                vec![("ROTATOR_COGNITO_DOMAIN_URL", "http://{domain}.example.com")],
                "ROTATOR_COGNITO_DOMAIN_URL",
            ),
            (
                vec![(
                    "ROTATOR_COGNITO_DOMAIN_URL",
                    "https://169.254.169.254/{domain}",
                )],
                "ROTATOR_COGNITO_DOMAIN_URL",
            ),
        ] {
            let err = with(&pairs).unwrap_err();
            assert_eq!(err.key, key, "{pairs:?}: {err}");
        }
    }

    #[test]
    fn credentials_in_a_configured_url_are_not_echoed() {
        let err = with(&[(
            "ROTATOR_ALLOWED_TOKEN_ORIGINS",
            "https://admin:hunter2@login.example.com",
        )])
        .unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn a_cognito_domain_template_on_loopback_needs_loopback_allowed() {
        let template = "http://127.0.0.1:4000/{domain}";
        assert!(with(&[("ROTATOR_COGNITO_DOMAIN_URL", template)]).is_err());
        let c = with(&[
            ("ROTATOR_COGNITO_DOMAIN_URL", template),
            ("ROTATOR_ALLOW_LOOPBACK_HTTP", "true"),
        ])
        .unwrap();
        assert_eq!(c.cognito_domain_url, template);
    }

    #[test]
    fn idp_admin_access_is_read_per_idp_with_the_signing_key() {
        let c = with(&[
            ("ROTATOR_IDP_SIGNING_KEY_ID", "alias/agentcore-rotator-idp"),
            ("ROTATOR_OKTA_ORG_URL", "https://example.okta.com/"),
            ("ROTATOR_OKTA_ADMIN_CLIENT_ID", "0oa-rotator"),
            ("ROTATOR_KEYCLOAK_URL", "https://sso.example.com/auth"),
            ("ROTATOR_KEYCLOAK_ADMIN_CLIENT_ID", "agentcore-rotator"),
            ("ROTATOR_KEYCLOAK_ADMIN_REALM", "master"),
        ])
        .unwrap();
        let admin = c.idp_admin;
        assert_eq!(
            admin.signing_key_id.as_deref(),
            Some("alias/agentcore-rotator-idp")
        );
        assert_eq!(
            admin.okta,
            Some(AdminClient {
                url: "https://example.okta.com".into(),
                client_id: "0oa-rotator".into()
            })
        );
        assert_eq!(admin.entra, None);
        let kc = admin.keycloak.unwrap();
        assert_eq!(kc.client.url, "https://sso.example.com/auth");
        assert_eq!(kc.realm.as_deref(), Some("master"));
        assert_eq!(with(&[]).unwrap().idp_admin, IdpAdmin::default());
    }

    #[test]
    fn entra_needs_only_its_management_app_and_defaults_to_microsofts_cloud() {
        let app = "11111111-2222-3333-4444-555555555555";
        let entra = with(&[("ROTATOR_ENTRA_ADMIN_CLIENT_ID", app)])
            .unwrap()
            .idp_admin
            .entra
            .unwrap();
        assert_eq!(entra.client_id, app);
        assert_eq!(entra.login_url, DEFAULT_ENTRA_LOGIN_URL);
        assert_eq!(entra.graph_url, DEFAULT_ENTRA_GRAPH_URL);
        for (key, value) in [
            ("ROTATOR_ENTRA_ADMIN_CLIENT_ID", "not-a-guid"),
            ("ROTATOR_ENTRA_GRAPH_URL", "http://graph.example.com"),
            (
                "ROTATOR_ENTRA_LOGIN_URL",
                "https://login.example.com/tenant",
            ),
        ] {
            let mut pairs = vec![("ROTATOR_ENTRA_ADMIN_CLIENT_ID", app)];
            pairs.retain(|(k, _)| *k != key);
            pairs.push((key, value));
            assert_eq!(with(&pairs).unwrap_err().key, key, "{value}");
        }
    }

    #[test]
    fn incomplete_or_unsafe_idp_admin_settings_are_errors_naming_the_key() {
        let key = "ROTATOR_IDP_SIGNING_KEY_ID";
        for (pairs, expected) in [
            (
                vec![
                    ("ROTATOR_KEYCLOAK_URL", "https://sso.example.com"),
                    ("ROTATOR_KEYCLOAK_ADMIN_CLIENT_ID", "rotator"),
                ],
                key,
            ),
            (
                vec![
                    (key, "k"),
                    ("ROTATOR_KEYCLOAK_URL", "https://sso.example.com"),
                ],
                "ROTATOR_KEYCLOAK_ADMIN_CLIENT_ID",
            ),
            (
                vec![(key, "k"), ("ROTATOR_OKTA_ADMIN_CLIENT_ID", "0oa")],
                "ROTATOR_OKTA_ORG_URL",
            ),
            // Okta orgs have no path; Keycloak may, but never a query.
            (
                vec![
                    (key, "k"),
                    ("ROTATOR_OKTA_ORG_URL", "https://example.okta.com/x"),
                    ("ROTATOR_OKTA_ADMIN_CLIENT_ID", "0oa"),
                ],
                "ROTATOR_OKTA_ORG_URL",
            ),
            (
                vec![
                    (key, "k"),
                    ("ROTATOR_KEYCLOAK_URL", "https://sso.example.com/?realm=x"),
                    ("ROTATOR_KEYCLOAK_ADMIN_CLIENT_ID", "rotator"),
                ],
                "ROTATOR_KEYCLOAK_URL",
            ),
            (
                vec![
                    (key, "k"),
                    ("ROTATOR_KEYCLOAK_URL", "http://sso.example.com"),
                    ("ROTATOR_KEYCLOAK_ADMIN_CLIENT_ID", "rotator"),
                ],
                "ROTATOR_KEYCLOAK_URL",
            ),
            (
                vec![
                    (key, "k"),
                    ("ROTATOR_KEYCLOAK_URL", "https://sso.example.com"),
                    ("ROTATOR_KEYCLOAK_ADMIN_CLIENT_ID", "rotator"),
                    ("ROTATOR_KEYCLOAK_ADMIN_REALM", "../master"),
                ],
                "ROTATOR_KEYCLOAK_ADMIN_REALM",
            ),
        ] {
            let err = with(&pairs).unwrap_err();
            assert_eq!(err.key, expected, "{pairs:?}: {err}");
        }
    }
}
