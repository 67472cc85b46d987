"""How well learned distances find each particle's true neighbours (issue #5, unseen map).

usage: /usr/bin/python3 neighbours.py DATASET.h5

Reads the true orientations (/particles/orientation) and the embeddings written by
`pairpose embed` (/embedding/vectors) and prints, over all pairs: the RMSE of d_hat - d_q, the
same for pairs with d_q < 0.5 rad, the correlation of d_hat and d_q; and, for the k = 10 and 30
nearest of each particle by d_hat, the median true distance and the share within 0.5 and 1 rad.
d_hat = 2 acos(cos_sim) as the network's head; d_q = 2 acos |<q_i, q_j>|.
Holds N x N matrices: meant for test sets of a few thousand particles.
"""
import sys

import h5py
import numpy as np


def main(path):
    with h5py.File(path, "r") as f:
        if "embedding/vectors" not in f:
            sys.exit(f"{path}: no /embedding/vectors (run pairpose embed first)")
        q = f["particles/orientation"][:]
        e = f["embedding/vectors"][:].astype(np.float64)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    d_hat = 2 * np.arccos(np.clip(e @ e.T, 0, 1))
    d_q = 2 * np.arccos(np.clip(np.abs(q @ q.T), 0, 1))
    iu = np.triu_indices(len(q), 1)
    a, b = d_hat[iu], d_q[iu]
    near = b < 0.5
    print(f"all pairs: RMSE {np.sqrt(np.mean((a - b) ** 2)):.3f} rad; d_q < 0.5: RMSE "
          f"{np.sqrt(np.mean((a[near] - b[near]) ** 2)):.3f}, mean d_hat {a[near].mean():.3f}; "
          f"corr(d_hat, d_q) {np.corrcoef(a, b)[0, 1]:.3f}")
    np.fill_diagonal(d_hat, np.inf)
    for k in (10, 30):
        picked = np.take_along_axis(d_q, np.argsort(d_hat, axis=1)[:, :k], axis=1)
        print(f"k = {k}: true d_q of the nearest by d_hat: median {np.median(picked):.3f}, "
              f"share < 0.5: {np.mean(picked < 0.5):.3f}, < 1.0: {np.mean(picked < 1.0):.3f} "
              f"(all pairs: median {np.median(b):.2f})")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
