#pragma once
/// @file stage.hpp (evaluate)
/// `pairpose evaluate`: how good are the recovered orientations (and, later, the map)?
///
/// Reads a dataset holding the true orientations (/particles/orientation, simulated data) and an
/// estimate (rows `orientations`, by default `recover/quaternions`, N × 4), then reports
///  - E_OR, the paper's metric (min over O(4), mean and median, radians);
///  - the physical error (alignment by a right factor and the handedness only, degrees);
/// into a JSON summary. With `plots` set it also writes CSV tables and PNG plots (through
/// Debian's python3-matplotlib): viewing directions of the true and recovered orientations,
/// the loss history of `recover` (rows `recover/loss_history`) and d̂ against d_q over the pairs
/// (rows `pairs/index`, `pairs/distance`) when the dataset holds them.
/// The work is serial on replicated arrays: every rank reads, rank 0 computes and writes.
#include "pairpose/config/params.hpp"
#include "pairpose/core/stage.hpp"

namespace pairpose::evaluate {

void declare_evaluate(config::Schema& schema);
void run_evaluate(StageContext& ctx);

} // namespace pairpose::evaluate
