// The numerical core of the spectral initialisation: subspace iteration for the top 9
// eigenpairs, rounding of the embedding to rotations, and small helpers.
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <sstream>

#include "pairpose/core/mpi.hpp"
#include "spectral_internal.hpp"

namespace pairpose::recover::detail {

namespace {

constexpr int n_wanted = 9;
/// Rng indices of stream_init used here: start-block rows use the row index (< 2^62).
constexpr std::uint64_t restart_rng_base = std::uint64_t(1) << 62;

/// Orthonormal columns spanning those of x (Cholesky QR twice; Householder QR when x is
/// numerically rank-deficient, which happens for exact distances once the 9 wanted vectors are
/// found and the extra columns hold round-off).
void orthonormalise(RowMatrix& x) {
  for (int pass = 0; pass < 2; ++pass) {
    const Eigen::MatrixXd g = x.transpose() * x;
    Eigen::LLT<Eigen::MatrixXd> llt(g);
    const Eigen::VectorXd diag = g.diagonal();
    const bool ok =
        llt.info() == Eigen::Success && llt.matrixL().toDenseMatrix().diagonal().minCoeff() >
                                            1e-6 * std::sqrt(std::max(diag.maxCoeff(), 1e-300));
    if (!ok) {
      const Eigen::MatrixXd col = x;
      Eigen::HouseholderQR<Eigen::MatrixXd> qr(col);
      x = qr.householderQ() * Eigen::MatrixXd::Identity(x.rows(), x.cols());
      return;
    }
    // x ← x·L^{-T}
    const Eigen::MatrixXd linv_t =
        llt.matrixU().solve(Eigen::MatrixXd::Identity(x.cols(), x.cols()));
    x = x * linv_t;
  }
}

RowMatrix random_block(std::int64_t n, int k, std::uint64_t seed) {
  RowMatrix x(n, k);
  for (std::int64_t r = 0; r < n; ++r) {
    Rng rng(seed, stream_init, static_cast<std::uint64_t>(r));
    for (int c = 0; c < k; ++c)
      x(r, c) = rng.normal();
  }
  return x;
}

Mat9 random_orthogonal(Rng& rng) {
  Mat9 g;
  for (int r = 0; r < 9; ++r)
    for (int c = 0; c < 9; ++c)
      g(r, c) = rng.normal();
  Eigen::HouseholderQR<Mat9> qr(g);
  Mat9 q = qr.householderQ();
  const Mat9 rr = qr.matrixQR().triangularView<Eigen::Upper>();
  for (int c = 0; c < 9; ++c)
    if (rr(c, c) < 0) q.col(c) *= -1.0;
  return q;
}

Eigen::Matrix3d as_matrix(const double* v) {
  Eigen::Matrix3d m;
  m << v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8];
  return m;
}

/// One alternation round: projects Z = Y·T to rotations (after the global sign choice), returns
/// the residual; `v` receives the stacked vec(R_i).
double project_rows(const RowMatrix& z, RowMatrix& v) {
  const std::int64_t n = z.rows();
  double det_sum = 0;
  for (std::int64_t r = 0; r < n; ++r)
    det_sum += as_matrix(&z(r, 0)).determinant();
  const double sign = det_sum >= 0 ? 1.0 : -1.0;
  double residual = 0;
  for (std::int64_t r = 0; r < n; ++r) {
    const Eigen::Matrix3d rot = nearest_rotation(sign * as_matrix(&z(r, 0)));
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) {
        v(r, 3 * a + b) = rot(a, b);
        const double e = sign * z(r, 3 * a + b) - rot(a, b);
        residual += e * e;
      }
  }
  return residual;
}

/// Orthogonal Procrustes: the T ∈ O(9) minimising ‖Y·T − V‖.
Mat9 procrustes(const RowMatrix& y, const RowMatrix& v) {
  const Mat9 c = y.transpose() * v;
  Eigen::JacobiSVD<Mat9> svd(c, Eigen::ComputeFullU | Eigen::ComputeFullV);
  return svd.matrixU() * svd.matrixV().transpose();
}

