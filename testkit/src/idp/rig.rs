//! Rotating at the IdP simulators through the production wiring: a KMS signing key in moto for the
//! rotator's admin client assertion, the deployment's IdP admin configuration, and bound secret
//! documents. The rotator reaches everything by endpoint configuration only.

use std::sync::Arc;

use agentcore_rotator::aws::kms_signer::KmsSigner;
use agentcore_rotator::aws::AwsUpstreams;
use agentcore_rotator::config::{AdminClient, Config, EntraAdmin, IdpAdmin, KeycloakAdmin};
use agentcore_rotator::http::{Origin, OriginPolicy};
use agentcore_rotator::rotation::binding::BINDING_TAG;
use agentcore_rotator::rotation::Rotator;
use agentcore_rotator::secret_doc::SecretDocument;
use agentcore_rotator::secrets::store::SecretStore;
use agentcore_rotator::sensitive::SecretString;
use aws_config::SdkConfig;
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use serde_json::{json, Value};

use super::aws_federation::AwsFederation;
use super::entra::{roles, EntraSim, EXCHANGE_AUDIENCE};
use super::keycloak::KeycloakSim;
use super::okta::OktaSim;
use crate::stack::LocalStack;

/// An asymmetric KMS key in moto (`ECC_NIST_P256` or `RSA_2048`, SIGN_VERIFY) and its public
/// JWK as the rotator publishes it (`agentcore-rotator idp-key jwk`).
pub async fn signing_key(stack: &LocalStack, spec: KeySpec) -> (String, Value) {
    let kms = aws_sdk_kms::Client::new(&stack.moto.sdk_config());
    let key = kms
        .create_key()
        .key_spec(spec)
        .key_usage(KeyUsageType::SignVerify)
        .description("agentcore-rotator IdP admin assertion key")
        .send()
        .await
        .expect("CreateKey");
    let key_id = key.key_metadata().expect("metadata").key_id().to_string();
    let signer = KmsSigner::load(kms, &key_id)
        .await
        .expect("the key signs JWS");
    (key_id, signer.jwk().clone())
}

impl LocalStack {
    /// A rotator whose IdP adapters are configured by `admin` (KMS at moto), with `origins`
    /// (the simulators' token endpoints) allowed.
    pub fn rotator_with_idp(&self, admin: &IdpAdmin, origins: &[&str], config: Config) -> Rotator {
        self.rotator_with_idp_over(self.store(), admin, origins, config)
    }

    /// [`LocalStack::rotator_with_idp`] over another store (e.g. a [`crate::faulty_store::FaultyStore`]).
    pub fn rotator_with_idp_over(
        &self,
        store: Arc<dyn SecretStore>,
        admin: &IdpAdmin,
        origins: &[&str],
        config: Config,
    ) -> Rotator {
        let mut config = config;
        config.idp_admin = admin.clone();
        config.origins = with_origins(config.origins, origins);
        self.rotator_over(store, config)
    }

    /// The IdP adapters as a deployment configured by `admin` builds them (KMS at moto).
    pub fn idp_upstreams(&self, admin: &IdpAdmin, origins: &OriginPolicy) -> AwsUpstreams {
        self.upstreams().with_idp_admin(admin, origins)
    }

    /// [`LocalStack::idp_upstreams`] with AWS reached through `aws` (e.g. the outbound-federation
    /// front of moto, for STS `GetWebIdentityToken`).
    pub fn idp_upstreams_via(
        &self,
        aws: SdkConfig,
        admin: &IdpAdmin,
        origins: &OriginPolicy,
    ) -> AwsUpstreams {
        AwsUpstreams::new(aws)
            .with_cognito_domain_url(self.cognito.domain_url())
            .with_idp_admin(admin, origins)
    }

