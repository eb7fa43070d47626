//! The report crate's error: what failed, and on which file.

use std::path::PathBuf;

use plotters::prelude::{BitMapBackend, DrawingAreaErrorKind, DrawingBackend};

/// What plotters reports when drawing a chart on the bitmap fails (a font it
/// cannot load, a buffer of the wrong size, a layout that does not fit).
pub type DrawingError = DrawingAreaErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>;

/// An error drawing or writing a report, or reading the run folders it shows.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// A record failed to read or write.
    #[error(transparent)]
    Record(#[from] collapse_records::RecordError),
    /// Encoding or decoding an image failed.
    #[error("{}: {source}", path.display())]
    Image {
        /// The file.
        path: PathBuf,
        /// The error.
        source: image::ImageError,
    },
    /// Drawing a plot failed.
    #[error("{}: drawing failed: {source}", path.display())]
    Plot {
        /// The file.
        path: PathBuf,
        /// What the plotting library reported.
        source: DrawingError,
    },
    /// Fewer runs were given than the operation needs.
    #[error("{operation} needs at least {needed} runs, got {given}")]
    TooFewRuns {
        /// What was asked (`comparing`, `reporting runs`).
        operation: &'static str,
        /// The fewest runs it takes.
        needed: usize,
        /// The runs given.
        given: usize,
    },
    /// Runs of different experiments were given to one comparison or aggregate.
    #[error("{operation}: {} is a {first_kind} but {} is a {other_kind}", first.display(), other.display())]
    MixedExperiments {
        /// What was asked.
        operation: &'static str,
        /// The first run.
        first: PathBuf,
        /// Its experiment, in words.
        first_kind: &'static str,
        /// A run of another experiment.
        other: PathBuf,
        /// Its experiment, in words.
        other_kind: &'static str,
    },
    /// A folder given as a run is not one.
    #[error("{}: not a run folder (no metrics.csv)", path.display())]
    NotARun {
        /// The folder.
        path: PathBuf,
    },
}

impl ReportError {
    /// Wraps an I/O error with its path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ReportError::Record(collapse_records::RecordError::io(path, source))
    }
}
