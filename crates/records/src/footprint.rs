//! A run's disk and time, estimated before it runs, as a study's plan records them.

use serde::{Deserialize, Serialize};

/// A run's estimated disk and time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Footprint {
    /// Bytes of its run folder at the end.
    pub bytes: u64,
    /// Seconds it runs.
    pub seconds: f64,
}