    /// Creates the secret holding `doc`, bound (as an administrator would) to the coordinates
    /// the document names. Returns its ARN.
    pub async fn bound_secret(&self, doc: &Value) -> String {
        let parsed = SecretDocument::parse(Some(&SecretString::new(doc.to_string())))
            .expect("a valid document");
        let name = format!("agentcore/test/{}", uuid::Uuid::new_v4().simple());
        let out = self
            .sm
            .create_secret()
            .name(name)
            .secret_string(doc.to_string())
            .tags(
                aws_sdk_secretsmanager::types::Tag::builder()
                    .key(BINDING_TAG)
                    .value(parsed.coordinates())
                    .build(),
            )
            .send()
            .await
            .expect("CreateSecret");
        out.arn().expect("arn").to_string()
    }

    /// Every `clientSecret` any version of `secret_arn` holds, plus `extra`, for leak checks.
    pub async fn stored_secret_values(&self, secret_arn: &str, extra: &[&str]) -> Vec<String> {
        let mut out: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        for id in self.stages(secret_arn).await.keys() {
            let Ok(v) = self
                .sm
                .get_secret_value()
                .secret_id(secret_arn)
                .version_id(id)
                .send()
                .await
            else {
                continue;
            };
            let doc: Value =
                serde_json::from_str(v.secret_string().unwrap_or("{}")).unwrap_or_default();
            if let Some(secret) = doc["clientSecret"].as_str() {
                out.push(secret.to_string());
            }
        }
        out
    }
}

/// `policy` with the simulators' `origins` allowed, and loopback http.
pub fn with_origins(mut policy: OriginPolicy, origins: &[&str]) -> OriginPolicy {
    policy.allow_loopback_http = true;
    for o in origins {
        policy
            .allowed
            .push(Origin::parse(o).expect("simulator origin"));
    }
    policy
}

/// The realm the Keycloak rig's clients and admin client live in.
pub const KEYCLOAK_REALM: &str = "agents";
/// The rotator's "Signed JWT" admin client there.
pub const KEYCLOAK_ADMIN_CLIENT: &str = "agentcore-rotator";

/// A Keycloak server with the rotator's admin client registered (its key in moto's KMS).
pub struct KeycloakRig {
    pub sim: KeycloakSim,
    pub key_id: String,
    pub jwk: Value,
    pub admin: IdpAdmin,
}

/// A Keycloak client whose secret is stored in Secrets Manager, ready to rotate.
pub struct KeycloakFixture {
    pub secret_arn: String,
    pub client_id: String,
    pub initial_value: String,
}

impl KeycloakRig {
    /// Admin client with `manage-clients` in [`KEYCLOAK_REALM`], signing with an ES256 key.
    pub async fn start(stack: &LocalStack) -> KeycloakRig {
        Self::start_with(stack, KeySpec::EccNistP256, &["manage-clients"]).await
    }

    pub async fn start_with(stack: &LocalStack, spec: KeySpec, roles: &[&str]) -> KeycloakRig {
        let sim = KeycloakSim::start();
        sim.create_realm(KEYCLOAK_REALM);
        let (key_id, jwk) = signing_key(stack, spec).await;
        sim.register_admin_client(KEYCLOAK_REALM, KEYCLOAK_ADMIN_CLIENT, jwk.clone(), roles);
        let admin = IdpAdmin {
            signing_key_id: Some(key_id.clone()),
            keycloak: Some(KeycloakAdmin {
                client: AdminClient {
                    url: sim.base_url().to_string(),
                    client_id: KEYCLOAK_ADMIN_CLIENT.into(),
                },
                realm: None,
            }),
            ..IdpAdmin::default()
        };
        KeycloakRig {
            sim,
            key_id,
            jwk,
            admin,
        }
    }

    pub fn rotator(&self, stack: &LocalStack, config: Config) -> Rotator {
        self.rotator_over(stack, stack.store(), config)
    }

    pub fn rotator_over(
        &self,
        stack: &LocalStack,
        store: Arc<dyn SecretStore>,
        config: Config,
    ) -> Rotator {
        stack.rotator_with_idp_over(store, &self.admin, &[self.sim.base_url()], config)
    }

