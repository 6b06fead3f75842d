//! HTTP front: one axum app serving both planes (their paths do not overlap), on a dedicated
//! thread with its own runtime so it outlives any single #[tokio::test] runtime.

use std::net::TcpListener as StdListener;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;

use super::errors::{json_response, ApiError, Reply};
use super::state::Ctx;
use super::{api_key_providers as api_key, data_plane, oauth2_providers as oauth2, workloads};

/// Every operation the emulator serves; `name()` is the key of the call counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    CreateOauth2CredentialProvider,
    GetOauth2CredentialProvider,
    UpdateOauth2CredentialProvider,
    DeleteOauth2CredentialProvider,
    ListOauth2CredentialProviders,
    CreateApiKeyCredentialProvider,
    GetApiKeyCredentialProvider,
    UpdateApiKeyCredentialProvider,
    DeleteApiKeyCredentialProvider,
    ListApiKeyCredentialProviders,
    CreateWorkloadIdentity,
    GetWorkloadIdentity,
    DeleteWorkloadIdentity,
    GetWorkloadAccessToken,
    GetResourceApiKey,
    GetResourceOauth2Token,
}

const OPS: [Op; 16] = [
    Op::CreateOauth2CredentialProvider,
    Op::GetOauth2CredentialProvider,
    Op::UpdateOauth2CredentialProvider,
    Op::DeleteOauth2CredentialProvider,
    Op::ListOauth2CredentialProviders,
    Op::CreateApiKeyCredentialProvider,
    Op::GetApiKeyCredentialProvider,
    Op::UpdateApiKeyCredentialProvider,
    Op::DeleteApiKeyCredentialProvider,
    Op::ListApiKeyCredentialProviders,
    Op::CreateWorkloadIdentity,
    Op::GetWorkloadIdentity,
    Op::DeleteWorkloadIdentity,
    Op::GetWorkloadAccessToken,
    Op::GetResourceApiKey,
    Op::GetResourceOauth2Token,
];

impl Op {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::CreateOauth2CredentialProvider => "CreateOauth2CredentialProvider",
            Op::GetOauth2CredentialProvider => "GetOauth2CredentialProvider",
            Op::UpdateOauth2CredentialProvider => "UpdateOauth2CredentialProvider",
            Op::DeleteOauth2CredentialProvider => "DeleteOauth2CredentialProvider",
            Op::ListOauth2CredentialProviders => "ListOauth2CredentialProviders",
            Op::CreateApiKeyCredentialProvider => "CreateApiKeyCredentialProvider",
            Op::GetApiKeyCredentialProvider => "GetApiKeyCredentialProvider",
            Op::UpdateApiKeyCredentialProvider => "UpdateApiKeyCredentialProvider",
            Op::DeleteApiKeyCredentialProvider => "DeleteApiKeyCredentialProvider",
            Op::ListApiKeyCredentialProviders => "ListApiKeyCredentialProviders",
            Op::CreateWorkloadIdentity => "CreateWorkloadIdentity",
            Op::GetWorkloadIdentity => "GetWorkloadIdentity",
            Op::DeleteWorkloadIdentity => "DeleteWorkloadIdentity",
            Op::GetWorkloadAccessToken => "GetWorkloadAccessToken",
            Op::GetResourceApiKey => "GetResourceApiKey",
            Op::GetResourceOauth2Token => "GetResourceOauth2Token",
        }
    }

    /// Paths as the SDK serializers write them (all `POST`): control-plane operations and
    /// GetWorkloadAccessToken use `/identities/<Operation>`, the other two data-plane
    /// operations have their own paths.
    fn from_path(path: &str) -> Option<Op> {
        match path.strip_prefix("/identities/")? {
            "api-key" => Some(Op::GetResourceApiKey),
            "oauth2/token" => Some(Op::GetResourceOauth2Token),
            name => OPS.into_iter().find(|op| {
                op.name() == name
                    && !matches!(op, Op::GetResourceApiKey | Op::GetResourceOauth2Token)
            }),
        }
    }

    async fn run(self, ctx: &Ctx, body: &Value) -> Reply {
        match self {
            Op::CreateOauth2CredentialProvider => oauth2::create(ctx, body).await,
            Op::GetOauth2CredentialProvider => oauth2::get(ctx, body).await,
            Op::UpdateOauth2CredentialProvider => oauth2::update(ctx, body).await,
            Op::DeleteOauth2CredentialProvider => oauth2::delete(ctx, body).await,
            Op::ListOauth2CredentialProviders => oauth2::list(ctx, body).await,
            Op::CreateApiKeyCredentialProvider => api_key::create(ctx, body).await,
            Op::GetApiKeyCredentialProvider => api_key::get(ctx, body).await,
            Op::UpdateApiKeyCredentialProvider => api_key::update(ctx, body).await,
            Op::DeleteApiKeyCredentialProvider => api_key::delete(ctx, body).await,
            Op::ListApiKeyCredentialProviders => api_key::list(ctx, body).await,
            Op::CreateWorkloadIdentity => workloads::create(ctx, body).await,
            Op::GetWorkloadIdentity => workloads::get(ctx, body).await,
            Op::DeleteWorkloadIdentity => workloads::delete(ctx, body).await,
            Op::GetWorkloadAccessToken => data_plane::get_workload_access_token(ctx, body).await,
            Op::GetResourceApiKey => data_plane::get_resource_api_key(ctx, body).await,
            Op::GetResourceOauth2Token => data_plane::get_resource_oauth2_token(ctx, body).await,
        }
    }
}

