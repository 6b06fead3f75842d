//! Findings: one model for rotation and audit, and the emitters that deliver them.
//!
//! A [`Finding`] says that one rule ([`Rule`]) failed (or, once fixed, passes again) for a
//! set of [`Resource`]s in one account and Region. It is built only from static rule text,
//! validated identifiers (ARNs, ids, names) and a free-text detail message, so no secret value
//! can reach it through its constructor: [`crate::sensitive::SecretString`] converts to none of
//! the accepted types and prints `<redacted>` if formatted into a message.
//!
//! Findings carry no AWS SDK types. Delivery goes through the [`FindingSink`] port:
//! [`EventBridgeSink`], [`SecurityHubSink`] (ASFF), [`LogSink`] (`tracing`, target `findings`)
//! and [`EmfSink`] (CloudWatch Embedded Metric Format); [`Emitters`] fans out to the sinks
//! selected by [`EmittersConfig`].
//!
//! ```no_run
//! # async fn demo(sdk: &aws_config::SdkConfig) -> Result<(), agentcore_rotator::findings::FindingsError> {
//! use agentcore_rotator::findings::*;
//!
//! const REF_001: Rule = Rule {
//!     id: "REF-001",
//!     severity: Severity::High,
//!     title: "Credential provider references a deleted secret",
//!     remediation: "Point the provider at an existing secret or restore the secret.",
//! };
//! let scope = Scope::new("123456789012", "us-east-1")?;
//! let finding = Finding::new(
//!     &REF_001,
//!     &scope,
//!     vec![
//!         Resource::provider_oauth2("arn:aws:bedrock-agentcore:us-east-1:123456789012:token-vault/default/oauth2credentialprovider/okta")?,
//!         Resource::secret("arn:aws:secretsmanager:us-east-1:123456789012:secret:okta-AbCdEf")?,
//!     ],
//!     "provider okta references secret okta-AbCdEf, which was deleted",
//!     Timestamp::now(),
//! )?;
//! let config = EmittersConfig { event_bus_name: Some("security".into()), security_hub: true, ..Default::default() };
//! let outcomes = Emitters::from_config(sdk, &config).emit(&[finding]).await;
//! assert!(outcomes.all_delivered());
//! # Ok(()) }
//! ```

pub mod catalogue;
mod emf;
mod emitters;
mod eventbridge;
mod log;
mod securityhub;
mod sink;
mod timestamp;

pub use emf::{EmfSink, DEFAULT_EMF_NAMESPACE};
pub use emitters::{EmitOutcomes, Emitters, EmittersConfig, SinkOutcome};
pub use eventbridge::{
    EntryError, EventBridgeSink, EventEntry, PutEventsApi, DETAIL_SCHEMA_VERSION, DETAIL_TYPE,
    MAX_ENTRIES_PER_CALL, MAX_ENTRY_BYTES, SOURCE,
};
pub use log::{LogSink, LOG_TARGET};
pub use securityhub::{
    AsffCompliance, AsffFinding, AsffProviderFields, AsffRecommendation, AsffRemediation,
    AsffResource, AsffResourceDetails, AsffSeverity, ImportFailure, SecurityHubApi,
    SecurityHubSink, ASFF_SCHEMA_VERSION, ASFF_TYPE, MAX_FINDINGS_PER_CALL,
};
pub use sink::{DeliveryFailure, EmitReport, FindingSink, RetryPolicy};
pub use timestamp::Timestamp;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Longest description a finding keeps, in bytes (so also in characters): the ASFF limit.
pub const MAX_DESCRIPTION_BYTES: usize = 1024;
/// Longest resource identifier accepted; ARNs and client ids stay far below it.
pub const MAX_RESOURCE_ID_BYTES: usize = 2048;
/// Prefix of every finding id.
pub const FINDING_ID_PREFIX: &str = "agentcore-rotator";

