//! Amazon Bedrock AgentCore Identity credential providers and the secrets they reference.
//!
//! Domain types and checks over small ports ([`ProviderDirectory`], [`SecretAccess`],
//! [`DataPlane`]); the SDK adapters live in `crate::aws::agentcore`.

pub mod access;
pub mod check;
pub mod discovery;
pub mod hooks;
pub mod identity;
pub mod policy;
pub mod probe;
pub mod references;
pub mod report;
pub mod rules;
pub mod settings;

pub use access::{AccessFacts, KeyFacts, SecretAccess};
pub use check::{KeyProblem, Problem};
pub use discovery::{AgentCoreError, ProviderDirectory, ProviderKind, ProviderRef, SecretSource};
pub use hooks::AgentCoreHooks;
pub use identity::SecretIdentity;
pub use probe::{DataPlane, ProbeFailure, ValueHash};
pub use references::{referencing, Referencing, Via};
pub use settings::AgentCoreSettings;
