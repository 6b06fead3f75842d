//! A reverse proxy in front of one local service, with two modes that can be combined:
//! **latency** (each request is held for a fixed time before it is forwarded, concurrently, so it
//! models a network round trip, not a slower server; used by the benchmarks) and **faults** (the
//! N-th request fails, loses its answer, or kills the process that sent it; used by the crash
//! sweep).
//!
//! Several proxies (one per upstream: moto, the Cognito simulator, the AgentCore emulator) share
//! one [`Faults`]: one request counter and one log, so "the N-th external request of a rotation"
//! is global across services. [`FaultKnob`] is the matching rule alone (the N-th request,
//! optionally of one operation), usable by a simulator as well as by the proxy.
//!
//! Every request is recorded ([`RequestRecord`]): its index, the proxy's target name, method,
//! path and operation — the `X-Amz-Target` operation for the AWS JSON protocols (Secrets Manager,
//! KMS, Cognito), else the REST path (AgentCore `/identities/<Operation>`, `/oauth2/token`).

use std::collections::HashMap;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

/// What happens to the request a [`FaultRule`] selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// Not forwarded: the proxy answers `500 InternalFailure` itself. The call did not happen.
    FailBeforeForward,
    /// Forwarded (the call takes effect), then the connection is reset instead of answering.
    /// The answer was lost.
    DropResponse,
    /// Forwarded (the call takes effect), then the process registered with
    /// [`Faults::set_victim`] is sent `SIGKILL` before the answer could reach it, and the
    /// connection is reset. Forwarding first is the variant that adds something: killing before
    /// forwarding request N leaves exactly the state of killing after forwarding request N-1.
    /// Without a registered process it behaves as [`FaultKind::DropResponse`].
    Kill,
}

impl FaultKind {
    pub const ALL: [FaultKind; 3] = [
        FaultKind::FailBeforeForward,
        FaultKind::DropResponse,
        FaultKind::Kill,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::FailBeforeForward => "FailBeforeForward",
            FaultKind::DropResponse => "DropResponse",
            FaultKind::Kill => "Kill",
        }
    }
}

impl std::fmt::Display for FaultKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which request to fault: the `nth` (1-based) request counted since the knob was armed, or,
/// with `operation`, the `nth` request of that operation (as in [`RequestRecord::operation`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultRule {
    pub kind: FaultKind,
    pub nth: u32,
    pub operation: Option<String>,
}

impl FaultRule {
    /// The `nth` request of any operation.
    pub fn nth(nth: u32, kind: FaultKind) -> Self {
        Self {
            kind,
            nth,
            operation: None,
        }
    }

    /// The `nth` request of `operation` only.
    pub fn nth_of(nth: u32, operation: impl Into<String>, kind: FaultKind) -> Self {
        Self {
            kind,
            nth,
            operation: Some(operation.into()),
        }
    }
}

/// The counting half of fault injection: counts requests (in total and per operation) and fires
/// an armed [`FaultRule`] once, on the request it selects.
#[derive(Debug, Default)]
pub struct FaultKnob {
    total: u32,
    per_operation: HashMap<String, u32>,
    rule: Option<FaultRule>,
}

impl FaultKnob {
    /// Arms `rule` (replacing any armed one) and restarts the counts.
    pub fn arm(&mut self, rule: FaultRule) {
        self.reset();
        self.rule = Some(rule);
    }

    /// Disarms without restarting the counts; returns the rule if it had not fired.
    pub fn disarm(&mut self) -> Option<FaultRule> {
        self.rule.take()
    }

    /// Restarts the counts and disarms.
    pub fn reset(&mut self) {
        *self = FaultKnob::default();
    }

    /// Counts one request of `operation`: its 1-based index overall, and the fault to apply to
    /// it, if the armed rule selects it (the rule is then spent).
    pub fn on_request(&mut self, operation: &str) -> (u32, Option<FaultKind>) {
        self.total += 1;
        let of_operation = self.per_operation.entry(operation.to_string()).or_default();
        *of_operation += 1;
        let of_operation = *of_operation;
        let fires = self.rule.as_ref().is_some_and(|r| match &r.operation {
            None => r.nth == self.total,
            Some(op) => op == operation && r.nth == of_operation,
        });
        let kind = if fires {
            self.rule.take().map(|r| r.kind)
        } else {
            None
        };
        (self.total, kind)
    }