/// Failures of the findings model and its emitters.
#[derive(Debug, thiserror::Error)]
pub enum FindingsError {
    #[error("invalid finding: {0}")]
    InvalidFinding(String),
    #[error("invalid findings configuration: {0}")]
    Config(String),
    #[error("failed to serialize finding: {0}")]
    Serialize(#[from] serde_json::Error),
    #[error("failed to write EMF document: {0}")]
    Write(#[from] std::io::Error),
    #[error("failed to put events: {0}")]
    PutEvents(String),
    #[error("failed to import findings into Security Hub: {0}")]
    BatchImportFindings(String),
}

/// How bad a finding is. Ordered from least to most severe; serialized as the ASFF label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Informational,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The ASFF `Severity.Label` (also the EMF dimension value).
    pub fn label(self) -> &'static str {
        match self {
            Severity::Informational => "INFORMATIONAL",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

/// Whether the problem is still there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FindingState {
    Active,
    /// The rule passes again; reported (not dropped) so consumers can close the finding.
    Resolved,
}

impl FindingState {
    pub fn label(self) -> &'static str {
        match self {
            FindingState::Active => "ACTIVE",
            FindingState::Resolved => "RESOLVED",
        }
    }
}

/// What a resource identifier names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ResourceKind {
    /// An AgentCore Identity OAuth2 credential provider.
    ProviderOauth2,
    /// An AgentCore Identity API-key credential provider.
    ProviderApiKey,
    /// An AgentCore Identity payment credential provider.
    ProviderPayment,
    /// A Secrets Manager secret.
    Secret,
    /// An OAuth client at the upstream identity provider.
    UpstreamClient,
    /// An AgentCore Gateway target that uses a provider (`<gatewayArn>/target/<targetId>`).
    GatewayTarget,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 6] = [
        ResourceKind::ProviderOauth2,
        ResourceKind::ProviderApiKey,
        ResourceKind::ProviderPayment,
        ResourceKind::Secret,
        ResourceKind::UpstreamClient,
        ResourceKind::GatewayTarget,
    ];

    /// The kind a [`label`](Self::label) names.
    pub fn from_label(label: &str) -> Option<ResourceKind> {
        Self::ALL.into_iter().find(|k| k.label() == label)
    }

    pub fn label(self) -> &'static str {
        match self {
            ResourceKind::ProviderOauth2 => "PROVIDER_OAUTH2",
            ResourceKind::ProviderApiKey => "PROVIDER_API_KEY",
            ResourceKind::ProviderPayment => "PROVIDER_PAYMENT",
            ResourceKind::Secret => "SECRET",
            ResourceKind::UpstreamClient => "UPSTREAM_CLIENT",
            ResourceKind::GatewayTarget => "GATEWAY_TARGET",
        }
    }
}

/// One resource a finding is about: an ARN, or an id/name where there is no ARN.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    kind: ResourceKind,
    arn_or_id: String,
}

impl Resource {
    /// A resource named by an ARN, id or name. Rejects what cannot be an identifier: empty or
    /// over-long strings and anything with whitespace, control characters, quotes, braces or
    /// backslashes (so a JSON secret document cannot pass for an id).
    pub fn new(kind: ResourceKind, arn_or_id: impl Into<String>) -> Result<Self, FindingsError> {
        let arn_or_id = arn_or_id.into();
        if arn_or_id.is_empty() {
            return Err(FindingsError::InvalidFinding(
                "resource identifier is empty".into(),
            ));
        }
        if arn_or_id.len() > MAX_RESOURCE_ID_BYTES {
            return Err(FindingsError::InvalidFinding(format!(
                "resource identifier is longer than {MAX_RESOURCE_ID_BYTES} bytes"
            )));
        }
        if arn_or_id
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '{' | '}' | '\\'))
        {
            // Do not echo the value: it failed validation, so it may not be an identifier.
            return Err(FindingsError::InvalidFinding(format!(
                "{} resource identifier contains characters no identifier has",
                kind.label()
            )));
        }
        Ok(Self { kind, arn_or_id })
    }

    pub fn provider_oauth2(arn: impl Into<String>) -> Result<Self, FindingsError> {
        Self::new(ResourceKind::ProviderOauth2, arn)
    }

    pub fn provider_api_key(arn: impl Into<String>) -> Result<Self, FindingsError> {
        Self::new(ResourceKind::ProviderApiKey, arn)
    }

    pub fn provider_payment(arn: impl Into<String>) -> Result<Self, FindingsError> {
        Self::new(ResourceKind::ProviderPayment, arn)
    }

    pub fn gateway_target(id: impl Into<String>) -> Result<Self, FindingsError> {
        Self::new(ResourceKind::GatewayTarget, id)
    }

    pub fn secret(arn_or_name: impl Into<String>) -> Result<Self, FindingsError> {
        Self::new(ResourceKind::Secret, arn_or_name)
    }

    /// An upstream OAuth client, e.g. `okta:0oa1b2c3` or a Cognito app client id.
    pub fn upstream_client(id: impl Into<String>) -> Result<Self, FindingsError> {
        Self::new(ResourceKind::UpstreamClient, id)
    }

    pub fn kind(&self) -> ResourceKind {
        self.kind
    }

    pub fn arn_or_id(&self) -> &str {
        &self.arn_or_id
    }

    /// The ARN, when the identifier is one.
    pub fn arn(&self) -> Option<&str> {
        looks_like_arn(&self.arn_or_id).then_some(self.arn_or_id.as_str())
    }
}

