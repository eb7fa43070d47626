//! Records what the `collapse` binary is built from (rustc, profile, cargo
//! features, the locked version of every dependency) for `crates/core/build_info.rs`.

fn main() {
    // Features, profile and compiler already rerun a build script; the lock file is the one input left.
    println!("cargo::rerun-if-changed=Cargo.lock");
    built::write_built_file().expect("the build information could not be written to OUT_DIR");
}
