//! The token probe's trust boundary: the secret document names coordinates, the function's
//! configuration decides which hosts it talks to. Every test runs real loopback listeners it
//! controls and counts the connections they receive.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agentcore_rotator::http::{Origin, OriginPolicy};
use agentcore_rotator::secret_doc::{ClientAuth, TokenEndpoint};
use agentcore_rotator::sensitive::SecretString;
use agentcore_rotator::upstream::token_probe::{
    basic_authorization, ProbeEndpoint, ProbeError, ProbeRequest, ProbeSuccess, TokenProbe,
};
use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CLIENT_ID: &str = "boundary-client";
const SECRET: &str = "Boundary_Secret_Value_0123456789abcdefXYZ";

/// A loopback HTTP/1.1 server answering every request with the same bytes, closing each
/// connection after one answer.
struct Listener {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Listener {
    async fn start(answer: impl Fn(&str) -> Vec<u8> + Send + Sync + 'static) -> Listener {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(answer);
        let (c, r) = (connections.clone(), requests.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                c.fetch_add(1, Ordering::SeqCst);
                let (r, answer) = (r.clone(), answer.clone());
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut socket).await else {
                        return;
                    };
                    let reply = answer(&request);
                    r.lock().unwrap().push(request);
                    // The client may hang up early (e.g. a body over its cap): not an error here.
                    let _ = socket.write_all(&reply).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Listener {
            addr,
            connections,
            requests,
        }
    }

    /// Answers every request with `status`, `headers` and a JSON `body`.
    async fn answering(status: u16, headers: &[(&str, &str)], body: &str) -> Listener {
        let reply = response(status, headers, body.as_bytes());
        Listener::start(move |_| reply.clone()).await
    }

    fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// Reads one request (head and a Content-Length body) as text.
async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<String> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = socket.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                return Some(text);
            }
        }
    }
}

fn response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} Whatever\r\nConnection: close\r\n");
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

const TOKEN: &str = r#"{"access_token":"at","token_type":"Bearer","expires_in":60}"#;

fn origin(url: &str) -> Origin {
    Origin::parse(url).expect("an origin")
}

/// Loopback http allowed (these listeners are plain http on 127.0.0.1), `allowed` on the list.
fn local(allowed: &[&Listener]) -> OriginPolicy {
    OriginPolicy {
        allowed: allowed.iter().map(|l| origin(&l.origin())).collect(),
        allow_loopback_http: true,
    }
}

fn probe(policy: OriginPolicy) -> TokenProbe {
    TokenProbe::new(Duration::from_secs(1), Duration::from_millis(50), policy)
}

async fn run(
    policy: OriginPolicy,
    endpoint: ProbeEndpoint<'_>,
    auth: ClientAuth,
) -> Result<ProbeSuccess, ProbeError> {
    let secret = SecretString::new(SECRET);
    probe(policy)
        .probe(&ProbeRequest {
            endpoint,
            client_id: CLIENT_ID,
            client_secret: &secret,
            scopes: &[],
            auth,
        })
        .await
}

/// Every rendering of the error is free of the secret, in any encoding the probe sends it in.
fn assert_no_secret(err: &ProbeError) {
    let basic = basic_authorization(CLIENT_ID, &SecretString::new(SECRET));
    let b64 = basic.strip_prefix("Basic ").unwrap();
    let raw_b64 = base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{SECRET}"));
    for text in [err.to_string(), format!("{err:?}")] {
        for needle in [SECRET, b64, raw_b64.as_str(), "Boundary_Secret"] {
            assert!(!text.contains(needle), "secret in error: {text}");
        }
    }
}

fn url_endpoint(url: String) -> TokenEndpoint {
    TokenEndpoint::Url(url)
}

