//! Every rule this product raises, in one place: the rotation's and the audit's reference rules
//! (`REF-*`, one id and one description whoever raises them), the rotation's own outcomes
//! (`ROT-*`), the audit's secret (`SEC-*`), upstream (`UPS-*`) and coverage (`AUD-*`) rules.
//! Ids are stable: finding ids are derived from them, and README.md lists each one.

use super::{Rule, Severity};

// ------------------------------------------------------------------ references (REF)

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

/// The provider resolves, but not to the rotated value (raised by the rotation only).
pub const REF_STALE_RESOLUTION: Rule = Rule {
    id: "REF-009",
    severity: Severity::High,
    title: "Credential provider does not resolve to the rotated value",
    remediation: "Check that the provider references the rotated secret and its client-secret JSON key, and that AWSCURRENT is the rotated version.",
};

pub const REF_NOT_JSON: Rule = Rule {
    id: "REF-010",
    severity: Severity::High,
    title: "Referenced secret is binary or not a JSON object",
    remediation: "Store the secret as a JSON object in SecretString (e.g. {\"clientId\": ..., \"clientSecret\": ...}); AgentCore reads a JSON key from it.",
};
pub const REF_MANAGED: Rule = Rule {
    id: "REF-008",
    severity: Severity::Informational,
    title: "Credential provider keeps its own copy of the client secret (clientSecretSource MANAGED)",
    remediation: "Store the secret in your own Secrets Manager secret and update the provider with clientSecretSource EXTERNAL, so it can be rotated, audited and KMS-controlled; a MANAGED copy stops working once the upstream secret it holds is removed.",
};
pub const REF_CLIENT_ID_MISMATCH: Rule = Rule {
    id: "REF-012",
    severity: Severity::High,
    title: "Provider's client id differs from the client id in the secret document",
    remediation: "Update the provider's clientId or the secret document's clientId so both name the same OAuth client; a secret never authenticates another client.",
};

// ------------------------------------------------------------------ rotation outcomes (ROT)

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

pub const ROT_STAGED_DUE: Rule = Rule {
    id: "ROT-003",
    severity: Severity::Medium,
    title: "Staged rotation is due but no new client secret is staged",
    remediation: "Create a new client secret in the vendor's console, then stage it: agentcore-rotator stage --secret <arn> (it reads the value from standard input and starts the rotation).",
};

/// A provider's token or key fetches failed more after a rotation than before it.
pub const ROT_FETCH_FAILURES_ROSE: Rule = Rule {
    id: "ROT-004",
    severity: Severity::High,
    title: "Credential provider fetch failures rose after a rotation",
    remediation: "Check what the provider resolves since the rotation (agentcore-rotator audit --provider <name>) and the agents' errors; if the new secret is at fault, fix it or rotate again while the previous secret is still live.",
};

// ------------------------------------------------------------------ secrets (SEC)

pub const SEC_ROTATION_DISABLED: Rule = Rule {
    id: "SEC-001",
    severity: Severity::Medium,
    title: "Referenced secret has automatic rotation disabled",
    remediation: "Attach the rotation function: aws secretsmanager rotate-secret --secret-id <arn> --rotation-lambda-arn <RotationFunctionArn> --rotation-rules ScheduleExpression='rate(30 days)'.",
};
pub const SEC_NOT_ROTATED: Rule = Rule {
    id: "SEC-002",
    severity: Severity::Medium,
    title: "Referenced secret was not rotated within the maximum age",
    remediation: "Rotate it now (aws secretsmanager rotate-secret --secret-id <arn>) and schedule rotation more often than ROTATOR_MAX_SECRET_AGE_DAYS.",
};
pub const SEC_ROTATION_INCOMPLETE: Rule = Rule {
    id: "SEC-003",
    severity: Severity::High,
    title: "Last rotation of the referenced secret failed or is stuck",
    remediation: "Read the rotation function's logs for the failed step, fix the cause and rotate again; to abandon it, cancel-rotate-secret and remove AWSPENDING from the stray version.",
};
pub const SEC_ROTATION_FUNCTION_MISSING: Rule = Rule {
    id: "SEC-004",
    severity: Severity::High,
    title: "Rotation is enabled but the rotation function is missing",
    remediation: "Redeploy the rotation function or point the secret at an existing one (rotate-secret --rotation-lambda-arn); every scheduled rotation fails until then.",
};
pub const SEC_BINDING: Rule = Rule {
    id: "SEC-005",
    severity: Severity::High,
    title: "Rotator secret is not bound to the client its document names",
    remediation: "Unbound: an administrator binds the secret to the coordinates its document names (aws secretsmanager tag-resource --secret-id <arn> --tags Key=agentcore-rotator:binding,Value=cognito:<userPoolId>/<clientId>). Bound to other coordinates: correct the document, or have an administrator change the binding. Until then every rotation of the secret fails and changes nothing.",
};

