#pragma once
/// @file stage.hpp (evaluate)
/// `pairpose evaluate`: how good are the recovered orientations, and the map?
///
/// Two parts, each optional (at least one must be asked for):
///
/// Orientations (`dataset` set): reads a dataset holding the true orientations
/// (/particles/orientation, simulated data) and an estimate (rows `orientations`, by default
/// `recover/quaternions`, N × 4), then reports
///  - E_OR, the paper's metric (min over O(4), mean and median, radians);
///  - the physical error (alignment by a right factor and the handedness only, degrees).
/// The work is serial on replicated arrays: every rank reads, rank 0 fits.
///
/// Maps (`map` set; method.md §6):
///  - half-map FSC (`half_maps`, or <stem>_half1/2.mrc beside `map` as reconstruct writes them):
///    curve and resolution at 0.143;
///  - with a `reference` (e.g. the true map; same voxel size, another box is placed centred
///    unless reference_box = "exact"): the map is brought into the reference's frame and hand
///    (map_alignment.hpp) by `alignment` = "search" (SO(3) grid × both hands split across the
///    ranks, refined locally; with `dataset` also compared with the orientations' fit),
///    "orientations" (the physical-error fit of the dataset's estimate gives B and the hand
///    directly), or "none"; then rotated (trilinear on a 2× Fourier-upsampled copy) and compared:
///    FSC curve and resolution at 0.5; optionally written as `aligned_map` (MRC).
/// Every rank reads the maps; rank 0 computes the FSCs and writes.
///
/// Outputs: the JSON `summary` (members "e_or", "physical" from the orientation part; "maps" with
/// "half_maps" and "reference": files, alignment (rotation R row-major, mirrored, scores, times),
/// threshold, resolution_angstrom and the curve: shell, frequency_per_angstrom, fsc) and, with
/// `plots` set, CSV tables and PNGs drawn by scripts/plot_evaluate.py (Debian's
/// python3-matplotlib): viewing directions, loss history of `recover`, d̂ against d_q (orientation
/// part); FSC curves and central slices (xy, xz, yz) of the aligned map beside the reference.
///
/// Bad input ends the run on every rank before the summary is written, with an error naming the
/// file and what was expected: maps that are not cubes, half-maps or a reference of another size
/// or voxel size, alignment = "orientations" without a dataset, nothing to evaluate.
#include "pairpose/config/params.hpp"
#include "pairpose/core/stage.hpp"

namespace pairpose::evaluate {

void declare_evaluate(config::Schema& schema);
void run_evaluate(StageContext& ctx);

} // namespace pairpose::evaluate
