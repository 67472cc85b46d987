"""Plots of `pairpose evaluate`, drawn from the CSV tables it writes into FOLDER.

usage: python3 plot_evaluate.py FOLDER
  views.csv -> views.png   viewing directions, true and recovered (O(4)-aligned as E_OR), errors
  loss.csv  -> loss.png    loss history of the refinement
  pairs.csv -> pairs.png   2D histogram of estimated distance against the true d_q
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
    return np.genfromtxt(path, delimiter=",", names=True)


def lonlat(x, y, z):
    return np.arctan2(y, x), np.arcsin(np.clip(z, -1, 1))


def plot_views(folder):
    t = table(os.path.join(folder, "views.csv"))
    fig = plt.figure(figsize=(13, 4))
    for k, (name, title) in enumerate([("true", "true"), ("recovered", "recovered (O(4)-aligned)")]):
        ax = fig.add_subplot(1, 3, k + 1, projection="mollweide")
        lon, lat = lonlat(t[name + "_x"], t[name + "_y"], t[name + "_z"])
        ax.scatter(lon, lat, s=2, c=np.degrees(t["error_rad"]), cmap="viridis")
        ax.set_title("viewing directions, " + title)
        ax.set_xticklabels([])
        ax.grid(True)
    ax = fig.add_subplot(1, 3, 3)
    ax.hist(np.degrees(t["error_rad"]), bins=60)
    ax.set_xlabel("orientation error d_q after O(4) alignment (degrees)")
    ax.set_ylabel("particles")
    ax.set_title("median %.2f deg" % np.degrees(np.median(t["error_rad"])))
    save(fig, os.path.join(folder, "views.png"))


def plot_loss(folder):
    t = table(os.path.join(folder, "loss.csv"))
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(t["iteration"], t["loss"])
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.set_title("orientation recovery")
    save(fig, os.path.join(folder, "loss.png"))


def plot_pairs(folder):
    t = table(os.path.join(folder, "pairs.csv"))
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.hist2d(t["true"], t["estimated"], bins=80, range=[[0, np.pi], [0, np.pi]], cmin=1)
    ax.plot([0, np.pi], [0, np.pi], "r--", lw=1)
    ax.set_xlabel("true distance d_q (rad)")
    ax.set_ylabel("estimated distance (rad)")
    rmse = np.sqrt(np.mean((t["estimated"] - t["true"]) ** 2))
    ax.set_title("pairs: RMSE %.3f rad" % rmse)
    save(fig, os.path.join(folder, "pairs.png"))


def main():
    folder = sys.argv[1]
    plot_views(folder)
    if os.path.exists(os.path.join(folder, "loss.csv")):
        plot_loss(folder)
    if os.path.exists(os.path.join(folder, "pairs.csv")):
        plot_pairs(folder)


if __name__ == "__main__":
    main()
