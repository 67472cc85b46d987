#pragma once
/// @file pair_set.hpp
/// This rank's share of the sparse pairwise distance matrix: the pairs (i, j) whose first index i
/// lies in `rows` (the rank's block of particles, split_block(n_particles, comm)). Pairs are
/// stored once (not both (i, j) and (j, i)); i != j; indices are 64-bit.
#include <cstdint>
#include <vector>

#include "pairpose/core/partition.hpp"

namespace pairpose {

struct PairSet {
  std::int64_t n_particles = 0;
  Block rows;                     ///< this rank's particles: every i lies in rows
  std::vector<std::int64_t> i, j; ///< particle indices of each pair
  std::vector<double> distance;   ///< estimated distance d̂_ij, radians, in [0, π]
  std::vector<double> weight;     ///< w_ij ≥ 0 (1 when unweighted)
  /// In-plane rotation α_ij (rad) between the two images, per pair, when the distance source
  /// measured it (pairs.source = "aligned", /pairs/inplane); empty otherwise.
  std::vector<double> inplane;
  std::int64_t size() const { return static_cast<std::int64_t>(i.size()); }
};

} // namespace pairpose
