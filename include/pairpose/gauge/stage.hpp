#pragma once
/// @file stage.hpp
/// `pairpose gauge`: decides, from the images alone, the part of the O(4) gauge of recovered
/// orientations that matters for a reconstruction (method.md §5): the left factor C and the
/// transpose flag (common_lines.hpp, search.hpp). The right factor (the map's frame) and the
/// handedness stay free; the corrected orientations predict the images.
///
/// Steps (all ranks): read the orientation array (default /recover/quaternions; particles with
/// /recover/solved = 0 are not used as evidence), draw `n_images` particles and `n_pairs` pairs
/// among them (Rng(seed, stream_gauge, ·): independent of the rank count), each rank reads the
/// images of its block among them and computes their polar transforms, which are then summed so
/// that every rank holds all of them; the candidate search is split across ranks
/// (GaugeSearch); every rank writes its block of the corrected orientations.
///
/// Output, group /gauge of the dataset (complete = 1 after a finished run):
///
/// | array               | type    | shape | content                                         |
/// |---------------------|---------|-------|-------------------------------------------------|
/// | `gauge/quaternions` | float64 | N × 4 | c·q̂_i or c·conj(q̂_i) (w, x, y, z), canonical |
///
/// Attributes of /gauge: c (w,x,y,z), transposed (0/1), score, coarse_score,
/// score_not_transposed / score_transposed (best coarse score of each flag), n_images, n_pairs,
/// resolution (Å), orientations (the input array), provenance; when the dataset holds true
/// orientations also true_score (the score of the truth on the same pairs) and
/// physical_error_median_deg / physical_error_mean_deg (evaluate/orientation_error.hpp).
/// Optionally exports a RELION STAR file of the corrected orientations.
///
/// Errors (before any output): no images, orientation array absent / incomplete / not N × 4, a
/// non-finite or zero quaternion (naming its row), fewer than 3 usable particles.
#include "pairpose/config/params.hpp"
#include "pairpose/core/stage.hpp"

namespace pairpose::gauge {

void declare_gauge(config::Schema& s);
void run_gauge(StageContext& ctx);

} // namespace pairpose::gauge