Rounding round_from(const RowMatrix& y, Mat9 t, int max_iterations, double tolerance) {
  const double norm2 = std::max(y.squaredNorm(), 1e-300);
  RowMatrix v(y.rows(), 9);
  Rounding out;
  double previous = std::numeric_limits<double>::infinity();
  for (int it = 1; it <= max_iterations; ++it) {
    const double residual = project_rows(y * t, v) / norm2;
    t = procrustes(y, v);
    out.n_iterations = it;
    if (std::abs(previous - residual) <= tolerance * std::max(residual, 1e-300) || residual < 1e-24)
      break;
    previous = residual;
  }
  out.t = t;
  out.residual = project_rows(y * t, v) / norm2;
  return out;
}

RowMatrix select_rows(const RowMatrix& y, const std::vector<std::int64_t>& rows) {
  RowMatrix out(static_cast<std::int64_t>(rows.size()), y.cols());
  for (std::size_t r = 0; r < rows.size(); ++r)
    out.row(r) = y.row(rows[r]);
  return out;
}

} // namespace

Eigen::Matrix3d nearest_rotation(const Eigen::Matrix3d& m) {
  Eigen::JacobiSVD<Eigen::Matrix3d> svd(m, Eigen::ComputeFullU | Eigen::ComputeFullV);
  Eigen::Matrix3d u = svd.matrixU();
  const Eigen::Matrix3d& v = svd.matrixV();
  if ((u * v.transpose()).determinant() < 0) u.col(2) *= -1.0;
  return u * v.transpose();
}

geometry::Quat quaternion_of_vec(const Eigen::Matrix<double, 1, 9>& v) {
  const Eigen::Matrix3d r = nearest_rotation(as_matrix(v.data()));
  geometry::Mat3 m;
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b)
      m[3 * a + b] = r(a, b);
  return geometry::canonical(geometry::to_quaternion(m));
}

EigenPairs top_eigenpairs(const BlockOperator& apply, std::int64_t n, const SpectralOptions& opt,
                          MPI_Comm comm) {
  const int k = static_cast<int>(std::min<std::int64_t>(n_wanted + opt.n_extra_vectors, n));
  RowMatrix x = random_block(n, k, opt.seed), w(n, k);
  orthonormalise(x);
  EigenPairs out;
  for (int it = 1;; ++it) {
    apply(x, w);
    Eigen::MatrixXd h = x.transpose() * w;
    h = 0.5 * (h + h.transpose()).eval();
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(h);
    // Descending algebraic order.
    const Eigen::MatrixXd s = es.eigenvectors().rowwise().reverse();
    const Eigen::VectorXd theta = es.eigenvalues().reverse();
    x = x * s;
    w = w * s;
    double residual = 0;
    const double scale = std::max(std::abs(theta(0)), 1e-300);
    for (int c = 0; c < n_wanted; ++c)
      residual = std::max(residual, (w.col(c) - theta(c) * x.col(c)).norm() / scale);
    int stop = residual <= opt.eigen_tolerance || it >= opt.max_eigen_iterations;
    mpi::broadcast(&stop, 1, 0, comm);
    if (stop) {
      out.vectors = x.leftCols(n_wanted);
      out.values.assign(theta.data(), theta.data() + k);
      out.n_iterations = it;
      out.converged = residual <= opt.eigen_tolerance;
      out.residual = residual;
      return out;
    }
    x.swap(w);
    orthonormalise(x);
  }
}

RowMatrix scaled_embedding(const EigenPairs& eig) {
  RowMatrix y = eig.vectors;
  for (int c = 0; c < n_wanted; ++c)
    y.col(c) *= std::sqrt(std::max(eig.values[c], 0.0));
  return y;
}

