//! Amazon Bedrock AgentCore Identity credential providers and the secrets they reference.
//!
//! Discovery ([`ProviderDirectory`]), the data-plane probe ([`DataPlane`]), which providers
//! reference a secret ([`referencing`]), the one reference evaluator ([`check`]) and the findings
//! it yields ([`report`]). Facts about secrets come from [`crate::secrets`]; the SDK adapters
//! live in `crate::aws::agentcore`.

pub mod accounts;
pub mod canary;
pub mod check;
pub mod discovery;
pub mod gateways;
pub mod hooks;
pub mod impact;
pub mod probe;
pub mod references;
pub mod report;
pub mod settings;

pub use crate::secrets::{SecretIdentity, ValueHash};
pub use check::{KeyProblem, Problem, Verdict};
pub use discovery::{AgentCoreError, ProviderDirectory, ProviderKind, ProviderRef, SecretSource};
pub use gateways::{BlastRadius, GatewayDirectory, GatewayMap, GatewayTargetRef};
pub use hooks::AgentCoreHooks;
pub use probe::{DataPlane, ProbeFailure};
pub use references::{referencing, Referencing, Via};
pub use settings::AgentCoreSettings;
