//! AWS IAM outbound identity federation for the local stack, which moto does not implement:
//! STS `GetWebIdentityToken` (query protocol, as the AWS SDK sends it) answered with an RS256 JWT
//! that this server signs, and the account issuer's OIDC discovery and JWKS at
//! `<issuer>/.well-known/openid-configuration` and `/.well-known/jwks.json`, where an IdP fetches
//! the verification key. Every other request is forwarded to moto unchanged, so one endpoint
//! (`AWS_ENDPOINT_URL_STS`, or a whole SDK configuration) serves STS and the rest of AWS.
//!
//! The token follows the API reference: `iss` = the issuer (this server's URL here; an
//! `https://<id>.tokens.sts.global.api.aws` URL in AWS), `sub` = the calling role's ARN (set by
//! the test: moto's static credentials carry no role), `aud` = the requested audience (one or a
//! list), `iat`/`nbf`/`exp` (DurationSeconds 60–3600, default 300), a `jti`, and
//! `https://sts.amazonaws.com/` claims. Only RS256 is served: the key is a fixed 2048-bit test key
//! (`federation_test_key.der`), generated for this testkit and used nowhere else.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};

use super::common::{bind_loopback, rsa_jwk, serve_in_background, test_rsa_key};
use serde_json::{json, Value};

const KID: &str = "agentcore-rotator-testkit-federation-1";

struct Federation {
    key: RsaKeyPair,
    issuer: String,
    moto: String,
    subject: Mutex<String>,
    enabled: Mutex<bool>,
    issued: Mutex<Vec<Value>>,
    http: reqwest::Client,
}

type Shared = Arc<Federation>;

/// The running issuer + STS front of moto.
pub struct AwsFederation {
    state: Shared,
}

impl AwsFederation {
    /// Starts in front of the moto server at `moto_endpoint`; tokens name `role_arn` as `sub`.
    pub fn start(moto_endpoint: &str, role_arn: &str) -> AwsFederation {
        let (listener, base) = bind_loopback();
        let state = Arc::new(Federation {
            key: test_rsa_key(),
            issuer: base.clone(),
            moto: moto_endpoint.trim_end_matches('/').to_string(),
            subject: Mutex::new(role_arn.to_string()),
            enabled: Mutex::new(true),
            issued: Mutex::new(Vec::new()),
            http: reqwest::Client::new(),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/.well-known/jwks.json", get(jwks))
            .fallback(sts_or_forward)
            .with_state(state.clone());
        serve_in_background(listener, app, "federation server");
        AwsFederation { state }
    }

    /// The SDK endpoint (STS here, everything else forwarded to moto) and the issuer URL.
    pub fn endpoint(&self) -> &str {
        &self.state.issuer
    }

    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    /// The `sub` of the tokens issued from now on.
    pub fn set_subject(&self, role_arn: &str) {
        *self.state.subject.lock().unwrap() = role_arn.to_string();
    }

    /// Off: `GetWebIdentityToken` answers `OutboundWebIdentityFederationDisabledException`, as in
    /// an account where the feature was never enabled.
    pub fn set_enabled(&self, enabled: bool) {
        *self.state.enabled.lock().unwrap() = enabled;
    }

    /// The claims of every token issued, oldest first.
    pub fn issued(&self) -> Vec<Value> {
        self.state.issued.lock().unwrap().clone()
    }
}

async fn discovery(State(s): State<Shared>) -> Json<Value> {
    Json(json!({
        "issuer": s.issuer,
        "jwks_uri": format!("{}/.well-known/jwks.json", s.issuer),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES384"],
    }))
}

async fn jwks(State(s): State<Shared>) -> Json<Value> {
    Json(json!({"keys": [rsa_jwk(&s.key, KID)]}))
}

async fn sts_or_forward(
    State(s): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    if method == Method::POST
        && form.get("Action").map(String::as_str) == Some("GetWebIdentityToken")
    {
        return get_web_identity_token(&s, &form);
    }
    crate::moto::forward(&s.http, &s.moto, (method, &uri, &headers), body, &|_, v| {
        Some(v.clone())
    })
    .await
}

fn sts_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        uuid::Uuid::new_v4()
    );
    (status, [("content-type", "text/xml")], body).into_response()
}

fn get_web_identity_token(s: &Federation, form: &HashMap<String, String>) -> Response {
    if !*s.enabled.lock().unwrap() {
        return sts_error(
            StatusCode::FORBIDDEN,
            "OutboundWebIdentityFederationDisabledException",
            "Outbound web identity federation is disabled for this account",
        );
    }
    let mut audiences: Vec<(usize, String)> = form
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("Audience.member.")
                .and_then(|i| i.parse().ok())
                .map(|i| (i, v.clone()))
        })
        .collect();
    audiences.sort();
    let audiences: Vec<String> = audiences.into_iter().map(|(_, v)| v).collect();
    if audiences.is_empty() || audiences.len() > 10 {
        return sts_error(
            StatusCode::BAD_REQUEST,
            "ValidationError",
            "Audience must have between 1 and 10 members",
        );
    }
    if form.get("SigningAlgorithm").map(String::as_str) != Some("RS256") {
        return sts_error(
            StatusCode::BAD_REQUEST,
            "ValidationError",
            "this stand-in signs RS256 only (AWS also offers ES384)",
        );
    }
    let duration: u64 = match form.get("DurationSeconds").map(|d| d.parse::<u64>()) {
        None => 300,
        Some(Ok(d)) if (60..=3600).contains(&d) => d,
        _ => {
            return sts_error(
                StatusCode::BAD_REQUEST,
                "ValidationError",
                "DurationSeconds must be between 60 and 3600",
            )
        }
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let subject = s.subject.lock().unwrap().clone();
    let aud = if audiences.len() == 1 {
        json!(audiences[0])
    } else {
        json!(audiences)
    };
    let claims = json!({
        "iss": s.issuer,
        "sub": subject,
        "aud": aud,
        "iat": now,
        "nbf": now,
        "exp": now + duration,
        "jti": uuid::Uuid::new_v4().to_string(),
        "https://sts.amazonaws.com/": {
            "aws_account": crate::moto::ACCOUNT_ID,
            "principal_id": subject,
        },
    });
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": KID});
    let input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let mut sig = vec![0u8; s.key.public().modulus_len()];
    s.key
        .sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            input.as_bytes(),
            &mut sig,
        )
        .expect("sign");
    let token = format!("{input}.{}", B64.encode(sig));
    s.issued.lock().unwrap().push(claims);
    let expiration = aws_smithy_types::DateTime::from_secs((now + duration) as i64)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default();
    let body = format!(
        "<GetWebIdentityTokenResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetWebIdentityTokenResult><WebIdentityToken>{token}</WebIdentityToken><Expiration>{expiration}</Expiration></GetWebIdentityTokenResult><ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></GetWebIdentityTokenResponse>",
        uuid::Uuid::new_v4()
    );
    (StatusCode::OK, [("content-type", "text/xml")], body).into_response()
}
