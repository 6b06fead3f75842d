//! Providers in consumer accounts: AgentCore Identity lets a provider reference a secret in
//! another account of the same Region, so the rotation must see those providers too. The
//! local directory and one directory per consumer account (reached through an assumed role)
//! are read together; an account that cannot be read fails the read, naming the account,
//! unless the deployment chose to only warn.

use std::sync::Arc;

use async_trait::async_trait;

use super::discovery::{AgentCoreError, ProviderDirectory, ProviderRef};

/// What to do when a consumer account cannot be read (`ROTATOR_CONSUMER_UNREACHABLE`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Unreachable {
    /// Fail the step: a rotation must not pass a check it could not make.
    #[default]
    Fail,
    /// Log a warning naming the account and go on without its providers.
    Warn,
}

impl Unreachable {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "fail" => Some(Unreachable::Fail),
            "warn" => Some(Unreachable::Warn),
            _ => None,
        }
    }
}

/// One consumer account: its id, the role assumed in it, and the directory read through it.
#[derive(Clone)]
pub struct Consumer {
    pub account: String,
    pub role_arn: String,
    pub directory: Arc<dyn ProviderDirectory>,
}

/// The local directory plus every consumer account's.
pub struct AccountsDirectory {
    local: Arc<dyn ProviderDirectory>,
    consumers: Vec<Consumer>,
    unreachable: Unreachable,
}

impl AccountsDirectory {
    pub fn new(
        local: Arc<dyn ProviderDirectory>,
        consumers: Vec<Consumer>,
        unreachable: Unreachable,
    ) -> Self {
        Self {
            local,
            consumers,
            unreachable,
        }
    }
}

#[async_trait]
impl ProviderDirectory for AccountsDirectory {
    async fn providers(&self) -> Result<Vec<ProviderRef>, AgentCoreError> {
        let mut reads = tokio::task::JoinSet::new();
        for (i, c) in self.consumers.iter().enumerate() {
            let directory = c.directory.clone();
            reads.spawn(async move { (i, directory.providers().await) });
        }
        let mut remote = Vec::with_capacity(self.consumers.len());
        let local = self.local.providers().await;
        while let Some(joined) = reads.join_next().await {
            let (i, result) = joined.map_err(|e| AgentCoreError {
                operation: "consumer account",
                message: format!("task failed: {e}"),
            })?;
            remote.push((&self.consumers[i], result));
        }
        remote.sort_by(|a, b| a.0.account.cmp(&b.0.account));
        let mut all = local?;
        for (c, result) in remote {
            match result {
                Ok(providers) => all.extend(providers),
                Err(e) => {
                    let message = format!(
                        "consumer account {} (role {}) could not be read: {e}; grant the role or remove the account from ROTATOR_CONSUMER_ROLE_ARNS (ROTATOR_CONSUMER_UNREACHABLE=warn only warns)",
                        c.account, c.role_arn
                    );
                    match self.unreachable {
                        Unreachable::Fail => {
                            return Err(AgentCoreError {
                                operation: "consumer account",
                                message,
                            })
                        }
                        Unreachable::Warn => {
                            tracing::warn!(account = %c.account, role = %c.role_arn, error = %e, "consumer account not read; its providers are not checked")
                        }
                    }
                }
            }
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agentcore::{ProviderKind, SecretSource};

    struct Fixed(Result<Vec<ProviderRef>, String>);

    #[async_trait]
    impl ProviderDirectory for Fixed {
        async fn providers(&self) -> Result<Vec<ProviderRef>, AgentCoreError> {
            self.0.clone().map_err(|m| AgentCoreError {
                operation: "ListOauth2CredentialProviders",
                message: m,
            })
        }
    }

    fn provider(account: &str, name: &str) -> ProviderRef {
        ProviderRef {
            kind: ProviderKind::ApiKey,
            name: name.into(),
            arn: format!("arn:aws:bedrock-agentcore:us-east-1:{account}:token-vault/default/apikeycredentialprovider/{name}"),
            vendor: None,
            slot: None,
            source: SecretSource::External,
            secret_arn: None,
            json_key: None,
            status: None,
            failure_reason: None,
            client_id: None,
        }
    }

    fn consumer(account: &str, result: Result<Vec<ProviderRef>, String>) -> Consumer {
        Consumer {
            account: account.into(),
            role_arn: format!("arn:aws:iam::{account}:role/agentcore-rotator-reader"),
            directory: Arc::new(Fixed(result)),
        }
    }

    #[tokio::test]
    async fn providers_of_every_account_are_read_and_an_unreachable_one_fails_naming_it() {
        let local: Arc<dyn ProviderDirectory> =
            Arc::new(Fixed(Ok(vec![provider("111111111111", "here")])));
        let b = consumer("222222222222", Ok(vec![provider("222222222222", "there")]));
        let c = consumer("333333333333", Err("AccessDenied".into()));
        let all = AccountsDirectory::new(local.clone(), vec![b.clone()], Unreachable::Fail)
            .providers()
            .await
            .unwrap();
        let names: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["here", "there"]);

        let err =
            AccountsDirectory::new(local.clone(), vec![b.clone(), c.clone()], Unreachable::Fail)
                .providers()
                .await
                .unwrap_err();
        assert!(err.message.contains("333333333333"), "{err}");
        assert!(err.message.contains("AccessDenied"), "{err}");

        let warned = AccountsDirectory::new(local, vec![b, c], Unreachable::Warn)
            .providers()
            .await
            .unwrap();
        assert_eq!(warned.len(), 2);
    }
}
