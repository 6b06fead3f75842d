//! AgentCore credential providers and the secret resource policy they need, set up the way the
//! tests and benchmarks do it: through the emulator's control-plane API and moto's.

use aws_sdk_bedrockagentcorecontrol::types::{
    ApiSchemaConfiguration, AuthorizerType, CoinbaseCdpConfigurationInput, CredentialProvider,
    CredentialProviderConfiguration, CredentialProviderType,
    CredentialProviderVendorType as Vendor, CustomOauth2ProviderConfigInput,
    GatewayApiKeyCredentialProvider, GatewayProtocolType, IncludedOauth2ProviderConfigInput,
    McpTargetConfiguration, OAuthCredentialProvider, Oauth2Discovery, Oauth2ProviderConfigInput,
    PaymentCredentialProviderVendorType, PaymentProviderConfigurationInput, SecretReference,
    SecretSourceType, StripePrivyConfigurationInput, TargetConfiguration,
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

fn secret_ref(secret: &str, key: &str) -> SecretReference {
    SecretReference::builder()
        .secret_id(secret)
        .json_key(key)
        .build()
        .expect("secret reference")
}

impl LocalStack {
    /// EXTERNAL CoinbaseCDP payment provider `name`: its API key secret read from
    /// `(secret, jsonKey)` `api_key`, its wallet secret from `wallet` (none when `None`).
    pub async fn coinbase_payment(
        &self,
        name: &str,
        api_key: (&str, &str),
        wallet: Option<(&str, &str)>,
    ) {
        let mut config = CoinbaseCdpConfigurationInput::builder()
            .api_key_id(format!("organizations/demo/apiKeys/{name}"))
            .api_key_secret("")
            .api_key_secret_source(SecretSourceType::External)
            .api_key_secret_config(secret_ref(api_key.0, api_key.1))
            .wallet_secret("");
        if let Some((secret, key)) = wallet {
            config = config
                .wallet_secret_source(SecretSourceType::External)
                .wallet_secret_config(secret_ref(secret, key));
        }
        self.agentcore_control()
            .create_payment_credential_provider()
            .name(name)
            .credential_provider_vendor(PaymentCredentialProviderVendorType::CoinbaseCdp)
            .provider_configuration_input(
                PaymentProviderConfigurationInput::CoinbaseCdpConfiguration(
                    config.build().expect("Coinbase CDP configuration"),
                ),
            )
            .send()
            .await
            .expect("create CoinbaseCDP payment provider");
    }

    /// EXTERNAL StripePrivy payment provider `name` reading its app secret and its
    /// authorization private key from `(secret, jsonKey)` pairs.
    pub async fn stripe_payment(&self, name: &str, app: (&str, &str), authorization: (&str, &str)) {
        let config = StripePrivyConfigurationInput::builder()
            .app_id(format!("app-{name}"))
            .authorization_id(format!("auth-{name}"))
            .app_secret("")
            .app_secret_source(SecretSourceType::External)
            .app_secret_config(secret_ref(app.0, app.1))
            .authorization_private_key("")
            .authorization_private_key_source(SecretSourceType::External)
            .authorization_private_key_config(secret_ref(authorization.0, authorization.1))
            .build()
            .expect("StripePrivy configuration");
        self.agentcore_control()
            .create_payment_credential_provider()
            .name(name)
            .credential_provider_vendor(PaymentCredentialProviderVendorType::StripePrivy)
            .provider_configuration_input(
                PaymentProviderConfigurationInput::StripePrivyConfiguration(config),
            )
            .send()
            .await
            .expect("create StripePrivy payment provider");
    }
}

/// The ARN the emulator gives payment provider `name` (service `acps`, as the model's pattern).
pub fn payment_provider_arn(name: &str) -> String {
    format!(
        "arn:aws:acps:{REGION}:{ACCOUNT_ID}:token-vault/default/paymentcredentialprovider/{name}"
    )
}

impl LocalStack {
    /// An MCP gateway `name` with IAM inbound authorization; returns its id.
    pub async fn gateway(&self, name: &str) -> String {
        create_gateway(&self.agentcore_control(), name).await
    }

    /// Target `name` of gateway `gateway_id`, authenticating with `provider_arn`
    /// ([`create_gateway_target`]).
    pub async fn gateway_target(&self, gateway_id: &str, name: &str, provider_arn: &str) {
        create_gateway_target(&self.agentcore_control(), gateway_id, name, provider_arn).await;
    }
}

/// An MCP gateway `name` with IAM inbound authorization, created with `control` (whose
/// credentials choose the account); returns its id.
pub async fn create_gateway(control: &Control, name: &str) -> String {
    control
        .create_gateway()
        .name(name)
        .role_arn(format!("arn:aws:iam::{ACCOUNT_ID}:role/gateway-{name}"))
        .protocol_type(GatewayProtocolType::Mcp)
        .authorizer_type(AuthorizerType::AwsIam)
        .send()
        .await
        .expect("CreateGateway")
        .gateway_id()
        .to_string()
}

/// Target `name` of gateway `gateway_id` (an inline OpenAPI schema) authenticating with the
/// provider `provider_arn`: OAUTH for an OAuth2 provider, API_KEY for an API-key one.
pub async fn create_gateway_target(
    control: &Control,
    gateway_id: &str,
    name: &str,
    provider_arn: &str,
) {
    let credential = if provider_arn.contains("/oauth2credentialprovider/") {
        CredentialProviderConfiguration::builder()
            .credential_provider_type(CredentialProviderType::Oauth)
            .credential_provider(CredentialProvider::OauthCredentialProvider(
                OAuthCredentialProvider::builder()
                    .provider_arn(provider_arn)
                    .scopes("invoices.read")
                    .build()
                    .expect("OAuth credential provider"),
            ))
    } else {
        CredentialProviderConfiguration::builder()
            .credential_provider_type(CredentialProviderType::ApiKey)
            .credential_provider(CredentialProvider::ApiKeyCredentialProvider(
                GatewayApiKeyCredentialProvider::builder()
                    .provider_arn(provider_arn)
                    .build()
                    .expect("API key credential provider"),
            ))
    };
    control
        .create_gateway_target()
        .gateway_identifier(gateway_id)
        .name(name)
        .target_configuration(TargetConfiguration::Mcp(
            McpTargetConfiguration::OpenApiSchema(ApiSchemaConfiguration::InlinePayload(
                r#"{"openapi":"3.0.0","info":{"title":"t","version":"1"},"paths":{}}"#.into(),
            )),
        ))
        .credential_provider_configurations(credential.build().expect("credential configuration"))
        .send()
        .await
        .expect("CreateGatewayTarget");
}

/// The ARN the emulator gives API-key provider `name`.
pub fn api_key_provider_arn(name: &str) -> String {
    format!("arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT_ID}:token-vault/default/apikeycredentialprovider/{name}")
}

impl LocalStack {
    /// SDK configuration for AgentCore as account `account`: credentials from moto's
    /// AssumeRole into a role there, so the emulator (like AWS) serves that account's data.
    pub async fn account_sdk(&self, account: &str) -> aws_config::SdkConfig {
        let sts = aws_sdk_sts::Client::new(&self.moto.sdk_config());
        let creds = sts
            .assume_role()
            .role_arn(format!("arn:aws:iam::{account}:role/testkit-admin"))
            .role_session_name("testkit")
            .send()
            .await
            .expect("AssumeRole")
            .credentials
            .expect("credentials");
        self.agentcore
            .sdk_config()
            .to_builder()
            .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(
                aws_sdk_sts::config::Credentials::new(
                    creds.access_key_id(),
                    creds.secret_access_key(),
                    Some(creds.session_token().to_string()),
                    None,
                    "testkit-assumed",
                ),
            ))
            .build()
    }
}

