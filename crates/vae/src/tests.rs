//! Unit tests of the loss against its closed form, of the checkpoint round
//! trip, and of the two networks' parameter counts. (The divergence rule's
//! tests sit in `train.rs`, beside the private watch they test.)

use std::path::{Path, PathBuf};

use burn::config::Config;
use burn::module::Module;
use burn::prelude::*;

use crate::checkpoint::{CONFIG, CheckpointError, WEIGHTS, load_checkpoint, save_checkpoint};
use crate::config::{Architecture, VaeConfig};
use crate::loss::{kl_per_dim, loss_parts};
use crate::model::Vae;

/// A `[rows, cols]` tensor of `values` on `device`.
fn matrix(values: &[f32], rows: usize, device: &Device) -> Tensor<2> {
    let cols = values.len() / rows;
    Tensor::from_data(TensorData::new(values.to_vec(), [rows, cols]), device)
}

/// The values of `t`, in row-major order.
fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().expect("f32 tensor")
}

/// Asserts `got` is within `rel · max(|want|, 1)` of `want`, element by element.
fn assert_close(got: &[f32], want: &[f64], rel: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let tol = rel * w.abs().max(1.0);
        assert!(
            (f64::from(g) - w).abs() <= tol,
            "{what}[{i}]: got {g}, want {w} (tolerance {tol})"
        );
    }
}

mod loss {
    use super::*;

    /// Pixels per row: one full group of eight plus a tail, so that a
    /// per-row kernel's vector part and its remainder are both checked.
    const PIXELS: usize = 11;

    /// `[x, l]` rows: moderate logits on grey targets; large logits of the
    /// right sign (the loss is ≈ 0, and a naive `log σ(l)` gives `0 · ∞`);
    /// the same large logits on wrong or grey targets (the loss is ≈ `|l|`
    /// per pixel, with no overflow).
    const ROWS: [([f32; PIXELS], [f32; PIXELS]); 3] = [
        (
            [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
            [-3.0, -1.5, -0.5, 0.0, 0.25, 0.5, 1.0, 2.0, 4.0, -6.0, 7.0],
        ),
        (
            [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0],
            [
                1e4, -1e4, 100.0, -100.0, 88.0, -88.0, 30.0, -30.0, 50.0, -50.0, 1e3,
            ],
        ),
        (
            [0.0, 1.0, 0.5, 0.5, 0.25, 0.75, 0.0, 1.0, 0.5, 0.5, 0.9],
            [
                1e4, -1e4, 100.0, -100.0, 88.0, -88.0, 30.0, -30.0, 50.0, -50.0, 1e3,
            ],
        ),
    ];

    /// `(μ, log σ²)` pairs: zero KL at the prior, each term alone, a tiny
    /// variance (large `−log σ²`), and a far mean with a huge variance.
    const POSTERIOR: [(f32, f32); 8] = [
        (0.0, 0.0),
        (1.0, 0.0),
        (0.0, 1.0),
        (-2.0, -3.0),
        (3.0, 2.5),
        (0.5, -10.0),
        (-30.0, 10.0),
        (0.1, 0.2),
    ];

    /// `−x·log σ(l) − (1 − x)·log(1 − σ(l))` summed over a row, in f64.
    fn bce_reference(x: &[f32], l: &[f32]) -> f64 {
        x.iter()
            .zip(l)
            .map(|(&x, &l)| {
                let (x, l) = (f64::from(x), f64::from(l));
                // log σ(l) = −log(1 + e^{−l}), written without overflow.
                let log_sigmoid = |l: f64| -(l.max(0.0) - l + (-l.abs()).exp().ln_1p());
                -x * log_sigmoid(l) - (1.0 - x) * log_sigmoid(-l)
            })
            .sum()
    }

    /// `−½ (1 + log σ² − μ² − σ²)`, in f64.
    fn kl_reference(mu: f32, logvar: f32) -> f64 {
        let (mu, logvar) = (f64::from(mu), f64::from(logvar));
        -0.5 * (1.0 + logvar - mu * mu - logvar.exp())
    }

    /// Each dimension's KL is the closed form of KL(N(μ, σ²) ‖ N(0, 1)).
    #[test]
    fn kl_per_dim_matches_the_closed_form() {
        let device = Device::flex();
        let (mu, logvar): (Vec<f32>, Vec<f32>) = POSTERIOR.into_iter().unzip();
        let got = values(kl_per_dim(
            matrix(&mu, 2, &device),
            matrix(&logvar, 2, &device),
        ));
        let want: Vec<f64> = POSTERIOR.iter().map(|&(m, v)| kl_reference(m, v)).collect();
        assert_close(&got, &want, 1e-6, "kl");
    }

    /// Each image's parts are the BCE summed over its pixels and the KL
    /// summed over its latent dimensions, also where the logits are large.
    #[test]
    fn loss_parts_are_per_image_sums_of_the_closed_forms() {
        let device = Device::flex();
        let x: Vec<f32> = ROWS.iter().flat_map(|(x, _)| *x).collect();
        let logits: Vec<f32> = ROWS.iter().flat_map(|(_, l)| *l).collect();
        // Three images of latent dimension 3 from the first nine posteriors
        // (the eighth repeated to fill the last row).
        let posterior: Vec<(f32, f32)> = (0..9).map(|i| POSTERIOR[i.min(7)]).collect();
        let (mu, logvar): (Vec<f32>, Vec<f32>) = posterior.iter().copied().unzip();
        let parts = loss_parts(
            matrix(&logits, 3, &device),
            matrix(&mu, 3, &device),
            matrix(&logvar, 3, &device),
            matrix(&x, 3, &device),
        );
        let recon: Vec<f64> = ROWS.iter().map(|(x, l)| bce_reference(x, l)).collect();
        let kl: Vec<f64> = posterior
            .chunks(3)
            .map(|row| row.iter().map(|&(m, v)| kl_reference(m, v)).sum())
            .collect();
        // The confident, right row must come out ≈ 0, not NaN or ∞.
        assert!(
            recon[1] < 1e-12,
            "reference of the confident row: {}",
            recon[1]
        );
        assert_close(&values(parts.recon), &recon, 1e-6, "recon");
        assert_close(&values(parts.kl), &kl, 1e-6, "kl");
    }
}

mod checkpoint {
    use super::*;