/// `arn:partition:service:region:account:resource` with non-empty partition, service and
/// resource (region and account may be empty, as for global services).
pub fn looks_like_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && !parts[2].is_empty()
        && !parts[5].is_empty()
}

/// A check, defined once as a constant. Its text is `'static`, so it cannot carry a runtime
/// value; only the detail message of a finding is built at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// `PREFIX-NNN`, e.g. `REF-001`: upper-case letters/digits, a hyphen, three digits.
    pub id: &'static str,
    pub severity: Severity,
    pub title: &'static str,
    pub remediation: &'static str,
}

/// Whether `id` has the `PREFIX-NNN` shape rule ids use (this also keeps metric
/// dimensions low-cardinality).
pub fn is_valid_rule_id(id: &str) -> bool {
    let Some((prefix, number)) = id.split_once('-') else {
        return false;
    };
    !prefix.is_empty()
        && prefix.len() <= 8
        && prefix.starts_with(|c: char| c.is_ascii_uppercase())
        && prefix
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && number.len() == 3
        && number.chars().all(|c| c.is_ascii_digit())
}

/// The account and Region a finding belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    account_id: String,
    region: String,
}

impl Scope {
    pub fn new(
        account_id: impl Into<String>,
        region: impl Into<String>,
    ) -> Result<Self, FindingsError> {
        let account_id = account_id.into();
        let region = region.into();
        if account_id.len() != 12 || !account_id.chars().all(|c| c.is_ascii_digit()) {
            return Err(FindingsError::InvalidFinding(
                "account id must be 12 digits".into(),
            ));
        }
        if region.is_empty()
            || region.len() > 32
            || !region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(FindingsError::InvalidFinding(format!(
                "invalid region {region:?}"
            )));
        }
        Ok(Self { account_id, region })
    }

    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    pub fn region(&self) -> &str {
        &self.region
    }
}

/// One finding of rotation or audit. Build it with [`Finding::new`]; fields are read-only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    id: String,
    rule_id: String,
    severity: Severity,
    title: String,
    description: String,
    remediation: String,
    resources: Vec<Resource>,
    account_id: String,
    region: String,
    first_seen: Timestamp,
    last_seen: Timestamp,
    state: FindingState,
}

