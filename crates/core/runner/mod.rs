//! Running here, with progress on the terminal: one chain, one theory run,
//! and a study's runs. The commands parse and print; they start runs
//! through these.

pub mod chain;
pub mod study;
pub mod theory;
