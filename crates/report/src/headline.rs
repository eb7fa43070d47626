//! The metrics plotted against generation, named by their `metrics.csv`
//! column: how each is captioned on a chart, and which are the headline
//! figures that runs and seeds are compared on.

use crate::contract::MetricsRow;
use crate::evaluation::EvalSummary;
use crate::plots::Axes;

/// A column of `metrics.csv` drawn against generation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metric {
    /// The column name, also the plot's file stem.
    pub column: &'static str,
    /// The chart's caption.
    pub title: &'static str,
    /// The y axis label.
    pub axis: &'static str,
    /// Whether runs and seeds are compared on it.
    pub headline: bool,
}

impl Metric {
    /// The axes of a chart of this metric against generation.
    pub fn axes(&self) -> Axes<'static> {
        Axes {
            title: self.title,
            x_label: "generation",
            y_label: self.axis,
        }
    }
}

const fn metric(
    column: &'static str,
    title: &'static str,
    axis: &'static str,
    headline: bool,
) -> Metric {
    Metric {
        column,
        title,
        axis,
        headline,
    }
}

/// Every metric drawn against generation, in report order.
pub const METRICS: [Metric; 18] = [
    metric(
        "probe_mu_std",
        "Spread of the generation-0 encoder's μ on each generation's samples",
        "probe μ std",
        true,
    ),
    metric(
        "probe_tail_mass",
        "Tail mass |μ| > 2 of the probe",
        "fraction of |μ| > 2",
        true,
    ),
    metric(
        "test_nelbo",
        "Negative ELBO on the real test set",
        "nats per image",
        true,
    ),
    metric(
        "active_units",
        "Active latent units on the real test set",
        "active units",
        false,
    ),
    metric(
        "class_entropy_norm",
        "Entropy of the predicted classes (1 = uniform)",
        "entropy / ln(classes)",
        true,
    ),
    metric(
        "rarest_class_share",
        "Share of the rarest predicted class",
        "fraction of samples",
        false,
    ),
    metric(
        "unconfident_share",
        "Samples the classifier is unsure of (top probability < 0.5)",
        "fraction of samples",
        false,
    ),
    metric(
        "fd",
        "Fréchet distance to the real test set (classifier features)",
        "FD",
        true,
    ),
    metric(
        "precision",
        "Precision: samples inside the real data's manifold",
        "precision",
        true,
    ),
    metric(
        "recall",
        "Recall: real data inside the samples' manifold",
        "recall",
        true,
    ),
    metric(
        "density",
        "Density of samples in real neighbourhoods",
        "density",
        true,
    ),
    metric(
        "coverage",
        "Coverage: real neighbourhoods holding a sample",
        "coverage",
        true,
    ),
    metric(
        "nelbo0_median",
        "Median negative ELBO of the samples under the generation-0 VAE",
        "nats per image",
        true,
    ),
    metric(
        "ink_spread",
        "1–99 % spread of ink mass",
        "ink spread",
        true,
    ),
    metric(
        "slant_spread",
        "1–99 % spread of slant",
        "slant spread",
        true,
    ),
    metric(
        "width_spread",
        "1–99 % spread of bounding-box width",
        "width spread",
        true,
    ),
    metric(
        "height_spread",
        "1–99 % spread of bounding-box height",
        "height spread",
        true,
    ),
    metric(
        "thickness_spread",
        "1–99 % spread of stroke thickness",
        "thickness spread",
        true,
    ),
];

/// The headline metrics, in report order.
pub fn headline() -> impl Iterator<Item = &'static Metric> {
    METRICS.iter().filter(|m| m.headline)
}

/// The value of `column` in `row`; `None` for an unknown column or an
/// evaluation column of a row that was not evaluated.
pub fn value(row: &MetricsRow, column: &str) -> Option<f64> {
    let v = match column {
        "generation" => row.generation as f64,
        "train_size" => row.train_size as f64,
        "real_fraction" => row.real_fraction,
        "train_loss" => row.train_loss,
        "test_nelbo" => row.test_nelbo,
        "test_recon" => row.test_recon,
        "test_kl" => row.test_kl,
        "active_units" => row.active_units as f64,
        "probe_mu_mean" => row.probe_mu_mean,
        "probe_mu_std" => row.probe_mu_std,
        "probe_tail_mass" => row.probe_tail_mass,
        "seconds" => row.seconds,
        _ => return row.eval.as_ref().and_then(|e| summary_value(e, column)),
    };
    Some(v)
}

/// The value of evaluation column `column` in `summary`.
pub fn summary_value(summary: &EvalSummary, column: &str) -> Option<f64> {
    EvalSummary::COLUMNS
        .iter()
        .position(|c| *c == column)
        .map(|i| summary.values()[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_a_column_of_metrics_csv() {
        let header = MetricsRow::header();
        for m in METRICS {
            assert!(header.contains(&m.column), "{}", m.column);
        }
        assert_eq!(headline().count(), 15);
    }

    #[test]
    fn values_by_column() {
        let mut summary = [0.0; 17];
        summary[5] = 12.5;
        let row = MetricsRow {
            generation: 2,
            train_size: 100,
            real_fraction: 0.5,
            train_loss: 1.0,
            test_nelbo: 2.0,
            test_recon: 1.5,
            test_kl: 0.5,
            active_units: 7,
            probe_mu_mean: 0.0,
            probe_mu_std: 0.8,
            probe_tail_mass: 0.01,
            seconds: 3.0,
            eval: None,
        };
        assert_eq!(value(&row, "active_units"), Some(7.0));
        assert_eq!(value(&row, "fd"), None);
        assert_eq!(value(&row, "nonsense"), None);
        let evaluated = MetricsRow {
            eval: Some(EvalSummary::from_values(summary)),
            ..row
        };
        assert_eq!(value(&evaluated, "fd"), Some(12.5));
    }
}