impl Finding {
    /// An active finding of `rule` about `resources`, first and last seen `now`. `detail` says
    /// what was observed, with names and ARNs only; it is truncated to
    /// [`MAX_DESCRIPTION_BYTES`] on a character boundary.
    pub fn new(
        rule: &Rule,
        scope: &Scope,
        resources: Vec<Resource>,
        detail: impl Into<String>,
        now: Timestamp,
    ) -> Result<Self, FindingsError> {
        if !is_valid_rule_id(rule.id) {
            return Err(FindingsError::InvalidFinding(format!(
                "rule id {:?} is not of the form PREFIX-NNN",
                rule.id
            )));
        }
        let mut unique: Vec<Resource> = Vec::with_capacity(resources.len());
        for r in resources {
            if !unique.contains(&r) {
                unique.push(r);
            }
        }
        let resources = unique;
        if resources.is_empty() {
            return Err(FindingsError::InvalidFinding(format!(
                "finding of rule {} names no resource",
                rule.id
            )));
        }
        let detail = detail.into();
        let description = if detail.trim().is_empty() {
            rule.title.to_string()
        } else {
            detail
        };
        Ok(Self {
            id: finding_id(rule.id, scope, &resources),
            rule_id: rule.id.to_string(),
            severity: rule.severity,
            title: rule.title.to_string(),
            description: truncate_utf8(&description, MAX_DESCRIPTION_BYTES).into_owned(),
            remediation: rule.remediation.to_string(),
            resources,
            account_id: scope.account_id.clone(),
            region: scope.region.clone(),
            first_seen: now,
            last_seen: now,
            state: FindingState::Active,
        })
    }

    /// The same finding, first seen earlier (e.g. as remembered from a previous run).
    /// Never moves `first_seen` past `last_seen`.
    pub fn first_seen_at(mut self, first_seen: Timestamp) -> Self {
        self.first_seen = first_seen.min(self.last_seen);
        self
    }

    /// The same finding with `resources` that depend on it (gateway targets using a provider)
    /// and `note` appended to the description. The id stays ([`finding_id`] leaves dependents
    /// out): who depends on a broken reference does not change which problem it is.
    pub fn with_dependents(mut self, resources: Vec<Resource>, note: &str) -> Self {
        for r in resources {
            if !self.resources.contains(&r) {
                self.resources.push(r);
            }
        }
        let description = format!("{}; {note}", self.description);
        self.description = truncate_utf8(&description, MAX_DESCRIPTION_BYTES).into_owned();
        self
    }

    /// The same finding, resolved at `at`: the rule passes again.
    pub fn resolved(mut self, at: Timestamp) -> Self {
        self.state = FindingState::Resolved;
        self.last_seen = at.max(self.first_seen);
        self
    }

    /// Stable per (rule, account, Region, set of resource identifiers).
    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn rule_id(&self) -> &str {
        &self.rule_id
    }
    pub fn severity(&self) -> Severity {
        self.severity
    }
    pub fn title(&self) -> &str {
        &self.title
    }
    pub fn description(&self) -> &str {
        &self.description
    }
    pub fn remediation(&self) -> &str {
        &self.remediation
    }
    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }
    pub fn account_id(&self) -> &str {
        &self.account_id
    }
    pub fn region(&self) -> &str {
        &self.region
    }
    pub fn first_seen(&self) -> Timestamp {
        self.first_seen
    }
    pub fn last_seen(&self) -> Timestamp {
        self.last_seen
    }
    pub fn state(&self) -> FindingState {
        self.state
    }
    pub fn is_active(&self) -> bool {
        self.state == FindingState::Active
    }

    /// The resource identifiers that are ARNs, in order, without duplicates.
    pub fn resource_arns(&self) -> Vec<&str> {
        let mut arns: Vec<&str> = Vec::new();
        for arn in self.resources.iter().filter_map(Resource::arn) {
            if !arns.contains(&arn) {
                arns.push(arn);
            }
        }
        arns
    }

    /// The same finding with a shorter description (used by sinks with a size budget).
    pub(crate) fn with_description_truncated(&self, max_bytes: usize) -> Finding {
        let mut shorter = self.clone();
        shorter.description = truncate_utf8(&self.description, max_bytes).into_owned();
        shorter
    }
}

