//! Empty: this crate exists for the features of its dependencies (see
//! Cargo.toml).
