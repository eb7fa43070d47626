"""Writes sklearn-em.json, the reference of the EM test in src/mixture.rs:
scikit-learn's GaussianMixture fit (full covariance, tol 1e-5, max_iter 2000,
reg_covar 1e-6: the notebook's settings and scikit-learn's regularisation) of
300 points of a 2-D standard normal, the experiment's data, from a given start.

    python3 -m venv /tmp/skl && /tmp/skl/bin/pip install scikit-learn
    /tmp/skl/bin/python sklearn_em.py
"""

import json

import numpy as np
import sklearn
from sklearn.mixture import GaussianMixture

rng = np.random.default_rng(20261202)
points = rng.standard_normal((300, 2))
weights = np.array([0.4, 0.6])
means = np.array([[-0.8, 0.2], [0.7, -0.1]])
covs = np.array([[[0.6, 0.1], [0.1, 0.9]], [[0.8, -0.2], [-0.2, 0.7]]])

gmm = GaussianMixture(
    n_components=2,
    covariance_type="full",
    tol=1e-5,
    max_iter=2000,
    reg_covar=1e-6,
    weights_init=weights,
    means_init=means,
    precisions_init=np.linalg.inv(covs),
).fit(points)
assert gmm.converged_


def mixture(w, m, c):
    return {
        "components": [
            {"weight": float(wk), "mean": mk.tolist(), "cov": ck.tolist()}
            for wk, mk, ck in zip(w, m, c)
        ]
    }


with open("sklearn-em.json", "w") as f:
    json.dump(
        {
            "made_by": f"scikit-learn {sklearn.__version__}, reference/sklearn_em.py",
            "points": points.tolist(),
            "start": mixture(weights, means, covs),
            "fitted": mixture(gmm.weights_, gmm.means_, gmm.covariances_),
            "n_iter": int(gmm.n_iter_),
            "lower_bound": float(gmm.lower_bound_),
        },
        f,
    )
    f.write("\n")
print("n_iter", gmm.n_iter_, "lower bound", gmm.lower_bound_)
