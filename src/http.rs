//! Outbound HTTP to identity providers: which origins the functions may call (decided by their
//! configuration, never by whoever can write a secret version), and the one hardened client every
//! request outside the AWS SDK goes through.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;

/// Longest wait for a TCP (and TLS) connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a whole request may take, body included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest token response or discovery document read.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The configuration key holding the allowlist (named in errors).
pub const ALLOWED_ORIGINS_KEY: &str = "ROTATOR_ALLOWED_TOKEN_ORIGINS";
/// The configuration key allowing `http` to loopback hosts (named in errors).
pub const ALLOW_LOOPBACK_KEY: &str = "ROTATOR_ALLOW_LOOPBACK_HTTP";

/// Scheme, lowercased host and port (the scheme's default filled in): what a browser calls an
/// origin. Origins are not secret; errors print them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// An origin as configured: `https://host[:port]`, with nothing after the authority but an
    /// optional `/`. The reason for a refusal never repeats the input.
    pub fn parse(s: &str) -> Result<Origin, &'static str> {
        let url = Url::parse(s.trim()).map_err(|_| "not a URL")?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err("an origin carries no user:password@");
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err("an origin has no path, query or fragment");
        }
        Origin::of(&url).ok_or("an origin is http or https with a host")
    }

    /// The origin of an `http`/`https` URL with a host.
    pub fn of(url: &Url) -> Option<Origin> {
        if !matches!(url.scheme(), "http" | "https") {
            return None;
        }
        Some(Origin {
            scheme: url.scheme().to_string(),
            host: url.host_str()?.to_ascii_lowercase(),
            port: url.port_or_known_default()?,
        })
    }

    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The host as in a URL (IPv6 literals in brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let default = match self.scheme.as_str() {
            "https" => 443,
            _ => 80,
        };
        if self.port == default {
            write!(f, "{}://{}", self.scheme, self.host)
        } else {
            write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
        }
    }
}

/// Addresses a token request must not reach (or only on a local stack).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restricted {
    /// 127.0.0.0/8, ::1, `localhost`: only with `ROTATOR_ALLOW_LOOPBACK_HTTP=true`.
    Loopback,
    /// 0.0.0.0/8, `::`: only with `ROTATOR_ALLOW_LOOPBACK_HTTP=true` (it reaches this host).
    Unspecified,
    /// 169.254.0.0/16 (instance metadata at 169.254.169.254), fe80::/10: never.
    LinkLocal,
    /// EC2's IPv6 instance metadata endpoint (fd00:ec2::254): never.
    MetadataService,
}

impl Restricted {
    /// Whether `ROTATOR_ALLOW_LOOPBACK_HTTP=true` lifts the restriction.
    pub fn allowed_on_local_stack(self) -> bool {
        matches!(self, Restricted::Loopback | Restricted::Unspecified)
    }

    fn what(self) -> &'static str {
        match self {
            Restricted::Loopback => "a loopback address",
            Restricted::Unspecified => "the unspecified address (this host)",
            Restricted::LinkLocal => {
                "a link-local address (169.254.0.0/16 or fe80::/10, where the instance metadata service lives)"
            }
            Restricted::MetadataService => "the instance metadata service",
        }
    }

    fn hint(self) -> &'static str {
        if self.allowed_on_local_stack() {
            "; loopback is reachable only on a local stack, with ROTATOR_ALLOW_LOOPBACK_HTTP=true"
        } else {
            "; such addresses are never contacted"
        }
    }
}

/// Which restriction, if any, applies to an address.
pub fn classify(ip: IpAddr) -> Option<Restricted> {
    match ip {
        IpAddr::V4(v4) => {
            if v4.is_loopback() {
                Some(Restricted::Loopback)
            } else if v4.octets()[0] == 0 {
                Some(Restricted::Unspecified)
            } else if v4.is_link_local() {
                Some(Restricted::LinkLocal)
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return classify(IpAddr::V4(v4));
            }
            if v6.is_loopback() {
                Some(Restricted::Loopback)
            } else if v6.is_unspecified() {
                Some(Restricted::Unspecified)
            } else if v6.segments()[0] & 0xffc0 == 0xfe80 {
                Some(Restricted::LinkLocal)
            } else if v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
                Some(Restricted::MetadataService)
            } else {
                None
            }
        }
    }
}

