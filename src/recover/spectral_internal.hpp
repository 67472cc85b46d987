#pragma once
// Building blocks shared by spectral.cpp and landmark.cpp (not part of the public API).
#include <Eigen/Dense>
#include <cstdint>
#include <functional>
#include <mpi.h>
#include <vector>

#include "pairpose/core/partition.hpp"
#include "pairpose/core/random.hpp"
#include "pairpose/recover/spectral.hpp"

namespace pairpose::recover::detail {

/// N × k blocks stored row by row, so that one particle's k numbers are contiguous.
using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Mat9 = Eigen::Matrix<double, 9, 9>;

/// y = A·x for an n × k block x (collective when A is distributed; y is overwritten and must be
/// the same on every rank on return).
using BlockOperator = std::function<void(const RowMatrix& x, RowMatrix& y)>;

struct EigenPairs {
  RowMatrix vectors;          ///< n × 9, orthonormal, for the 9 largest Ritz values
  std::vector<double> values; ///< all k Ritz values, descending
  int n_iterations = 0;
  bool converged = false;
  double residual = 0;
};

/// The 9 algebraically largest eigenpairs of the symmetric operator `apply` of size n by block
/// subspace iteration with Rayleigh–Ritz (block size 9 + opt.n_extra_vectors). The start block
/// row r comes from Rng(opt.seed, stream_init, r). Every rank must call it with the same
/// arguments; the stop decision is rank 0's (broadcast on `comm`), so all ranks iterate together.
EigenPairs top_eigenpairs(const BlockOperator& apply, std::int64_t n, const SpectralOptions& opt,
                          MPI_Comm comm);

/// Y = U·Λ^½ from the eigenpairs (negative eigenvalues clamped to 0).
RowMatrix scaled_embedding(const EigenPairs& eig);

struct Rounding {
  Mat9 t = Mat9::Identity(); ///< Y_i·t ≈ vec R_i (row-major vec of the 3×3 matrix)
  double residual = 0;
  int best_restart = 0;
  int n_iterations = 0;
};

/// Finds T by alternating projection and Procrustes from opt.n_restarts seeded starts, over the
/// rows `sample` of Y (all rows when empty). Rank-local (no communication): every rank computes
/// the same result.
Rounding find_rounding(const RowMatrix& y, const std::vector<std::int64_t>& sample,
                       const SpectralOptions& opt);

/// The rotation nearest to `m` (row-major 3×3) in the Frobenius norm, determinant +1.
Eigen::Matrix3d nearest_rotation(const Eigen::Matrix3d& m);

/// Canonical quaternion of the rotation nearest to the 3×3 matrix of the row-major 9-vector v.
geometry::Quat quaternion_of_vec(const Eigen::Matrix<double, 1, 9>& v);

/// Rejects malformed pairs with a message naming the pair and the field (collective).
void validate_pairs(const PairSet& local, MPI_Comm comm);

/// Replicates per-particle quaternions: on entry `all` (size n_particles) holds this rank's block
/// `rows`; on return every rank holds every block (collective).
void allgather_rows(std::vector<geometry::Quat>& all, const Block& rows, MPI_Comm comm);

/// M_ij = 1 + 2·cos d.
inline double gram_entry(double distance) { return 1.0 + 2.0 * std::cos(distance); }

} // namespace pairpose::recover::detail
