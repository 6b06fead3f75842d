//! A reverse proxy that holds each request for a fixed time before forwarding it. A loopback
//! stack answers in microseconds plus the server's own work; an AWS endpoint is a network round
//! trip away (milliseconds even in-Region). Benchmarks put this in front of moto and the
//! emulator to compare a concurrent audit with a sequential script under that round trip. The
//! delay is concurrent (requests wait side by side), so it models latency, not a slower server.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

struct Target {
    base: String,
    delay: Duration,
    client: reqwest::Client,
}

pub struct LatencyProxy {
    endpoint: String,
}

impl LatencyProxy {
    /// Serves on an ephemeral loopback port until the process exits.
    pub fn start(target: &str, delay: Duration) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("non-blocking");
        let endpoint = format!("http://{}", listener.local_addr().expect("local addr"));
        let state = Arc::new(Target {
            base: target.trim_end_matches('/').to_string(),
            delay,
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()
                .expect("HTTP client"),
        });
        std::thread::Builder::new()
            .name("latency-proxy".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .expect("proxy runtime");
                runtime.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    let app = Router::new().fallback(forward).with_state(state);
                    axum::serve(listener, app).await.expect("latency proxy");
                });
            })
            .expect("spawn the proxy thread");
        Self { endpoint }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

async fn forward(State(target): State<Arc<Target>>, request: Request) -> Response {
    tokio::time::sleep(target.delay).await;
    let (parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let mut headers = parts.headers.clone();
    headers.remove(axum::http::header::HOST);
    headers.remove(axum::http::header::CONTENT_LENGTH);
    let sent = target
        .client
        .request(parts.method, format!("{}{path}", target.base))
        .headers(headers)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(answer) => {
            let status = answer.status();
            let mut headers = HeaderMap::new();
            for (k, v) in answer.headers() {
                if k != axum::http::header::CONTENT_LENGTH
                    && k != axum::http::header::TRANSFER_ENCODING
                {
                    headers.append(k.clone(), v.clone());
                }
            }
            let bytes: Bytes = answer.bytes().await.unwrap_or_default();
            (status, headers, bytes).into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use axum::routing::post;

    /// An upstream that echoes the body, the path and one request header.
    fn upstream() -> String {
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
                            |axum::extract::Path(tail): axum::extract::Path<String>,
                             headers: HeaderMap,
                             body: Bytes| async move {
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
        endpoint
    }

    #[tokio::test]
    async fn forwards_method_path_headers_and_body_after_the_delay() {
        let proxy = LatencyProxy::start(&upstream(), Duration::from_millis(120));
        let started = std::time::Instant::now();
        let answer = reqwest::Client::new()
            .post(format!("{}/echo/abc?x=1", proxy.endpoint()))
            .header("x-amz-target", "secretsmanager.GetResourcePolicy")
            .body("payload")
            .send()
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
}
