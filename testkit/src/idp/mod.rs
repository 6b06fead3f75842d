pub mod assertion;
