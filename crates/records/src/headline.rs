//! The metrics each experiment's runs are compared and aggregated on.

use crate::closed_form::{GAUSSIAN_COLUMNS, GMM_COLUMNS, charted};
use crate::contract::Experiment;
use crate::table::Metric;

/// The headline metrics of `experiment`'s runs, in report order.
pub fn headline(experiment: Experiment) -> Vec<&'static Metric> {
    match experiment {
        Experiment::Chain => crate::columns::headline().collect(),
        Experiment::Gaussian => charted(GAUSSIAN_COLUMNS),
        Experiment::Gmm => charted(GMM_COLUMNS),
    }
    .into_iter()
    .filter(|m| m.headline)
    .collect()
}
