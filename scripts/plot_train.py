"""Plots of `pairpose train`, drawn from the CSV tables it writes into FOLDER.

usage: /usr/bin/python3 plot_train.py FOLDER
  history.csv + validation.csv -> loss.png   training loss per step (and a running mean) and
                                             validation loss per validation
  pairs.csv                    -> pairs.png  2D histogram of d_hat against d_q on held-out pairs
Each PNG is written to a temporary name and renamed.
"""
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def save(fig, path):
    tmp = path + ".part.png"
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)


def table(path):
    return np.atleast_1d(np.genfromtxt(path, delimiter=",", names=True))


def plot_loss(folder):
    h = table(os.path.join(folder, "history.csv"))
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(h["step"], h["loss"], lw=0.5, alpha=0.4, color="C0", label="training (batch)")
    window = max(1, len(h) // 50)
    if len(h) >= window > 1:
        smooth = np.convolve(h["loss"], np.ones(window) / window, mode="valid")
        ax.plot(h["step"][window - 1:], smooth, color="C0", label="training (mean of %d)" % window)
    vpath = os.path.join(folder, "validation.csv")
    if os.path.exists(vpath):
        v = table(vpath)
        if v.size:
            ax.plot(v["step"], v["loss"], "o-", color="C1", ms=3, label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.legend()
    save(fig, os.path.join(folder, "loss.png"))


def plot_pairs(folder):
    t = table(os.path.join(folder, "pairs.csv"))
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.hist2d(t["d_q"], t["d_hat"], bins=60, range=[[0, np.pi], [0, np.pi]], cmin=1)
    ax.plot([0, np.pi], [0, np.pi], "k--", lw=0.8)
    rmse = float(np.sqrt(np.mean((t["d_hat"] - t["d_q"]) ** 2)))
    ax.set_xlabel("true distance d_q (rad)")
    ax.set_ylabel("learned distance d_hat (rad)")
    ax.set_title("held-out pairs: %d, RMSE %.3f rad" % (len(t), rmse))
    save(fig, os.path.join(folder, "pairs.png"))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    folder = sys.argv[1]
    if os.path.exists(os.path.join(folder, "history.csv")):
        plot_loss(folder)
    if os.path.exists(os.path.join(folder, "pairs.csv")):
        plot_pairs(folder)


if __name__ == "__main__":
    main()
