//! `collapse model`: the chain's VAE behind `.npy` files trains and samples
//! exactly as the chain does for the same streams (the model it trains draws
//! the chain's next training set to the bit), and bad input is one line.

use collapse_chain::seeds::{Purpose, stream_seed};
use collapse_data::{IdxData, read_idx};

use crate::chain::TINY;
use crate::util::{TempDir, assert_fails, assert_ok, collapse, mnist_dir, run_into};

#[test]
fn model_train_and_sample_are_the_chains_generation_0_and_its_draws() {
    let tmp = TempDir::new("model");
    let run = tmp.join("run");
    let mut chain = TINY.to_vec();
    chain.extend(["--no-eval", "--keep-sets", "all"]);
    assert_ok(&run_into(&tmp, &run, &chain));

    // Generation 0's training set: the first 256 real images, as .npy.
    let images = read_idx(&mnist_dir().join("train-images-idx3-ubyte.gz")).unwrap();
    let IdxData::U8(bytes) = images.data else {
        panic!("MNIST images are bytes")
    };
    let real: Vec<f32> = collapse_data::idx::unit_f32(&bytes[..256 * 784]);
    let set = tmp.join("real.npy");
    collapse_data::write_images(&set, &real, 256, [28, 28]).unwrap();
    std::fs::write(tmp.join("quick.toml"), "epochs = 1\n").unwrap();

    let seed = |g, purpose| stream_seed(0, g, purpose).to_string();
    let (train_seed, init_seed) = (seed(0, Purpose::Train), seed(0, Purpose::Init));
    let model = tmp.join("model");
    let s = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let trained = assert_ok(&collapse(
        &tmp.0,
        &[
            "model",
            "train",
            "--data",
            &s(&set),
            "--out",
            &s(&model),
            "--seed",
            &train_seed,
            "--init-seed",
            &init_seed,
            "--config",
            "quick.toml",
            "-q",
        ],
    ));
    assert!(
        trained.contains("256 images of 28x28, 1 epochs"),
        "{trained}"
    );
    assert_eq!(
        std::fs::read(model.join("vae.json")).unwrap(),
        std::fs::read(run.join("gen-000/vae.json")).unwrap()
    );

    // Generation 1's training set: 256 draws of generation 0 on the chain's
    // sampling stream, from the model trained here and from the chain's own.
    let kept = read_idx(&run.join("gen-001/train-images-idx3-float.gz")).unwrap();
    let IdxData::F32(chains) = kept.data else {
        panic!("decoder means are kept as float32")
    };
    for (from, name) in [
        (model.clone(), "ours.npy"),
        (run.join("gen-000"), "chains.npy"),
    ] {
        let drawn = tmp.join(name);
        assert_ok(&collapse(
            &tmp.0,
            &[
                "model",
                "sample",
                "--from",
                &s(&from),
                "--count",
                "256",
                "--out",
                &s(&drawn),
                "--seed",
                &seed(1, Purpose::Sample),
            ],
        ));
        let drawn = collapse_data::read_images(&drawn, [28, 28], Some(256)).unwrap();
        assert!(
            drawn == chains,
            "{name}: not the chain's generation-1 training set"
        );
    }

    // Bad input: one line, exit 2.
    let bad = tmp.join("bad.npy");
    std::fs::write(&bad, "not numpy").unwrap();
    assert_fails(
        &collapse(
            &tmp.0,
            &["model", "train", "--data", &s(&bad), "--out", "m2"],
        ),
        2,
        &["bad.npy: not a .npy file"],
    );
    assert_fails(
        &collapse(
            &tmp.0,
            &[
                "model",
                "sample",
                "--from",
                &s(&model),
                "--count",
                "0",
                "--out",
                "x.npy",
            ],
        ),
        2,
        &["--count: must be at least 1"],
    );
    std::fs::write(tmp.join("bad.toml"), "epochs = 0\n").unwrap();
    assert_fails(
        &collapse(
            &tmp.0,
            &[
                "model",
                "train",
                "--data",
                &s(&set),
                "--out",
                "m3",
                "--config",
                "bad.toml",
            ],
        ),
        2,
        &["bad.toml: epochs:"],
    );
}

