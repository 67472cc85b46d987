#pragma once
/// @file stage.hpp
/// `pairpose pairs`: chooses the pair set and each pair's estimated distance and writes them into
/// the dataset as group /pairs (pair_io.hpp). With `orientations = "random"` it first creates
/// the dataset itself (no images, `n_particles` uniform random true orientations drawn with
/// Rng(seed, stream_orientation, i)) for synthetic experiments with the exact / exact+noise
/// sources.
#include "pairpose/config/params.hpp"
#include "pairpose/core/stage.hpp"

namespace pairpose::pairs {

void declare_pairs(config::Schema& s);
void run_pairs(StageContext& ctx);

} // namespace pairpose::pairs
