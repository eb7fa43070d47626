"""The peer of `collapse theory`: the authors' notebook's algorithms
(Normals_GMM_experiments.ipynb), in numpy and scikit-learn, on the same
settings, for bench/theory.sh to time beside the Rust runs.

    notebook_theory.py gaussian --samples M --trials T --generations N
        Each generation draws a (T, M) array of normals from every trial's fit
        and refits mean and unbiased std (numpy, vectorised over trials).
    notebook_theory.py gmm --samples N --generations G
        scikit-learn's GaussianMixture (2 components, full covariance, tol 1e-5,
        max_iter 2000) refitted to its own N samples, G times.

Prints the last generation's figures, one line, for a look beside collapse's.
"""

import argparse
import time

import numpy as np


def gaussian(args):
    rng = np.random.default_rng(args.seed)
    mu = np.zeros(args.trials)
    sigma = np.ones(args.trials)
    for _ in range(args.generations + 1):
        x = rng.standard_normal((args.trials, args.samples)) * sigma[:, None] + mu[:, None]
        mu = x.mean(axis=1)
        sigma = x.std(axis=1, ddof=1)
    print(f"gaussian: |mu - mu_n| {np.abs(mu).mean():.4f}, |sigma - sigma_n| {np.abs(sigma - 1).mean():.4f}")


def gmm(args):
    from sklearn.mixture import GaussianMixture

    params = dict(n_components=2, tol=1e-5, covariance_type="full", max_iter=2000)
    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((args.samples, 2))
    for g in range(args.generations + 1):
        fit = GaussianMixture(random_state=args.seed + g, **params).fit(x)
        x = fit.sample(args.samples)[0]
    stds = [np.sqrt(np.trace(c) / 2) for c in fit.covariances_]
    print(f"gmm: stds {stds[0]:.4f} {stds[1]:.4f}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("experiment", choices=["gaussian", "gmm"])
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--trials", type=int, default=100)
    p.add_argument("--generations", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    start = time.perf_counter()
    {"gaussian": gaussian, "gmm": gmm}[args.experiment](args)
    print(f"seconds {time.perf_counter() - start:.3f}")


main()
