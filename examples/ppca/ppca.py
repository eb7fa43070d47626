"""Probabilistic PCA as a generation's model for `collapse run`, NumPy only.

A model of images as x = mean + W z + noise, z ~ N(0, I_k), noise ~ N(0, s2 I),
fitted in closed form (Tipping and Bishop 1999): W from the k leading
principal directions, s2 the mean variance of the rest. Fitted to its own
samples generation after generation, its spectrum narrows and the tails of
the digits go, without any network.

    python ppca.py train --data SET.npy --out MODEL_DIR [--components K]
    python ppca.py sample --model MODEL_DIR --count N --out SAMPLES.npy --seed S

Both read and write the command protocol's files (docs/models.md): image
sets as float32 [n, height, width] in [0, 1].
"""

import argparse
import os

import numpy as np


def train(args):
    images = np.load(args.data)
    n, height, width = images.shape
    x = images.reshape(n, height * width).astype(np.float64)
    mean = x.mean(axis=0)
    # The principal directions and variances of the centred set.
    _, singular, directions = np.linalg.svd(x - mean, full_matrices=False)
    variances = singular**2 / max(n - 1, 1)
    k = min(args.components, len(variances) - 1)
    s2 = float(variances[k:].mean()) if len(variances) > k else 0.0
    scale = np.sqrt(np.maximum(variances[:k] - s2, 0.0))
    w = directions[:k].T * scale
    os.makedirs(args.out, exist_ok=True)
    np.savez(os.path.join(args.out, "ppca.npz"), mean=mean, w=w, s2=s2, shape=[height, width])


def sample(args):
    model = np.load(os.path.join(args.model, "ppca.npz"))
    mean, w, s2 = model["mean"], model["w"], float(model["s2"])
    height, width = (int(v) for v in model["shape"])
    rng = np.random.default_rng(args.seed)
    z = rng.standard_normal((args.count, w.shape[1]))
    noise = rng.standard_normal((args.count, mean.shape[0])) * np.sqrt(s2)
    x = np.clip(mean + z @ w.T + noise, 0.0, 1.0)
    np.save(args.out, x.reshape(args.count, height, width).astype(np.float32))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    t = commands.add_parser("train")
    t.add_argument("--data", required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--components", type=int, default=20)
    s = commands.add_parser("sample")
    s.add_argument("--model", required=True)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--seed", type=int, required=True)
    args = parser.parse_args()
    {"train": train, "sample": sample}[args.command](args)


if __name__ == "__main__":
    main()