    /// Requests counted since the last arm or reset.
    pub fn count(&self) -> u32 {
        self.total
    }
}

/// One request as a proxy saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    /// 1-based, across every proxy sharing the [`Faults`].
    pub index: u32,
    /// The proxy's name for its upstream (`moto`, `cognito`, `agentcore`, …).
    pub target: String,
    pub method: String,
    pub path: String,
    /// `X-Amz-Target`'s operation (`GetSecretValue`, `DescribeKey`,
    /// `AddUserPoolClientSecret`), else the path.
    pub operation: String,
    /// The label set by [`Faults::set_context`] when the request arrived (the conductor writes
    /// `attempt 1 setSecret`).
    pub context: String,
    /// The fault applied to this request, if any.
    pub fault: Option<FaultKind>,
    /// For [`FaultKind::Kill`]: the process id that was killed.
    pub killed: Option<u32>,
}

impl std::fmt::Display for RequestRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "#{} {} {} {} {}",
            self.index, self.target, self.method, self.path, self.operation
        )?;
        if !self.context.is_empty() {
            write!(f, " ({})", self.context)?;
        }
        if let Some(k) = self.fault {
            write!(f, " [{k}]")?;
        }
        Ok(())
    }
}

#[derive(Default)]
struct FaultsState {
    knob: FaultKnob,
    log: Vec<RequestRecord>,
    context: String,
    victim: Option<u32>,
}

/// Shared by the proxies in front of one stack: the knob, the request log, the label of what is
/// running now, and the process a [`FaultKind::Kill`] ends.
#[derive(Default)]
pub struct Faults {
    state: Mutex<FaultsState>,
}

impl Faults {
    pub fn new() -> Arc<Faults> {
        Arc::new(Faults::default())
    }

    fn lock(&self) -> MutexGuard<'_, FaultsState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Arms `rule` and restarts the count and the log: request 1 is the next one.
    pub fn arm(&self, rule: FaultRule) {
        let mut s = self.lock();
        s.knob.arm(rule);
        s.log.clear();
    }

    /// Disarms, keeping the count and the log; returns the rule if it had not fired.
    pub fn disarm(&self) -> Option<FaultRule> {
        self.lock().knob.disarm()
    }

    /// Disarms and restarts the count and the log.
    pub fn reset(&self) {
        let mut s = self.lock();
        s.knob.reset();
        s.log.clear();
    }

    /// Labels the requests that arrive from now on (see [`RequestRecord::context`]).
    pub fn set_context(&self, context: impl Into<String>) {
        self.lock().context = context.into();
    }

    /// The process a [`FaultKind::Kill`] sends `SIGKILL` to (`None`: no process).
    pub fn set_victim(&self, pid: Option<u32>) {
        self.lock().victim = pid;
    }

    /// Requests since the last arm or reset.
    pub fn count(&self) -> u32 {
        self.lock().knob.count()
    }

    /// Every request since the last arm or reset, in arrival order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.lock().log.clone()
    }

    /// The request the armed rule fired on, if it has.
    pub fn fired(&self) -> Option<RequestRecord> {
        self.lock().log.iter().find(|r| r.fault.is_some()).cloned()
    }

    /// Counts and logs one request; returns its index, the fault to apply and the victim.
    fn on_request(
        &self,
        target: &str,
        method: &str,
        path: &str,
        operation: &str,
    ) -> (u32, Option<FaultKind>, Option<u32>) {
        let mut s = self.lock();
        let (index, fault) = s.knob.on_request(operation);
        let victim = s.victim;
        let record = RequestRecord {
            index,
            target: target.to_string(),
            method: method.to_string(),
            path: path.to_string(),
            operation: operation.to_string(),
            context: s.context.clone(),
            fault,
            killed: None,
        };
        s.log.push(record);
        (index, fault, victim)
    }

    fn note_killed(&self, index: u32, pid: u32) {
        let mut s = self.lock();
        if let Some(r) = s.log.iter_mut().rev().find(|r| r.index == index) {
            r.killed = Some(pid);
        }
    }
}

