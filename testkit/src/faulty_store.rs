//! A [`SecretStore`] that forwards to a real one (moto) and fails the calls a rule picks, for
//! regression tests of decisions made on failed reads. Port-level, so a test can name exactly
//! which read fails ("the AWSPREVIOUS read", "the first AWSCURRENT read after the move").

use std::sync::{Arc, Mutex};

use agentcore_rotator::event::RotationToken;
use agentcore_rotator::secrets::store::{
    Payload, SecretStore, StoreError, VersionInfo, VersionRef,
};
use agentcore_rotator::secrets::SecretMeta;
use agentcore_rotator::sensitive::SecretString;
use async_trait::async_trait;

/// One store call, as the rule sees it.
#[derive(Clone, Debug, PartialEq)]
pub enum Call {
    Describe,
    Get(String),
    Put,
    List,
    Update {
        stage: String,
        move_to: Option<String>,
        remove_from: Option<String>,
    },
}

type Rule = Box<dyn FnMut(&Call) -> bool + Send>;

pub struct FaultyStore {
    inner: Arc<dyn SecretStore>,
    rule: Mutex<Rule>,
    calls: Mutex<Vec<(Call, bool)>>,
}

impl FaultyStore {
    /// `fail` is asked before every call; `true` fails it with a throttling error (the call
    /// does not reach the store).
    pub fn new(
        inner: Arc<dyn SecretStore>,
        fail: impl FnMut(&Call) -> bool + Send + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            inner,
            rule: Mutex::new(Box::new(fail)),
            calls: Mutex::new(Vec::new()),
        })
    }

    /// Every call made, and whether it was failed.
    pub fn calls(&self) -> Vec<(Call, bool)> {
        self.calls.lock().unwrap().clone()
    }

    fn check(&self, call: Call, operation: &'static str) -> Result<(), StoreError> {
        let fail = (self.rule.lock().unwrap())(&call);
        self.calls.lock().unwrap().push((call, fail));
        if fail {
            Err(StoreError {
                operation,
                message: "ThrottlingException: Rate exceeded (injected)".into(),
            })
        } else {
            Ok(())
        }
    }
}

fn describe(v: VersionRef<'_>) -> String {
    match v {
        VersionRef::Stage(s) => s.to_string(),
        VersionRef::IdAndStage(id, s) => format!("{id}/{s}"),
        VersionRef::Id(id) => id.to_string(),
    }
}

#[async_trait]
impl SecretStore for FaultyStore {
    async fn describe(&self, secret_id: &str) -> Result<SecretMeta, StoreError> {
        self.check(Call::Describe, "DescribeSecret")?;
        self.inner.describe(secret_id).await
    }

    async fn get_value(
        &self,
        secret_id: &str,
        version: VersionRef<'_>,
    ) -> Result<Option<Payload>, StoreError> {
        self.check(Call::Get(describe(version)), "GetSecretValue")?;
        self.inner.get_value(secret_id, version).await
    }

    async fn put_pending(
        &self,
        secret_id: &str,
        token: &str,
        value: &SecretString,
        rotation_token: Option<&RotationToken>,
    ) -> Result<(), StoreError> {
        self.check(Call::Put, "PutSecretValue")?;
        self.inner
            .put_pending(secret_id, token, value, rotation_token)
            .await
    }

    async fn list_versions(&self, secret_id: &str) -> Result<Vec<VersionInfo>, StoreError> {
        self.check(Call::List, "ListSecretVersionIds")?;
        self.inner.list_versions(secret_id).await
    }

    async fn update_stage(
        &self,
        secret_id: &str,
        stage: &str,
        move_to: Option<&str>,
        remove_from: Option<&str>,
    ) -> Result<(), StoreError> {
        self.check(
            Call::Update {
                stage: stage.to_string(),
                move_to: move_to.map(str::to_string),
                remove_from: remove_from.map(str::to_string),
            },
            "UpdateSecretVersionStage",
        )?;
        self.inner
            .update_stage(secret_id, stage, move_to, remove_from)
            .await
    }
}
