//! Secret identities: a name, a full ARN, a partial ARN (no 6-character suffix) or another
//! account's ARN all name the same secret for matching purposes.

/// A normalised secret identity: account and Region (when known) and the secret's name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SecretIdentity {
    pub partition: Option<String>,
    pub region: Option<String>,
    pub account: Option<String>,
    pub name: String,
}

impl SecretIdentity {
    /// Parses a secret id as Secrets Manager accepts it. A full ARN ends with `-` and six
    /// random characters that are not part of the name; a partial ARN omits them.
    pub fn parse(id: &str) -> SecretIdentity {
        let parts: Vec<&str> = id.splitn(7, ':').collect();
        if parts.len() == 7
            && parts[0] == "arn"
            && parts[2] == "secretsmanager"
            && parts[5] == "secret"
        {
            let resource = parts[6];
            return SecretIdentity {
                partition: Some(parts[1].to_string()),
                region: Some(parts[3].to_string()).filter(|s| !s.is_empty()),
                account: Some(parts[4].to_string()).filter(|s| !s.is_empty()),
                name: strip_suffix(resource).to_string(),
            };
        }
        SecretIdentity {
            partition: None,
            region: None,
            account: None,
            name: id.to_string(),
        }
    }

    /// Do the two ids name the same secret? Fields unknown on either side do not disagree.
    pub fn matches(&self, other: &SecretIdentity) -> bool {
        let agree = |a: &Option<String>, b: &Option<String>| match (a, b) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        self.name == other.name
            && agree(&self.region, &other.region)
            && agree(&self.account, &other.account)
            && agree(&self.partition, &other.partition)
    }
}

/// Whether `id` is a full secret ARN (with the six-character suffix), which names exactly one
/// secret: a secret deleted and recreated under the same name has another.
pub fn is_full_arn(id: &str) -> bool {
    let parts: Vec<&str> = id.splitn(7, ':').collect();
    parts.len() == 7
        && parts[0] == "arn"
        && parts[2] == "secretsmanager"
        && parts[5] == "secret"
        && strip_suffix(parts[6]) != parts[6]
}

/// Drops the `-XXXXXX` suffix Secrets Manager appends to full ARNs. A name may itself end in
/// `-` + six characters; a full ARN from Secrets Manager always has the suffix, a partial one
/// never, and we cannot tell them apart from the string alone, so only ARNs whose suffix looks
/// random (mixed case or digits) are stripped.
fn strip_suffix(resource: &str) -> &str {
    match resource.rsplit_once('-') {
        Some((name, suffix))
            if suffix.len() == 6
                && suffix.chars().all(|c| c.is_ascii_alphanumeric())
                && !name.is_empty() =>
        {
            name
        }
        _ => resource,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_partial_and_name_forms_match() {
        let full = SecretIdentity::parse(
            "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/okta-AbC123",
        );
        let partial =
            SecretIdentity::parse("arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/okta");
        let name = SecretIdentity::parse("prod/okta");
        assert_eq!(full.name, "prod/okta");
        assert!(full.matches(&partial));
        assert!(full.matches(&name));
        assert!(name.matches(&partial));
    }

    #[test]
    fn other_account_or_region_does_not_match() {
        let a =
            SecretIdentity::parse("arn:aws:secretsmanager:us-east-1:111122223333:secret:s-AbC123");
        let b =
            SecretIdentity::parse("arn:aws:secretsmanager:us-east-1:444455556666:secret:s-AbC123");
        let c =
            SecretIdentity::parse("arn:aws:secretsmanager:eu-west-1:111122223333:secret:s-AbC123");
        assert!(!a.matches(&b));
        assert!(!a.matches(&c));
        assert_eq!(b.account.as_deref(), Some("444455556666"));
    }
}