/// A running proxy on an ephemeral loopback port, served from its own thread until the process
/// exits.
pub struct Proxy {
    endpoint: String,
}

struct Upstream {
    name: String,
    base: String,
    delay: Duration,
    faults: Option<Arc<Faults>>,
    client: reqwest::Client,
}

impl Proxy {
    /// Holds every request for `delay` before forwarding it to `target`.
    pub fn latency(target: &str, delay: Duration) -> Proxy {
        Self::start("latency", target, delay, None)
    }

    /// Forwards to `target` (named `name` in the log), counting and faulting through `faults`.
    pub fn faulty(name: &str, target: &str, faults: Arc<Faults>) -> Proxy {
        Self::start(name, target, Duration::ZERO, Some(faults))
    }

    fn start(name: &str, target: &str, delay: Duration, faults: Option<Arc<Faults>>) -> Proxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("non-blocking");
        let endpoint = format!("http://{}", listener.local_addr().expect("local addr"));
        let upstream = Arc::new(Upstream {
            name: name.to_string(),
            base: target.trim_end_matches('/').to_string(),
            delay,
            faults,
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()
                .expect("HTTP client"),
        });
        std::thread::Builder::new()
            .name(format!("proxy-{name}"))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .expect("proxy runtime");
                runtime.block_on(serve(listener, upstream));
            })
            .expect("spawn the proxy thread");
        Proxy { endpoint }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

async fn serve(listener: std::net::TcpListener, upstream: Arc<Upstream>) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let upstream = upstream.clone();
        tokio::spawn(async move {
            let fd = stream.as_raw_fd();
            let service = hyper::service::service_fn(move |request| {
                let upstream = upstream.clone();
                async move { handle(&upstream, fd, request).await }
            });
            // An error ends this connection only (a dropped answer ends it on purpose).
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The answer was dropped on purpose; hyper closes the connection without a response.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("answer dropped by the fault proxy")
    }
}

impl std::error::Error for Dropped {}

type Answer = Response<Full<Bytes>>;

