//! API calls counted by operation: an SDK interceptor shared by every client the audit reads
//! through (Secrets Manager, KMS, Lambda, AgentCore, Cognito, Security Hub GetFindings), so the
//! audit summary can compare what it spent with the lower bound.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_secretsmanager::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_secretsmanager::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::client::orchestrator::Metadata;

use crate::audit::report::CallMeter;

/// Counts every HTTP attempt (retries included) by operation name. Attach it to each client
/// with `config::Builder::from(&sdk).interceptor(counter.clone())`.
#[derive(Clone, Debug, Default)]
pub struct CallCounter(Arc<Mutex<BTreeMap<String, u64>>>);

impl CallCounter {
    pub fn new() -> Self {
        Self::default()
    }

    fn add(&self, operation: String) {
        *self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(operation)
            .or_default() += 1;
    }
}

impl CallMeter for CallCounter {
    fn counts(&self) -> BTreeMap<String, u64> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        // The SDK names the operation itself, whatever the protocol (query, REST paths that
        // hold ids); the request's shape is only the fallback.
        let name = match cfg.load::<Metadata>() {
            Some(m) => m.name().to_string(),
            None => operation_name(
                context.request().headers().get("x-amz-target"),
                context.request().uri(),
            ),
        };
        self.add(name);
        Ok(())
    }
}

/// JSON-protocol services name the operation in `X-Amz-Target` (`secretsmanager.DescribeSecret`);
/// REST services in the path (`/identities/GetOauth2CredentialProvider`), except Security Hub
/// and Lambda, whose paths name resources.
pub fn operation_name(target: Option<&str>, uri: &str) -> String {
    if let Some(t) = target {
        return t.rsplit('.').next().unwrap_or(t).to_string();
    }
    let path = uri.split(['?', '#']).next().unwrap_or_default();
    let path = path
        .split("://")
        .nth(1)
        .map_or(path, |rest| rest.find('/').map_or("", |i| &rest[i..]));
    match path {
        "/findings/import" => "BatchImportFindings".into(),
        "/findings" => "GetFindings".into(),
        // Lambda puts the function (an ARN here) in the path; GetFunctionConcurrency is the
        // audit's only Lambda call.
        p if p.starts_with("/2019-09-30/functions/") && p.ends_with("/concurrency") => {
            "GetFunctionConcurrency".into()
        }
        p => p
            .rsplit('/')
            .find(|s| !s.is_empty())
            .unwrap_or("unknown")
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_named_from_the_target_header_or_the_path() {
        assert_eq!(
            operation_name(Some("secretsmanager.DescribeSecret"), "http://x/"),
            "DescribeSecret"
        );
        assert_eq!(
            operation_name(Some("TrentService.GetKeyPolicy"), "/"),
            "GetKeyPolicy"
        );
        assert_eq!(
            operation_name(
                None,
                "http://127.0.0.1:9/identities/GetOauth2CredentialProvider"
            ),
            "GetOauth2CredentialProvider"
        );
        assert_eq!(
            operation_name(
                None,
                "https://securityhub.us-east-1.amazonaws.com/findings/import"
            ),
            "BatchImportFindings"
        );
        assert_eq!(operation_name(None, "/findings?x=1"), "GetFindings");
        assert_eq!(
            operation_name(
                None,
                "http://127.0.0.1:9/2019-09-30/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Ar/concurrency"
            ),
            "GetFunctionConcurrency"
        );
    }
}