#[tokio::test]
async fn an_allowed_loopback_endpoint_is_probed_so_the_refusals_below_mean_something() {
    let idp = Listener::answering(200, &[("Content-Type", "application/json")], TOKEN).await;
    let endpoint = url_endpoint(idp.url("/oauth2/token"));
    let ok = run(
        local(&[&idp]),
        ProbeEndpoint::Document(&endpoint),
        ClientAuth::ClientSecretBasic,
    )
    .await
    .expect("allowed origin");
    assert_eq!(ok.attempts, 1);
    assert_eq!(idp.connections(), 1);
    let derived = run(
        local(&[]),
        ProbeEndpoint::Derived(&idp.url("/oauth2/token")),
        ClientAuth::ClientSecretPost,
    )
    .await
    .expect("a derived endpoint needs no allowlist entry");
    assert_eq!(derived.attempts, 1);
    assert_eq!(idp.connections(), 2);
}

/// A query can carry a credential of its own (the key of a gateway in front of the IdP): errors,
/// logs and findings print the endpoint's origin and path only, whatever the answer.
#[tokio::test]
async fn the_query_of_an_endpoint_or_issuer_is_never_printed() {
    let ok = Listener::answering(200, &[("Content-Type", "application/json")], TOKEN).await;
    let rejected = Listener::answering(
        400,
        &[("Content-Type", "application/json")],
        r#"{"error":"invalid_scope"}"#,
    )
    .await;
    let moved = Listener::answering(307, &[("Location", "/elsewhere")], "").await;
    let missing = Listener::answering(404, &[], "").await;
    let key = "gateway-key-9b1f2c";
    let policy = local(&[&ok, &rejected, &moved, &missing]);
    let endpoint = url_endpoint(ok.url(&format!("/oauth2/token?code={key}")));
    let success = run(
        policy.clone(),
        ProbeEndpoint::Document(&endpoint),
        ClientAuth::ClientSecretBasic,
    )
    .await
    .expect("allowed origin");
    assert_eq!(success.token_endpoint, ok.url("/oauth2/token"));
    let mut errors = Vec::new();
    for idp in [&rejected, &moved] {
        let endpoint = url_endpoint(idp.url(&format!("/oauth2/token?code={key}")));
        errors.push(
            run(
                policy.clone(),
                ProbeEndpoint::Document(&endpoint),
                ClientAuth::ClientSecretBasic,
            )
            .await
            .unwrap_err(),
        );
    }
    let issuer = TokenEndpoint::Issuer(missing.url(&format!("/tenant?code={key}")));
    errors.push(
        run(
            policy,
            ProbeEndpoint::Document(&issuer),
            ClientAuth::ClientSecretBasic,
        )
        .await
        .unwrap_err(),
    );
    for err in &errors {
        let text = err.to_string();
        assert!(
            text.contains("/tenant") || text.contains("/oauth2/token"),
            "{text}"
        );
        assert!(
            !text.contains(key) && !format!("{err:?}").contains(key),
            "{text}"
        );
    }
}

