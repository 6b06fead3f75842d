//! AgentCore credential providers and the secret resource policy they need, set up the way the
//! tests and benchmarks do it: through the emulator's control-plane API and moto's.

use aws_sdk_bedrockagentcorecontrol::types::{
    CredentialProviderVendorType as Vendor, CustomOauth2ProviderConfigInput,
    IncludedOauth2ProviderConfigInput, Oauth2Discovery, Oauth2ProviderConfigInput, SecretReference,
    SecretSourceType,
};
use aws_sdk_bedrockagentcorecontrol::Client as Control;
use serde_json::json;

use crate::moto::{ACCOUNT_ID, REGION};
use crate::stack::{CognitoFixture, LocalStack};

/// A discovery URL for providers whose IdP is never contacted.
pub const EXAMPLE_DISCOVERY: &str = "https://idp.example.com/.well-known/openid-configuration";

/// A resource policy that lets the AgentCore service principal read the secret.
pub fn agentcore_read_policy() -> String {
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "bedrock-agentcore.amazonaws.com"},
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "*"
    }]})
    .to_string()
}

/// The ARN the emulator gives OAuth2 provider `name` in the local stack's account and Region.
pub fn provider_arn(name: &str) -> String {
    format!("arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT_ID}:token-vault/default/oauth2credentialprovider/{name}")
}

/// Creates EXTERNAL OAuth2 provider `name` for `client_id`, reading `key` of `secret`.
pub async fn create_external_oauth2(
    control: &Control,
    name: &str,
    client_id: &str,
    discovery: &str,
    secret: &str,
    key: &str,
) {
    control
        .create_oauth2_credential_provider()
        .name(name)
        .credential_provider_vendor(Vendor::CustomOauth2)
        .oauth2_provider_config_input(Oauth2ProviderConfigInput::CustomOauth2ProviderConfig(
            CustomOauth2ProviderConfigInput::builder()
                .client_id(client_id)
                .oauth_discovery(Oauth2Discovery::DiscoveryUrl(discovery.to_string()))
                .client_secret_source(SecretSourceType::External)
                .client_secret_config(
                    SecretReference::builder()
                        .secret_id(secret)
                        .json_key(key)
                        .build()
                        .expect("secret reference"),
                )
                .build(),
        ))
        .send()
        .await
        .expect("create OAuth2 provider");
}

impl LocalStack {
    /// Lets AgentCore read `secret` ([`agentcore_read_policy`]).
    pub async fn allow_agentcore(&self, secret: &str) {
        self.sm
            .put_resource_policy()
            .secret_id(secret)
            .resource_policy(agentcore_read_policy())
            .send()
            .await
            .expect("PutResourcePolicy");
    }

    /// The OIDC discovery URL of `f`'s Cognito pool on the simulator.
    pub fn discovery_url(&self, f: &CognitoFixture) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            self.cognito.issuer(&f.pool_id)
        )
    }

    /// EXTERNAL OAuth2 provider `name` for `client_id` (normally `f.client_id`), reading `key`
    /// of `f`'s secret, discovering `f`'s pool.
    pub async fn external_oauth2(
        &self,
        name: &str,
        f: &CognitoFixture,
        client_id: &str,
        key: &str,
    ) {
        let discovery = self.discovery_url(f);
        create_external_oauth2(
            &self.agentcore_control(),
            name,
            client_id,
            &discovery,
            &f.secret_arn,
            key,
        )
        .await;
    }

    /// MANAGED OAuth2 provider `name` holding `f`'s initial client secret itself.
    pub async fn managed_oauth2(&self, name: &str, f: &CognitoFixture) {
        self.agentcore_control()
            .create_oauth2_credential_provider()
            .name(name)
            .credential_provider_vendor(Vendor::CognitoOauth2)
            .oauth2_provider_config_input(Oauth2ProviderConfigInput::IncludedOauth2ProviderConfig(
                IncludedOauth2ProviderConfigInput::builder()
                    .client_id(&f.client_id)
                    .client_secret(&f.initial_value)
                    .issuer(self.cognito.issuer(&f.pool_id))
                    .build()
                    .expect("included provider config"),
            ))
            .send()
            .await
            .expect("create MANAGED provider");
    }
}
