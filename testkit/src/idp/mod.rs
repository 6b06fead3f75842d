pub mod assertion;
pub mod keycloak;
pub mod rig;
