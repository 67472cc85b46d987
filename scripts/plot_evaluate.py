"""Plots of `pairpose evaluate`, drawn from the CSV tables it writes into FOLDER.

usage: python3 plot_evaluate.py FOLDER
  views.csv -> views.png   viewing directions, true and recovered (O(4)-aligned as E_OR), errors
  loss.csv  -> loss.png    loss history of the refinement
  pairs.csv -> pairs.png   2D histogram of estimated distance against the true d_q
  fsc.csv   -> fsc.png     FSC between the half-maps and against the (aligned-to) reference
  slices_map.csv [+ slices_reference.csv] -> slices.png
                           central slices xy, xz, yz of the (aligned) map and the reference
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


def resolution(freq, fsc, threshold):
    """Frequency (1/A) where the curve first falls below threshold (linear interpolation)."""
    for s in range(1, len(fsc)):
        if fsc[s] < threshold:
            if s == 1 or fsc[s - 1] <= fsc[s]:
                return freq[s]
            t = (fsc[s - 1] - threshold) / (fsc[s - 1] - fsc[s])
            return freq[s - 1] + t * (freq[s] - freq[s - 1])
    return freq[-1]


def plot_fsc(folder):
    t = table(os.path.join(folder, "fsc.csv"))
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, label, threshold in (("half_maps", "half-maps", 0.143),
                                   ("reference", "map vs reference", 0.5)):
        if np.all(np.isnan(t[name])):
            continue
        f = resolution(t["frequency"], t[name], threshold)
        ax.plot(t["frequency"], t[name], label="%s: %.2f A at %.3g" % (label, 1 / f, threshold))
        ax.axhline(threshold, color="gray", ls=":", lw=1)
    ax.axhline(0, color="black", lw=0.5)
    ax.set_xlabel("spatial frequency (1/A)")
    ax.set_ylabel("FSC")
    ax.set_ylim(-0.1, 1.05)
    ax.legend(loc="lower left")
    ax.set_title("Fourier shell correlation")
    save(fig, os.path.join(folder, "fsc.png"))


def plot_slices(folder):
    maps = [("map (aligned)" if os.path.exists(os.path.join(folder, "slices_reference.csv"))
             else "map", "slices_map.csv"), ("reference", "slices_reference.csv")]
    maps = [(title, os.path.join(folder, f)) for title, f in maps
            if os.path.exists(os.path.join(folder, f))]
    fig, axes = plt.subplots(len(maps), 3, figsize=(10, 3.4 * len(maps)), squeeze=False)
    for row, (title, path) in enumerate(maps):
        v = np.loadtxt(path, delimiter=",", ndmin=2)
        n = v.shape[1]
        planes = v.reshape(3, n, n)
        for col, (plane, name) in enumerate(zip(planes, ("xy (z = n/2)", "xz (y = n/2)",
                                                          "yz (x = n/2)"))):
            ax = axes[row][col]
            ax.imshow(plane, origin="lower", cmap="gray")
            ax.set_title("%s, %s" % (title, name), fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    save(fig, os.path.join(folder, "slices.png"))


def main():
    folder = sys.argv[1]
    if os.path.exists(os.path.join(folder, "views.csv")):
        plot_views(folder)
    if os.path.exists(os.path.join(folder, "fsc.csv")):
        plot_fsc(folder)
    if os.path.exists(os.path.join(folder, "slices_map.csv")):
        plot_slices(folder)
    if os.path.exists(os.path.join(folder, "loss.csv")):
        plot_loss(folder)
    if os.path.exists(os.path.join(folder, "pairs.csv")):
        plot_pairs(folder)


if __name__ == "__main__":
    main()
