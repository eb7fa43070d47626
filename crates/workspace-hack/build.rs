//! An empty build script: with one, Cargo resolves this package's
//! build-dependencies, whose features the build scripts of the workspace share.

fn main() {}