#[tokio::test]
async fn a_document_endpoint_outside_the_allowlist_is_refused_before_anything_is_sent() {
    let idp = Listener::answering(200, &[], TOKEN).await;
    let other = Listener::answering(200, &[], TOKEN).await;
    let policy = OriginPolicy {
        allowed: vec![
            origin("https://login.example.com"),
            origin(&other.origin()), // same host, another port
        ],
        allow_loopback_http: true,
    };
    let endpoint = url_endpoint(idp.url("/oauth2/token"));
    let err = run(
        policy.clone(),
        ProbeEndpoint::Document(&endpoint),
        ClientAuth::ClientSecretPost,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ProbeError::NotAllowed(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("rotation.tokenEndpoint"), "{text}");
    assert!(
        text.contains(&idp.origin()),
        "names the refused origin: {text}"
    );
    assert!(
        text.contains(&format!("https://login.example.com, {}", other.origin())),
        "prints the allowlist: {text}"
    );
    assert!(text.contains("ROTATOR_ALLOWED_TOKEN_ORIGINS"), "{text}");
    assert_no_secret(&err);

    let issuer = TokenEndpoint::Issuer(idp.origin());
    let err = run(
        policy,
        ProbeEndpoint::Document(&issuer),
        ClientAuth::ClientSecretBasic,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("rotation.issuer"), "{err}");
    assert_no_secret(&err);

    assert_eq!(idp.connections(), 0, "nothing reached the listener");
    assert_eq!(other.connections(), 0);
}

#[tokio::test]
async fn http_is_refused_when_loopback_is_not_allowed_and_nothing_is_sent() {
    let idp = Listener::answering(200, &[], TOKEN).await;
    let policy = OriginPolicy {
        allowed: vec![origin(&idp.origin())],
        allow_loopback_http: false,
    };
    let endpoint = url_endpoint(idp.url("/oauth2/token"));
    for endpoint in [
        ProbeEndpoint::Document(&endpoint),
        ProbeEndpoint::Derived(&idp.url("/oauth2/token")),
    ] {
        let err = run(policy.clone(), endpoint, ClientAuth::ClientSecretPost)
            .await
            .unwrap_err();
        assert!(matches!(err, ProbeError::NotAllowed(_)), "{err:?}");
        assert!(
            err.to_string().contains("ROTATOR_ALLOW_LOOPBACK_HTTP=true"),
            "{err}"
        );
        assert_no_secret(&err);
    }
    // A public host over http is refused even on a local stack.
    let plain = url_endpoint("http://login.example.com/oauth2/token".into());
    let err = run(
        OriginPolicy {
            allowed: vec![origin("http://login.example.com")],
            allow_loopback_http: true,
        },
        ProbeEndpoint::Document(&plain),
        ClientAuth::ClientSecretPost,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("only https is allowed"), "{err}");
    assert_eq!(idp.connections(), 0);
}

#[tokio::test]
async fn a_redirect_is_never_followed_even_to_an_allowed_origin() {
    for (status, auth) in [
        (307, ClientAuth::ClientSecretPost),
        (302, ClientAuth::ClientSecretBasic),
        (308, ClientAuth::ClientSecretPost),
    ] {
        let elsewhere = Listener::answering(200, &[], TOKEN).await;
        let location = elsewhere.url("/steal?code=location-path-and-query");
        let idp = Listener::answering(status, &[("Location", &location)], "").await;
        let endpoint = url_endpoint(idp.url("/oauth2/token"));
        let err = run(
            local(&[&idp, &elsewhere]),
            ProbeEndpoint::Document(&endpoint),
            auth,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, ProbeError::Redirected { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("redirects are not followed"), "{text}");
        assert!(text.contains(&format!("HTTP {status}")), "{text}");
        assert!(text.contains(&elsewhere.origin()), "names the host: {text}");
        assert!(!text.contains("location-path-and-query"), "{text}");
        assert_no_secret(&err);
        assert_eq!(idp.connections(), 1, "one attempt, no retry");
        assert_eq!(elsewhere.connections(), 0, "HTTP {status} was not followed");
    }
}

/// A listener serving a discovery document that names itself as issuer and `token_endpoint`
/// as the token endpoint (the issuer's origin is known only once it is bound); any POST gets a
/// token.
async fn self_describing_issuer(token_endpoint: Option<&str>) -> Listener {
    let issuer = Arc::new(Mutex::new(String::new()));
    let (i, t) = (issuer.clone(), token_endpoint.map(str::to_string));
    let listener = Listener::start(move |request: &str| {
        if request.starts_with("POST ") {
            return response(200, &[], TOKEN.as_bytes());
        }
        let issuer = i.lock().unwrap().clone();
        let token_endpoint = t.clone().unwrap_or(format!("{issuer}/token"));
        let body = serde_json::json!({"issuer": issuer, "token_endpoint": token_endpoint});
        response(
            200,
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
    })
    .await;
    *issuer.lock().unwrap() = listener.origin();
    listener
}

#[tokio::test]
async fn a_discovered_token_endpoint_on_another_origin_receives_nothing() {
    let elsewhere = Listener::answering(200, &[], TOKEN).await;
    let idp = self_describing_issuer(Some(&elsewhere.url("/token"))).await;
    let issuer = TokenEndpoint::Issuer(idp.origin());
    let err = run(
        local(&[&idp]),
        ProbeEndpoint::Document(&issuer),
        ClientAuth::ClientSecretPost,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ProbeError::NotAllowed(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("discovered token_endpoint"), "{text}");
    assert!(text.contains(&elsewhere.origin()), "{text}");
    assert_no_secret(&err);
    assert_eq!(idp.connections(), 1, "the discovery request only");
    assert!(
        idp.requests()[0].starts_with("GET /.well-known/openid-configuration "),
        "{:?}",
        idp.requests()
    );
    assert_eq!(elsewhere.connections(), 0, "no token request there");

    // The same issuer with its token endpoint on its own origin is probed.
    let idp = self_describing_issuer(None).await;
    let issuer = TokenEndpoint::Issuer(idp.origin());
    let ok = run(
        local(&[&idp]),
        ProbeEndpoint::Document(&issuer),
        ClientAuth::ClientSecretPost,
    )
    .await
    .expect("discovered on the same origin");
    assert_eq!(ok.token_endpoint, format!("{}/token", idp.origin()));
}

#[tokio::test]
async fn discovery_redirects_are_not_followed_and_documents_are_size_capped() {
    let elsewhere = self_describing_issuer(None).await;
    let redirecting = Listener::answering(
        302,
        &[(
            "Location",
            &elsewhere.url("/.well-known/openid-configuration"),
        )],
        "",
    )
    .await;
    let issuer = TokenEndpoint::Issuer(redirecting.origin());
    let err = run(
        local(&[&redirecting, &elsewhere]),
        ProbeEndpoint::Document(&issuer),
        ClientAuth::ClientSecretPost,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ProbeError::Discovery { .. }), "{err:?}");
    assert!(err.to_string().contains("not followed"), "{err}");
    assert_eq!(redirecting.connections(), 2, "OIDC, then RFC 8414");
    assert_eq!(elsewhere.connections(), 0);

    let huge = format!(
        r#"{{"issuer":"x","token_endpoint":"y","pad":"{}"}}"#,
        "a".repeat(10 << 20)
    );
    let bloated = Listener::answering(200, &[], &huge).await;
    let issuer = TokenEndpoint::Issuer(bloated.origin());
    let err = run(
        local(&[&bloated]),
        ProbeEndpoint::Document(&issuer),
        ClientAuth::ClientSecretPost,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ProbeError::Discovery { .. }), "{err:?}");
    assert!(err.to_string().contains("64 KiB limit"), "{err}");
}

#[tokio::test]
async fn link_local_and_loopback_literals_are_refused_whatever_the_allowlist_says() {
    // Configuration refuses such origins in the allowlist; a policy built with them anyway still
    // refuses the URL.
    for (url, loopback) in [
        ("https://169.254.169.254/latest/api/token", true),
        ("http://169.254.169.254/latest/api/token", true),
        ("https://[fe80::1]/token", true),
        ("https://127.0.0.1:9/token", false),
        ("https://localhost:9/token", false),
        ("https://[::1]:9/token", false),
    ] {
        let parsed = reqwest::Url::parse(url).unwrap();
        let policy = OriginPolicy {
            allowed: vec![Origin::of(&parsed).unwrap()],
            allow_loopback_http: loopback,
        };
        let endpoint = url_endpoint(url.into());
        let started = Instant::now();
        let err = run(
            policy,
            ProbeEndpoint::Document(&endpoint),
            ClientAuth::ClientSecretPost,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, ProbeError::NotAllowed(_)), "{url}: {err:?}");
        assert!(
            started.elapsed() < Duration::from_millis(200),
            "refused without a connection attempt"
        );
        assert_no_secret(&err);
    }
}

#[tokio::test]
async fn a_ten_megabyte_token_response_is_a_clean_error() {
    let big = vec![b'x'; 10 << 20];
    // With a Content-Length, and streamed without one (chunked): both stop at the cap.
    let sized = {
        let reply = response(200, &[("Content-Type", "application/json")], &big);
        Listener::start(move |_| reply.clone()).await
    };
    let chunked = {
        let mut reply =
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for chunk in big.chunks(16 * 1024) {
            reply.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            reply.extend_from_slice(chunk);
            reply.extend_from_slice(b"\r\n");
        }
        reply.extend_from_slice(b"0\r\n\r\n");
        Listener::start(move |_| reply.clone()).await
    };
    for idp in [&sized, &chunked] {
        let endpoint = url_endpoint(idp.url("/oauth2/token"));
        let err = run(
            local(&[idp]),
            ProbeEndpoint::Document(&endpoint),
            ClientAuth::ClientSecretBasic,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, ProbeError::BadResponse { .. }), "{err:?}");
        assert!(err.to_string().contains("64 KiB limit"), "{err}");
        assert_no_secret(&err);
        assert_eq!(idp.connections(), 1, "not retried");
    }
}

