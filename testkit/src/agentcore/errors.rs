//! REST-JSON responses the way the AgentCore SDKs parse them: the error code travels in the
//! `x-amzn-errortype` header (the SDK reads it before the body), the body carries `message`
//! and, for ValidationException, `reason` and `fieldList`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// A modelled service error. Messages never contain secret values.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    reason: Option<&'static str>,
    fields: Vec<(String, String)>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            reason: None,
            fields: Vec::new(),
        }
    }

    pub(crate) fn validation(message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, "ValidationException", message);
        e.reason = Some("FieldValidationFailed");
        e
    }

    /// A ValidationException that names the offending input member in `fieldList`.
    pub(crate) fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut e = Self::validation(format!("1 validation error detected: {field}: {message}"));
        e.fields.push((field.to_string(), message));
        e
    }

    pub(crate) fn cannot_parse(message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, "ValidationException", message);
        e.reason = Some("CannotParse");
        e
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "ResourceNotFoundException", message)
    }

    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "ConflictException", message)
    }

    pub(crate) fn throttling() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "ThrottlingException",
            "Rate exceeded",
        )
    }

    pub(crate) fn access_denied(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "AccessDeniedException", message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerException",
            message,
        )
    }

    pub(crate) fn unknown_operation() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            "unknown operation",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "message": self.message });
        if let Some(reason) = self.reason {
            body["reason"] = json!(reason);
        }
        if !self.fields.is_empty() {
            let list: Vec<Value> = self
                .fields
                .iter()
                .map(|(name, message)| json!({ "name": name, "message": message }))
                .collect();
            body["fieldList"] = Value::Array(list);
        }
        let mut response = json_response(self.status, &body);
        response
            .headers_mut()
            .insert("x-amzn-errortype", HeaderValue::from_static(self.code));
        response
    }
}

/// A JSON response with a fresh request id (the SDK surfaces it as `request_id()`).
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}

/// What a handler produces: a status and a JSON body (`None` for an empty 204).
pub(crate) type Reply = Result<(StatusCode, Option<Value>), ApiError>;

pub(crate) fn ok(body: Value) -> Reply {
    Ok((StatusCode::OK, Some(body)))
}

pub(crate) fn created(body: Value) -> Reply {
    Ok((StatusCode::CREATED, Some(body)))
}

pub(crate) fn no_content() -> Reply {
    Ok((StatusCode::NO_CONTENT, None))
}