/// Which restriction applies to a URL's host as written (IP literal or `localhost`), before
/// any name resolution.
fn classify_host(url: &Url) -> Option<Restricted> {
    // The URL parser has already normalised IPv4 forms (`2130706433`, `0x7f.1`) to dotted
    // decimal and put IPv6 literals in brackets.
    let host = url.host_str()?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return classify(ip);
    }
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    (name == "localhost" || name.ends_with(".localhost")).then_some(Restricted::Loopback)
}

/// Why a URL was not used. Every message names the field it came from and never repeats more of
/// the URL than its origin (a path or query could carry anything).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    #[error("{field} is not a valid URL ({reason})")]
    Invalid { field: String, reason: String },
    #[error("{field} carries credentials (user:password@ in the URL); remove them, the URL was not used")]
    Credentials { field: String },
    #[error("{field} ({origin}) is not https; only https is allowed (http only for loopback hosts of a local stack, with ROTATOR_ALLOW_LOOPBACK_HTTP=true)")]
    Scheme { field: String, origin: String },
    #[error("{field} ({origin}) names {what}{hint}")]
    Address {
        field: String,
        origin: String,
        what: &'static str,
        hint: &'static str,
    },
    #[error("{field} names {origin}, which is not an allowed token origin (ROTATOR_ALLOWED_TOKEN_ORIGINS: {allowed}); the function's configuration, not the secret document, decides which identity providers it calls: add the origin there if it is your IdP's")]
    NotAllowed {
        field: String,
        origin: String,
        allowed: String,
    },
}

/// Which origins the functions may send a token request (or a discovery request) to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OriginPolicy {
    /// `ROTATOR_ALLOWED_TOKEN_ORIGINS`: origins a secret document may name.
    pub allowed: Vec<Origin>,
    /// `ROTATOR_ALLOW_LOOPBACK_HTTP`: loopback hosts (over http too) are reachable; local stacks only.
    pub allow_loopback_http: bool,
}

