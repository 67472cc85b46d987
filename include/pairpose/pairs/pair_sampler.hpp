#pragma once
/// @file pair_sampler.hpp
/// Choosing the pair set E and giving each pair its estimated distance (method.md §4 "Which
/// pairs"). The result is a PairSet per rank: the sparse, symmetric distance matrix stored once
/// per unordered pair and partitioned by rows (rank r owns the pairs whose first index lies in
/// split_block(N, comm) of r).
///
/// Why not PETSc MPIAIJ: a pair carries two values (d̂ and w) and the solver streams the pairs in
/// one tight loop; Debian's PETSc uses 32-bit indices (N·K pairs overflow past 2³¹) and an AIJ
/// matrix would add a copy in another layout. Plain row-partitioned arrays (CSR in the dataset,
/// see pair_io.hpp) carry the same information with 64-bit counts.
///
/// Strategies, each particle with a budget of K partners:
/// - `random`: K distinct partners drawn uniformly from the other N − 1.
/// - `knn`: the K partners of smallest d̂ (among all particles, or among `knn_candidates` random
///   candidates when > 0 — brute force costs O(N) distance evaluations per particle).
/// - `mix`: round(random_fraction·K) random partners, the rest nearest (excluding those drawn).
/// - `all`: every pair (N(N − 1)/2 of them), for small N.
/// A pair drawn by both of its particles is kept once. Which particle of an unordered pair {a, b}
/// owns it ("first index") is the circulant rule: a when (b − a) mod N < N/2, b when > N/2, the
/// smaller index when equal; this balances pairs across ranks (each particle owns about half of
/// its pairs) whatever the sampling.
///
/// Determinism: particle i's draws come from Rng(seed, stream_pairs, i) and the distances are
/// pure functions of the pair (distance_model.hpp), so the pair set, its order (sorted by (i, j)
/// within each rank, ranks in order) and its distances are identical whatever the rank count.
#include <cstdint>
#include <mpi.h>
#include <string>
#include <vector>

#include "pairpose/pairs/distance_model.hpp"
#include "pairpose/pairs/pair_set.hpp"

namespace pairpose::pairs {

enum class Strategy { random, knn, mix, all };
/// "random" | "knn" | "mix" | "all"; throws naming the text otherwise.
Strategy parse_strategy(const std::string& text);
std::string to_string(Strategy strategy);

struct SamplingOptions {
  Strategy strategy = Strategy::random;
  std::int64_t budget = 50;        ///< K partners drawn per particle (clamped to N − 1)
  double random_fraction = 0.5;    ///< mix: share of the budget drawn at random
  std::int64_t knn_candidates = 0; ///< knn/mix: 0 = all particles, else random candidates
  std::uint64_t seed = 0;
  /// Landmark pairs for the landmark initialisation (recover/spectral.hpp), added to the pairs
  /// of the strategy: every landmark–landmark pair, and for every other particle pairs to
  /// `landmark_partners` landmarks drawn at random (0 = all of them). Sorted particle indices;
  /// empty = none.
  std::vector<std::int64_t> landmarks;
  std::int64_t landmark_partners = 0;
};

/// The owner ("first index") of the unordered pair {a, b} under the circulant rule above.
std::int64_t pair_owner(std::int64_t a, std::int64_t b, std::int64_t n_particles);

/// Collective. Samples the pairs, exchanges them to their owners' ranks, removes duplicates,
/// sorts by (i, j) and evaluates d̂ with `model` (weights are set to 1). For the euclidean
/// source with `auto_scale`, the model's scale is set first so that the mean d̂ over the whole
/// pair set is π/2 + 2/π (all ranks agree on it). Throws when N < 2.
PairSet sample_pairs(const SamplingOptions& options, DistanceModel& model, MPI_Comm comm,
                     bool auto_scale = true);

/// Order-independent 64-bit fingerprint of the whole pair set (indices and distance bits), the
/// same on every rank and for every rank count. Collective.
std::uint64_t pair_set_hash(const PairSet& pairs, MPI_Comm comm);

/// Total number of pairs over the communicator. Collective.
std::int64_t total_pairs(const PairSet& pairs, MPI_Comm comm);

} // namespace pairpose::pairs