// ------------------------------------------------------------------ upstream (UPS)

pub const UPS_ORPHAN: Rule = Rule {
    id: "UPS-001",
    severity: Severity::High,
    title: "Upstream client has a live secret that belongs to no secret version",
    remediation: "A live credential nobody tracks: if no one uses it, delete it at the IdP (Cognito: DeleteUserPoolClientSecret); the next rotation also removes it before adding a new one.",
};
pub const UPS_TOO_MANY_LIVE: Rule = Rule {
    id: "UPS-002",
    severity: Severity::Medium,
    title: "Upstream client has more live secrets than the rotation model allows",
    remediation: "Keep at most AWSCURRENT's secret, AWSPREVIOUS's during its grace period and AWSPENDING's during a rotation; delete the others at the IdP.",
};
pub const UPS_SUPERSEDED_PAST_GRACE: Rule = Rule {
    id: "UPS-003",
    severity: Severity::Low,
    title: "Superseded upstream secret is still live after its grace period",
    remediation: "Delete the secret behind AWSPREVIOUS at the IdP (the next rotation removes it too), or lengthen rotation.gracePeriodHours if callers still need it.",
};
pub const UPS_NOT_ACCEPTED: Rule = Rule {
    id: "UPS-004",
    severity: Severity::Critical,
    title: "Identity provider no longer accepts the AWSCURRENT client secret",
    remediation: "The stored secret was revoked or changed upstream: rotate now (rotate-secret) so a fresh secret is issued and stored, then check who removed it.",
};
pub const UPS_CLIENT_MISSING: Rule = Rule {
    id: "UPS-005",
    severity: Severity::High,
    title: "Upstream OAuth client does not exist",
    remediation: "Recreate the client at the IdP (or fix rotation.userPoolId / clientId in the secret document); rotations and token requests fail until then.",
};
pub const UPS_STAGED_NOT_REVOKED: Rule = Rule {
    id: "UPS-007",
    severity: Severity::Medium,
    title: "Superseded client secret of a staged rotation is still to be revoked in the vendor's console",
    remediation: "Revoke the superseded secret in the vendor's console (the finding names the vendor and client), then record it: agentcore-rotator revoked --secret <arn>.",
};
pub const UPS_CUTOVER: Rule = Rule {
    id: "UPS-006",
    severity: Severity::Medium,
    title: "Rotation of the upstream secret cuts over without an overlap",
    remediation: "The profile sets rotation.cutover: true, so each rotation invalidates the old secret before the new one is stored and agents fail until finishSecret: put the client under Keycloak's secret-rotation client policy and remove rotation.cutover.",
};

// ------------------------------------------------------------------ audit coverage (AUD)

/// A secret in another account whose reads the audit's role is not granted: the grant belongs
/// in the secret's own account, not in this one's IAM.
pub const AUD_CROSS_ACCOUNT_UNREADABLE: Rule = Rule {
    id: "AUD-002",
    severity: Severity::Medium,
    title: "A provider references a secret in another account that the audit role may not read",
    remediation: "In the secret's account, add a statement to the secret's resource policy allowing this account's audit role secretsmanager:DescribeSecret, GetResourcePolicy and GetSecretValue (and kms:Decrypt in the key policy of its customer managed key; a secret under the AWS managed key cannot be read from another account, by the audit or by AgentCore).",
};

