//! Amazon Bedrock AgentCore Identity credential providers and the secrets they reference.
//!
//! Domain types only; the SDK adapter lives in `crate::aws::agentcore`.

pub mod discovery;
pub mod identity;

pub use discovery::{ProviderDirectory, ProviderKind, ProviderRef, SecretSource};
pub use identity::SecretIdentity;
