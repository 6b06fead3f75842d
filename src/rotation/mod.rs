//! The Secrets Manager rotation function: preamble, then one of four idempotent steps.

pub mod binding;
pub mod capacity;
pub mod create;
pub mod finish;
pub mod handler;
pub mod history;
pub mod preamble;
pub mod references;
pub mod set;
pub mod staged;
pub mod test;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::agentcore::{AgentCoreError, AgentCoreHooks};
use crate::config::Config;
use crate::event::{RotationEvent, Step};
use crate::secret_doc::{DocumentError, SecretDocument};
use crate::secrets::store::{SecretStore, StoreError, VersionRef, AWSCURRENT, AWSPENDING};
use crate::secrets::SecretMeta;
use crate::upstream::generate::RandomError;
use crate::upstream::token_probe::{ProbeError, TokenProbe};
use crate::upstream::{ClientRef, UpstreamDirectory, UpstreamError};

/// Wall-clock source, injectable so grace-period logic is testable.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

pub struct Rotator {
    pub(crate) store: Arc<dyn SecretStore>,
    pub(crate) upstreams: Arc<dyn UpstreamDirectory>,
    pub(crate) probe: TokenProbe,
    pub(crate) config: Config,
    pub(crate) clock: Clock,
    /// Credential-provider checks (pre-flight, confirmation, rollback); off when `None`.
    pub(crate) agentcore: Option<AgentCoreHooks>,
}

/// What a step did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepOutcome {
    /// The step changed something.
    Done,
    /// Already done by an earlier invocation with the same token; nothing changed.
    AlreadyDone,
    /// The token is already AWSCURRENT; nothing to do.
    AlreadyCurrent,
}

