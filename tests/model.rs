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