pub const AUD_UNREADABLE: Rule = Rule {
    id: "AUD-001",
    severity: Severity::Medium,
    title: "Audit could not read what its rules need for a referenced secret",
    remediation: "Grant the audit role the read named in the finding (DescribeSecret, GetSecretValue/BatchGetSecretValue, GetResourcePolicy, kms:GetKeyPolicy, the IdP list call); until then those rules are not evaluated.",
};

/// The reference rules (each a [`crate::agentcore::check::Problem`] kind).
pub const REFERENCES: &[&Rule] = &[
    &REF_SECRET_NOT_FOUND,
    &REF_SECRET_SCHEDULED_FOR_DELETION,
    &REF_JSON_KEY_UNUSABLE,
    &REF_CROSS_REGION,
    &REF_RESOURCE_POLICY_DENIES,
    &REF_KMS_POLICY_DENIES,
    &REF_PROVIDER_FAILED,
    &REF_MANAGED,
    &REF_STALE_RESOLUTION,
    &REF_NOT_JSON,
    &REF_CLIENT_ID_MISMATCH,
];

/// The rotation's own outcomes.
pub const ROTATION: &[&Rule] = &[
    &ROT_ROLLED_BACK,
    &ROT_BROKEN_NOT_ROLLED_BACK,
    &ROT_STAGED_DUE,
    &ROT_FETCH_FAILURES_ROSE,
];

/// The audit's own families: secrets, upstream, coverage.
pub const AUDIT_FAMILIES: &[&Rule] = &[
    &SEC_ROTATION_DISABLED,
    &SEC_NOT_ROTATED,
    &SEC_ROTATION_INCOMPLETE,
    &SEC_ROTATION_FUNCTION_MISSING,
    &SEC_BINDING,
    &UPS_ORPHAN,
    &UPS_TOO_MANY_LIVE,
    &UPS_SUPERSEDED_PAST_GRACE,
    &UPS_NOT_ACCEPTED,
    &UPS_CLIENT_MISSING,
    &UPS_CUTOVER,
    &UPS_STAGED_NOT_REVOKED,
    &AUD_UNREADABLE,
    &AUD_CROSS_ACCOUNT_UNREADABLE,
];

/// Every rule, in catalogue order.
pub fn all() -> impl Iterator<Item = &'static Rule> {
    REFERENCES
        .iter()
        .chain(ROTATION)
        .chain(AUDIT_FAMILIES)
        .copied()
}

/// Every rule the drift audit raises: the reference rules but REF-009 (which only a rotation
/// can tell), and the audit's families.
pub fn audit() -> impl Iterator<Item = &'static Rule> {
    REFERENCES
        .iter()
        .filter(|r| r.id != REF_STALE_RESOLUTION.id)
        .chain(AUDIT_FAMILIES)
        .copied()
}

/// The rule with this id.
pub fn by_id(id: &str) -> Option<&'static Rule> {
    all().find(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::is_valid_rule_id;

    #[test]
    fn rule_ids_are_unique_well_formed_and_documented() {
        let mut ids: Vec<&str> = all().map(|r| r.id).collect();
        assert!(ids.iter().all(|id| is_valid_rule_id(id)), "{ids:?}");
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate rule id");
        let readme = include_str!("../../README.md");
        for r in all() {
            assert!(
                readme.contains(&format!("`{}`", r.id)),
                "{} is not in README.md",
                r.id
            );
            assert!(!r.remediation.is_empty() && !r.title.is_empty());
            assert_eq!(by_id(r.id), Some(r));
        }
        assert_eq!(audit().count(), REFERENCES.len() - 1 + AUDIT_FAMILIES.len());
    }
}
