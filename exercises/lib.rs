//! The exercises are test targets (see `Cargo.toml` and `info.toml`); this
//! empty library only gives the package a root.