#[tokio::test]
async fn an_absurd_retry_after_ends_the_probe_within_its_budget_without_panicking() {
    for status in [429, 503] {
        let idp = Listener::answering(
            status,
            &[("Retry-After", "18446744073709551615")],
            r#"{"error":"slow_down"}"#,
        )
        .await;
        let endpoint = url_endpoint(idp.url("/oauth2/token"));
        let started = Instant::now();
        let err = run(
            local(&[&idp]),
            ProbeEndpoint::Document(&endpoint),
            ClientAuth::ClientSecretPost,
        )
        .await
        .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "within the 1 s budget: {:?}",
            started.elapsed()
        );
        assert!(matches!(err, ProbeError::Unavailable { .. }), "{err:?}");
        assert!(err.to_string().contains(&format!("HTTP {status}")), "{err}");
        assert_no_secret(&err);
        assert_eq!(
            idp.connections(),
            1,
            "the server asked not to be called again"
        );
    }
}

#[tokio::test]
async fn a_short_retry_after_is_honoured_within_the_budget() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let idp = Listener::start(move |_| {
        if c.fetch_add(1, Ordering::SeqCst) == 0 {
            response(429, &[("Retry-After", "0")], b"")
        } else {
            response(200, &[], TOKEN.as_bytes())
        }
    })
    .await;
    let endpoint = url_endpoint(idp.url("/oauth2/token"));
    let ok = run(
        local(&[&idp]),
        ProbeEndpoint::Document(&endpoint),
        ClientAuth::ClientSecretPost,
    )
    .await
    .expect("second attempt");
    assert_eq!(ok.attempts, 2);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_idp_echoing_the_request_does_not_get_the_secret_into_an_error() {
    // An IdP that echoes the request (headers and body) in its error answer.
    let echo = Listener::start(|request: &str| {
        let body = serde_json::json!({"error": request, "error_description": request});
        response(400, &[], body.to_string().as_bytes())
    })
    .await;
    let endpoint = url_endpoint(echo.url("/oauth2/token"));
    for auth in [ClientAuth::ClientSecretBasic, ClientAuth::ClientSecretPost] {
        let err = run(local(&[&echo]), ProbeEndpoint::Document(&endpoint), auth)
            .await
            .unwrap_err();
        assert!(matches!(err, ProbeError::Refused { .. }), "{err:?}");
        assert_no_secret(&err);
    }
    let sent = echo.requests();
    assert_eq!(sent.len(), 2);
    assert!(
        sent[1].contains(SECRET),
        "client_secret_post sent it to the allowed endpoint"
    );
}
