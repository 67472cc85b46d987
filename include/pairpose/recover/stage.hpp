#pragma once
/// @file stage.hpp
/// `pairpose recover`: orientations from the dataset's pair set (/pairs, written by `pairpose
/// pairs`). Initialisation (random, spectral, landmark spectral), distributed Riemannian
/// refinement (solver.hpp) with restarts and checkpoints, then writes group /recover:
///
/// | array                   | type    | shape | content                                       |
/// |-------------------------|---------|-------|-----------------------------------------------|
/// | `recover/quaternions`   | float64 | N × 4 | recovered orientations (w, x, y, z), canonical |
/// | `recover/loss_history`  | float64 | H × 5 | loss (rad²), |grad|, step, restart, iteration |
/// | `recover/solved`        | int64   | N × 1 | 1, or 0 for a particle in no pair (skipped)   |
///
/// Attributes of /recover: method, init, loss, n_iterations, best_restart, pair_hash, and, when
/// the dataset holds true orientations, e_or_median / e_or_mean (radians, O(4)-aligned). The
/// orientations are determined only up to the O(4) gauge (method.md §5); the gauge stage fixes
/// it. Optionally exports a RELION STAR file of the recovered orientations.
#include "pairpose/config/params.hpp"
#include "pairpose/core/stage.hpp"

namespace pairpose::recover {

void declare_recover(config::Schema& s);
void run_recover(StageContext& ctx);

} // namespace pairpose::recover
