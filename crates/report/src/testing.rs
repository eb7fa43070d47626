//! Fixtures of the crate's unit tests: small run folders written from
//! made-up numbers.

use std::path::Path;

use crate::columns::write_metrics_csv;
use crate::contract::{
    DatasetFileRecord, DatasetRecord, DeviceRecord, Manifest, MetricsRow, ModelFit, ProbeStats,
    generation_dir, write_json,
};
use crate::evaluation::{
    ClassStats, ClassifierInfo, Distribution, EvalRecord, EvalSummary, FeatureDistances, StyleStat,
};
use crate::grid::{grid_image, save_png};
use crate::stats::{QUANTILE_LEVELS, histogram, quantiles};

/// A row of generation `g` whose probe μ std is `mu_std`, evaluated when `eval` is given.
pub fn row(g: usize, mu_std: f64, eval: Option<EvalSummary>) -> MetricsRow {
    MetricsRow {
        generation: g,
        train_size: 256,
        real_fraction: if g == 0 { 1.0 } else { 0.0 },
        train_loss: Some(150.0 - g as f64),
        fit: Some(ModelFit {
            test_nelbo: 160.0 + g as f64,
            test_recon: 140.0,
            test_kl: 20.0 + g as f64,
            active_units: 12,
        }),
        probe_mu_mean: 0.0,
        probe_mu_std: mu_std,
        probe_tail_mass: 0.01,
        seconds: 1.0,
        eval,
        intervals: Default::default(),
    }
}

/// A manifest of a flex run with `config`.
pub fn manifest(config: serde_json::Value) -> Manifest {
    Manifest {
        format_version: collapse_records::FORMAT_VERSION,
        experiment: crate::contract::Experiment::Chain,
        tool: "collapse 0.1.0".into(),
        started: "2026-01-01T00:00:00Z".into(),
        finished: Some("2026-01-01T00:01:00Z".into()),
        command_line: vec![
            "collapse".into(),
            "run".into(),
            "--out".into(),
            "a <b>".into(),
        ],
        config,
        seed: 3,
        device: DeviceRecord {
            backend: "flex".into(),
            adapter: "host CPU, 2 threads".into(),
            kind: "cpu".into(),
            runtime: "flex".into(),
            precision: "f32".into(),
            kernels: Vec::new(),
            tuning_cache: None,
        },
        parameters: 652_824,
        dataset: DatasetRecord {
            name: "mnist".into(),
            dir: "datasets/mnist".into(),
            files: vec![DatasetFileRecord {
                path: "datasets/mnist/t10k-images-idx3-ubyte.gz".into(),
                sha256: "00".into(),
                matches_catalogue: true,
            }],
        },
        generations: Vec::new(),
        resumed: Vec::new(),
        retries: Vec::new(),
    }
}

/// A distribution of `values` over fixed bins `[lo, hi)`.
fn distribution(values: &[f32], lo: f64, hi: f64) -> Distribution {
    let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / values.len() as f64;
    Distribution {
        mean,
        quantiles: quantiles(values, &QUANTILE_LEVELS),
        histogram: histogram(values, lo, hi, 20),
    }
}

/// An evaluation record whose values narrow as `g` grows; `None` is the real test set.
pub fn eval_record(g: Option<usize>) -> EvalRecord {
    let width = 1.0 / (1.0 + g.map_or(0.0, |g| g as f32));
    let values: Vec<f32> = (0..200).map(|i| (i as f32 / 199.0 - 0.5) * width).collect();
    let mut frequencies = vec![0.1; 10];
    frequencies[0] += 0.05 * g.unwrap_or(0) as f64;
    frequencies[9] -= 0.05 * g.unwrap_or(0) as f64;
    EvalRecord {
        label: g.map_or("real test set".into(), |g| format!("generation {g}")),
        generation: g,
        images: 200,
        classifier: ClassifierInfo {
            key: "k".into(),
            test_accuracy: 0.99,
        },
        classes: ClassStats {
            counts: frequencies.iter().map(|f| (f * 200.0) as u64).collect(),
            frequencies,
            entropy_nats: 2.2,
            entropy_normalised: 0.95,
            rarest_class: 9,
            rarest_share: 0.05,
            mean_confidence: 0.9,
            unconfident_share: 0.1,
        },
        distances: g.map(|g| FeatureDistances {
            fd: 10.0 * g as f64,
            precision: 0.8,
            recall: 0.7 - 0.1 * g as f64,
            density: 1.0,
            coverage: 0.6,
            k: 5,
            reference: 200,
        }),
        nelbo0: distribution(&values, -1.0, 1.0),
        style: ["ink", "slant", "width", "height", "thickness"]
            .iter()
            .map(|name| StyleStat {
                name: name.to_string(),
                unit: "px".into(),
                distribution: distribution(&values, -1.0, 1.0),
            })
            .collect(),
        pca: values
            .iter()
            .map(|&v| [f64::from(v), f64::from(v * v)])
            .collect(),
    }
}

/// Writes a run folder of `rows` into `dir`: manifest, metrics.csv, and per
/// generation its grids and probe; with `evaluated`, also `reference.json`
/// and every generation's `eval.json`.
pub fn write_run(dir: &Path, rows: &[MetricsRow], config: serde_json::Value, evaluated: bool) {
    std::fs::create_dir_all(dir).unwrap();
    write_json(&dir.join("manifest.json"), &manifest(config)).unwrap();
    write_metrics_csv(&dir.join("metrics.csv"), rows).unwrap();
    if evaluated {
        write_json(&dir.join("reference.json"), &eval_record(None)).unwrap();
    }
    for r in rows {
        let gen_dir = generation_dir(dir, r.generation);
        std::fs::create_dir_all(&gen_dir).unwrap();
        let grid = grid_image(&[r.generation as f32 / 4.0; 4 * 16], [4, 4], 2, 2);
        save_png(&gen_dir.join("samples.png"), &grid).unwrap();
        save_png(&gen_dir.join("reconstructions.png"), &grid).unwrap();
        let mu = [-2.5, -0.5, 0.0, 0.5, 3.0];
        let probe = ProbeStats {
            generation: r.generation,
            samples: 1,
            mu_mean: 0.1,
            mu_std: 1.0,
            per_dim_std: vec![1.0; 5],
            quantiles: quantiles(&mu, &QUANTILE_LEVELS),
            histogram: histogram(&mu, -4.0, 4.0, 80),
            tail_mass: 0.4,
        };
        write_json(&gen_dir.join("probe.json"), &probe).unwrap();
        if evaluated {
            write_json(&gen_dir.join("eval.json"), &eval_record(Some(r.generation))).unwrap();
        }
    }
}