impl OriginPolicy {
    /// Parses `ROTATOR_ALLOWED_TOKEN_ORIGINS` (origins separated by commas or spaces) and checks
    /// each origin with the same scheme and address rules as the URLs it admits. The reason for
    /// a refusal completes "is not …" and never repeats the input.
    pub fn parse_allowlist(list: &str, allow_loopback_http: bool) -> Result<Self, &'static str> {
        let mut policy = OriginPolicy {
            allowed: Vec::new(),
            allow_loopback_http,
        };
        for item in list
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
        {
            let origin = Origin::parse(item).map_err(|_| {
                "a list of origins such as https://login.example.com or https://idp.example.com:8443 (scheme, host and port only; separated by commas or spaces)"
            })?;
            policy
                .check_derived(&origin.to_string(), ALLOWED_ORIGINS_KEY)
                .map_err(|e| match e {
                    OriginError::Address { .. } => {
                        "a list of origins on permitted hosts (link-local and metadata addresses never; loopback only with ROTATOR_ALLOW_LOOPBACK_HTTP=true)"
                    }
                    _ => "a list of https origins (http only for loopback hosts, with ROTATOR_ALLOW_LOOPBACK_HTTP=true)",
                })?;
            if !policy.allowed.contains(&origin) {
                policy.allowed.push(origin);
            }
        }
        Ok(policy)
    }

    /// A URL named by a secret document (`rotation.tokenEndpoint`, `rotation.issuer`, or what
    /// discovery from that issuer returned): the scheme and address rules, and its origin must
    /// be allowed.
    pub fn check_document(&self, url: &str, field: &str) -> Result<Url, OriginError> {
        let url = self.check_derived(url, field)?;
        let origin = Origin::of(&url).expect("checked: http(s) with a host");
        if self.allowed.contains(&origin) {
            Ok(url)
        } else {
            Err(OriginError::NotAllowed {
                field: field.to_string(),
                origin: origin.to_string(),
                allowed: self.allowlist(),
            })
        }
    }

    /// A URL an IdP adapter derived from coordinates (e.g. a Cognito user pool's domain): the
    /// scheme and address rules only.
    pub fn check_derived(&self, url: &str, field: &str) -> Result<Url, OriginError> {
        let url = Url::parse(url.trim()).map_err(|e| OriginError::Invalid {
            field: field.to_string(),
            reason: e.to_string(),
        })?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(OriginError::Credentials {
                field: field.to_string(),
            });
        }
        let origin = || match Origin::of(&url) {
            Some(o) => o.to_string(),
            None => format!("{}:", url.scheme()),
        };
        let scheme_error = || OriginError::Scheme {
            field: field.to_string(),
            origin: origin(),
        };
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(scheme_error());
        }
        let restricted = classify_host(&url);
        if let Some(r) = restricted {
            if !(r.allowed_on_local_stack() && self.allow_loopback_http) {
                return Err(OriginError::Address {
                    field: field.to_string(),
                    origin: origin(),
                    what: r.what(),
                    hint: r.hint(),
                });
            }
        }
        if url.scheme() == "http"
            && !(self.allow_loopback_http && restricted == Some(Restricted::Loopback))
        {
            return Err(scheme_error());
        }
        Ok(url)
    }

    /// The allowlist as printed in errors.
    pub fn allowlist(&self) -> String {
        if self.allowed.is_empty() {
            "none configured".to_string()
        } else {
            self.allowed
                .iter()
                .map(Origin::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        }
    }

    /// The client for every request outside the AWS SDK: no redirects, no proxy, bounded
    /// connect and total time, and a resolver that refuses names resolving to restricted
    /// addresses.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .https_only(!self.allow_loopback_http)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .dns_resolver(Arc::new(GuardedResolver {
                allow_loopback: self.allow_loopback_http,
            }))
            .build()
            .expect("a TLS-capable HTTP client")
    }
}

/// A URL as errors, logs and findings print it: its origin and path, never its query or
/// fragment (which could carry anything, e.g. the key of a gateway in front of the IdP).
pub fn printable(url: &Url) -> String {
    match Origin::of(url) {
        Some(origin) => format!("{origin}{}", url.path()),
        None => format!("{}:", url.scheme()),
    }
}

/// A host name that resolved to an address requests must not reach.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("host {host} resolves to {address}, {what}{hint}")]
pub struct AddressRefused {
    pub host: String,
    pub address: IpAddr,
    what: &'static str,
    hint: &'static str,
}

/// Refuses a name if any address it resolved to is restricted (and not lifted by
/// `allow_loopback`): one bad address is enough, so a name cannot mix a public and an internal
/// address and let the connector pick.
pub fn screen_resolved(
    host: &str,
    addrs: &[SocketAddr],
    allow_loopback: bool,
) -> Result<(), AddressRefused> {
    for addr in addrs {
        if let Some(r) = classify(addr.ip()) {
            if !(allow_loopback && r.allowed_on_local_stack()) {
                return Err(AddressRefused {
                    host: host.to_string(),
                    address: addr.ip(),
                    what: r.what(),
                    hint: r.hint(),
                });
            }
        }
    }
    Ok(())
}

/// The system resolver, screened by [`screen_resolved`].
struct GuardedResolver {
    allow_loopback: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_loopback = self.allow_loopback;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            screen_resolved(&host, &addrs, allow_loopback)?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// A short description of a failed request: its kind, or why the address was refused. Never the
/// URL, a header or a body.
pub fn describe(e: &reqwest::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<AddressRefused>() {
            return format!("refused before connecting: {refused}");
        }
        source = s.source();
    }
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "the response body could not be read"
    } else {
        "request failed"
    };
    kind.to_string()
}

