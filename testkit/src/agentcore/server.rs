//! HTTP front: one axum app serving both planes (their paths do not overlap), on a dedicated
//! thread with its own runtime so it outlives any single #[tokio::test] runtime.

use std::collections::HashMap;
use std::net::TcpListener as StdListener;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;

use super::errors::{json_response, ApiError, Reply};
use super::state::Ctx;
use super::{
    api_key_providers as api_key, data_plane, gateways, oauth2_providers as oauth2,
    payment_providers as payment, workloads,
};

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
    CreatePaymentCredentialProvider,
    GetPaymentCredentialProvider,
    UpdatePaymentCredentialProvider,
    DeletePaymentCredentialProvider,
    ListPaymentCredentialProviders,
    CreateWorkloadIdentity,
    GetWorkloadIdentity,
    DeleteWorkloadIdentity,
    GetWorkloadAccessToken,
    GetResourceApiKey,
    GetResourceOauth2Token,
    CreateGateway,
    ListGateways,
    CreateGatewayTarget,
    ListGatewayTargets,
    GetGatewayTarget,
}

const OPS: [Op; 26] = [
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
    Op::CreatePaymentCredentialProvider,
    Op::GetPaymentCredentialProvider,
    Op::UpdatePaymentCredentialProvider,
    Op::DeletePaymentCredentialProvider,
    Op::ListPaymentCredentialProviders,
    Op::CreateWorkloadIdentity,
    Op::GetWorkloadIdentity,
    Op::DeleteWorkloadIdentity,
    Op::GetWorkloadAccessToken,
    Op::GetResourceApiKey,
    Op::GetResourceOauth2Token,
    Op::CreateGateway,
    Op::ListGateways,
    Op::CreateGatewayTarget,
    Op::ListGatewayTargets,
    Op::GetGatewayTarget,
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
            Op::CreatePaymentCredentialProvider => "CreatePaymentCredentialProvider",
            Op::GetPaymentCredentialProvider => "GetPaymentCredentialProvider",
            Op::UpdatePaymentCredentialProvider => "UpdatePaymentCredentialProvider",
            Op::DeletePaymentCredentialProvider => "DeletePaymentCredentialProvider",
            Op::ListPaymentCredentialProviders => "ListPaymentCredentialProviders",
            Op::CreateWorkloadIdentity => "CreateWorkloadIdentity",
            Op::GetWorkloadIdentity => "GetWorkloadIdentity",
            Op::DeleteWorkloadIdentity => "DeleteWorkloadIdentity",
            Op::GetWorkloadAccessToken => "GetWorkloadAccessToken",
            Op::GetResourceApiKey => "GetResourceApiKey",
            Op::GetResourceOauth2Token => "GetResourceOauth2Token",
            Op::CreateGateway => "CreateGateway",
            Op::ListGateways => "ListGateways",
            Op::CreateGatewayTarget => "CreateGatewayTarget",
            Op::ListGatewayTargets => "ListGatewayTargets",
            Op::GetGatewayTarget => "GetGatewayTarget",
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

    /// Gateway operations are REST: the method and the path's ids choose the operation, and
    /// the ids (`gatewayIdentifier`, `targetId`) join the body.
    fn from_gateway_path(method: &Method, path: &str) -> Option<(Op, Vec<(&'static str, String)>)> {
        let parts: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
        let id = |s: &str| ("gatewayIdentifier", s.to_string());
        match (method.as_str(), parts.as_slice()) {
            ("POST", ["gateways"]) => Some((Op::CreateGateway, vec![])),
            ("GET", ["gateways"]) => Some((Op::ListGateways, vec![])),
            ("POST", ["gateways", g, "targets"]) => Some((Op::CreateGatewayTarget, vec![id(g)])),
            ("GET", ["gateways", g, "targets"]) => Some((Op::ListGatewayTargets, vec![id(g)])),
            ("GET", ["gateways", g, "targets", t]) => Some((
                Op::GetGatewayTarget,
                vec![id(g), ("targetId", t.to_string())],
            )),
            _ => None,
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
            Op::CreatePaymentCredentialProvider => payment::create(ctx, body).await,
            Op::GetPaymentCredentialProvider => payment::get(ctx, body).await,
            Op::UpdatePaymentCredentialProvider => payment::update(ctx, body).await,
            Op::DeletePaymentCredentialProvider => payment::delete(ctx, body).await,
            Op::ListPaymentCredentialProviders => payment::list(ctx, body).await,
            Op::CreateWorkloadIdentity => workloads::create(ctx, body).await,
            Op::GetWorkloadIdentity => workloads::get(ctx, body).await,
            Op::DeleteWorkloadIdentity => workloads::delete(ctx, body).await,
            Op::GetWorkloadAccessToken => data_plane::get_workload_access_token(ctx, body).await,
            Op::GetResourceApiKey => data_plane::get_resource_api_key(ctx, body).await,
            Op::GetResourceOauth2Token => data_plane::get_resource_oauth2_token(ctx, body).await,
            Op::CreateGateway => gateways::create_gateway(ctx, body).await,
            Op::ListGateways => gateways::list_gateways(ctx, body).await,
            Op::CreateGatewayTarget => gateways::create_target(ctx, body).await,
            Op::ListGatewayTargets => gateways::list_targets(ctx, body).await,
            Op::GetGatewayTarget => gateways::get_target(ctx, body).await,
        }
    }
}

/// Counts the call, applies the throttle and deny knobs, then runs the operation.
/// Every account's AgentCore: the default one, and any other account created on its first
/// request, chosen by the request's credentials as AWS does.
pub(crate) struct Tenancy {
    default: Arc<Ctx>,
    others: Mutex<HashMap<String, Arc<Ctx>>>,
    /// Accounts whose every request is refused (a role without AgentCore permissions).
    pub(crate) denied: Mutex<std::collections::HashSet<String>>,
    make: Box<dyn Fn(&str) -> Ctx + Send + Sync>,
    moto_endpoint: String,
    region: String,
}

impl Tenancy {
    pub(crate) fn default_ctx(&self) -> &Arc<Ctx> {
        &self.default
    }

    /// The account whose credentials signed the request: moto knows which account its
    /// AssumeRole keys belong to, and does not check signatures, so GetCallerIdentity with the
    /// key id alone answers.
    async fn ctx_for(&self, headers: &HeaderMap) -> Arc<Ctx> {
        let key = crate::moto::signing_key(headers).unwrap_or_default();
        if key.is_empty() || key == crate::moto::ACCESS_KEY_ID {
            return self.default.clone();
        }
        let account = crate::moto::caller_of(&self.moto_endpoint, &self.region, &key)
            .await
            .map(|(account, _)| account)
            .unwrap_or_else(|| self.default.account.clone());
        if account == self.default.account {
            return self.default.clone();
        }
        self.others
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(account.clone())
            .or_insert_with(|| Arc::new((self.make)(&account)))
            .clone()
    }
}

async fn dispatch(
    State(tenancy): State<Arc<Tenancy>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = tenancy.ctx_for(&headers).await;
    if tenancy
        .denied
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains(&ctx.account)
    {
        return ApiError::access_denied(format!(
            "User in account {} is not authorized to perform bedrock-agentcore actions",
            ctx.account
        ))
        .into_response();
    }
    let (op, params) = match Op::from_path(uri.path()) {
        Some(op) if method == Method::POST => (op, Vec::new()),
        _ => match Op::from_gateway_path(&method, uri.path()) {
            Some(found) => found,
            None => return ApiError::unknown_operation().into_response(),
        },
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
    let mut body: Value = if body.is_empty() {
        Value::Object(Default::default())
    } else {
        match serde_json::from_slice(&body) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                return ApiError::cannot_parse("Request body is not a JSON object").into_response()
            }
        }
    };
    // REST operations: path ids and query parameters (`maxResults`, `nextToken`) join the body.
    for (k, v) in params {
        body[k] = Value::String(v);
    }
    for (k, v) in form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()) {
        body[k.as_ref()] = match v.parse::<i64>() {
            Ok(n) if k == "maxResults" => Value::from(n),
            _ => Value::String(v.into_owned()),
        };
    }
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
    make_ctx: impl Fn(&str) -> Ctx + Send + Sync + 'static,
    default_account: String,
    (moto_endpoint, region): (String, String),
    shutdown: tokio::sync::oneshot::Receiver<()>,
) -> (String, Arc<Tenancy>, tokio::runtime::Handle) {
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
                let ctx = Arc::new(make_ctx(&default_account));
                let tenancy = Arc::new(Tenancy {
                    default: ctx.clone(),
                    others: Default::default(),
                    denied: Default::default(),
                    make: Box::new(make_ctx),
                    moto_endpoint,
                    region,
                });
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                let app = Router::new().fallback(dispatch).with_state(tenancy.clone());
                let _ = ready_tx.send((tenancy.clone(), tokio::runtime::Handle::current()));
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = shutdown.await;
                    })
                    .await;
            });
        })
        .expect("spawn the emulator thread");
    let (tenancy, handle) = ready_rx.recv().expect("emulator thread started");
    (endpoint, tenancy, handle)
}
