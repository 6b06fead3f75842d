//! The drift audit: credential providers against the secrets they reference, the secrets'
//! rotation hygiene and the upstream IdP's live secrets.
//!
//! Flow: [`trigger`] parses what the invocation asks for; [`engine`] discovers providers,
//! groups them by referenced secret and audits the secrets in waves (bounded concurrency, a
//! deadline check between waves, a [`trigger::Continuation`] when time runs out); [`collect`]
//! reads secrets into a [`snapshot::Snapshot`] through small ports, [`prefetch`] starting on
//! each secret as soon as discovery names it; [`rules`] are pure functions over it;
//! [`lifecycle`] turns findings that no longer fire into resolved ones; [`report`] summarises.

pub mod collect;
pub mod config;
pub mod engine;
pub mod handler;
pub mod lifecycle;
pub mod prefetch;
pub mod report;
pub mod rules;
pub mod snapshot;
pub mod trigger;

pub use config::AuditConfig;
pub use engine::{AuditOutcome, Auditor};
pub use trigger::{AuditScope, Continuation, Trigger, TriggerError};