/// Why a body was not read to the end.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("a response body over the {} KiB limit", .limit / 1024)]
    TooLarge { limit: usize },
    #[error("{0}")]
    Read(String),
}

/// Reads a body up to `limit` bytes; a longer one is an error (read no further than the limit).
pub async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    let too_large = BodyError::TooLarge { limit };
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| BodyError::Read(describe(&e)))?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// For a 3xx answer: "HTTP 307 to <host>" (only the host of `Location`, which is not secret; a
/// path or query could be), or "HTTP 302 to another location".
pub fn redirect_summary(response: &reqwest::Response) -> Option<String> {
    let status = response.status();
    if !status.is_redirection() {
        return None;
    }
    let target = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| response.url().join(v).ok())
        .and_then(|u| Origin::of(&u))
        .map_or_else(|| "another location".to_string(), |o| o.to_string());
    Some(format!("HTTP {} to {target}", status.as_u16()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allowed: &[&str], loopback: bool) -> OriginPolicy {
        OriginPolicy {
            allowed: allowed.iter().map(|o| Origin::parse(o).unwrap()).collect(),
            allow_loopback_http: loopback,
        }
    }

    #[test]
    fn origins_fill_in_default_ports_and_lowercase_hosts() {
        let a = Origin::parse("https://Login.Example.com").unwrap();
        let b = Origin::parse("https://login.example.com:443/").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.port(), 443);
        assert_eq!(a.to_string(), "https://login.example.com");
        let c = Origin::parse("https://idp.example.com:8443").unwrap();
        assert_eq!(c.to_string(), "https://idp.example.com:8443");
        assert_ne!(a, Origin::parse("http://login.example.com").unwrap());
    }

    #[test]
    fn an_origin_with_a_path_credentials_or_another_scheme_is_refused() {
        for bad in [
            "https://login.example.com/oauth2",
            "https://login.example.com/?x=1",
            "https://u:p@login.example.com",
            "ftp://login.example.com",
            "login.example.com",
        ] {
            assert!(Origin::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_document_url_must_be_in_the_allowlist_and_the_error_prints_the_allowlist() {
        let p = policy(
            &["https://login.example.com", "https://idp.example.com:8443"],
            false,
        );
        assert!(p
            .check_document(
                "https://LOGIN.example.com/oauth2/token",
                "rotation.tokenEndpoint"
            )
            .is_ok());
        assert!(p
            .check_document("https://idp.example.com:8443/t", "rotation.tokenEndpoint")
            .is_ok());
        let err = p
            .check_document("https://idp.example.com/t", "rotation.tokenEndpoint")
            .unwrap_err()
            .to_string();
        assert!(err.contains("rotation.tokenEndpoint"), "{err}");
        assert!(err.contains("https://idp.example.com,"), "{err}");
        assert!(
            err.contains("https://login.example.com, https://idp.example.com:8443"),
            "{err}"
        );
        assert!(err.contains("ROTATOR_ALLOWED_TOKEN_ORIGINS"), "{err}");
        let none = OriginPolicy::default()
            .check_document("https://login.example.com/t", "rotation.issuer")
            .unwrap_err()
            .to_string();
        assert!(none.contains("none configured"), "{none}");
    }

    #[test]
    fn derived_urls_skip_the_allowlist_but_not_the_scheme_and_address_rules() {
        let p = OriginPolicy::default();
        assert!(p
            .check_derived(
                "https://pool.auth.us-east-1.amazoncognito.com/oauth2/token",
                "derived"
            )
            .is_ok());
        assert!(matches!(
            p.check_derived("http://pool.example.com/t", "derived"),
            Err(OriginError::Scheme { .. })
        ));
        assert!(matches!(
            p.check_derived("https://169.254.169.254/latest", "derived"),
            Err(OriginError::Address { .. })
        ));
    }

    #[test]
    fn http_is_allowed_only_to_loopback_hosts_and_only_when_enabled() {
        let off = policy(&[], false);
        let on = policy(&[], true);
        for url in [
            "http://127.0.0.1:8080/t",
            "http://localhost:8080/t",
            "http://[::1]:8080/t",
        ] {
            assert!(off.check_derived(url, "f").is_err(), "{url}");
            assert!(on.check_derived(url, "f").is_ok(), "{url}");
        }
        let err = on
            .check_derived("http://login.example.com/t", "rotation.tokenEndpoint")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("rotation.tokenEndpoint (http://login.example.com) is not https"),
            "{err}"
        );
        assert!(on.check_derived("http://10.0.0.5/t", "f").is_err());
    }

    #[test]
    fn link_local_and_metadata_literals_are_refused_even_on_a_local_stack() {
        let on = policy(&[], true);
        for url in [
            "https://169.254.169.254/latest/meta-data",
            "http://169.254.169.254/",
            "https://[fe80::1]/t",
            "https://[fd00:ec2::254]/t",
            "https://[::ffff:169.254.169.254]/t",
        ] {
            let err = on.check_derived(url, "rotation.issuer").unwrap_err();
            assert!(matches!(err, OriginError::Address { .. }), "{url}: {err:?}");
            assert!(err.to_string().contains("never contacted"), "{err}");
        }
    }

    #[test]
    fn loopback_and_unspecified_literals_are_refused_unless_enabled() {
        let off = policy(&[], false);
        for url in [
            "https://127.0.0.1/t",
            "https://127.1.2.3/t",
            "https://2130706433/t",
            "https://[::1]/t",
            "https://0.0.0.0/t",
            "https://[::]/t",
            "https://localhost/t",
            "https://foo.localhost./t",
            "https://[::ffff:127.0.0.1]/t",
        ] {
            let err = off.check_derived(url, "f").unwrap_err();
            assert!(matches!(err, OriginError::Address { .. }), "{url}: {err:?}");
            assert!(
                err.to_string().contains("ROTATOR_ALLOW_LOOPBACK_HTTP=true"),
                "{err}"
            );
        }
        assert!(policy(&[], true)
            .check_derived("https://127.0.0.1/t", "f")
            .is_ok());
    }

    #[test]
    fn credentials_in_a_url_are_refused_without_echoing_them() {
        let p = policy(&["https://login.example.com"], false);
        let err = p
            .check_document(
                "https://admin:hunter2@login.example.com/t",
                "rotation.tokenEndpoint",
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("credentials"), "{err}");
        assert!(!err.contains("hunter2") && !err.contains("admin"), "{err}");
    }

    #[test]
    fn errors_print_the_origin_only_never_a_path_or_query() {
        let p = policy(&[], false);
        let err = p
            .check_document(
                "https://evil.example/t?token=abc123",
                "rotation.tokenEndpoint",
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("https://evil.example"), "{err}");
        assert!(!err.contains("abc123") && !err.contains("/t"), "{err}");
    }

    #[test]
    fn printable_urls_keep_origin_and_path_and_drop_query_and_fragment() {
        let url =
            Url::parse("https://IdP.example.com:443/t/oauth2/token?code=gw-key-1#frag").unwrap();
        assert_eq!(printable(&url), "https://idp.example.com/t/oauth2/token");
        let url = Url::parse("http://127.0.0.1:9000/token?x=1").unwrap();
        assert_eq!(printable(&url), "http://127.0.0.1:9000/token");
    }

    #[test]
    fn classification_covers_v4_v6_and_mapped_addresses() {
        let c = |s: &str| classify(s.parse().unwrap());
        assert_eq!(c("127.0.0.1"), Some(Restricted::Loopback));
        assert_eq!(c("0.0.0.0"), Some(Restricted::Unspecified));
        assert_eq!(c("169.254.169.254"), Some(Restricted::LinkLocal));
        assert_eq!(c("169.254.170.2"), Some(Restricted::LinkLocal));
        assert_eq!(c("::1"), Some(Restricted::Loopback));
        assert_eq!(c("::"), Some(Restricted::Unspecified));
        assert_eq!(c("fe80::1"), Some(Restricted::LinkLocal));
        assert_eq!(c("febf::1"), Some(Restricted::LinkLocal));
        assert_eq!(c("fd00:ec2::254"), Some(Restricted::MetadataService));
        assert_eq!(c("::ffff:169.254.169.254"), Some(Restricted::LinkLocal));
        assert_eq!(c("::ffff:127.0.0.1"), Some(Restricted::Loopback));
        assert_eq!(c("93.184.216.34"), None);
        assert_eq!(c("10.0.0.1"), None);
        assert_eq!(c("2606:4700::1"), None);
        assert_eq!(c("fec0::1"), None);
    }

    #[test]
    fn names_resolving_to_restricted_addresses_are_refused() {
        let addrs = |list: &[&str]| -> Vec<SocketAddr> {
            list.iter()
                .map(|ip| SocketAddr::new(ip.parse().unwrap(), 0))
                .collect()
        };
        assert!(screen_resolved("idp.example.com", &addrs(&["93.184.216.34"]), false).is_ok());
        let err = screen_resolved("evil.example", &addrs(&["127.0.0.1"]), false).unwrap_err();
        assert_eq!(err.to_string(), "host evil.example resolves to 127.0.0.1, a loopback address; loopback is reachable only on a local stack, with ROTATOR_ALLOW_LOOPBACK_HTTP=true");
        assert!(screen_resolved("evil.example", &addrs(&["127.0.0.1"]), true).is_ok());
        // One restricted address among public ones is enough to refuse the name.
        let err = screen_resolved(
            "evil.example",
            &addrs(&["93.184.216.34", "169.254.169.254"]),
            true,
        )
        .unwrap_err();
        assert!(err.to_string().contains("169.254.169.254"), "{err}");
        assert!(screen_resolved("evil.example", &addrs(&["fe80::1"]), true).is_err());
    }

    #[tokio::test]
    async fn the_client_refuses_a_name_that_resolves_to_loopback_before_connecting() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        // `localhost` is a name (not a literal), so only the resolver stands in the way; the
        // client is asked directly, past the URL checks.
        let client = OriginPolicy::default().client();
        let err = client
            .get(format!("https://localhost:{port}/"))
            .send()
            .await
            .unwrap_err();
        let text = describe(&err);
        assert!(
            text.starts_with("refused before connecting: host localhost resolves to"),
            "{text}"
        );
        assert!(
            listener.accept().is_err(),
            "no connection reached the listener"
        );
    }

    #[test]
    fn allowlists_parse_from_commas_and_spaces_and_check_each_origin() {
        let p = OriginPolicy::parse_allowlist(
            "https://login.example.com, https://idp.example.com:8443 https://login.example.com",
            false,
        )
        .unwrap();
        assert_eq!(
            p.allowlist(),
            "https://login.example.com, https://idp.example.com:8443"
        );
        assert!(OriginPolicy::parse_allowlist("", false)
            .unwrap()
            .allowed
            .is_empty());
        let err = OriginPolicy::parse_allowlist("https://a.example, https://b.example/path", false)
            .unwrap_err();
        assert!(err.contains("scheme, host and port only"), "{err}");
        assert!(OriginPolicy::parse_allowlist("https://u:p@a.example", false).is_err());
        assert!(OriginPolicy::parse_allowlist("http://idp.example.com", true).is_err());
        assert!(OriginPolicy::parse_allowlist("http://127.0.0.1:9000", false).is_err());
        assert!(OriginPolicy::parse_allowlist("http://127.0.0.1:9000", true).is_ok());
        assert!(OriginPolicy::parse_allowlist("https://169.254.169.254", true).is_err());
    }
}