/// `agentcore-rotator/<rule id>/<hex sha256>` over the rule id, account, Region and the sorted,
/// de-duplicated resource identifiers. The kind of a resource is not part of it: an ARN names
/// one thing whatever a caller calls it.
pub fn finding_id(rule_id: &str, scope: &Scope, resources: &[Resource]) -> String {
    // Who depends on the problem (gateway targets) is not part of which problem it is: a
    // finding read back with them has the same id as one built without.
    let mut ids: Vec<&str> = resources
        .iter()
        .filter(|r| r.kind() != ResourceKind::GatewayTarget)
        .map(Resource::arn_or_id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut hash = Sha256::new();
    for part in [rule_id, scope.account_id(), scope.region()]
        .into_iter()
        .chain(ids)
    {
        hash.update(part.as_bytes());
        hash.update([0u8]);
    }
    let digest = hash.finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{FINDING_ID_PREFIX}/{rule_id}/{hex}")
}

/// `s` cut to at most `max_bytes` bytes on a character boundary, ending in `…` when cut.
pub fn truncate_utf8(s: &str, max_bytes: usize) -> std::borrow::Cow<'_, str> {
    const ELLIPSIS: &str = "…";
    if s.len() <= max_bytes {
        return std::borrow::Cow::Borrowed(s);
    }
    if max_bytes < ELLIPSIS.len() {
        return std::borrow::Cow::Borrowed(&s[..floor_char_boundary(s, max_bytes)]);
    }
    let cut = floor_char_boundary(s, max_bytes - ELLIPSIS.len());
    std::borrow::Cow::Owned(format!("{}{ELLIPSIS}", &s[..cut]))
}