Rounding find_rounding(const RowMatrix& y, const std::vector<std::int64_t>& sample,
                       const SpectralOptions& opt) {
  const RowMatrix ys = sample.empty() ? y : select_rows(y, sample);
  // Screening: short runs from every start on a small subset of the rows.
  const std::int64_t n_screen =
      std::min<std::int64_t>(std::max<std::int64_t>(opt.n_screening_rows, 9), ys.rows());
  Rng screen_rng(opt.seed, stream_init, restart_rng_base - 1);
  const RowMatrix yscreen =
      n_screen == ys.rows() ? ys : select_rows(ys, sample_indices(ys.rows(), n_screen, screen_rng));
  Rounding best;
  best.residual = std::numeric_limits<double>::infinity();
  int n_hits = 0;
  for (int restart = 0; restart < std::max(opt.n_restarts, 1); ++restart) {
    Rng rng(opt.seed, stream_init, restart_rng_base + static_cast<std::uint64_t>(restart));
    const Mat9 t0 = restart == 0 ? Mat9::Identity().eval() : random_orthogonal(rng);
    Rounding r = round_from(yscreen, t0, opt.n_screening_iterations, opt.rounding_tolerance);
    r.best_restart = restart;
    const bool same = std::isfinite(best.residual) &&
                      std::abs(r.residual - best.residual) <= 1e-3 * best.residual;
    if (r.residual < best.residual && !same) {
      best = r;
      n_hits = 1;
    } else if (same) {
      ++n_hits;
    }
    // The lowest residual reached from two different starts, or exact data: stop screening.
    if ((opt.stop_when_two_agree && n_hits >= 2) || best.residual < 1e-20) break;
  }
  // Polish the best start on the whole rounding sample.
  Rounding out = round_from(ys, best.t, opt.max_rounding_iterations, opt.rounding_tolerance);
  out.best_restart = best.best_restart;
  return out;
}

void validate_pairs(const PairSet& local, MPI_Comm comm) {
  std::ostringstream err;
  const std::int64_t n = local.size();
  if (static_cast<std::int64_t>(local.j.size()) != n ||
      static_cast<std::int64_t>(local.distance.size()) != n ||
      static_cast<std::int64_t>(local.weight.size()) != n) {
    err << "pair set: arrays i, j, distance, weight have different lengths (" << n << ", "
        << local.j.size() << ", " << local.distance.size() << ", " << local.weight.size() << ")";
  }
  for (std::int64_t p = 0; p < n && err.tellp() == 0; ++p) {
    const std::int64_t i = local.i[p], j = local.j[p];
    const double d = local.distance[p], w = local.weight[p];
    if (!local.rows.contains(i) || j < 0 || j >= local.n_particles || i == j)
      err << "pair " << p << " (" << i << ", " << j << "): expected i in this rank's rows ["
          << local.rows.begin << ", " << local.rows.end << "), 0 ≤ j < " << local.n_particles
          << ", i ≠ j";
    else if (!(d >= 0 && d <= M_PI + 1e-9))
      err << "pair " << p << " (" << i << ", " << j << "): distance " << d << " rad outside [0, π]";
    else if (!(w >= 0 && std::isfinite(w)))
      err << "pair " << p << " (" << i << ", " << j << "): weight " << w
          << " is not finite and ≥ 0";
  }
  mpi::agree_or_throw(err.str(), comm);
}

void allgather_rows(std::vector<geometry::Quat>& all, const Block& rows, MPI_Comm comm) {
  static_assert(sizeof(geometry::Quat) == 4 * sizeof(double), "Quat must be 4 packed doubles");
  const auto n = static_cast<std::int64_t>(all.size());
  PAIRPOSE_CHECK(rows == split_block(n, comm), "allgather_rows: bad row block");
  double* data = reinterpret_cast<double*>(all.data());
  mpi::allgather_blocks(data + 4 * rows.begin, n, 4, data, comm, "allgather_rows"); // in place
}

} // namespace pairpose::recover::detail
