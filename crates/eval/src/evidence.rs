//! The per-sample evidence behind a scored set's headline figures: what the
//! frozen evaluators saw in each image (and, for a generation's samples, what
//! each real test image saw of them). The collapse profile draws its
//! intervals, tests and survival curves from it.
//!
//! A set's evidence is a folder of `float32` `.npy` arrays, one per quantity,
//! row `i` of every per-sample array belonging to image `i`:
//!
//! | file | shape | what |
//! | --- | --- | --- |
//! | `features.npy` | `[n, d]` | the classifier's hidden-layer features |
//! | `class.npy` | `[n]` | the predicted class (its index) |
//! | `nelbo0.npy` | `[n]` | negative ELBO under the generation-0 VAE, nats |
//! | `style.npy` | `[n, 5]` | ink, slant, width, height, thickness ([`STATS`]) |
//! | `nearest-real.npy` | `[n]` | feature distance to the nearest real test image (another one, for the real set) |
//! | `probe-mu.npy` | `[n, latent]` | the generation-0 encoder's μ |
//! | `precise.npy`, `density.npy` | `[n]` | samples only: inside some real k-NN ball (0/1); the number of real balls holding it |
//! | `real-recalled.npy`, `real-covered.npy` | `[real]` | samples only, per real test image: inside some sample's ball (0/1); its own ball holds a sample (0/1) |
//! | `radius.npy` | `[n]` | the real set only: each image's feature distance to its k-th nearest other real image |

use std::fs;
use std::path::Path;

use collapse_data::npy::{NpyError, read_array, write_array};

use crate::prdc::Hits;
use crate::style::STATS;

/// The folder of a set's evidence: `per-sample/` in a run folder for the
/// real test set, `gen-NNN/per-sample/` for a generation's samples.
pub const PER_SAMPLE: &str = "per-sample";

/// The per-sample quantities of one scored set.
#[derive(Clone, Debug, PartialEq)]
pub struct Evidence {
    /// Images in the set.
    pub images: usize,
    /// Classifier features, `[images, feature_dim]`.
    pub features: Vec<f32>,
    /// Width of a feature row.
    pub feature_dim: usize,
    /// Predicted class per image.
    pub classes: Vec<f32>,
    /// Negative ELBO per image under the generation-0 VAE, nats.
    pub nelbo0: Vec<f32>,
    /// Style statistics, `[images, STATS.len()]`.
    pub style: Vec<f32>,
    /// Feature distance to the nearest (other) real test image.
    pub nearest_real: Vec<f32>,
    /// Generation-0 encoder means, `[images, latent_dim]`.
    pub mu: Vec<f32>,
    /// Width of a μ row.
    pub latent_dim: usize,
    /// What a generation's samples and the real test set show of each other;
    /// `None` for the real test set.
    pub hits: Option<Hits>,
    /// The real test set's own k-NN radii in feature space; `None` for samples.
    pub radius: Option<Vec<f32>>,
}

/// A per-sample scalar quantity the profile tests, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scalar {
    /// Negative ELBO under the generation-0 VAE.
    Nelbo0,
    /// One of the style statistics, by its column in [`STATS`].
    Style(usize),
    /// Feature distance to the nearest real test image.
    NearestReal,
}

impl Scalar {
    /// Every per-sample scalar, in the profile's order.
    pub fn all() -> Vec<Scalar> {
        let mut all = vec![Scalar::Nelbo0];
        all.extend((0..STATS.len()).map(Scalar::Style));
        all.push(Scalar::NearestReal);
        all
    }

    /// Its name in records and tables.
    pub fn name(self) -> &'static str {
        match self {
            Scalar::Nelbo0 => "nelbo0",
            Scalar::Style(c) => STATS[c].0,
            Scalar::NearestReal => "nearest_real",
        }
    }
}

impl Evidence {
    /// The values of `scalar`, one per image.
    pub fn scalar(&self, scalar: Scalar) -> Vec<f32> {
        match scalar {
            Scalar::Nelbo0 => self.nelbo0.clone(),
            Scalar::Style(c) => self
                .style
                .iter()
                .skip(c)
                .step_by(STATS.len())
                .copied()
                .collect(),
            Scalar::NearestReal => self.nearest_real.clone(),
        }
    }

    /// Writes every array into `dir` (created if needed), each atomically.
    pub fn write(&self, dir: &Path) -> Result<(), NpyError> {
        fs::create_dir_all(dir).map_err(|source| NpyError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let n = self.images;
        let one =
            |name: &str, values: &[f32]| write_array(&dir.join(name), values, &[values.len()]);
        write_array(
            &dir.join("features.npy"),
            &self.features,
            &[n, self.feature_dim],
        )?;
        one("class.npy", &self.classes)?;
        one("nelbo0.npy", &self.nelbo0)?;
        write_array(&dir.join("style.npy"), &self.style, &[n, STATS.len()])?;
        one("nearest-real.npy", &self.nearest_real)?;
        write_array(&dir.join("probe-mu.npy"), &self.mu, &[n, self.latent_dim])?;
        if let Some(h) = &self.hits {
            one("precise.npy", &h.precise)?;
            one("density.npy", &h.density)?;
            one("real-recalled.npy", &h.recalled)?;
            one("real-covered.npy", &h.covered)?;
        }
        if let Some(radius) = &self.radius {
            one("radius.npy", radius)?;
        }
        Ok(())
    }

    /// Reads the evidence in `dir`: a generation's samples (`samples`) or
    /// the real test set. Every array must hold one row per image.
    pub fn read(dir: &Path, samples: bool) -> Result<Evidence, NpyError> {
        let (features, shape) = read_array(&dir.join("features.npy"), 2)?;
        let (images, feature_dim) = (shape[0], shape[1]);
        let rows = |name: &str, width: Option<usize>| -> Result<(Vec<f32>, usize), NpyError> {
            let path = dir.join(name);
            let (values, shape) = read_array(&path, if width.is_some() { 2 } else { 1 })?;
            if shape[0] != images || width.is_some_and(|w| w != 0 && shape[1] != w) {
                return Err(NpyError::Invalid {
                    path,
                    problem: format!("shape {shape:?} does not fit {images} images"),
                });
            }
            Ok((values, shape.get(1).copied().unwrap_or(1)))
        };
        let one = |name: &str| rows(name, None).map(|(v, _)| v);
        let (mu, latent_dim) = rows("probe-mu.npy", Some(0))?;
        let hits = match samples {
            true => {
                let (recalled, _) = read_array(&dir.join("real-recalled.npy"), 1)?;
                let (covered, _) = read_array(&dir.join("real-covered.npy"), 1)?;
                Some(Hits {
                    precise: one("precise.npy")?,
                    density: one("density.npy")?,
                    recalled,
                    covered,
                })
            }
            false => None,
        };
        Ok(Evidence {
            images,
            features,
            feature_dim,
            classes: one("class.npy")?,
            nelbo0: one("nelbo0.npy")?,
            style: rows("style.npy", Some(STATS.len()))?.0,
            nearest_real: one("nearest-real.npy")?,
            mu,
            latent_dim,
            hits,
            radius: match samples {
                true => None,
                false => Some(one("radius.npy")?),
            },
        })
    }
}
