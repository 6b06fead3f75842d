//! The rotation function's production wiring in one place: configuration, SDK clients, the
//! Cognito adapter and the AgentCore hooks, built from an environment lookup exactly as
//! `src/bin/rotation.rs` builds them. Used by the `rotation-step` binary (real environment) and
//! by tests that run the same rotator in-process from an environment map.

use std::collections::BTreeMap;

use agentcore_rotator::aws::rotator_from_lookup;
use agentcore_rotator::rotation::Rotator;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_secretsmanager::config::{Credentials, SharedCredentialsProvider};
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};

pub type WiringError = Box<dyn std::error::Error + Send + Sync>;

/// The rotator `src/bin/rotation.rs` runs, from the SDK configuration it loaded and the
/// function's environment (the product's own wiring).
pub fn rotator(
    sdk: SdkConfig,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Rotator, WiringError> {
    rotator_from_lookup(&sdk, lookup)
}

/// What `aws_config::load_defaults` makes of an environment, for the variables the local stack
/// sets ([`crate::stack::LocalStack::aws_env`]): `AWS_REGION`, static credentials,
/// `AWS_MAX_ATTEMPTS`, and `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` per client. Lets a
/// test build the production rotator in-process without touching its own environment.
pub fn sdk_config(env: &BTreeMap<String, String>) -> SdkConfig {
    let get = |k: &str| env.get(k).cloned().filter(|v| !v.is_empty());
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(get("AWS_REGION").map(Region::new))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            get("AWS_ACCESS_KEY_ID").unwrap_or_default(),
            get("AWS_SECRET_ACCESS_KEY").unwrap_or_default(),
            get("AWS_SESSION_TOKEN"),
            None,
            "environment",
        )))
        .service_config(EnvEndpoints(env.clone()));
    if let Some(n) = get("AWS_MAX_ATTEMPTS").and_then(|v| v.parse().ok()) {
        builder = builder.retry_config(RetryConfig::standard().with_max_attempts(n));
    }
    if let Some(url) = get("AWS_ENDPOINT_URL") {
        builder = builder.endpoint_url(url);
    }
    builder.build()
}

/// `AWS_ENDPOINT_URL_<SERVICE ID>`: the service id upper-cased, spaces as underscores (the
/// SDKs' rule for service-specific endpoints).
#[derive(Debug)]
struct EnvEndpoints(BTreeMap<String, String>);

impl LoadServiceConfig for EnvEndpoints {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        let service = key
            .service_id()
            .to_ascii_uppercase()
            .replace([' ', '-'], "_");
        self.0
            .get(&format!("{}_{service}", key.env()))
            .filter(|v| !v.is_empty())
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_specific_endpoints_follow_the_sdk_naming_rule() {
        let env: BTreeMap<String, String> = [
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:1"),
            (
                "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER",
                "http://127.0.0.1:2",
            ),
            (
                "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL",
                "http://127.0.0.1:3",
            ),
            ("AWS_MAX_ATTEMPTS", "1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let sdk = sdk_config(&env);
        let endpoint = |service: &str| {
            let key = ServiceConfigKey::builder()
                .service_id(service)
                .env("AWS_ENDPOINT_URL")
                .profile("endpoint_url")
                .build()
                .unwrap();
            sdk.service_config().unwrap().load_config(key)
        };
        assert_eq!(
            endpoint("Secrets Manager").as_deref(),
            Some("http://127.0.0.1:1")
        );
        assert_eq!(
            endpoint("Cognito Identity Provider").as_deref(),
            Some("http://127.0.0.1:2")
        );
        assert_eq!(
            endpoint("Bedrock AgentCore Control").as_deref(),
            Some("http://127.0.0.1:3")
        );
        assert_eq!(endpoint("KMS"), None);
        assert_eq!(sdk.retry_config().unwrap().max_attempts(), 1);
    }
}
