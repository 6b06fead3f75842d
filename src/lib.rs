//! agentcore-rotator: rotates the upstream OAuth client secrets that Amazon Bedrock AgentCore
//! Identity credential providers reference through AWS Secrets Manager, and keeps those
//! references healthy.
//!
//! Domain modules never see AWS SDK types; adapters in [`aws`] and [`upstream`] do.

pub mod agentcore;
pub mod audit;
pub mod aws;
pub mod config;
pub mod event;
pub mod findings;
pub mod http;
pub mod logging;
pub mod rotation;
pub mod secret_doc;
pub mod secrets;
pub mod sensitive;
pub mod upstream;
