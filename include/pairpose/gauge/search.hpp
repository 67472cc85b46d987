#pragma once
/// @file search.hpp
/// The search for the gauge (C, transposed) that maximises the common-line score
/// (common_lines.hpp), distributed over the ranks of a communicator:
///
///  1. coarse: every rotation of so3_grid(grid_spacing) × both transpose flags is a candidate,
///     scored on the first `coarse_pairs` pairs;
///     the candidates are split into contiguous blocks (split_block), each rank scores its block,
///     and the scores are summed into a replicated table;
///  2. the best `n_refine` candidates, at least 2 grid spacings apart (same flag), are refined by
///     Nelder–Mead over a rotation vector ω (C = exp(ω)·C_start), the starts split across ranks;
///  3. the refined candidate with the highest score wins (ties: the lower start index).
///
/// Each score is computed by one rank in a fixed order, and the reductions only add zeros, so the
/// result is bit-identical for any number of ranks. Collective over the communicator.
#include <cstdint>
#include <mpi.h>
#include <vector>

#include "pairpose/gauge/common_lines.hpp"
#include "pairpose/geometry/rotation.hpp"

namespace pairpose::gauge {

/// A quasi-uniform grid of SO(3) with about `spacing_deg` between neighbours: viewing directions
/// on a Fibonacci sphere (≈ 4π/spacing² of them) × in-plane angles every ≤ spacing_deg. Returns
/// canonical quaternions, in a fixed order. spacing_deg in [1, 90].
std::vector<geometry::Quat> so3_grid(double spacing_deg);

/// Rotation exp([ω]×) of a rotation vector ω (radians), as a quaternion.
geometry::Quat rotation_vector_to_quat(const geometry::Vec3& omega);

struct SearchOptions {
  double grid_spacing_deg = 15; ///< coarse grid spacing
  /// The coarse grid is scored on the first this many pairs only (0: all); the refinement
  /// always uses all of them.
  std::int64_t coarse_pairs = 1000;
  int n_refine = 6;             ///< candidates refined by Nelder–Mead (0: keep the coarse best)
  double refine_step_deg = 0;   ///< initial simplex size; 0 = half the grid spacing
  double refine_tol_deg = 0.01; ///< stop when the simplex is smaller than this
  int max_evaluations = 400;    ///< cap on score evaluations per refined candidate
};

struct SearchResult {
  geometry::Quat c;               ///< left factor C (canonical)
  bool transposed = false;        ///< whether the estimate was transposed (c·conj(q̂))
  double score = 0;               ///< refined common-line score
  double coarse_score = 0;        ///< best score on the coarse grid
  std::int64_t n_candidates = 0;  ///< coarse candidates scored (grid × 2)
  std::int64_t n_evaluations = 0; ///< score evaluations in the refinement, all ranks together
  /// Best coarse score of each flag (index 0: not transposed, 1: transposed): how clearly the
  /// images decide the transpose.
  double best_score_by_flag[2] = {0, 0};
};

/// Configure, then run: `GaugeSearch s(options); auto r = s.run(score, comm);`.
class GaugeSearch {
public:
  explicit GaugeSearch(const SearchOptions& options);
  /// Collective: every rank passes an identical `score` object.
  SearchResult run(const CommonLineScore& score, MPI_Comm comm) const;

private:
  SearchOptions options_;
};

} // namespace pairpose::gauge
