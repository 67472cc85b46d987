#pragma once
/// @file objective.hpp
/// The orientation-recovery objective (method.md §4) over this rank's pairs:
///
///     L(Q) = (1/W) Σ_(i,j)∈E w_ij (d̂_ij − d_q(q_i, q_j))²,   W = Σ w_ij,
///
/// i.e. the weighted mean squared residual in rad² (normalising makes tolerances and step sizes
/// independent of N and K). d_q is the stable asin form 4·asin(‖q_i − s·q_j‖/2), s = sign⟨q_i,q_j⟩
/// (method.md §3; the same formula as geometry::distance_gradient, inlined here so the kernel has
/// no call per pair). The gradient is the ambient one in R⁴ per particle (not projected).
///
/// Layout: quaternions are a flat array of 4N doubles (w, x, y, z per particle), replicated on
/// every rank. The pairs of this rank are kept as arrays i, j (32-bit) and d̂ (16 bytes a pair)
/// and, unless all weights are 1, an array of precomputed weights, in TILE order: pairs are
/// grouped by (block of i, block of j) tiles (KernelLayout), so that the partners' quaternions and
/// gradients a tile touches stay in cache (the partners are random; at N = 10^6 the two 32 MB
/// arrays do not fit); within a tile the input order is kept. The kernel is pair_kernel.hpp's.
/// The sums depend on the tile order, hence on the rank's block: deterministic for a given rank
/// count, equal across rank counts up to rounding.
///
/// Collectives: value_and_gradient() costs ONE all-reduce (4N + 1 doubles); value() one scalar
/// all-reduce. The local_* kernels do no communication (benchmarks, line searches).
#include <cstdint>
#include <mpi.h>
#include <string>
#include <vector>

#include "pairpose/pairs/pair_set.hpp"
#include "pairpose/recover/pair_kernel.hpp"

namespace pairpose::recover {

/// How pairs are weighted on top of the PairSet's own weights.
struct WeightOptions {
  enum class Scheme { uniform, exponential } scheme = Scheme::uniform;
  double tau = 0.5; ///< exponential: w = exp(−d̂/τ), radians (trust small distances more)
};
/// "uniform" | "exp"; throws naming the text otherwise.
WeightOptions::Scheme parse_weight_scheme(const std::string& text);

/// Tile sizes of the pair order (particles per block of i and of j; powers of 2). Results depend
/// on them only through rounding. Defaults measured on AMD EPYC (Zen 3, 512 KB L2 a core) at
/// N = 10^6 (bench_recover_kernel): a block of j whose quaternions and gradients (64 bytes a
/// particle) fill L2, and a block of i as large as a rank's half of 10^6 particles (read in order).
struct KernelLayout {
  std::int64_t tile_rows = 524288;
  std::int64_t tile_cols = 8192;
};

/// Problems found in the input pairs, summed over all ranks.
struct PairCheck {
  std::int64_t n_isolated = 0; ///< particles in no pair at all
  std::int64_t first_isolated = -1;
};

/// Collective. Validates the pairs as PairObjective does (same errors) and returns the number of
/// pairs each particle takes part in (all ranks), replicated: lets a caller refuse isolated
/// particles before the costly work that precedes building the objective (the initialisation).
std::vector<std::int32_t> pair_degrees(const PairSet& pairs, MPI_Comm comm);
/// The particles of degree 0.
PairCheck isolated_particles(const std::vector<std::int32_t>& degree);

class PairObjective {
public:
  /// Collective. Validates the pairs (every rank): indices in [0, N), i in this rank's rows,
  /// i != j, d̂ finite and in [0, π], weights finite and ≥ 0. A bad pair throws pairpose::Error on
  /// every rank naming the rank, the pair's position and its values. Isolated particles are not
  /// an error here: see pair_check(). N must be below 2^32.
  /// This form CONSUMES the pair set (its arrays are freed while the objective's are filled, so
  /// the two never coexist in full: peak ~32 bytes a pair with unit weights).
  PairObjective(PairSet&& pairs, const WeightOptions& weights, MPI_Comm comm,
                const KernelLayout& layout = {});
  /// Copies the pair set first.
  PairObjective(const PairSet& pairs, const WeightOptions& weights, MPI_Comm comm,
                const KernelLayout& layout = {})
      : PairObjective(PairSet(pairs), weights, comm, layout) {}

  MPI_Comm comm() const { return comm_; }
  std::int64_t n_particles() const { return n_; }
  std::int64_t n_local_pairs() const { return static_cast<std::int64_t>(d_.size()); }
  std::int64_t n_total_pairs() const { return n_total_; }
  const PairCheck& pair_check() const { return check_; }
  /// Number of pairs each particle takes part in (all ranks), replicated.
  const std::vector<std::int32_t>& degree() const { return degree_; }

  /// L and its ambient gradient (4N, summed over all ranks, scaled by 1/W). One all-reduce.
  double value_and_gradient(const double* q, double* grad) const;
  /// L only. One scalar all-reduce.
  double value(const double* q) const;
  /// Line-search protocol: trial(q) computes this rank's loss and gradient at q, keeps the local
  /// gradient in an internal buffer and returns L (one scalar all-reduce); finish_gradient(grad)
  /// then sums the kept gradient over the ranks (one all-reduce of 4N doubles) and writes the
  /// scaled result. A rejected trial costs no large all-reduce. Not thread-safe.
  double trial(const double* q) const;
  void finish_gradient(double* grad) const;
  /// Like finish_gradient, but only this rank's block of particles (split_block(N, comm)) is
  /// wanted: one reduce-scatter (half the traffic of an all-reduce). `grad_block` holds
  /// 4·block.size() doubles.
  void finish_gradient_block(double* grad_block) const;

  /// This rank's unnormalised sum Σ w (d̂ − d)² and gradient contributions, ADDED to `grad`
  /// (4N doubles). No communication.
  double local_value_and_gradient(const double* q, double* grad) const;
  /// This rank's unnormalised sum. No communication.
  double local_value(const double* q) const;
  /// 1/W, the normalisation of the local sums.
  double scale() const { return inv_weight_; }
  /// Throughput record of this rank: pair terms evaluated with their gradient by trial() and
  /// value_and_gradient(), and the seconds spent in that kernel (no communication included).
  std::int64_t kernel_terms() const { return kernel_terms_; }
  double kernel_seconds() const { return kernel_seconds_; }

private:
  PairTerms terms() const;
  void fill_tiles(PairSet& pairs, std::vector<double>&& w, const KernelLayout& layout);
  MPI_Comm comm_;
  std::int64_t n_ = 0, n_total_ = 0;
  std::vector<std::uint32_t> i_, j_; ///< pair indices, tile order
  std::vector<double> d_;            ///< d̂, tile order
  std::vector<double> weight_;       ///< per pair; empty when every weight is 1
  std::vector<std::int32_t> degree_;
  double inv_weight_ = 1;
  PairCheck check_;
  mutable std::vector<double> work_; ///< local gradient (4N) and loss
  mutable std::int64_t kernel_terms_ = 0;
  mutable double kernel_seconds_ = 0;
  double timed_kernel(const double* q, double* grad) const;
};

} // namespace pairpose::recover