/// Counts the call, applies the throttle and deny knobs, then runs the operation.
async fn dispatch(State(ctx): State<Arc<Ctx>>, method: Method, uri: Uri, body: Bytes) -> Response {
    let op = match Op::from_path(uri.path()) {
        Some(op) if method == Method::POST => op,
        _ => return ApiError::unknown_operation().into_response(),
    };
    {
        let mut state = ctx.state();
        *state.knobs.calls.entry(op.name().to_string()).or_default() += 1;
        if state.knobs.take_throttle() {
            return ApiError::throttling().into_response();
        }
        if state.knobs.denied.contains(op.name()) {
            return ApiError::access_denied(format!(
                "User is not authorized to perform: bedrock-agentcore:{}",
                op.name()
            ))
            .into_response();
        }
    }
    let body: Value = if body.is_empty() {
        Value::Object(Default::default())
    } else {
        match serde_json::from_slice(&body) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                return ApiError::cannot_parse("Request body is not a JSON object").into_response()
            }
        }
    };
    match op.run(&ctx, &body).await {
        Ok((status, Some(json))) => json_response(status, &json),
        Ok((status, None)) => {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = status;
            response
        }
        Err(e) => e.into_response(),
    }
}

/// Binds 127.0.0.1:0 and serves on a new thread until `shutdown` fires. The context is built
/// on the server's runtime so SDK and HTTP clients spawn their tasks there.
pub(crate) fn spawn(
    make_ctx: impl FnOnce() -> Ctx + Send + 'static,
    shutdown: tokio::sync::oneshot::Receiver<()>,
) -> (String, Arc<Ctx>, tokio::runtime::Handle) {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind the AgentCore emulator");
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let endpoint = format!(
        "http://{}",
        listener.local_addr().expect("emulator listener address")
    );
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("agentcore-emulator".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("emulator runtime");
            runtime.block_on(async move {
                let ctx = Arc::new(make_ctx());
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                let app = Router::new().fallback(dispatch).with_state(ctx.clone());
                let _ = ready_tx.send((ctx, tokio::runtime::Handle::current()));
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = shutdown.await;
                    })
                    .await;
            });
        })
        .expect("spawn the emulator thread");
    let (ctx, handle) = ready_rx.recv().expect("emulator thread started");
    (endpoint, ctx, handle)
}
