//! The whole local stack for rotation: moto (Secrets Manager), the Cognito simulator, the
//! AgentCore Identity emulator, and a rotator wired to them by endpoint configuration only.

use std::sync::Arc;

use agentcore_rotator::agentcore::AgentCoreSettings;
use agentcore_rotator::audit::engine::Publish;
use agentcore_rotator::audit::{AuditConfig, Auditor};
use agentcore_rotator::aws::agentcore::AgentCoreDirectory;
use agentcore_rotator::aws::call_counter::CallCounter;
use agentcore_rotator::aws::secrets_manager::SecretsManagerStore;
use agentcore_rotator::aws::secrets_reader::SecretsReader;
use agentcore_rotator::aws::AwsUpstreams;
use agentcore_rotator::config::Config;
use agentcore_rotator::findings::Emitters;
use agentcore_rotator::http::{Origin, OriginPolicy};
use agentcore_rotator::rotation::binding::BINDING_TAG;
use agentcore_rotator::rotation::Rotator;
use agentcore_rotator::secrets::store::SecretStore;
use aws_config::SdkConfig;
use serde_json::{json, Value};

use crate::agentcore::AgentCoreEmulator;
use crate::cognito::CognitoSim;
use crate::conductor::Conductor;
use crate::moto::{sdk_config_for, Moto, ACCOUNT_ID, REGION};

pub struct LocalStack {
    pub moto: &'static Moto,
    pub cognito: CognitoSim,
    pub sm: aws_sdk_secretsmanager::Client,
    /// AgentCore Identity in [`REGION`], reading secrets from moto.
    pub agentcore: AgentCoreEmulator,
}

/// A Cognito app client whose secret is stored in Secrets Manager, ready to rotate.
#[derive(Clone, Debug)]
pub struct CognitoFixture {
    pub secret_arn: String,
    pub pool_id: String,
    pub client_id: String,
    pub initial_secret_id: String,
    pub initial_value: String,
}

impl LocalStack {
    pub fn start() -> LocalStack {
        let moto = Moto::shared();
        LocalStack {
            moto,
            cognito: CognitoSim::start(),
            sm: aws_sdk_secretsmanager::Client::new(&moto.sdk_config()),
            agentcore: AgentCoreEmulator::start(&moto.endpoint, REGION, ACCOUNT_ID),
        }
    }

    /// The AgentCore control-plane client, pointed at the emulator.
    pub fn agentcore_control(&self) -> aws_sdk_bedrockagentcorecontrol::Client {
        aws_sdk_bedrockagentcorecontrol::Client::new(&self.agentcore.sdk_config())
    }

    /// A rotator with AgentCore hooks: providers and the data plane at the emulator, secrets
    /// (and their policies and keys) in moto's `secrets_region`.
    pub fn rotator_with_agentcore(
        &self,
        config: Config,
        secrets_region: &str,
        settings: &AgentCoreSettings,
        emitters: Emitters,
    ) -> Rotator {
        let secrets_sdk = sdk_config_for(&self.moto.endpoint, secrets_region);
        let store = Arc::new(SecretsManagerStore::new(&secrets_sdk));
        self.rotator_with_agentcore_over(store, config, secrets_region, settings, emitters)
    }

    /// [`LocalStack::rotator_with_agentcore`] over another store.
    pub fn rotator_with_agentcore_over(
        &self,
        store: Arc<dyn SecretStore>,
        config: Config,
        secrets_region: &str,
        settings: &AgentCoreSettings,
        emitters: Emitters,
    ) -> Rotator {
        let secrets_sdk = sdk_config_for(&self.moto.endpoint, secrets_region);
        self.rotator_over(store, config)
            .with_agentcore(agentcore_rotator::aws::hooks(
                &self.agentcore.sdk_config(),
                &secrets_sdk,
                settings,
                emitters,
            ))
    }