    /// A folder of its own under the system's temporary folder, removed on drop.
    struct ScratchDir(PathBuf);

    impl ScratchDir {
        /// A fresh, empty folder named after the test (and this process).
        fn new(test: &str) -> Self {
            let path =
                std::env::temp_dir().join(format!("collapse-vae-{}-{test}", std::process::id()));
            if path.exists() {
                std::fs::remove_dir_all(&path).expect("remove a stale scratch folder");
            }
            std::fs::create_dir_all(&path).expect("create the scratch folder");
            Self(path)
        }

        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for ScratchDir {
        fn drop(&mut self) {
            // Best effort: a leftover folder in the temporary folder is harmless.
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Logits, μ and log σ² of `model` on two fixed images with fixed noise.
    fn fixed_forward(model: &Vae, config: &VaeConfig, device: &Device) -> Vec<f32> {
        let pixels = config.pixels();
        let x: Vec<f32> = (0..2 * pixels)
            .map(|i| (i * 37 % 256) as f32 / 255.0)
            .collect();
        let (logits, mu, logvar) = model.forward_with_noise(matrix(&x, 2, device), |mu| {
            let [b, d] = mu.dims();
            let eps: Vec<f32> = (0..b * d).map(|i| (i as f32 * 0.7).sin()).collect();
            matrix(&eps, b, device)
        });
        [values(logits), values(mu), values(logvar)].concat()
    }

    /// A saved model loads back with the same config and computes the same
    /// outputs, and those outputs are not what any fresh model computes.
    fn round_trip(config: VaeConfig, test: &str) {
        let device = Device::flex();
        let dir = ScratchDir::new(test);
        let model = config.init(&device);
        save_checkpoint(dir.path(), &model, &config).expect("save");
        let (loaded, read) = load_checkpoint(dir.path(), &device).expect("load");
        assert_eq!(read, config);
        let saved = fixed_forward(&model, &config, &device);
        assert_eq!(fixed_forward(&loaded, &read, &device), saved);
        // Otherwise the equality above would not show that the weights came from the file.
        assert_ne!(
            fixed_forward(&config.init(&device), &config, &device),
            saved
        );
    }

    /// Round trip of an MLP whose config differs from the defaults in every size.
    #[test]
    fn mlp_checkpoint_round_trips() {
        let config = VaeConfig::new(Architecture::Mlp)
            .with_latent_dim(6)
            .with_hidden(vec![48, 24])
            .with_image_dims([12, 8]);
        round_trip(config, "mlp-round-trip");
    }

    /// Round trip of a conv VAE whose config differs from the defaults in every size.
    #[test]
    fn conv_checkpoint_round_trips() {
        let config = VaeConfig::new(Architecture::Conv)
            .with_latent_dim(5)
            .with_channels([8, 16])
            .with_image_dims([12, 16]);
        round_trip(config, "conv-round-trip");
    }

    /// The read error that loading `dir` gives, naming the file at fault.
    fn read_error_path(dir: &Path) -> PathBuf {
        let device = Device::flex();
        match load_checkpoint(dir, &device) {
            Err(CheckpointError::Read { path, .. }) => path,
            Err(other) => panic!("expected a read error, got {other}"),
            Ok(_) => panic!("{} loaded as a checkpoint", dir.display()),
        }
    }

    /// An empty or missing folder is a read error on the config file.
    #[test]
    fn loading_an_empty_or_missing_folder_fails_on_the_config() {
        let dir = ScratchDir::new("empty-checkpoint");
        assert_eq!(read_error_path(dir.path()), dir.path().join(CONFIG));
        let missing = dir.path().join("absent");
        assert_eq!(read_error_path(&missing), missing.join(CONFIG));
    }

    /// A config without its weights is a read error on the weights file.
    #[test]
    fn loading_a_config_without_weights_fails_on_the_weights() {
        let dir = ScratchDir::new("no-weights");
        VaeConfig::new(Architecture::Mlp)
            .save(dir.path().join(CONFIG))
            .expect("save the config");
        assert_eq!(read_error_path(dir.path()), dir.path().join(WEIGHTS));
    }
}

mod params {
    use super::*;

    /// Weights and biases of a dense layer.
    fn dense(inputs: usize, outputs: usize) -> usize {
        inputs * outputs + outputs
    }

    fn num_params(config: &VaeConfig) -> usize {
        config.init(&Device::flex()).num_params()
    }

    /// The MLP 784-400-20: encoder layer, the μ and log σ² heads, the
    /// mirrored decoder layer and the output layer.
    #[test]
    fn mlp_784_400_20_parameter_count() {
        let want = dense(784, 400) + 2 * dense(400, 20) + dense(20, 400) + dense(400, 784);
        assert_eq!(num_params(&VaeConfig::new(Architecture::Mlp)), want);
    }

    /// With two hidden layers the decoder mirrors the encoder's widths.
    #[test]
    fn mlp_decoder_mirrors_the_hidden_widths() {
        let config = VaeConfig::new(Architecture::Mlp).with_hidden(vec![400, 200]);
        let want = dense(784, 400)
            + dense(400, 200)
            + 2 * dense(200, 20)
            + dense(20, 200)
            + dense(200, 400)
            + dense(400, 784);
        assert_eq!(num_params(&config), want);
    }

    /// The authors' convolutional VAE with the default config has the
    /// paper's 647,081 parameters.
    #[test]
    fn conv_vae_has_the_papers_parameter_count() {
        assert_eq!(num_params(&VaeConfig::new(Architecture::Conv)), 647_081);
    }
}
