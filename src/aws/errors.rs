//! The one mapping of AWS SDK errors to what this product reports: the service's error code and
//! message, never a request or response body.

use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// The service's error code (e.g. `AccessDeniedException`); `RequestFailed` when the request
/// got no service answer (timeout, connection refused).
pub fn error_code(err: &impl ProvideErrorMetadata) -> String {
    err.code().unwrap_or("RequestFailed").to_string()
}

/// `code: message`, or the transport error's chain when the service never answered.
pub fn error_summary<E>(err: &E) -> String
where
    E: ProvideErrorMetadata + std::error::Error,
{
    match (err.code(), err.message()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_string(),
        _ => format!(
            "request failed with no service error code ({}); check network access and the endpoint",
            DisplayErrorContext(err)
        ),
    }
}
