#pragma once
/// @file stage.hpp
/// `pairpose refine`: local refinement of the orientations against the images (projection
/// matching), between `gauge` and `reconstruct`. The orientations from the distances are a good
/// start but not the best the images allow (a few degrees off); refinement brings them to the
/// precision the data support, with the gauge and the map's frame unchanged.
///
/// Gold standard (as RELION's auto-refine): the particles are split into two half-sets by
/// Rng(seed, stream_split, i) (reconstruct::random_half_sets, the split `reconstruct` uses with
/// the same seed), each half is reconstructed on its own and each particle is matched only
/// against its own half's map, so the half-map FSC stays an honest measure.
///
/// Iteration t = 1 … `iterations`:
///  1. the two half-maps of the current orientations (reconstruct::Reconstructor, every rank
///     inserting its block), optionally under a soft spherical mask of `mask_diameter` Å;
///  2. the band: from frequency 1 to the shell where their FSC falls below 0.143 (at most
///     `max_resolution`, at most Nyquist);
///  3. every particle's orientation is searched locally against its half-map's projections on
///     that band (refine::Matcher: pattern search from `step`/2^(t−1) degrees, halving down to
///     `min_step`), each rank its block, no communication;
/// and the matched orientations are inserted into the next iteration's half-maps as they are
/// found (one pass over the images per iteration). The iterations stop early once an iteration
/// moved the median particle by less than `min_step` (converged).
///
/// Output, group /refine of the dataset (complete = 1 after a finished run):
///
/// | array                | type    | shape | content                                   |
/// |----------------------|---------|-------|-------------------------------------------|
/// | `refine/quaternions` | float64 | N × 4 | refined orientations (w, x, y, z), canonical |
/// | `refine/score`       | float64 | N × 1 | each particle's final matching score        |
///
/// Attributes of /refine: orientations (the input array), iterations (those run), and per iteration
/// (comma-separated) resolution_angstrom (half-map FSC 0.143 of the maps it matched against),
/// band (highest frequency index used) and median_change_deg; final_resolution_angstrom (the
/// half-maps of the refined orientations); when the dataset holds true orientations also
/// physical_error_median_deg per iteration (evaluate/orientation_error.hpp; the first value is
/// the input's). Optionally exports a RELION STAR file of the refined orientations (`star`).
/// Results depend on the number of ranks only through the float summation order
/// of the reconstructions.
///
/// Errors (before any output): no images, the orientation array absent / incomplete / not N × 4
/// or with a zero or non-finite row, a half-set with no particle, a band with no frequency.
#include "pairpose/config/params.hpp"
#include "pairpose/core/stage.hpp"

namespace pairpose::refine {

void declare_refine(config::Schema& schema);
void run_refine(StageContext& ctx);

} // namespace pairpose::refine