    /// The environment a process (a Lambda under `cargo lambda watch`, the CLI) needs to reach
    /// this stack through the standard SDK configuration only: credentials, Region and one
    /// `AWS_ENDPOINT_URL_*` per service the product calls.
    pub fn aws_env(&self) -> Vec<(&'static str, String)> {
        let moto = self.moto.endpoint.clone();
        vec![
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", REGION.into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("ROTATOR_ALLOW_LOOPBACK_HTTP", "true".into()),
            (
                "ROTATOR_ALLOWED_TOKEN_ORIGINS",
                self.cognito.endpoint().into(),
            ),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto.clone()),
            ("AWS_ENDPOINT_URL_KMS", moto.clone()),
            ("AWS_ENDPOINT_URL_LAMBDA", moto.clone()),
            ("AWS_ENDPOINT_URL_EVENTBRIDGE", moto.clone()),
            ("AWS_ENDPOINT_URL_SECURITYHUB", moto),
            (
                "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER",
                self.cognito.endpoint().into(),
            ),
            (
                "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL",
                self.agentcore.endpoint().into(),
            ),
            (
                "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE",
                self.agentcore.endpoint().into(),
            ),
            ("ROTATOR_COGNITO_DOMAIN_URL", self.cognito.domain_url()),
        ]
    }

    pub fn cognito_sdk_config(&self) -> SdkConfig {
        sdk_config_for(self.cognito.endpoint(), REGION)
    }

    /// The IdP adapters, reaching the simulators through endpoint configuration only: the SDK
    /// configuration a function gets from [`LocalStack::aws_env`] (Cognito at its simulator,
    /// KMS and the rest at moto), and the URL prefix domains are served at.
    pub fn upstreams(&self) -> AwsUpstreams {
        let env = self
            .aws_env()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        AwsUpstreams::new(crate::wiring::sdk_config(&env))
            .with_cognito_domain_url(self.cognito.domain_url())
    }

    /// A rotator that reaches moto and the simulator through endpoint configuration only.
    pub fn rotator(&self, config: Config) -> Rotator {
        self.rotator_over(self.store(), config)
    }

    /// The Secrets Manager adapter over moto.
    pub fn store(&self) -> Arc<dyn SecretStore> {
        Arc::new(SecretsManagerStore::new(&self.moto.sdk_config()))
    }

    /// A rotator over another store (e.g. [`crate::faulty_store::FaultyStore`]).
    /// The simulator's origin is added to `config`'s allowed token origins.
    pub fn rotator_over(&self, store: Arc<dyn SecretStore>, config: Config) -> Rotator {
        let config = self.allow_simulator(config);
        // As the production wiring does: the IdP settings of `config` configure the adapters.
        let upstreams = self
            .upstreams()
            .with_idp_admin(&config.idp_admin, &config.origins);
        Rotator::new(store, Arc::new(upstreams), config)
    }

    /// Where this stack's token endpoints are: loopback http, the Cognito simulator's origin.
    pub fn origin_policy(&self) -> OriginPolicy {
        OriginPolicy {
            allowed: vec![Origin::parse(self.cognito.endpoint()).expect("simulator origin")],
            allow_loopback_http: true,
        }
    }

    fn allow_simulator(&self, mut config: Config) -> Config {
        config.origins.allowed.extend(self.origin_policy().allowed);
        config
    }

    /// Config for tests: short probe budget and back-off; loopback http allowed (the stack's
    /// origins are added by [`LocalStack::rotator`]).
    pub fn fast_config() -> Config {
        Config {
            probe_budget: std::time::Duration::from_secs(3),
            probe_initial_backoff: std::time::Duration::from_millis(50),
            origins: OriginPolicy {
                allowed: Vec::new(),
                allow_loopback_http: true,
            },
            ..Config::default()
        }
    }

    pub fn conductor(&self, rotator: Rotator) -> Conductor {
        Conductor::new(
            self.sm.clone(),
            self.moto.rotation_lambda_arn.clone(),
            Arc::new(rotator),
        )
    }

    /// The drift audit over this stack's AgentCore emulator and moto (Secrets Manager, KMS,
    /// Lambda), its calls counted by `counter` when given. Upstreams, history, continuation and
    /// the meter are the caller's to add with the `with_*` builders.
    pub fn auditor(
        &self,
        publish: Arc<dyn Publish>,
        config: AuditConfig,
        counter: Option<&CallCounter>,
    ) -> Auditor {
        Auditor::new(
            Arc::new(AgentCoreDirectory::counted(
                &self.agentcore.sdk_config(),
                &AgentCoreSettings::default(),
                counter,
            )),
            Arc::new(SecretsReader::new(&self.moto.sdk_config(), counter)),
            publish,
            REGION,
            config,
        )
    }

    /// Creates a pool, a client with one secret, and the secret document in Secrets Manager,
    /// bound to that client by the binding tag (as an administrator would). `patch` is merged
    /// into the document's top level (`rotation` is merged key by key).
    pub async fn cognito_fixture(&self, patch: Value) -> CognitoFixture {
        let name = format!("agentcore/test/{}", uuid::Uuid::new_v4().simple());
        self.cognito_fixture_with(&self.sm, &name, patch).await
    }

    /// [`LocalStack::cognito_fixture`] with the secret created through `sm` (e.g. another
    /// Region) under `name`.
    pub async fn cognito_fixture_with(
        &self,
        sm: &aws_sdk_secretsmanager::Client,
        name: &str,
        patch: Value,
    ) -> CognitoFixture {
        let pool_id = self.cognito.create_user_pool(REGION);
        let (client_id, secret_id, value) =
            self.cognito.create_client(&pool_id, &["agents/invoke"]);
        let mut doc = json!({
            "clientId": client_id,
            "clientSecret": value,
            "clientSecretId": secret_id,
            "description": "payments agent outbound client",
            "rotation": {
                "idp": "cognito",
                "userPoolId": pool_id,
                "scopes": ["agents/invoke"],
                "clientAuthentication": "client_secret_basic",
                "gracePeriodHours": 0
            }
        });
        merge(&mut doc, patch);
        let binding = format!("cognito:{pool_id}/{client_id}");
        let out = sm
            .create_secret()
            .name(name)
            .secret_string(doc.to_string())
            .tags(
                aws_sdk_secretsmanager::types::Tag::builder()
                    .key(BINDING_TAG)
                    .value(binding)
                    .build(),
            )
            .send()
            .await
            .expect("CreateSecret");
        CognitoFixture {
            secret_arn: out.arn().expect("arn").to_string(),
            pool_id,
            client_id,
            initial_secret_id: secret_id,
            initial_value: value,
        }
    }

    /// Version id → stages, sorted.
    pub async fn stages(&self, secret_id: &str) -> std::collections::BTreeMap<String, Vec<String>> {
        let d = self
            .sm
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .await
            .expect("DescribeSecret");
        d.version_ids_to_stages()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        (k.clone(), {
                            let mut v = v.clone();
                            v.sort();
                            v
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Writes `doc` as a new AWSCURRENT version, as a person (or an attacker allowed to write
    /// versions) would with `put-secret-value`.
    pub async fn put_current(&self, secret_id: &str, doc: &Value) {
        self.sm
            .put_secret_value()
            .secret_id(secret_id)
            .secret_string(doc.to_string())
            .version_stages("AWSCURRENT")
            .send()
            .await
            .expect("PutSecretValue");
    }

    /// The document stored under a stage, parsed.
    pub async fn doc(&self, secret_id: &str, stage: &str) -> Value {
        let out = self
            .sm
            .get_secret_value()
            .secret_id(secret_id)
            .version_stage(stage)
            .send()
            .await
            .expect("GetSecretValue");
        serde_json::from_str(out.secret_string().expect("string secret")).expect("JSON document")
    }

    /// Every client-secret value any version of the fixture's secret holds (the initial one
    /// included), for leak checks.
    pub async fn client_secret_values(&self, f: &CognitoFixture) -> Vec<String> {
        let mut out = vec![f.initial_value.clone()];
        for id in self.stages(&f.secret_arn).await.keys() {
            let Ok(v) = self
                .sm
                .get_secret_value()
                .secret_id(&f.secret_arn)
                .version_id(id)
                .send()
                .await
            else {
                continue; // a placeholder version without a value
            };
            let doc: Value =
                serde_json::from_str(v.secret_string().unwrap_or("{}")).unwrap_or_default();
            if let Some(secret) = doc["clientSecret"].as_str() {
                out.push(secret.to_string());
            }
        }
        out
    }

    /// Every client-secret value the versions of `fixtures` hold, plus `extra` (other secret
    /// values a test put somewhere), for leak checks.
    pub async fn secret_values(&self, fixtures: &[&CognitoFixture], extra: &[&str]) -> Vec<String> {
        let mut out: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        for f in fixtures {
            out.extend(self.client_secret_values(f).await);
        }
        out
    }

    /// Attaches the rotation function and a 30-day schedule without rotating now
    /// (`--no-rotate-immediately`). moto leaves an AWSPENDING copy behind in that case, which
    /// Secrets Manager does not; it is dropped so the first rotation is not refused.
    pub async fn schedule_rotation(&self, secret_id: &str) {
        self.sm
            .rotate_secret()
            .secret_id(secret_id)
            .rotation_lambda_arn(&self.moto.rotation_lambda_arn)
            .rotation_rules(
                aws_sdk_secretsmanager::types::RotationRulesType::builder()
                    .automatically_after_days(30)
                    .build(),
            )
            .rotate_immediately(false)
            .send()
            .await
            .expect("RotateSecret (schedule only)");
        if let Some(stray) = self.version_with(secret_id, "AWSPENDING").await {
            self.sm
                .update_secret_version_stage()
                .secret_id(secret_id)
                .version_stage("AWSPENDING")
                .remove_from_version_id(stray)
                .send()
                .await
                .expect("UpdateSecretVersionStage");
        }
    }

    pub async fn version_with(&self, secret_id: &str, stage: &str) -> Option<String> {
        self.stages(secret_id)
            .await
            .into_iter()
            .find(|(_, s)| s.iter().any(|x| x == stage))
            .map(|(v, _)| v)
    }
}

fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    b.remove(&k);
                } else if k == "rotation" {
                    merge(b.entry(k).or_insert(Value::Null), v);
                } else {
                    b.insert(k, v);
                }
            }
        }
        (b, p) => *b = p,
    }
}
