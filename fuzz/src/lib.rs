//! Fuzz target bodies (see `targets.rs`), shared by the cargo-fuzz binaries and the corpus tests.

pub mod targets;