async fn handle(
    upstream: &Upstream,
    fd: RawFd,
    request: Request<Incoming>,
) -> Result<Answer, Dropped> {
    if !upstream.delay.is_zero() {
        tokio::time::sleep(upstream.delay).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return Ok(plain(
            StatusCode::BAD_REQUEST,
            "could not read the request body",
        ));
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let fault = upstream.faults.as_ref().map(|faults| {
        let operation = operation_of(&parts.headers, parts.uri.path());
        let (index, kind, victim) =
            faults.on_request(&upstream.name, parts.method.as_str(), path, &operation);
        (faults, index, kind, victim)
    });
    let kind = fault.as_ref().and_then(|f| f.2);
    if kind == Some(FaultKind::FailBeforeForward) {
        return Ok(injected_failure());
    }
    let answer = forward(upstream, &parts, path, body).await;
    match (kind, fault) {
        (Some(FaultKind::Kill), Some((faults, index, _, Some(pid)))) => {
            // SAFETY: kill(2) with a pid we spawned; no memory is shared.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            faults.note_killed(index, pid);
            reset(fd);
            Err(Dropped)
        }
        (Some(FaultKind::Kill | FaultKind::DropResponse), _) => {
            reset(fd);
            Err(Dropped)
        }
        _ => Ok(answer),
    }
}

/// SO_LINGER 0: closing the socket (when hyper drops the connection) sends RST, not FIN.
fn reset(fd: RawFd) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `fd` is this connection's socket, open while its request is being handled.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

/// `X-Amz-Target: secretsmanager.GetSecretValue` → `GetSecretValue`; no target → the path,
/// with a Cognito domain's token path named by what it is (`/domain/<prefix>/oauth2/token`
/// differs per pool).
fn operation_of(headers: &hyper::HeaderMap, path: &str) -> String {
    headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(|t| t.rsplit('.').next().unwrap_or(t).to_string())
        .unwrap_or_else(|| match path.strip_prefix("/domain/") {
            Some(rest) if rest.ends_with("/oauth2/token") => "/domain/*/oauth2/token".into(),
            _ => path.to_string(),
        })
}

fn plain(status: StatusCode, text: &str) -> Answer {
    let mut r = Response::new(Full::new(Bytes::from(text.to_string())));
    *r.status_mut() = status;
    r
}

/// A server error in the shape of both AWS JSON protocols (`__type`) and restJson
/// (`x-amzn-ErrorType`).
fn injected_failure() -> Answer {
    let mut r = plain(
        StatusCode::INTERNAL_SERVER_ERROR,
        r#"{"__type":"InternalFailure","message":"injected fault: the request was not forwarded"}"#,
    );
    let h = r.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    h.insert(
        "x-amzn-errortype",
        HeaderValue::from_static("InternalFailure"),
    );
    r
}

async fn forward(
    upstream: &Upstream,
    parts: &hyper::http::request::Parts,
    path: &str,
    body: Bytes,
) -> Answer {
    let mut headers = parts.headers.clone();
    headers.remove(HOST);
    headers.remove(CONTENT_LENGTH);
    let sent = upstream
        .client
        .request(parts.method.clone(), format!("{}{path}", upstream.base))
        .headers(headers)
        .body(body)
        .send()
        .await;
    let answer = match sent {
        Ok(a) => a,
        Err(e) => return plain(StatusCode::BAD_GATEWAY, &e.to_string()),
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let bytes = answer.bytes().await.unwrap_or_default();
    let mut r = Response::new(Full::new(bytes));
    *r.status_mut() = status;
    for (k, v) in &headers {
        if k != CONTENT_LENGTH && k != TRANSFER_ENCODING {
            r.headers_mut().append(k.clone(), v.clone());
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    use axum::http::HeaderMap;
    use axum::routing::post;
    use axum::Router;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// An upstream that echoes the body, the path and one request header, and counts calls.
    fn upstream() -> (String, Arc<AtomicU32>) {
        let calls = Arc::new(AtomicU32::new(0));
        let counted = calls.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(async move {
                    let app = Router::new().route(
                        "/echo/{tail}",
                        post(
                            move |axum::extract::Path(tail): axum::extract::Path<String>,
                                  headers: HeaderMap,
                                  body: Bytes| async move {
                                counted.fetch_add(1, Ordering::SeqCst);
                                let target = headers
                                    .get("x-amz-target")
                                    .map(|v| v.to_str().unwrap().to_string())
                                    .unwrap_or_default();
                                (
                                    StatusCode::IM_A_TEAPOT,
                                    [("x-echo-target", target)],
                                    format!("{tail}:{}", String::from_utf8_lossy(&body)),
                                )
                            },
                        ),
                    );
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    axum::serve(listener, app).await.unwrap();
                });
        });
        (endpoint, calls)
    }

    async fn call(proxy: &Proxy, target: &str) -> reqwest::Result<reqwest::Response> {
        reqwest::Client::new()
            .post(format!("{}/echo/abc?x=1", proxy.endpoint()))
            .header("x-amz-target", target)
            .body("payload")
            .send()
            .await
    }

    #[tokio::test]
    async fn latency_mode_forwards_method_path_headers_and_body_after_the_delay() {
        let (target, _) = upstream();
        let proxy = Proxy::latency(&target, Duration::from_millis(120));
        let started = std::time::Instant::now();
        let answer = call(&proxy, "secretsmanager.GetResourcePolicy")
            .await
            .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(120));
        assert_eq!(answer.status(), StatusCode::IM_A_TEAPOT);
        assert_eq!(
            answer.headers()["x-echo-target"],
            "secretsmanager.GetResourcePolicy"
        );
        assert_eq!(answer.text().await.unwrap(), "abc:payload");
    }

    #[tokio::test]
    async fn proxies_sharing_faults_count_requests_globally_and_log_the_operation() {
        let (a, _) = upstream();
        let (b, _) = upstream();
        let faults = Faults::new();
        let first = Proxy::faulty("moto", &a, faults.clone());
        let second = Proxy::faulty("cognito", &b, faults.clone());
        faults.set_context("attempt 1 createSecret");
        call(&first, "secretsmanager.DescribeSecret").await.unwrap();
        call(
            &second,
            "AWSCognitoIdentityProviderService.ListUserPoolClientSecrets",
        )
        .await
        .unwrap();
        reqwest::Client::new()
            .post(format!("{}/echo/token", first.endpoint()))
            .send()
            .await
            .unwrap();
        let log = faults.requests();
        let seen: Vec<(u32, &str, &str)> = log
            .iter()
            .map(|r| (r.index, r.target.as_str(), r.operation.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                (1, "moto", "DescribeSecret"),
                (2, "cognito", "ListUserPoolClientSecrets"),
                (3, "moto", "/echo/token"),
            ]
        );
        assert_eq!(log[0].path, "/echo/abc?x=1");
        assert_eq!(log[0].method, "POST");
        assert_eq!(log[1].context, "attempt 1 createSecret");
        assert_eq!(faults.count(), 3);
        assert!(faults.fired().is_none());
    }

    #[tokio::test]
    async fn fail_before_forward_answers_500_and_never_reaches_the_upstream() {
        let (target, calls) = upstream();
        let faults = Faults::new();
        let proxy = Proxy::faulty("moto", &target, faults.clone());
        faults.arm(FaultRule::nth(2, FaultKind::FailBeforeForward));
        assert_eq!(call(&proxy, "s.A").await.unwrap().status(), 418);
        let failed = call(&proxy, "s.B").await.unwrap();
        assert_eq!(failed.status(), 500);
        assert_eq!(failed.headers()["x-amzn-errortype"], "InternalFailure");
        assert_eq!(call(&proxy, "s.C").await.unwrap().status(), 418, "one-shot");
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "the faulted call did not happen"
        );
        let fired = faults.fired().unwrap();
        assert_eq!((fired.index, fired.operation.as_str()), (2, "B"));
        assert_eq!(fired.fault, Some(FaultKind::FailBeforeForward));
    }

    #[tokio::test]
    async fn drop_response_forwards_the_call_then_resets_the_connection() {
        let (target, calls) = upstream();
        let faults = Faults::new();
        let proxy = Proxy::faulty("moto", &target, faults.clone());
        faults.arm(FaultRule::nth(1, FaultKind::DropResponse));
        let err = call(&proxy, "s.A").await.unwrap_err();
        assert!(!err.is_status(), "no answer at all: {err}");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "the call took effect");
        assert_eq!(call(&proxy, "s.A").await.unwrap().status(), 418);
    }

    #[tokio::test]
    async fn a_rule_keyed_by_operation_counts_only_that_operation() {
        let (target, calls) = upstream();
        let faults = Faults::new();
        let proxy = Proxy::faulty("cognito", &target, faults.clone());
        faults.arm(FaultRule::nth_of(2, "Delete", FaultKind::FailBeforeForward));
        for op in ["x.List", "x.Delete", "x.List", "x.Delete", "x.Delete"] {
            let _ = call(&proxy, op).await;
        }
        let fired = faults.fired().unwrap();
        assert_eq!((fired.index, fired.operation.as_str()), (4, "Delete"));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn kill_forwards_the_call_then_kills_the_registered_process() {
        let (target, calls) = upstream();
        let faults = Faults::new();
        let proxy = Proxy::faulty("moto", &target, faults.clone());
        let mut victim = tokio::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = victim.id().unwrap();
        faults.set_victim(Some(pid));
        faults.arm(FaultRule::nth(1, FaultKind::Kill));
        assert!(call(&proxy, "s.A").await.is_err());
        let status = victim.wait().await.unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(faults.fired().unwrap().killed, Some(pid));
    }

    #[test]
    fn the_knob_fires_once_and_restarts_its_count_when_armed() {
        let mut knob = FaultKnob::default();
        knob.arm(FaultRule::nth(2, FaultKind::DropResponse));
        assert_eq!(knob.on_request("A"), (1, None));
        assert_eq!(knob.on_request("A"), (2, Some(FaultKind::DropResponse)));
        assert_eq!(knob.on_request("A"), (3, None));
        knob.arm(FaultRule::nth(1, FaultKind::Kill));
        assert_eq!(knob.on_request("B"), (1, Some(FaultKind::Kill)));
        knob.arm(FaultRule::nth(1, FaultKind::Kill));
        assert_eq!(knob.disarm(), Some(FaultRule::nth(1, FaultKind::Kill)));
        assert_eq!(
            knob.on_request("B"),
            (1, None),
            "arming restarted the count"
        );
    }
}
