#pragma once
/// @file spectral.hpp
/// Initialisation of orientation recovery without any gradient descent (method.md §4).
///
/// The matrix M_ij = 1 + 2·cos d_ij = ⟨vec R_i, vec R_j⟩ is the Gram matrix of the vectors
/// vec(R_i) ∈ R⁹ (rank 9, diagonal 3). From estimated distances d̂:
///
/// 1. **Spectral step.** The top 9 eigenpairs (U, Λ) of the (sampled) matrix give
///    Y = U·Λ^½ (N × 9) = V·T for the unknown stacked vec(R_i) V and an unknown T ∈ O(9).
/// 2. **Rounding.** T is found by alternating R_i ← nearest rotation to mat(Y_i·T) and
///    T ← orthogonal Procrustes of Y onto the vec(R_i), from several seeded random starts; the
///    start with the lowest residual is kept. The global sign of Y·T is chosen each round so that
///    the mat(Y_i·T) are near proper rotations (det +1): vec(−R) has the same Gram matrix.
///
/// The result is determined up to the O(4) gauge of the distances (method.md §5), which is
/// decided later (gauge stage); E_OR is measured modulo O(4).
///
/// Two entry points:
/// - spectral_initialise: every pair of the PairSet enters the matrix. With all pairs it is the
///   full M; with a sparse sample (K pairs per particle) missing entries are 0 (the mean of M over
///   uniformly random orientations) and the sampled entries are scaled by 1/p, p the fraction of
///   the N(N−1)/2 pairs present, so that the matrix is M in expectation. The eigenvectors come
///   from a distributed block subspace iteration (replicated N × (9+p) block, one all-reduce of
///   the block product per iteration).
/// - landmark_initialise: the spectral step on L landmarks only (their L × L distances), then
///   every other particle placed by linear least squares on its landmark pairs and projected to
///   the nearest rotation (O(N·L), parallel over particles). Needs the pair set described at
///   landmark_indices. Recommended for large N (see the report of the recover module).
///
/// Weights: the spectral step ignores w_ij except that pairs with w_ij ≤ 0 are absent; the
/// landmark least squares weights each equation by w_il.
///
/// Determinism: the same pairs and options give the same result. The rank count changes only the
/// order of floating-point sums in the all-reduces (results agree to round-off, not bit for bit).
/// Every random draw (start block, rounding starts, rounding sample) is a function of the seed and
/// an item index, never of the rank.
#include <cstdint>
#include <mpi.h>
#include <vector>

#include "pairpose/geometry/rotation.hpp"
#include "pairpose/pairs/landmarks.hpp"
#include "pairpose/pairs/pair_set.hpp"

