#pragma once
/// @file trainer.hpp
/// Data-parallel training of a DistanceNetwork on all pairs of a batch (method.md §7, "embed
/// once, compare many"). Torch-free interface.
///
/// One step on a global batch of B images with orientations q_1..q_B:
///  1. each rank embeds its share `mine` (a Block of the batch, e.g. split_block(B, comm)) with
///     the live network: F_mine (|mine| × D, unit rows);
///  2. the embeddings are all-gathered (B × D floats, small); the full matrix F has the local rows
///     live and the other ranks' rows as detached copies;
///  3. every rank computes the same loss over all B(B−1)/2 pairs i < j,
///         L = Σ w_ij ℓ(d̂_ij − d_q(q_i, q_j)) / Σ w_ij,   ℓ = squared or absolute,
///     d̂ = 2·acos(clamp(⟨f_i, f_j⟩, −1 + 10⁻⁶, 1 − 10⁻⁶)) (the training form: beyond π still has a
///     gradient), and back-propagates: the gradient a rank obtains is the part of ∂L/∂θ flowing
///     through its own rows, so the sum over ranks (one MPI_Allreduce of the flattened gradient,
///     no further scaling) is exactly the 1-rank gradient;
///  4. every rank applies the same optimiser update (Adam or RMSprop) with the scheduled learning
///     rate; batch-norm running statistics are averaged over the ranks after the step.
/// Weights w_ij: 1, times 1 / (count of the batch's pairs in the same tenth of [0, π]) when
/// `rebalance` (flattens the skewed distribution of d_q for random rotations), times
/// exp(−d_q / weight_scale) when weight_scale > 0 (trust small distances more, method.md §7).
///
/// Threads per rank are set with torch::set_num_threads(options.threads) on construction.
/// Every rank must pass the same B, orientations and options; images differ per rank.
#include <cstdint>
#include <memory>
#include <mpi.h>
#include <string>
#include <vector>

#include "pairpose/core/partition.hpp"
#include "pairpose/geometry/rotation.hpp"
#include "pairpose/learn/network.hpp"

namespace pairpose::learn {

struct TrainerOptions {
  std::string loss = "squared";      ///< "squared" | "absolute"
  std::string optimizer = "adam";    ///< "adam" | "rmsprop"
  double learning_rate = 1e-3;       ///< initial rate
  std::string schedule = "constant"; ///< "constant" | "exponential" | "cosine"
  double decay = 0.5;                ///< exponential: factor per decay_steps
  std::int64_t decay_steps = 1000;   ///< exponential: steps per factor `decay`
  std::int64_t total_steps = 1000;   ///< cosine: steps to reach min_learning_rate
  double min_learning_rate = 0;      ///< cosine floor
  bool rebalance = false;            ///< weight pairs by the inverse density of their d_q
  double weight_scale = 0;           ///< > 0: weight exp(−d_q / weight_scale), radians
  int threads = 1;                   ///< Torch intra-op threads per rank
  /// Throws pairpose::Error naming the field when a value is not allowed.
  void check() const;
};

/// Loss figures over all pairs of a set (validation) and a sample of (d_q, d̂) for plots.
struct PairEvaluation {
  double loss = 0;     ///< the training loss on the set
  double rmse = 0;     ///< sqrt(mean (d̂ − d_q)²), d̂ clipped to [0, π], radians
  double mean_abs = 0; ///< mean |d̂ − d_q|
  std::int64_t n_pairs = 0;
  std::vector<double> sample_truth, sample_estimate; ///< up to max_sample pairs, evenly strided
};

class Trainer {
public:
  /// Collective. Broadcasts rank 0's parameters to all ranks (so every rank starts equal).
  Trainer(MPI_Comm comm, DistanceNetwork& network, const TrainerOptions& options);
  ~Trainer();

  /// Collective: one optimiser step on the global batch. `local_images` holds mine.size()
  /// preprocessed images (size² floats each), `orientations` all B of the batch, `mine` this
  /// rank's rows of the batch (blocks of the ranks must tile [0, B) in rank order), `groups`
  /// the map of every row (ImageSet::groups; empty = one map): only pairs of one map count.
  /// Returns L before the update (the same value on every rank).
  double step(const float* local_images, const std::vector<geometry::Quat>& orientations,
              Block mine, const std::vector<std::int32_t>& groups = {});

  /// Collective: L and the summed gradient ∂L/∂θ (parameter order of the network) without an
  /// update; training mode (batch statistics). For tests of the data-parallel gradient.
  double loss_and_gradient(const float* local_images,
                           const std::vector<geometry::Quat>& orientations, Block mine,
                           std::vector<float>& gradient,
                           const std::vector<std::int32_t>& groups = {});

  /// Collective: figures over all pairs of a held-out set (inference mode), with up to
  /// `max_sample` (d_q, d̂) pairs sampled evenly for plots.
  PairEvaluation evaluate(const float* local_images,
                          const std::vector<geometry::Quat>& orientations, Block mine,
                          std::int64_t max_sample = 0,
                          const std::vector<std::int32_t>& groups = {});

  std::int64_t step_count() const { return step_; }
  /// Learning rate the next step will use.
  double learning_rate() const;

  /// Writes a checkpoint (network, optimiser state, step count, `info`) on rank 0; collective
  /// (rank 0 writes, then a barrier).
  void save_checkpoint(const std::string& path, const ModelInfo& info) const;
  /// Local (each rank reads the file): restores network, optimiser and step from a checkpoint
  /// written by save_checkpoint with the same architecture and optimiser (throws naming the file
  /// otherwise). Returns its info.
  ModelInfo load_checkpoint(const std::string& path);

  struct Impl;

private:
  std::unique_ptr<Impl> impl_;
  std::int64_t step_ = 0;
};

/// The weights w_ij of the pairs i < j of a batch (row-major upper triangle, B(B−1)/2 values)
/// for targets d (same layout), as described above. `used` (same layout, 0 or 1; empty = all
/// 1) marks the pairs that count: the others get weight 0 and are left out of the rebalancing
/// counts. Exposed for tests.
std::vector<double> pair_weights(const std::vector<double>& targets, bool rebalance,
                                 double weight_scale, const std::vector<double>& used = {});

} // namespace pairpose::learn