/// Creates EXTERNAL API-key provider `name` reading `key` of `secret`, with `control` (whose
/// credentials choose the account).
pub async fn create_external_api_key(control: &Control, name: &str, secret: &str, key: &str) {
    control
        .create_api_key_credential_provider()
        .name(name)
        .api_key_secret_source(SecretSourceType::External)
        .api_key_secret_config(secret_ref(secret, key))
        .send()
        .await
        .expect("create API-key provider");
}

impl LocalStack {
    /// EXTERNAL API-key provider `name` in the stack's account, reading `key` of `secret`.
    pub async fn external_api_key(&self, name: &str, secret: &str, key: &str) {
        create_external_api_key(&self.agentcore_control(), name, secret, key).await;
    }
}

impl LocalStack {
    /// A customer managed key in moto with key policy `policy`; returns its ARN.
    pub async fn kms_key(&self, policy: &serde_json::Value) -> String {
        aws_sdk_kms::Client::new(&self.moto.sdk_config())
            .create_key()
            .policy(policy.to_string())
            .send()
            .await
            .expect("CreateKey")
            .key_metadata()
            .and_then(|m| m.arn())
            .expect("key ARN")
            .to_string()
    }

    /// A customer managed key only the account root may use: AgentCore cannot decrypt with it.
    pub async fn root_only_key(&self) -> String {
        self.kms_key(&json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT_ID}:root")},
            "Action": "kms:*", "Resource": "*"
        }]}))
        .await
    }
}
