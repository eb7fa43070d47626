//! What this binary was built from, as the build script recorded it.

#[allow(
    dead_code,
    reason = "the generated file holds more than the binary reads"
)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/built.rs"));
}

/// The compiler, as `rustc --version` printed it.
pub fn rustc_version() -> &'static str {
    generated::RUSTC_VERSION
}

/// The cargo features the binary was built with (none in a default build).
pub fn features() -> Vec<&'static str> {
    // Without features the recorded list holds one empty name.
    generated::FEATURES_LOWERCASE
        .iter()
        .copied()
        .filter(|feature| !feature.is_empty())
        .collect()
}

/// The version of `package` in the Cargo.lock the binary was built from.
pub fn locked_version(package: &str) -> Option<&'static str> {
    generated::DEPENDENCIES
        .iter()
        .find(|(name, _)| *name == package)
        .map(|(_, version)| *version)
}