    /// A client (under the secret-rotation policy when `policy`, its rotated secret valid for
    /// an hour) and its bound secret document; `patch` is merged into `rotation`.
    pub async fn fixture(&self, stack: &LocalStack, policy: bool, patch: Value) -> KeycloakFixture {
        let client_id = format!("agent-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let (_, value) = self.sim.create_client(KEYCLOAK_REALM, &client_id);
        if policy {
            self.sim.enable_secret_rotation(
                KEYCLOAK_REALM,
                &client_id,
                std::time::Duration::from_secs(3600),
            );
            // Keycloak marks a client under the policy at its first token request.
            self.token_request(&client_id, &value).await;
        }
        let mut rotation = json!({
            "idp": "keycloak",
            "realm": KEYCLOAK_REALM,
            "clientAuthentication": "client_secret_basic",
            "gracePeriodHours": 0
        });
        if let (Some(r), Value::Object(p)) = (rotation.as_object_mut(), patch) {
            r.extend(p);
        }
        let doc = json!({
            "clientId": client_id,
            "clientSecret": value,
            "description": "research agent outbound client",
            "rotation": rotation,
        });
        KeycloakFixture {
            secret_arn: stack.bound_secret(&doc).await,
            client_id,
            initial_value: value,
        }
    }

    /// One `client_credentials` request, as an agent would make; true when a token was issued.
    pub async fn token_request(&self, client_id: &str, secret: &str) -> bool {
        reqwest::Client::new()
            .post(self.sim.token_endpoint(KEYCLOAK_REALM))
            .basic_auth(client_id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false)
    }
}

/// The Okta rig's admin service app.
pub const OKTA_ADMIN_CLIENT: &str = "0oa-agentcore-rotator";

/// An Okta org with the rotator's service app registered (its key in moto's KMS).
pub struct OktaRig {
    pub sim: OktaSim,
    pub admin: IdpAdmin,
}

/// An Okta app whose secret is stored in Secrets Manager, ready to rotate.
pub struct OktaFixture {
    pub secret_arn: String,
    pub app_id: String,
    pub initial_value: String,
}

impl OktaRig {
    /// Service app with `okta.apps.read okta.apps.manage`, signing with an ES256 key.
    pub async fn start(stack: &LocalStack) -> OktaRig {
        Self::start_with(stack, &["okta.apps.read", "okta.apps.manage"]).await
    }

    pub async fn start_with(stack: &LocalStack, scopes: &[&str]) -> OktaRig {
        let sim = OktaSim::start();
        let (key_id, jwk) = signing_key(stack, KeySpec::EccNistP256).await;
        sim.register_admin_client(OKTA_ADMIN_CLIENT, jwk, scopes);
        let admin = IdpAdmin {
            signing_key_id: Some(key_id),
            okta: Some(AdminClient {
                url: sim.org_url().to_string(),
                client_id: OKTA_ADMIN_CLIENT.into(),
            }),
            ..IdpAdmin::default()
        };
        OktaRig { sim, admin }
    }

    pub fn rotator(&self, stack: &LocalStack, config: Config) -> Rotator {
        self.rotator_over(stack, stack.store(), config)
    }

    pub fn rotator_over(
        &self,
        stack: &LocalStack,
        store: Arc<dyn SecretStore>,
        config: Config,
    ) -> Rotator {
        stack.rotator_with_idp_over(store, &self.admin, &[self.sim.org_url()], config)
    }