/// The chain's VAE as an external model's train and sample commands, their
/// model and training settings read from `config`; `wrap` goes before the
/// train command's words (a script that runs them, or nothing).
pub fn vae_commands(config: &std::path::Path, wrap: &str) -> (String, String) {
    let bin = env!("CARGO_BIN_EXE_collapse");
    let config = config.display();
    let train = format!(
        "{wrap}'{bin}' model train --data {{train}} --out {{model_dir}} --seed {{seed}} --init-seed {{init_seed}} --config '{config}' -q"
    );
    let sample = format!(
        "'{bin}' model sample --from {{model_dir}} --count {{count}} --out {{samples}} --seed {{seed}} --config '{config}'"
    );
    (train, sample)
}

#[test]
fn a_chain_through_the_command_protocol_gives_the_vae_chains_figures() {
    let tmp = TempDir::new("protocol");
    let (vae, external) = (tmp.join("vae"), tmp.join("external"));
    assert_ok(&run_into(&tmp, &vae, &TINY));
    std::fs::write(tmp.join("model.toml"), "epochs = 1\n").unwrap();
    let config = tmp.join("model.toml");
    let (train, sample) = vae_commands(&config, "");
    let mut flags = TINY.to_vec();
    flags.extend(["--external-train", &train, "--external-sample", &sample]);
    assert_ok(&run_into(&tmp, &external, &flags));

    let read = |run: &std::path::Path| {
        collapse_records::read_metrics_csv(&run.join("metrics.csv")).unwrap()
    };
    let (ours, theirs) = (read(&vae), read(&external));
    assert_eq!(ours.len(), theirs.len());
    for (a, b) in ours.iter().zip(&theirs) {
        assert!(a.fit.is_some() && b.fit.is_none() && b.train_loss.is_none());
        let same = |r: &collapse_records::MetricsRow| {
            (
                r.train_size,
                r.real_fraction,
                r.probe_mu_mean,
                r.probe_mu_std,
                r.probe_tail_mass,
                r.eval.clone(),
            )
        };
        assert_eq!(same(a), same(b), "generation {}", a.generation);
    }
    let gen1 = external.join("gen-001");
    assert!(gen1.join("model/model.bpk").is_file() && gen1.join("train.stdout.log").is_file());
    assert!(
        !gen1.join("train.npy").exists(),
        "the set goes once the model is trained"
    );

    // A command that fails ends the run in one line naming the generation and the command.
    let mut flags = TINY.to_vec();
    flags.extend([
        "--external-train",
        "sh -c 'echo broken >&2; exit 3'",
        "--external-sample",
        &sample,
    ]);
    crate::util::assert_fails(
        &run_into(&tmp, &tmp.join("failing"), &flags),
        1,
        &[
            "generation 0: the external model's train command: exited with 3; its stderr ends: broken",
        ],
    );
}

#[test]
fn a_numpy_model_collapses_through_the_protocol_in_its_own_way() {
    if !crate::external::have_numpy() {
        return;
    }
    let tmp = TempDir::new("ppca");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ppca/ppca.py");
    let script = script.display();
    let train = format!("python3 '{script}' train --data {{train}} --out {{model_dir}}");
    let sample = format!(
        "python3 '{script}' sample --model {{model_dir}} --count {{count}} --out {{samples}} --seed {{seed}}"
    );
    let out = tmp.join("ppca");
    let flags = [
        "--train-size",
        "2000",
        "--test-size",
        "1000",
        "--generations",
        "10",
        "--epochs",
        "1",
        "--probe-samples",
        "500",
        "--external-train",
        &train,
        "--external-sample",
        &sample,
    ];
    assert_ok(&run_into(&tmp, &out, &flags));
    let rows = collapse_records::read_metrics_csv(&out.join("metrics.csv")).unwrap();
    assert_eq!(rows.len(), 11);
    let eval = |g: usize| rows[g].eval.clone().expect("evaluated");
    assert!(
        rows.iter()
            .all(|r| r.probe_mu_std.is_finite() && r.fit.is_none())
    );
    // Its tails go: recall and coverage of the real test set fall.
    assert!(
        eval(10).recall < eval(0).recall / 2.0,
        "{:?} {:?}",
        eval(0),
        eval(10)
    );
    assert!(
        eval(10).coverage < eval(0).coverage,
        "{:?} {:?}",
        eval(0),
        eval(10)
    );
    assert!(out.join("gen-010/model/ppca.npz").is_file());
}
