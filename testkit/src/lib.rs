//! Local stack for agentcore-rotator: moto, identity-provider simulators, oidc-provider and a
//! conductor that drives rotations the way Secrets Manager does.

pub mod agentcore;
pub mod cognito;
pub mod conductor;
pub mod cross_account;
pub mod fault;
pub mod faulty_store;
pub mod findings_route;
pub mod idp;
pub mod moto;
pub mod oidc;
pub mod providers;
pub mod security_hub;
pub mod stack;
pub mod wiring;