fn floor_char_boundary(s: &str, index: usize) -> usize {
    let mut i = index.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const RULE: Rule = Rule {
        id: "REF-001",
        severity: Severity::High,
        title: "Credential provider references a deleted secret",
        remediation: "Point the provider at an existing secret, or restore the secret.",
    };

    pub(crate) const SECRET_ARN: &str =
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:agentcore/okta-AbCdEf";
    pub(crate) const PROVIDER_ARN: &str =
        "arn:aws:bedrock-agentcore:us-east-1:123456789012:token-vault/default/oauth2credentialprovider/okta";

    pub(crate) fn scope() -> Scope {
        Scope::new("123456789012", "us-east-1").unwrap()
    }

    pub(crate) fn finding(rule: &Rule, secret_arn: &str) -> Finding {
        Finding::new(
            rule,
            &scope(),
            vec![
                Resource::provider_oauth2(PROVIDER_ARN).unwrap(),
                Resource::secret(secret_arn).unwrap(),
            ],
            format!("provider okta references {secret_arn}, which was deleted"),
            Timestamp::from_millis(1_700_000_000_123),
        )
        .unwrap()
    }

    #[test]
    fn the_same_rule_and_resources_give_the_same_id() {
        let a = finding(&RULE, SECRET_ARN);
        let b = finding(&RULE, SECRET_ARN).resolved(Timestamp::from_millis(1_800_000_000_000));
        assert_eq!(a.id(), b.id());
        assert!(a.id().starts_with("agentcore-rotator/REF-001/"));
        assert_eq!(a.id().len(), "agentcore-rotator/REF-001/".len() + 64);
    }

    #[test]
    fn resource_order_and_duplicates_do_not_change_the_id() {
        let resources = [
            Resource::secret(SECRET_ARN).unwrap(),
            Resource::provider_oauth2(PROVIDER_ARN).unwrap(),
        ];
        let forward = finding_id("REF-001", &scope(), &resources);
        let mut reversed = resources.to_vec();
        reversed.reverse();
        reversed.push(resources[0].clone());
        assert_eq!(forward, finding_id("REF-001", &scope(), &reversed));
    }

    #[test]
    fn a_different_rule_resource_account_or_region_gives_a_different_id() {
        let base = finding(&RULE, SECRET_ARN);
        let other_rule = Rule {
            id: "REF-002",
            ..RULE
        };
        assert_ne!(base.id(), finding(&other_rule, SECRET_ARN).id());
        assert_ne!(base.id(), finding(&RULE, &format!("{SECRET_ARN}x")).id());
        let resources = base.resources().to_vec();
        let other_account = Scope::new("210987654321", "us-east-1").unwrap();
        let other_region = Scope::new("123456789012", "eu-west-1").unwrap();
        assert_ne!(base.id(), finding_id("REF-001", &other_account, &resources));
        assert_ne!(base.id(), finding_id("REF-001", &other_region, &resources));
    }

    #[test]
    fn ids_do_not_collide_when_identifiers_are_concatenated_differently() {
        let ab = [
            Resource::upstream_client("ab").unwrap(),
            Resource::upstream_client("c").unwrap(),
        ];
        let a_bc = [
            Resource::upstream_client("a").unwrap(),
            Resource::upstream_client("bc").unwrap(),
        ];
        assert_ne!(
            finding_id("UPS-001", &scope(), &ab),
            finding_id("UPS-001", &scope(), &a_bc)
        );
    }

    #[test]
    fn descriptions_are_cut_to_1024_bytes_on_a_char_boundary() {
        let long = "é".repeat(700); // 1400 bytes, 2 per char
        let f = Finding::new(
            &RULE,
            &scope(),
            vec![Resource::secret(SECRET_ARN).unwrap()],
            long,
            Timestamp::from_millis(0),
        )
        .unwrap();
        assert!(f.description().len() <= MAX_DESCRIPTION_BYTES);
        assert!(f.description().chars().count() <= MAX_DESCRIPTION_BYTES);
        assert!(f.description().ends_with('…'));
        assert!(f
            .description()
            .trim_end_matches('…')
            .chars()
            .all(|c| c == 'é'));
    }

    #[test]
    fn truncation_leaves_short_text_alone_and_never_splits_a_character() {
        assert_eq!(truncate_utf8("short", 10), "short");
        assert_eq!(truncate_utf8("exactly10!", 10), "exactly10!");
        for max in 0..20 {
            let cut = truncate_utf8("aé€😀bcdefghijklmnop", max);
            assert!(cut.len() <= max, "{max}: {cut}");
        }
        // The ellipsis takes 3 bytes; what is left holds whole characters only.
        assert_eq!(truncate_utf8("😀😀😀", 6), "…");
        assert_eq!(truncate_utf8("😀😀😀", 7), "😀…");
        assert_eq!(truncate_utf8("😀😀😀", 10), "😀…");
    }

    #[test]
    fn an_empty_detail_falls_back_to_the_rule_title() {
        let f = Finding::new(
            &RULE,
            &scope(),
            vec![Resource::secret(SECRET_ARN).unwrap()],
            "  ",
            Timestamp::from_millis(0),
        )
        .unwrap();
        assert_eq!(f.description(), RULE.title);
    }

    #[test]
    fn a_finding_needs_a_resource_and_a_well_formed_rule_id() {
        let none = Finding::new(&RULE, &scope(), vec![], "x", Timestamp::from_millis(0));
        assert!(matches!(none, Err(FindingsError::InvalidFinding(_))));
        let bad_rule = Rule {
            id: "ref 1",
            ..RULE
        };
        let bad = Finding::new(
            &bad_rule,
            &scope(),
            vec![Resource::secret(SECRET_ARN).unwrap()],
            "x",
            Timestamp::from_millis(0),
        );
        assert!(matches!(bad, Err(FindingsError::InvalidFinding(_))));
        assert!(is_valid_rule_id("ROT-004"));
        assert!(is_valid_rule_id("SM2-010"));
        assert!(!is_valid_rule_id("REF-01"));
        assert!(!is_valid_rule_id("ref-001"));
        assert!(!is_valid_rule_id("-001"));
    }

    #[test]
    fn a_secret_document_is_not_accepted_as_a_resource_identifier() {
        let doc = r#"{"client_id":"0oa1","client_secret":"s3cr3t"}"#;
        let err = Resource::secret(doc).unwrap_err().to_string();
        assert!(!err.contains("s3cr3t"), "{err}");
        assert!(Resource::upstream_client("has space").is_err());
        assert!(Resource::upstream_client("").is_err());
        assert!(Resource::upstream_client("x".repeat(MAX_RESOURCE_ID_BYTES + 1)).is_err());
    }

    #[test]
    fn scopes_accept_account_ids_and_regions_only() {
        assert!(Scope::new("12345678901", "us-east-1").is_err());
        assert!(Scope::new("12345678901a", "us-east-1").is_err());
        assert!(Scope::new("123456789012", "US EAST").is_err());
        assert!(Scope::new("123456789012", "us-gov-west-1").is_ok());
    }

    #[test]
    fn only_arn_shaped_identifiers_count_as_arns() {
        assert!(looks_like_arn(SECRET_ARN));
        assert!(looks_like_arn("arn:aws:iam::123456789012:role/x"));
        assert!(!looks_like_arn("0oa1b2c3d4"));
        assert!(!looks_like_arn("arn:aws:secretsmanager"));
        assert!(!looks_like_arn("arn::s3:::bucket"));
        let f = Finding::new(
            &RULE,
            &scope(),
            vec![
                Resource::upstream_client("okta:0oa1b2c3").unwrap(),
                Resource::secret(SECRET_ARN).unwrap(),
                Resource::secret("plain-name").unwrap(),
            ],
            "x",
            Timestamp::from_millis(0),
        )
        .unwrap();
        assert_eq!(f.resource_arns(), vec![SECRET_ARN]);
    }

    #[test]
    fn resolving_keeps_the_id_and_moves_last_seen() {
        let f = finding(&RULE, SECRET_ARN).first_seen_at(Timestamp::from_millis(1_000));
        let r = f
            .clone()
            .resolved(Timestamp::from_millis(1_900_000_000_000));
        assert_eq!(r.state(), FindingState::Resolved);
        assert_eq!(r.first_seen(), Timestamp::from_millis(1_000));
        assert_eq!(r.last_seen(), Timestamp::from_millis(1_900_000_000_000));
        assert_eq!(r.id(), f.id());
        // first_seen never moves past last_seen.
        let later = finding(&RULE, SECRET_ARN).first_seen_at(Timestamp::from_millis(u64::MAX / 2));
        assert_eq!(later.first_seen(), later.last_seen());
    }

    #[test]
    fn a_finding_built_from_realistic_inputs_carries_no_secret_and_no_unexpected_field() {
        // What an audit has in hand while it builds a finding: the secret document it read.
        let secret_value = crate::sensitive::SecretString::new(
            r#"{"client_id":"0oa1b2c3d4","client_secret":"Zx9-kQ2pV7mLr4TtY8uW1nB6cE3dF5gH"}"#,
        );
        let f = Finding::new(
            &RULE,
            &scope(),
            vec![
                Resource::provider_oauth2(PROVIDER_ARN).unwrap(),
                Resource::secret(SECRET_ARN).unwrap(),
                Resource::upstream_client("okta:0oa1b2c3d4").unwrap(),
            ],
            // A careless message still cannot leak: SecretString prints as <redacted>.
            format!(
                "provider okta references {SECRET_ARN} (value {secret_value}), which was deleted"
            ),
            Timestamp::from_millis(1_700_000_000_000),
        )
        .unwrap();

        let debug = format!("{f:?}");
        let json = serde_json::to_string(&f).unwrap();
        for out in [&debug, &json] {
            assert!(!out.contains("Zx9-kQ2pV7mLr4TtY8uW1nB6cE3dF5gH"), "{out}");
            assert!(!out.contains("client_secret"), "{out}");
        }

        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "id",
                "ruleId",
                "severity",
                "title",
                "description",
                "remediation",
                "resources",
                "accountId",
                "region",
                "firstSeen",
                "lastSeen",
                "state"
            ]
        );
        for resource in value["resources"].as_array().unwrap() {
            let keys: Vec<&str> = resource
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(keys, ["kind", "arnOrId"]);
        }
        // Every string in the document is one of the inputs we expect.
        assert_eq!(value["severity"], "HIGH");
        assert_eq!(value["state"], "ACTIVE");
        assert_eq!(value["firstSeen"], "2023-11-14T22:13:20.000Z");
        assert_eq!(
            value["description"],
            format!("provider okta references {SECRET_ARN} (value <redacted>), which was deleted")
        );
        assert_eq!(serde_json::from_str::<Finding>(&json).unwrap(), f);
    }
}