impl fmt::Display for StepOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StepOutcome::Done => "done",
            StepOutcome::AlreadyDone => "already-done",
            StepOutcome::AlreadyCurrent => "already-current",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error("{0}")]
    Event(#[from] crate::event::EventError),
    #[error("rotation is not enabled for this secret; enable it with RotateSecret before invoking the rotation function")]
    RotationNotEnabled,
    #[error("Secrets Manager rotates this secret itself ({0}): this function does not rotate managed external secrets; attach no rotation function (the audit still confirms its AgentCore references after each managed rotation)")]
    ManagedExternally(String),
    #[error("ClientRequestToken is not a version of this secret")]
    TokenNotFound,
    #[error("ClientRequestToken version is not labelled AWSPENDING")]
    TokenNotPending,
    #[error("a previous rotation is not complete: AWSPENDING is on version {pending_version}; let Secrets Manager retry it, or cancel it (cancel-rotate-secret) and remove AWSPENDING from that version")]
    PreviousRotationIncomplete { pending_version: String },
    #[error("secret has no readable AWSCURRENT version")]
    NoCurrentVersion,
    #[error("AWSPENDING version {0} has no value yet; run createSecret first")]
    PendingNotCreated(String),
    #[error("failed to read the {stage} version: {source}")]
    Document {
        stage: &'static str,
        source: DocumentError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error("testSecret failed: {0}")]
    Probe(#[from] ProbeError),
    #[error(transparent)]
    Random(#[from] RandomError),
    #[error("cannot add a secret upstream: {0}")]
    Capacity(String),
    #[error(
        "cannot tell which upstream secret belongs to which version, so nothing is removed: {0}"
    )]
    UnknownLineage(String),
    #[error("identity provider returned no value for a secret it generated")]
    NoValue,
    #[error("stage a new value first: no new {vendor} client secret is staged for {secret}. Create one in the vendor's console, then run: agentcore-rotator stage --secret {secret}")]
    NothingStaged { secret: String, vendor: String },
    #[error("the staged version cannot be rotated to, nothing was promoted: {0}")]
    StagedInvalid(String),
    #[error("testSecret failed: {0}")]
    Vendor(#[from] crate::upstream::vendors::ProofError),
    #[error("secret {secret} is not bound to an identity-provider client: an administrator must tag it (aws secretsmanager tag-resource --secret-id {secret} --tags Key={tag},Value={document}) before it can rotate; nothing was changed", tag = binding::BINDING_TAG)]
    Unbound { secret: String, document: String },
    #[error("the {stage} document names {document} but the secret is bound to {bound} (tag {tag}); nothing was changed: correct the document, or have an administrator change the binding", tag = binding::BINDING_TAG)]
    BindingMismatch {
        bound: String,
        document: String,
        stage: &'static str,
    },
    #[error("finishSecret rolled this version back earlier (it is AWSPREVIOUS, AWSCURRENT is {current_version}); it is not promoted again: start a new rotation once the providers are fixed")]
    RolledBackEarlier { current_version: String },
    #[error("cannot check AgentCore credential providers: {0}")]
    AgentCore(#[from] AgentCoreError),
    #[error("cannot check the secret a credential provider references ({0}); the step fails and Secrets Manager retries it")]
    ReferenceUnreadable(String),
    #[error("the AgentCore data-plane probe could not complete ({0}); the confirmation runs again on the retry")]
    DataPlaneUnavailable(crate::agentcore::ProbeFailure),
    #[error("testSecret pre-flight failed, nothing was promoted: {0}")]
    Preflight(String),
    #[error("finishSecret rolled AWSCURRENT back to version {previous_version}: {reason}")]
    RolledBack {
        previous_version: String,
        reason: String,
    },
    #[error("finishSecret promoted a version that breaks credential providers and could not roll back ({why_not}): {reason}")]
    BrokenNotRolledBack { reason: String, why_not: String },
}

impl Rotator {
    pub fn new(
        store: Arc<dyn SecretStore>,
        upstreams: Arc<dyn UpstreamDirectory>,
        config: Config,
    ) -> Self {
        let probe = TokenProbe::new(
            config.probe_budget,
            config.probe_initial_backoff,
            config.origins.clone(),
        );
        Self {
            store,
            upstreams,
            probe,
            config,
            clock: Arc::new(SystemTime::now),
            agentcore: None,
        }
    }

    /// Checks the AgentCore credential providers that reference the secret: pre-flight in
    /// testSecret, confirmation (and rollback) in finishSecret. `None` leaves them off.
    pub fn with_agentcore(mut self, hooks: impl Into<Option<AgentCoreHooks>>) -> Self {
        self.agentcore = hooks.into();
        self
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Runs the preamble and one step.
    pub async fn run(&self, event: &RotationEvent) -> Result<StepOutcome, RotationError> {
        let secret = event.secret_id.as_str();
        let token = event.client_request_token.as_str();
        let desc = self.store.describe(secret).await?;
        match preamble::check(&desc, token)? {
            preamble::Preamble::AlreadyCurrent if event.step == Step::FinishSecret => {
                // A crash between promoting and dropping AWSPENDING leaves both on the token.
                finish::already_current(self, secret, &desc, token).await?;
                Ok(StepOutcome::AlreadyCurrent)
            }
            preamble::Preamble::AlreadyCurrent => Ok(StepOutcome::AlreadyCurrent),
            preamble::Preamble::RolledBack { current } => {
                finish::drop_pending_label(self, secret, &desc, token).await?;
                Err(RotationError::RolledBackEarlier {
                    current_version: current,
                })
            }
            preamble::Preamble::Proceed => match event.step {
                Step::CreateSecret => create::run(self, event, &desc).await,
                Step::SetSecret => set::run(self, secret, &desc, token).await,
                Step::TestSecret => test::run(self, secret, &desc, token).await,
                Step::FinishSecret => finish::run(self, secret, &desc, token).await,
            },
        }
    }

    pub(crate) async fn read_doc(
        &self,
        secret: &str,
        version: VersionRef<'_>,
        stage: &'static str,
    ) -> Result<Option<SecretDocument>, RotationError> {
        let Some(payload) = self.store.get_value(secret, version).await? else {
            return Ok(None);
        };
        SecretDocument::parse(payload.text())
            .map(Some)
            .map_err(|source| RotationError::Document { stage, source })
    }

    pub(crate) async fn current_doc(&self, secret: &str) -> Result<SecretDocument, RotationError> {
        self.read_doc(secret, VersionRef::Stage(AWSCURRENT), "AWSCURRENT")
            .await?
            .ok_or(RotationError::NoCurrentVersion)
    }

    pub(crate) async fn pending_doc(
        &self,
        secret: &str,
        token: &str,
    ) -> Result<SecretDocument, RotationError> {
        self.read_doc(
            secret,
            VersionRef::IdAndStage(token, AWSPENDING),
            "AWSPENDING",
        )
        .await?
        .ok_or_else(|| RotationError::PendingNotCreated(token.to_string()))
    }

    pub(crate) fn grace_period(&self, doc: &SecretDocument) -> Duration {
        doc.profile
            .grace_period
            .unwrap_or(self.config.default_grace_period)
    }
}

pub(crate) fn client_ref(doc: &SecretDocument) -> ClientRef {
    ClientRef {
        client_id: doc.client_id.clone(),
    }
}

/// Margin on top of the next rotation and the grace period, so an upstream secret with an
/// expiry outlives a rotation that fails and is fixed within a week.
const EXPIRY_MARGIN: Duration = Duration::from_secs(7 * 24 * 3600);
/// The interval assumed when the secret has no rotation schedule.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(90 * 24 * 3600);

/// How long a new upstream secret must stay valid (for IdPs that set an expiry): until the next
/// scheduled rotation, then the grace period, plus [`EXPIRY_MARGIN`].
pub(crate) fn secret_lifetime(r: &Rotator, desc: &SecretMeta, doc: &SecretDocument) -> Duration {
    let now = (r.clock)();
    let interval = desc
        .next_rotation
        .and_then(|t| t.to_system_time().duration_since(now).ok())
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_INTERVAL);
    interval + r.grace_period(doc) + EXPIRY_MARGIN
}
