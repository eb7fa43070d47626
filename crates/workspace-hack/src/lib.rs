//! No code: the package exists for its dependencies' features (Cargo.toml).
