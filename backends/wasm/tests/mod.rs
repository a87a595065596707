//! The backend's tests, compiled as unit tests of the library (see
//! Cargo.toml: `autotests = false`) so that they can link the reference
//! backend as their oracle.

mod accuracy;
mod common;
mod disk_cache;
mod kernels;
mod ops;
mod routines;
