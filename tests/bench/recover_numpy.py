#!/usr/bin/python3
"""Reference throughput of the recover objective in vectorised numpy (one core).

Evaluates the same loss and gradient as pairpose's C++ kernel (recover/objective.hpp):
L = sum w (d_hat - d_q)^2 with d_q = 4 asin(|q_i - s q_j| / 2), s = sign<q_i, q_j>, and its
gradient with respect to every quaternion, scattered with np.bincount (the fastest vectorised
scatter-add numpy offers). Pairs come from a pairpose dataset (/pairs/index, /pairs/distance) or
are drawn at random. Prints pair terms (objective + gradient) per CPU second (process time, so
the figure does not depend on other jobs sharing the cores; numpy runs on one thread).

    recover_numpy.py --dataset run.h5 [--pairs 5000000] [--repeat 3]
    recover_numpy.py --particles 1000000 --pairs 5000000
"""
import argparse
import time

import numpy as np


def loss_and_gradient(q, i, j, d, w):
    a = np.take(q, i, axis=0)
    b = np.take(q, j, axis=0)
    s = np.where(np.einsum("ij,ij->i", a, b) < 0, -1.0, 1.0)
    u = a - s[:, None] * b
    r = np.sqrt(np.einsum("ij,ij->i", u, u))
    h = np.minimum(0.5 * r, 1.0)
    res = 4.0 * np.arcsin(h) - d
    loss = np.dot(w * res, res)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where((r > 0) & (h < 1), 4.0 * w * res / (r * np.sqrt(1.0 - h * h)), 0.0)
    ga = f[:, None] * u
    gb = -s[:, None] * ga
    n = q.shape[0]
    g = np.empty_like(q)
    for c in range(4):
        g[:, c] = np.bincount(i, weights=ga[:, c], minlength=n) + np.bincount(
            j, weights=gb[:, c], minlength=n)
    return loss, g


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", help="pairpose dataset with /pairs")
    ap.add_argument("--particles", type=int, default=1000000)
    ap.add_argument("--pairs", type=int, default=5000000, help="pairs timed (a prefix)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    if args.dataset:
        import h5py
        with h5py.File(args.dataset, "r") as f:
            n = int(f.attrs["n_particles"])
            index = f["pairs/index"][: args.pairs]
            d = f["pairs/distance"][: args.pairs, 0]
        i = np.ascontiguousarray(index[:, 0])
        j = np.ascontiguousarray(index[:, 1])
    else:
        n = args.particles
        i = np.sort(rng.integers(0, n, args.pairs))
        j = rng.integers(0, n, args.pairs)
        d = rng.uniform(0, np.pi, args.pairs)
    q = rng.normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=1)[:, None]
    w = np.ones_like(d)
    best = float("inf")
    for _ in range(args.repeat):
        t = time.process_time()
        loss_and_gradient(q, i, j, d, w)
        best = min(best, time.process_time() - t)
    print(f"numpy: {len(d)} pair terms in {best:.3f} CPU s: {len(d) / best:.4g} pair terms/s (1 core)")


if __name__ == "__main__":
    main()