    /// An app with one ACTIVE secret and its bound document; `patch` is merged into `rotation`.
    pub async fn fixture(&self, stack: &LocalStack, patch: Value) -> OktaFixture {
        let (app_id, value) = self.sim.create_app("research agent");
        let mut rotation = json!({
            "idp": "okta",
            "appId": app_id,
            "authorizationServerId": "default",
            "clientAuthentication": "client_secret_basic",
            "gracePeriodHours": 0
        });
        if let (Some(r), Value::Object(p)) = (rotation.as_object_mut(), patch) {
            r.extend(p);
        }
        let doc = json!({
            "clientId": app_id,
            "clientSecret": value,
            "description": "research agent outbound client",
            "rotation": rotation,
        });
        OktaFixture {
            secret_arn: stack.bound_secret(&doc).await,
            app_id,
            initial_value: value,
        }
    }
}

/// The Entra rig's tenant.
pub const ENTRA_TENANT: &str = "contoso.onmicrosoft.com";
/// The role ARN the federation issuer names as `sub` (the rotation function's role).
pub const ROTATION_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/agentcore-rotator-rotation";

/// An Entra tenant with the rotator's management app, which signs in with a federated identity
/// credential trusting the local AWS outbound-federation issuer (no secret anywhere).
pub struct EntraRig {
    pub sim: EntraSim,
    pub federation: AwsFederation,
    /// The management app's appId.
    pub management_app: String,
    pub admin: IdpAdmin,
}

/// An Entra application whose secret is stored in Secrets Manager, ready to rotate.
pub struct EntraFixture {
    pub secret_arn: String,
    pub app_id: String,
    pub initial_key_id: String,
    pub initial_value: String,
}

impl EntraRig {
    /// Management app with `Application.ReadWrite.OwnedBy`.
    pub fn start(stack: &LocalStack) -> EntraRig {
        let sim = EntraSim::start();
        let federation = AwsFederation::start(&stack.moto.endpoint, ROTATION_ROLE_ARN);
        sim.create_tenant(ENTRA_TENANT);
        let (_, management_app) = sim.create_application(ENTRA_TENANT, "agentcore-rotator");
        sim.grant_app_roles(ENTRA_TENANT, &management_app, &[roles::READ_WRITE_OWNED_BY]);
        sim.add_federated_credential(
            ENTRA_TENANT,
            &management_app,
            federation.issuer(),
            ROTATION_ROLE_ARN,
            EXCHANGE_AUDIENCE,
        );
        let admin = IdpAdmin {
            entra: Some(EntraAdmin {
                client_id: management_app.clone(),
                login_url: sim.login_url().to_string(),
                graph_url: sim.graph_url().to_string(),
            }),
            ..IdpAdmin::default()
        };
        EntraRig {
            sim,
            federation,
            management_app,
            admin,
        }
    }

    /// AWS as the rotator sees it here: STS `GetWebIdentityToken` at the federation front, the
    /// rest forwarded to moto.
    pub fn aws(&self) -> SdkConfig {
        crate::moto::sdk_config_for(self.federation.endpoint(), crate::moto::REGION)
    }

    pub fn rotator(&self, stack: &LocalStack, config: Config) -> Rotator {
        self.rotator_over(stack, stack.store(), config)
    }

    pub fn rotator_over(
        &self,
        stack: &LocalStack,
        store: Arc<dyn SecretStore>,
        config: Config,
    ) -> Rotator {
        let mut config = config;
        config.idp_admin = self.admin.clone();
        config.origins = with_origins(config.origins, &[self.sim.login_url()]);
        let upstreams = stack.idp_upstreams_via(self.aws(), &self.admin, &config.origins);
        Rotator::new(store, Arc::new(upstreams), config)
    }

    /// An application owned by the management app, with one password made in the portal, and
    /// its bound document; `patch` is merged into `rotation`.
    pub async fn fixture(&self, stack: &LocalStack, patch: Value) -> EntraFixture {
        let (_, app_id) = self.sim.create_application(ENTRA_TENANT, "research agent");
        self.sim
            .add_owner(ENTRA_TENANT, &app_id, &self.management_app);
        let (key_id, value) = self
            .sim
            .add_password_out_of_band(ENTRA_TENANT, &app_id, "portal");
        let mut rotation = json!({
            "idp": "entra",
            "tenantId": ENTRA_TENANT,
            "scopes": ["https://graph.microsoft.com/.default"],
            "clientAuthentication": "client_secret_post",
            "gracePeriodHours": 0
        });
        if let (Some(r), Value::Object(p)) = (rotation.as_object_mut(), patch) {
            r.extend(p);
        }
        let doc = json!({
            "clientId": app_id,
            "clientSecret": value,
            "clientSecretId": key_id,
            "description": "research agent outbound client",
            "rotation": rotation,
        });
        EntraFixture {
            secret_arn: stack.bound_secret(&doc).await,
            app_id,
            initial_key_id: key_id,
            initial_value: value,
        }
    }
}
