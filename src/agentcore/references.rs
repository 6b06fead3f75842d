//! Which providers reference a given secret, and how.

use super::discovery::{ProviderRef, SecretSource};
use crate::secrets::SecretIdentity;

/// How a provider depends on the secret being rotated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via<'a> {
    /// EXTERNAL: AgentCore reads the secret by `secret_arn` and takes `json_key`.
    Reference {
        secret_arn: &'a str,
        json_key: &'a str,
    },
    /// MANAGED provider for the same OAuth client: it holds its own copy of the secret, so it
    /// is not resolved through ours, but rotation affects it.
    ManagedSameClient,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Referencing<'a> {
    pub provider: &'a ProviderRef,
    pub via: Via<'a>,
}

/// The providers that reference `secret` (EXTERNAL, matched by [`SecretIdentity::matches`], so a
/// name, a partial ARN or an ARN with another suffix all count), plus MANAGED OAuth2 providers
/// whose client id is `client_id`. In input order.
pub fn referencing<'a>(
    providers: &'a [ProviderRef],
    secret: &SecretIdentity,
    client_id: Option<&str>,
) -> Vec<Referencing<'a>> {
    providers
        .iter()
        .filter_map(|p| {
            let via = match (p.source, p.secret_arn.as_deref(), p.json_key.as_deref()) {
                (SecretSource::External, Some(arn), Some(key))
                    if SecretIdentity::parse(arn).matches(secret) =>
                {
                    Via::Reference {
                        secret_arn: arn,
                        json_key: key,
                    }
                }
                (SecretSource::Managed, _, _)
                    if client_id.is_some() && p.client_id.as_deref() == client_id =>
                {
                    Via::ManagedSameClient
                }
                _ => return None,
            };
            Some(Referencing { provider: p, via })
        })
        .collect()
}

/// The account in an ARN (`arn:partition:service:region:account:…`), if it has one.
pub fn arn_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    (parts.next() == Some("arn"))
        .then(|| parts.nth(3))
        .flatten()
        .filter(|a| !a.is_empty())
}

/// The Region in an ARN (`arn:partition:service:region:…`), if it has one.
pub fn arn_region(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(5, ':');
    (parts.next() == Some("arn"))
        .then(|| parts.nth(2))
        .flatten()
        .filter(|r| !r.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agentcore::ProviderKind;

    const OURS: &str = "arn:aws:secretsmanager:us-east-1:111122223333:secret:agents/okta-AbC123";

    fn provider(
        name: &str,
        source: SecretSource,
        arn: Option<&str>,
        client: Option<&str>,
    ) -> ProviderRef {
        ProviderRef {
            kind: ProviderKind::Oauth2,
            name: name.into(),
            arn: format!("arn:aws:bedrock-agentcore:us-east-1:111122223333:token-vault/default/oauth2credentialprovider/{name}"),
            vendor: Some("CustomOauth2".into()),
            slot: None,
            source,
            secret_arn: arn.map(str::to_string),
            json_key: arn.map(|_| "clientSecret".to_string()),
            status: Some("READY".into()),
            failure_reason: None,
            client_id: client.map(str::to_string),
        }
    }

    #[test]
    fn name_partial_and_full_arns_of_the_secret_all_reference_it() {
        let providers = vec![
            provider("full", SecretSource::External, Some(OURS), None),
            provider(
                "partial",
                SecretSource::External,
                Some("arn:aws:secretsmanager:us-east-1:111122223333:secret:agents/okta"),
                None,
            ),
            provider(
                "recreated",
                SecretSource::External,
                Some("arn:aws:secretsmanager:us-east-1:111122223333:secret:agents/okta-Zz9Yy8"),
                None,
            ),
            provider(
                "other-account",
                SecretSource::External,
                Some("arn:aws:secretsmanager:us-east-1:444455556666:secret:agents/okta-AbC123"),
                None,
            ),
            provider(
                "other-secret",
                SecretSource::External,
                Some("arn:aws:secretsmanager:us-east-1:111122223333:secret:agents/entra-AbC123"),
                None,
            ),
        ];
        let found = referencing(&providers, &SecretIdentity::parse(OURS), None);
        let names: Vec<&str> = found.iter().map(|r| r.provider.name.as_str()).collect();
        assert_eq!(names, ["full", "partial", "recreated"]);
        assert_eq!(
            found[0].via,
            Via::Reference {
                secret_arn: OURS,
                json_key: "clientSecret"
            }
        );
    }

    #[test]
    fn a_managed_provider_counts_only_for_the_same_client_id() {
        let managed_arn = "arn:aws:secretsmanager:us-east-1:111122223333:secret:bedrock-agentcore-identity!default/oauth2/m-AbC123";
        let providers = vec![
            provider(
                "same",
                SecretSource::Managed,
                Some(managed_arn),
                Some("client-1"),
            ),
            provider(
                "other",
                SecretSource::Managed,
                Some(managed_arn),
                Some("client-2"),
            ),
        ];
        let found = referencing(&providers, &SecretIdentity::parse(OURS), Some("client-1"));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].provider.name, "same");
        assert_eq!(found[0].via, Via::ManagedSameClient);
        assert!(referencing(&providers, &SecretIdentity::parse(OURS), None).is_empty());
    }

    #[test]
    fn arn_region_reads_the_fourth_field() {
        assert_eq!(arn_region(OURS), Some("us-east-1"));
        assert_eq!(arn_region("arn:aws:iam::1:role/x"), None);
        assert_eq!(arn_region("plain-name"), None);
        assert_eq!(arn_account(OURS), Some("111122223333"));
        assert_eq!(arn_account("arn:aws:iam::1:role/x"), Some("1"));
        assert_eq!(arn_account("arn:aws:s3:::bucket"), None);
        assert_eq!(arn_account("plain-name"), None);
    }
}
