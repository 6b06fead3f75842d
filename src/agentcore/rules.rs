//! Rules for credential-provider references and the rotation's own safety net. Ids are stable:
//! the drift audit reuses the `REF-*` constants, and finding ids are derived from them.

use crate::findings::{Rule, Severity};

/// The provider names a secret ARN that no longer exists (deleted, or deleted and recreated
/// under the same name, which gives it a new ARN).
pub const REF_SECRET_NOT_FOUND: Rule = Rule {
    id: "REF-001",
    severity: Severity::High,
    title: "Credential provider references a deleted secret",
    remediation: "Point the provider at an existing secret (use the secret's current full ARN), or restore the secret.",
};

pub const REF_SECRET_SCHEDULED_FOR_DELETION: Rule = Rule {
    id: "REF-002",
    severity: Severity::High,
    title: "Credential provider references a secret scheduled for deletion",
    remediation: "Cancel the deletion (restore-secret) or point the provider at another secret before the recovery window ends.",
};

pub const REF_JSON_KEY_UNUSABLE: Rule = Rule {
    id: "REF-003",
    severity: Severity::High,
    title: "Credential provider references a JSON key the secret does not hold",
    remediation: "Add the key to the secret document as a non-empty string, or update the provider's jsonKey to a key the document has.",
};

pub const REF_CROSS_REGION: Rule = Rule {
    id: "REF-004",
    severity: Severity::High,
    title: "Credential provider references a secret in another Region",
    remediation: "AgentCore Identity reads secrets in its own Region only: replicate the secret into the provider's Region and reference the replica.",
};

pub const REF_RESOURCE_POLICY_DENIES: Rule = Rule {
    id: "REF-005",
    severity: Severity::High,
    title: "Secret resource policy does not let AgentCore Identity read the secret",
    remediation: "Add a resource policy statement allowing principal bedrock-agentcore.amazonaws.com the action secretsmanager:GetSecretValue on the secret.",
};

pub const REF_KMS_POLICY_DENIES: Rule = Rule {
    id: "REF-006",
    severity: Severity::High,
    title: "KMS key policy does not let AgentCore Identity decrypt the secret",
    remediation: "Add a key policy statement allowing principal bedrock-agentcore.amazonaws.com the action kms:Decrypt on the secret's customer managed key.",
};

pub const REF_PROVIDER_FAILED: Rule = Rule {
    id: "REF-007",
    severity: Severity::High,
    title: "Credential provider is in a failed state",
    remediation: "Read the provider's failureReason, fix the cause, then update the provider so it returns to READY.",
};

/// A MANAGED provider for the same OAuth client keeps its own copy of the client secret, which
/// rotation does not update.
pub const REF_MANAGED_SAME_CLIENT: Rule = Rule {
    id: "REF-008",
    severity: Severity::Informational,
    title: "MANAGED credential provider uses the rotated OAuth client with its own copy of the secret",
    remediation: "Switch the provider to EXTERNAL with a reference to the rotated secret; its copy stops working once the superseded upstream secret is removed.",
};

pub const REF_STALE_RESOLUTION: Rule = Rule {
    id: "REF-009",
    severity: Severity::High,
    title: "Credential provider does not resolve to the rotated value",
    remediation: "Check that the provider references the rotated secret and its client-secret JSON key, and that AWSCURRENT is the rotated version.",
};

/// The rotation moved AWSCURRENT back because the new version broke a provider.
pub const ROT_ROLLED_BACK: Rule = Rule {
    id: "ROT-001",
    severity: Severity::Critical,
    title: "Rotation rolled back: the new secret version broke a credential provider",
    remediation: "Fix the cause named in the finding (usually the new version's document), then rotate again; the previous version is AWSCURRENT again.",
};

/// The new version broke a provider, but the previous upstream secret is gone, so moving
/// AWSCURRENT back would break everything else.
pub const ROT_BROKEN_NOT_ROLLED_BACK: Rule = Rule {
    id: "ROT-002",
    severity: Severity::Critical,
    title: "New secret version broke a credential provider and could not be rolled back",
    remediation: "Fix the provider or the AWSCURRENT document now: the previous upstream secret is no longer live, so the previous version cannot be restored.",
};

/// Every rule of this module, for catalogues and uniqueness checks.
pub const ALL: [&Rule; 11] = [
    &REF_SECRET_NOT_FOUND,
    &REF_SECRET_SCHEDULED_FOR_DELETION,
    &REF_JSON_KEY_UNUSABLE,
    &REF_CROSS_REGION,
    &REF_RESOURCE_POLICY_DENIES,
    &REF_KMS_POLICY_DENIES,
    &REF_PROVIDER_FAILED,
    &REF_MANAGED_SAME_CLIENT,
    &REF_STALE_RESOLUTION,
    &ROT_ROLLED_BACK,
    &ROT_BROKEN_NOT_ROLLED_BACK,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::is_valid_rule_id;

    #[test]
    fn rule_ids_are_well_formed_and_unique() {
        let mut ids: Vec<&str> = ALL.iter().map(|r| r.id).collect();
        assert!(ids.iter().all(|id| is_valid_rule_id(id)), "{ids:?}");
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), ALL.len());
    }
}
