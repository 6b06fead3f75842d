pub mod assertion;
pub mod keycloak;
