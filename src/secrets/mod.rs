//! Facts about a Secrets Manager secret, shared by the rotation, the reference checks and the
//! audit: its metadata ([`SecretMeta`], the one DescribeSecret mapping), how it was looked up,
//! its resource-policy and KMS-key verdicts for the AgentCore principal, the shape of its value
//! (with hashes, never values), the read-only inventory port and the rotation's store port with
//! the version and payload types both use.
//!
//! Nothing here knows about rotation steps, audit waves or AgentCore providers; the adapters
//! live in [`crate::aws`].

pub mod collect;
pub mod facts;
pub mod identity;
pub mod inventory;
pub mod keys;
pub mod meta;
pub mod policy;
pub mod shape;
pub mod store;

pub use facts::{Lookup, Observed, ReferenceFacts};
pub use identity::SecretIdentity;
pub use inventory::{KeyPolicyRead, ReadError, SecretInventory, SecretPage};
pub use keys::KeyFacts;
pub use meta::SecretMeta;
pub use policy::PolicyVerdict;
pub use shape::{KeyShape, ValueHash, ValueShape};
pub use store::{Payload, SecretStore, StoreError, VersionRef};
