#pragma once
/// @file orientation_error.hpp
/// How far estimated orientations are from the truth (method.md §6), up to the transformations
/// the estimate cannot be expected to know.
///
/// - E_OR, the paper's metric: distances d_q between quaternions cannot see any orthogonal map
///   T ∈ O(4) applied to all of them, so E_OR = min over T of the mean / median of
///   d_q(q_i, T·q̂_i). Use it to compare with the paper and to judge orientation recovery alone.
/// - The physical error, the one that matters for a reconstruction: after the gauge has been
///   fixed (method.md §5), only a right factor B ∈ SO(3) (the frame of the map) and the
///   handedness J = diag(1, 1, −1) are free: min over B, J of the mean / median of
///   angle(A_i, Ĵ·Â_i·Ĵ·B), A being RELION's matrices. A wrong left factor or a transposed
///   estimate shows up as a large error.
///
/// Both fit the transformation deterministically (no stochastic optimisation): closed-form
/// Procrustes steps from several deterministic starts (for O(4): also a sign-free linear fit),
/// then iteratively reweighted Procrustes for the mean and a trimmed refit for the median. They are
/// exact (errors ~1e-15 rad) when the estimate is the truth moved by an element of the group. The
/// fit costs O(N) per iteration and may use a seeded random subset of the particles; the errors are
/// then evaluated on all of them.
///
/// These are serial functions on replicated arrays: call them on every rank or on rank 0 only.
#include "pairpose/geometry/rotation.hpp"

#include <array>
#include <cstdint>
#include <vector>

namespace pairpose::evaluate {

/// 4×4 matrix acting on quaternions as vectors of R⁴ (w, x, y, z), row-major: t[4 * row + col].
using Mat4 = std::array<double, 16>;

/// Settings of the fits.
struct AlignmentOptions {
  /// Fit on a random subset of at most this many particles (drawn with `seed`), then evaluate
  /// the errors of all particles. 0: fit on all of them.
  std::size_t n_fit = 20000;
  /// Seed of the subset and of the extra starts (RngStream stream_evaluate).
  std::uint64_t seed = 1;
  /// Extra starts besides the closed-form ones: E_OR tries this many fixed elements of SO(4) and
  /// as many reflections; the physical error tries the relative rotation of this many particles.
  int n_restarts = 8;
  /// Cap on the iterations of each alternating fit and of the trimmed refinement.
  int max_iterations = 100;
};

/// Result of orientation_error (E_OR). Angles in radians. The mean and the median are each
/// minimised over O(4) on their own, so they may come from two (usually close) transformations:
/// a median can be lowered by trading some particles' errors against others', a mean cannot.
struct OrientationError {
  double mean = 0;   ///< min over T of the mean error, reached at `t`
  double median = 0; ///< min over T of the median error, reached at `t_median` (the paper's)
  /// The alignment T ∈ O(4) (det ±1) that minimises the mean: truth_i ≈ ±T·estimate_i.
  Mat4 t{};
  Mat4 t_median{};            ///< the T that minimises the median
  std::vector<double> errors; ///< d_q(truth_i, T·estimate_i) at `t`, every particle, radians
};

/// E_OR of `estimate` against `truth` (same length N ≥ 1; quaternions scalar first, any sign;
/// they are normalised here). Throws pairpose::Error on a length mismatch, an empty input or a
/// non-finite / zero quaternion (naming its index).
OrientationError orientation_error(const std::vector<geometry::Quat>& truth,
                                   const std::vector<geometry::Quat>& estimate,
                                   const AlignmentOptions& options = {});

/// Result of physical_error. The aligned estimate of particle i is Ĵ·Â_i·Ĵ·B. As for E_OR the
/// mean and the median are minimised each on its own (over B and the handedness).
struct PhysicalError {
  double mean_rad = 0, median_rad = 0;      ///< min mean / min median of the per-particle angles
  double mean_deg = 0, median_deg = 0;      ///< the same in degrees
  geometry::Mat3 b = geometry::identity3(); ///< the right factor B ∈ SO(3) of the lowest mean
  bool mirrored = false; ///< whether Ĵ = J = diag(1, 1, −1) (else identity), lowest mean
  geometry::Mat3 b_median = geometry::identity3(); ///< B of the lowest median
  bool mirrored_median = false;                    ///< handedness of the lowest median
  std::vector<double> errors; ///< angle(A_i, Ĵ·Â_i·Ĵ·B) at (b, mirrored), per particle, radians
};

/// Physical orientation error of `estimate` against `truth` (same requirements and errors as
/// orientation_error).
PhysicalError physical_error(const std::vector<geometry::Quat>& truth,
                             const std::vector<geometry::Quat>& estimate,
                             const AlignmentOptions& options = {});

/// T·q for a 4×4 matrix T (not normalised, not made canonical).
geometry::Quat transform(const Mat4& t, const geometry::Quat& q);
/// The quaternion of J·A·J for the quaternion q of A, J = diag(1, 1, −1): (w, −x, −y, z).
geometry::Quat mirror(const geometry::Quat& q);
/// The aligned estimate Ĵ·Â·Ĵ·B of `estimate` under a physical_error result (b, mirrored),
/// canonical: its d_q to the truth is the particle's entry of `errors`.
geometry::Quat align(const PhysicalError& fit, const geometry::Quat& estimate);
/// Median of the values (mean of the two middle ones for an even count); throws when empty.
double median(std::vector<double> values);

} // namespace pairpose::evaluate