namespace pairpose::recover {

struct SpectralOptions {
  /// Rounding starts (first start: T = identity; the others seeded random O(9)). Alternation
  /// from a random start reaches the global minimum only about one time in four (local minima
  /// at residual ≈ 0.13–0.2), so the starts are screened: each runs `n_screening_iterations`
  /// rounds on `n_screening_rows` rows; screening stops early once the lowest residual has been
  /// reached from two starts. The best start is then polished on the whole rounding sample
  /// (up to `max_rounding_iterations` rounds, stopping when the residual changes by less than
  /// `rounding_tolerance`, relative).
  int n_restarts = 48;
  /// Stop screening once two starts reach the lowest residual (false: screen every start).
  bool stop_when_two_agree = true;
  int n_screening_iterations = 60;
  std::int64_t n_screening_rows = 1000;
  int max_rounding_iterations = 500;
  double rounding_tolerance = 1e-10;
  /// Seed of every random draw of the initialisation (and, through landmark_indices, of the
  /// landmark choice).
  std::uint64_t seed = 1;
  /// landmark_initialise only: number L of landmarks (≥ 9, ≤ n_particles).
  std::int64_t n_landmarks = 500;
  /// Subspace iteration: extra vectors beyond the 9 wanted (block size 9 + n_extra_vectors),
  /// iteration limit and convergence tolerance on the relative residual
  /// max_k ‖M·u_k − λ_k·u_k‖ / λ_1 of the 9 wanted Ritz pairs.
  int n_extra_vectors = 7;
  int max_eigen_iterations = 500;
  double eigen_tolerance = 1e-9;
  /// The rounding (random starts and alternation) runs on at most this many particles drawn
  /// with the seed (0 = all); T is then applied to every particle once. Keeps the cost of the
  /// restarts independent of N at the million-particle scale.
  std::int64_t n_rounding_sample = 20000;
  /// laplacian_initialise only: width τ (rad) of the affinity exp(−(d/τ)²) of a pair.
  double laplacian_tau = 0.5;
  /// vdm_initialise only: rounds of neighbour averaging after the synchronisation, each setting
  /// R_i to the rotation nearest to Σ_j Rz(±α_ij)·R_j over its pairs.
  int vdm_smoothing = 10;
};

/// What the initialisation did; identical on every rank.
struct SpectralReport {
  /// Top 9 + a few more Ritz values of the (scaled) matrix, descending. For exact distances the
  /// top 9 are ≈ N/3 and the rest ≈ 0; the gap is the quality signal.
  std::vector<double> eigenvalues;
  int n_eigen_iterations = 0;
  bool eigen_converged = false;
  double eigen_residual = 0; ///< max relative Ritz residual at the last iteration
  /// Rounding residual of the kept start: Σ_i ‖Y_i·T − vec R_i‖² / Σ_i ‖Y_i‖² (0 for exact
  /// distances), over the rounding sample.
  double residual = 0;
  int best_restart = 0;          ///< the start that was kept (0-based)
  int n_rounding_iterations = 0; ///< of the kept start
  /// Fraction p of the N(N−1)/2 pairs present (spectral_initialise) or of the landmark pairs.
  double pair_fraction = 0;
  /// landmark_initialise: particles that could not be placed (fewer than 9 landmark pairs or a
  /// singular least-squares system), ascending. They receive a seeded random orientation
  /// (Rng(seed, stream_init, i)) so that the result has no NaN; refinement must move them.
  std::vector<std::int64_t> unplaced;
  /// landmark_initialise: median number of landmark pairs per non-landmark particle.
  std::int64_t median_landmark_pairs = 0;
  double seconds = 0; ///< wall time of the call (rank 0's clock)
  /// Parts of `seconds`: eigenvectors (with the landmark pair gather), rounding (screening and
  /// polish), landmark placement (equation exchange and least squares).
  double seconds_eigen = 0, seconds_rounding = 0, seconds_placement = 0;
};

/// Collective. Canonical unit quaternions (w ≥ 0) of all n_particles, identical on every rank,
/// from every pair of `local` (this rank's pairs: i in local.rows, stored once, i ≠ j).
/// Throws pairpose::Error (on every rank) for invalid pairs, for n_particles < 9 and for a pair
/// set too sparse to define 9 eigenvectors (a particle without any pair is reported by index).
/// Cost per subspace iteration: O(n_pairs·(9+p)) spread over ranks + O(N·(9+p)²) on every rank;
/// memory: the replicated N × (9+p) blocks (≈ 3 · 8·16·N bytes, 384 MB at N = 10^6).
std::vector<geometry::Quat> spectral_initialise(const PairSet& local, MPI_Comm comm,
                                                const SpectralOptions& opt,
                                                SpectralReport* report = nullptr);

// landmark_indices and landmark_rng_index live in pairs/landmarks.hpp (the pair sampler draws
// the landmark pairs with them); they are used here unqualified.
using pairs::landmark_indices;
using pairs::landmark_rng_index;

/// Collective. Canonical unit quaternions of all n_particles, identical on every rank: spectral
/// step on the landmarks given by landmark_indices(n_particles, opt.n_landmarks, opt.seed), then
/// each other particle placed from its landmark pairs (pairs between two non-landmarks are
/// ignored). Particles that cannot be placed are listed in report->unplaced (and logged by the
/// caller), not an error. Throws pairpose::Error for invalid pairs or n_landmarks out of range.
std::vector<geometry::Quat> landmark_initialise(const PairSet& local, MPI_Comm comm,
                                                const SpectralOptions& opt,
                                                SpectralReport* report = nullptr);

/// Collective. Canonical unit quaternions of all n_particles, identical on every rank, for pair
/// sets that hold only short distances (each particle's nearest neighbours, pairs.strategy =
/// "knn"), where the Gram matrix of spectral_initialise is mostly unknown rather than sampled.
///
/// Laplacian eigenmap on SO(3): the affinity W_ij = exp(−(d_ij/τ)²) on the pairs (w_ij > 0),
/// normalised as D^-½·W·D^-½ (D the degrees). For neighbourhoods of orientations spread over
/// SO(3), the eigenvectors after the trivial one (eigenvalue 1, √D) sample the first non-constant
/// harmonics of SO(3), whose span is that of the nine entries of R_i. So the next 9 eigenvectors,
/// mapped back by D^-½, centred and whitened to Yᵀ·Y = N/3 (the second moment of vec R over
/// uniform rotations), are Y = V·T for an orthogonal T, found by the same rounding as
/// spectral_initialise, screening every start (its residual has more local minima). The start
/// is rough (it assumes the views cover SO(3) evenly); it is
/// meant to be refined by the solver. Throws as spectral_initialise.
std::vector<geometry::Quat> laplacian_initialise(const PairSet& local, MPI_Comm comm,
                                                 const SpectralOptions& opt,
                                                 SpectralReport* report = nullptr);

/// Collective. Canonical unit quaternions of all n_particles, identical on every rank, from a pair
/// set that links images of nearby viewing directions and carries each pair's in-plane angle
/// α_ij (PairSet::inplane, from pairs.source = "aligned"), whatever the pair's distance.
///
/// 1. Viewing directions: the 3 eigenvectors after the trivial one of the normalised adjacency
///    D^-½·A·D^-½ of the pair graph sample the first harmonics of the sphere, whose span is that
///    of the coordinates of the viewing direction v_i. Mapped back by D^-½, centred, whitened and
///    normalised, they give v_i up to one orthogonal 3 × 3 matrix.
/// 2. In-plane angles: with any tangent frame F_i = (e1_i, e2_i, v_i) per particle, R_i =
///    Rz(γ_i)·F_i, and a pair's images agree when γ_j − γ_i = −s·α_ij − β_ij, β_ij the in-plane
///    angle of F_j·F_iᵀ. The γ_i are the phases of the top eigenvector of the Hermitian matrix
///    with entries exp(i(−s·α_ij − β_ij)) (angular synchronisation, power iteration); the sign s
///    (the handedness of the α convention relative to the recovered v) is the one with the larger
///    eigenvalue.
/// 3. opt.vdm_smoothing rounds of neighbour averaging, which even out the tilt between
///    neighbours that the in-plane relation ignores.
/// In the spirit of the vector diffusion maps of Singer & Wu (2012). The start is as good as the
/// neighbour graph is dense: it needs many particles per viewing direction.
std::vector<geometry::Quat> vdm_initialise(const PairSet& local, MPI_Comm comm,
                                           const SpectralOptions& opt,
                                           SpectralReport* report = nullptr);

} // namespace pairpose::recover
