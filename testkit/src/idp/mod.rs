pub mod assertion;
pub mod aws_federation;
pub mod common;
pub mod entra;
pub mod keycloak;
pub mod okta;
pub mod rig;
pub mod vendors;
