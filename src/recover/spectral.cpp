// spectral_initialise: the spectral step on the whole (sampled) Gram matrix, then rounding.
#include <chrono>
#include <cmath>
#include <complex>
#include <limits>
#include <sstream>

#include "pairpose/core/mpi.hpp"
#include "spectral_internal.hpp"

namespace pairpose::recover {

namespace {

using detail::RowMatrix;

/// Rng index of the rounding sample within stream_init (row indices stay below it).
constexpr std::uint64_t rounding_sample_rng_index = (std::uint64_t(1) << 62) - 1;

/// Throws (collectively) naming the first particles without any usable pair.
void check_degrees(const PairSet& local, const char* what, MPI_Comm comm) {
  std::vector<std::int32_t> degree(static_cast<std::size_t>(local.n_particles), 0);
  for (std::int64_t p = 0; p < local.size(); ++p)
    if (local.weight[p] > 0) {
      degree[local.i[p]] = 1;
      degree[local.j[p]] = 1;
    }
  mpi::all_sum_inplace(degree.data(), local.n_particles, comm);
  std::ostringstream isolated;
  std::int64_t n_isolated = 0;
  for (std::int64_t i = 0; i < local.n_particles; ++i)
    if (degree[i] == 0 && n_isolated++ < 10) isolated << (n_isolated > 1 ? ", " : "") << i;
  PAIRPOSE_CHECK(n_isolated == 0,
                 what << " initialisation: " << n_isolated
                      << " particle(s) have no pair with weight > 0 (first: " << isolated.str()
                      << "); every particle needs pairs (with pairs.source = \"aligned\": lower "
                         "pairs.aligned_min_shared)");
}

/// y += A·x summed over ranks, for the symmetric matrix A with A_ij = A_ji = value[p] on this
/// rank's pairs p = (i, j) (collective; y must hold this rank's other terms only).
void add_pair_product(const PairSet& local, const std::vector<double>& value, const RowMatrix& x,
                      RowMatrix& y, MPI_Comm comm) {
  const std::int64_t k = x.cols();
  const double* xd = x.data();
  double* yd = y.data();
  for (std::int64_t p = 0; p < local.size(); ++p) {
    const double m = value[p];
    const double* xi = xd + local.i[p] * k;
    const double* xj = xd + local.j[p] * k;
    double* yi = yd + local.i[p] * k;
    double* yj = yd + local.j[p] * k;
    for (std::int64_t c = 0; c < k; ++c) {
      yi[c] += m * xj[c];
      yj[c] += m * xi[c];
    }
  }
  mpi::all_sum_inplace(yd, x.rows() * k, comm);
}

/// y = S·x with S the sampled Gram matrix scaled by 1/p and diagonal 3.
class SampledGram {
public:
  SampledGram(const PairSet& local, double scale, MPI_Comm comm) : local_(local), comm_(comm) {
    value_.resize(local.size());
    for (std::int64_t p = 0; p < local.size(); ++p)
      value_[p] = local.weight[p] > 0 ? scale * detail::gram_entry(local.distance[p]) : 0.0;
  }
  void operator()(const RowMatrix& x, RowMatrix& y) const {
    const std::int64_t k = x.cols();
    y.setZero(x.rows(), k);
    for (std::int64_t r = local_.rows.begin; r < local_.rows.end; ++r)
      y.row(r) = 3.0 * x.row(r);
    add_pair_product(local_, value_, x, y, comm_);
  }

private:
  const PairSet& local_;
  MPI_Comm comm_;
  std::vector<double> value_;
};

/// The common part of a start's report (collective: the wall time is rank 0's).
void fill_report(SpectralReport& report, const detail::EigenPairs& eig, double fraction,
                 std::chrono::steady_clock::time_point start,
                 std::chrono::steady_clock::time_point eigen_done,
                 std::chrono::steady_clock::time_point done, MPI_Comm comm) {
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  mpi::broadcast(&seconds, 1, 0, comm);
  report = SpectralReport{};
  report.eigenvalues = eig.values;
  report.n_eigen_iterations = eig.n_iterations;
  report.eigen_converged = eig.converged;
  report.eigen_residual = eig.residual;
  report.pair_fraction = fraction;
  report.seconds = seconds;
  report.seconds_eigen = std::chrono::duration<double>(eigen_done - start).count();
  report.seconds_rounding = std::chrono::duration<double>(done - eigen_done).count();
}

/// Shared tail of the spectral and Laplacian starts: rounding of the embedding y (replicated on
/// every rank), the quaternions of this rank's rows gathered everywhere, and the report.
std::vector<geometry::Quat> round_embedding(RowMatrix y, const detail::EigenPairs& eig,
                                            const PairSet& local, MPI_Comm comm,
                                            const SpectralOptions& opt, double fraction,
                                            std::chrono::steady_clock::time_point start,
                                            std::chrono::steady_clock::time_point eigen_done,
                                            SpectralReport* report) {
  const std::int64_t n = local.n_particles;
  // Every rank continues from rank 0's embedding, so the result is identical everywhere even if
  // the all-reduces rounded differently on different ranks.
  mpi::broadcast(y.data(), y.size(), 0, comm);

  std::vector<std::int64_t> sample;
  if (opt.n_rounding_sample > 0 && opt.n_rounding_sample < n) {
    Rng rng(opt.seed, stream_init, rounding_sample_rng_index);
    sample = sample_indices(n, opt.n_rounding_sample, rng);
  }
  const detail::Rounding rounding = detail::find_rounding(y, sample, opt);
  const auto rounding_done = std::chrono::steady_clock::now();

  std::vector<geometry::Quat> q(static_cast<std::size_t>(n));
  for (std::int64_t r = local.rows.begin; r < local.rows.end; ++r)
    q[r] = detail::quaternion_of_vec(y.row(r) * rounding.t);
  detail::allgather_rows(q, local.rows, comm);

  SpectralReport filled;
  fill_report(report ? *report : filled, eig, fraction, start, eigen_done, rounding_done, comm);
  if (report) {
    report->residual = rounding.residual;
    report->best_restart = rounding.best_restart;
    report->n_rounding_iterations = rounding.n_iterations;
  }
  return q;
}

/// Rank 0's Ritz values and residual on every rank (the report is identical everywhere).
void share_eigenvalues(detail::EigenPairs& eig, MPI_Comm comm) {
  mpi::broadcast(eig.values.data(), static_cast<std::int64_t>(eig.values.size()), 0, comm);
  mpi::broadcast(&eig.residual, 1, 0, comm);
}

/// Fraction of the N(N−1)/2 pairs present with weight > 0 (collective).
double used_pair_fraction(const PairSet& local, MPI_Comm comm) {
  std::int64_t n_used = 0;
  for (double w : local.weight)
    n_used += w > 0;
  n_used = mpi::all_sum(n_used, comm);
  const double n = static_cast<double>(local.n_particles);
  return static_cast<double>(n_used) / (0.5 * n * (n - 1));
}

/// y = ½(I + S')·x with S' = D^-½·W·D^-½ − u₀·u₀ᵀ, W_ij = exp(−(d_ij/τ)²) on the pairs (1 for
/// τ = ∞) and
/// u₀ = √D/‖√D‖ its trivial eigenvector (eigenvalue 1), deflated. The shift maps the spectrum
/// [−1, 1] to [0, 1], so that subspace iteration finds the algebraically largest eigenvalues.
class NormalisedAffinity {
public:
  NormalisedAffinity(const PairSet& local, double tau, MPI_Comm comm) : local_(local), comm_(comm) {
    const std::int64_t n = local.n_particles;
    value_.resize(local.size());
    std::vector<double> degree(static_cast<std::size_t>(n), 0.0);
    for (std::int64_t p = 0; p < local.size(); ++p) {
      const double d = std::isfinite(tau) ? local.distance[p] / tau : 0.0;
      value_[p] = local.weight[p] > 0 ? std::exp(-d * d) : 0.0;
      degree[local.i[p]] += value_[p];
      degree[local.j[p]] += value_[p];
    }
    mpi::all_sum_inplace(degree.data(), n, comm);
    inv_sqrt_degree_.resize(n);
    trivial_.resize(n);
    double norm = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      PAIRPOSE_CHECK(degree[i] > 0, "Laplacian initialisation: particle "
                                        << i << " has no pair with a finite affinity");
      inv_sqrt_degree_(i) = 1.0 / std::sqrt(degree[i]);
      trivial_(i) = std::sqrt(degree[i]);
      norm += degree[i];
    }
    trivial_ /= std::sqrt(norm);
    for (std::int64_t p = 0; p < local.size(); ++p)
      value_[p] *= inv_sqrt_degree_(local.i[p]) * inv_sqrt_degree_(local.j[p]);
  }
  void operator()(const RowMatrix& x, RowMatrix& y) const {
    const std::int64_t k = x.cols();
    y.setZero(x.rows(), k);
    add_pair_product(local_, value_, x, y, comm_);
    // Rank-local from here on: every rank holds the same x and (after the sum) the same S·x.
    const Eigen::RowVectorXd along = trivial_.transpose() * x;
    y -= trivial_ * along;
    y = 0.5 * (x + y);
  }
  const Eigen::VectorXd& inv_sqrt_degree() const { return inv_sqrt_degree_; }

private:
  const PairSet& local_;
  MPI_Comm comm_;
  std::vector<double> value_;
  Eigen::VectorXd inv_sqrt_degree_, trivial_;
};

/// From the eigenpairs of ½(I + S') (NormalisedAffinity): the eigenvalues mapped back to those of
/// D^-½·W·D^-½ (trivial one deflated) and shared; returned, the first k generalised eigenvectors
/// D^-½·u, centred and whitened to Yᵀ·Y = N/3 (the second moment of vec R, or of a unit vector,
/// over uniform orientations). Throws, naming the start, when they are degenerate.
RowMatrix harmonic_embedding(const NormalisedAffinity& affinity, detail::EigenPairs& eig, int k,
                             const char* what, MPI_Comm comm) {
  for (double& value : eig.values)
    value = 2 * value - 1;
  share_eigenvalues(eig, comm);
  RowMatrix y = affinity.inv_sqrt_degree().asDiagonal() * eig.vectors.leftCols(k);
  y.rowwise() -= y.colwise().mean();
  const Eigen::MatrixXd second = y.transpose() * y * (3.0 / static_cast<double>(y.rows()));
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(second);
  PAIRPOSE_CHECK(es.eigenvalues().minCoeff() > 1e-12 * es.eigenvalues().maxCoeff(),
                 what << " initialisation: the eigenvectors are degenerate (pair graph too sparse "
                         "or disconnected)");
  return y * es.operatorInverseSqrt();
}

} // namespace

std::vector<geometry::Quat> spectral_initialise(const PairSet& local, MPI_Comm comm,
                                                const SpectralOptions& opt,
                                                SpectralReport* report) {
  const auto start = std::chrono::steady_clock::now();
  const std::int64_t n = local.n_particles;
  PAIRPOSE_CHECK(n >= 9, "spectral initialisation: needs at least 9 particles, got " << n);
  PAIRPOSE_CHECK(local.rows == split_block(n, comm),
                 "spectral initialisation: the pair set's rows are not this rank's block");
  detail::validate_pairs(local, comm);
  check_degrees(local, "spectral", comm);

  const double fraction = used_pair_fraction(local, comm);

  const SampledGram gram(local, 1.0 / fraction, comm);
  detail::EigenPairs eig = detail::top_eigenpairs(gram, n, opt, comm);
  const auto eigen_done = std::chrono::steady_clock::now();
  share_eigenvalues(eig, comm);
  return round_embedding(detail::scaled_embedding(eig), eig, local, comm, opt, fraction, start,
                         eigen_done, report);
}

std::vector<geometry::Quat> laplacian_initialise(const PairSet& local, MPI_Comm comm,
                                                 const SpectralOptions& opt,
                                                 SpectralReport* report) {
  const auto start = std::chrono::steady_clock::now();
  const std::int64_t n = local.n_particles;
  PAIRPOSE_CHECK(n >= 11, "Laplacian initialisation: needs at least 11 particles, got " << n);
  PAIRPOSE_CHECK(opt.laplacian_tau > 0 && std::isfinite(opt.laplacian_tau),
                 "Laplacian initialisation: tau must be > 0, got " << opt.laplacian_tau);
  PAIRPOSE_CHECK(local.rows == split_block(n, comm),
                 "Laplacian initialisation: the pair set's rows are not this rank's block");
  detail::validate_pairs(local, comm);
  check_degrees(local, "Laplacian", comm);
  const double fraction = used_pair_fraction(local, comm);

  SpectralOptions screened = opt;
  screened.stop_when_two_agree = false;
  const NormalisedAffinity affinity(local, opt.laplacian_tau, comm);
  detail::EigenPairs eig = detail::top_eigenpairs(affinity, n, opt, comm);
  const auto eigen_done = std::chrono::steady_clock::now();
  RowMatrix y = harmonic_embedding(affinity, eig, 9, "Laplacian", comm);
  return round_embedding(std::move(y), eig, local, comm, screened, fraction, start, eigen_done,
                         report);
}

} // namespace pairpose::recover

namespace pairpose::recover {

namespace {

using Frame = Eigen::Matrix3d; ///< rows e1, e2, v

Frame tangent_frame(const Eigen::Vector3d& v) {
  Eigen::Vector3d a(0.3, 0.5, 0.8);
  a.normalize();
  if (std::abs(a.dot(v)) > 0.9) a = Eigen::Vector3d(0.8, -0.5, 0.3).normalized();
  const Eigen::Vector3d e1 = (a - a.dot(v) * v).normalized();
  Frame f;
  f.row(0) = e1.transpose();
  f.row(1) = v.cross(e1).transpose();
  f.row(2) = v.transpose();
  return f;
}

/// In-plane angle of the rotation m (atan2 of its upper-left 2 × 2 block's rotation part).
double inplane_angle(const Eigen::Matrix3d& m) {
  return std::atan2(m(1, 0) - m(0, 1), m(0, 0) + m(1, 1));
}

/// Top eigenvector of the normalised Hermitian matrix with entries exp(i·phase_p) on the pairs
/// (H_ji = exp(i·phase), H_ij its conjugate), by power iteration on ½(I + D^-½·H·D^-½); returns
/// its Rayleigh quotient and writes the phases of the vector (collective; the same on every rank).
double synchronise(const PairSet& local, const std::vector<double>& phase,
                   const Eigen::VectorXd& inv_sqrt_degree, std::uint64_t seed,
                   std::vector<double>& gamma, MPI_Comm comm) {
  const std::int64_t n = local.n_particles;
  Eigen::VectorXcd x(n), y(n);
  for (std::int64_t i = 0; i < n; ++i) {
    Rng rng(seed, stream_init, static_cast<std::uint64_t>(i));
    x(i) = std::complex<double>(rng.normal(), rng.normal());
  }
  x.normalize();
  double lambda = 0;
  for (int it = 0; it < 2000; ++it) {
    y.setZero();
    for (std::int64_t p = 0; p < local.size(); ++p) {
      if (local.weight[p] <= 0) continue;
      const std::int64_t i = local.i[p], j = local.j[p];
      const std::complex<double> h = std::polar(inv_sqrt_degree(i) * inv_sqrt_degree(j), phase[p]);
      y(j) += h * x(i);
      y(i) += std::conj(h) * x(j);
    }
    mpi::all_sum_inplace(reinterpret_cast<double*>(y.data()), 2 * n, comm);
    lambda = x.dot(y).real(); // xᴴ·H·x
    y = 0.5 * (x + y);
    const double norm = y.norm();
    PAIRPOSE_CHECK(norm > 0, "vdm initialisation: the synchronisation matrix vanished");
    y /= norm;
    const double change = (y - x).norm();
    x.swap(y);
    int stop = change < 1e-10;
    mpi::broadcast(&stop, 1, 0, comm);
    if (stop) break;
  }
  mpi::broadcast(reinterpret_cast<double*>(x.data()), 2 * n, 0, comm);
  mpi::broadcast(&lambda, 1, 0, comm);
  gamma.resize(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    gamma[i] = std::arg(x(i));
  return lambda;
}

} // namespace

std::vector<geometry::Quat> vdm_initialise(const PairSet& local, MPI_Comm comm,
                                           const SpectralOptions& opt, SpectralReport* report) {
  const auto start = std::chrono::steady_clock::now();
  const std::int64_t n = local.n_particles;
  PAIRPOSE_CHECK(n >= 11, "vdm initialisation: needs at least 11 particles, got " << n);
  PAIRPOSE_CHECK(local.rows == split_block(n, comm),
                 "vdm initialisation: the pair set's rows are not this rank's block");
  detail::validate_pairs(local, comm);
  mpi::agree_or_throw(local.inplane.size() == local.distance.size()
                          ? std::string()
                          : "vdm initialisation: the pair set has no in-plane angles (write it "
                            "with pairs.source = \"aligned\")",
                      comm);
  check_degrees(local, "vdm", comm);
  const double fraction = used_pair_fraction(local, comm);

  // 1. Viewing directions from the graph's first harmonics.
  const NormalisedAffinity adjacency(local, std::numeric_limits<double>::infinity(), comm);
  detail::EigenPairs eig = detail::top_eigenpairs(adjacency, n, opt, comm);
  RowMatrix v = harmonic_embedding(adjacency, eig, 3, "vdm", comm);
  mpi::broadcast(v.data(), v.size(), 0, comm);
  std::vector<Frame> frame(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    Eigen::Vector3d vi = v.row(i).transpose();
    const double norm = vi.norm();
    vi = norm > 0 ? Eigen::Vector3d(vi / norm) : Eigen::Vector3d(0, 0, 1);
    frame[i] = tangent_frame(vi);
  }
  const auto eigen_done = std::chrono::steady_clock::now();

  // 2. In-plane angles by synchronisation, for both signs of the α convention.
  std::vector<double> beta(static_cast<std::size_t>(local.size()));
  for (std::int64_t p = 0; p < local.size(); ++p)
    beta[p] = inplane_angle(frame[local.j[p]] * frame[local.i[p]].transpose());
  std::vector<double> gamma, best_gamma, phase(beta.size());
  double best_lambda = -std::numeric_limits<double>::infinity(), best_sign = 1;
  for (const double sign : {1.0, -1.0}) {
    for (std::int64_t p = 0; p < local.size(); ++p)
      phase[p] = -sign * local.inplane[p] - beta[p];
    const double lambda =
        synchronise(local, phase, adjacency.inv_sqrt_degree(), opt.seed, gamma, comm);
    if (lambda > best_lambda) best_lambda = lambda, best_gamma = gamma, best_sign = sign;
  }
  std::vector<Eigen::Matrix3d> r(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    r[i] = Eigen::AngleAxisd(best_gamma[i], Eigen::Vector3d::UnitZ()).toRotationMatrix() * frame[i];

  // 3. Neighbour averaging: R_b ≈ Rz(−s·α_ab)·R_a for a pair (a, b).
  std::vector<double> sums(static_cast<std::size_t>(9 * n));
  for (int round = 0; round < opt.vdm_smoothing; ++round) {
    std::fill(sums.begin(), sums.end(), 0.0);
    for (std::int64_t p = 0; p < local.size(); ++p) {
      if (local.weight[p] <= 0) continue;
      const std::int64_t a = local.i[p], b = local.j[p];
      const double angle = best_sign * local.inplane[p];
      const Eigen::Matrix3d to_a =
          Eigen::AngleAxisd(angle, Eigen::Vector3d::UnitZ()).toRotationMatrix() * r[b];
      const Eigen::Matrix3d to_b =
          Eigen::AngleAxisd(-angle, Eigen::Vector3d::UnitZ()).toRotationMatrix() * r[a];
      Eigen::Map<Eigen::Matrix<double, 3, 3, Eigen::RowMajor>>(sums.data() + 9 * a) += to_a;
      Eigen::Map<Eigen::Matrix<double, 3, 3, Eigen::RowMajor>>(sums.data() + 9 * b) += to_b;
    }
    mpi::all_sum_inplace(sums.data(), 9 * n, comm);
    for (std::int64_t i = 0; i < n; ++i) {
      const Eigen::Matrix3d m =
          Eigen::Map<const Eigen::Matrix<double, 3, 3, Eigen::RowMajor>>(sums.data() + 9 * i);
      if (m.norm() > 0) r[i] = detail::nearest_rotation(m);
    }
  }
  std::vector<geometry::Quat> q(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    Eigen::Matrix<double, 1, 9> vec;
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b)
        vec(3 * a + b) = r[i](a, b);
    q[i] = detail::quaternion_of_vec(vec);
  }
  SpectralReport filled;
  fill_report(report ? *report : filled, eig, fraction, start, eigen_done,
              std::chrono::steady_clock::now(), comm);
  // The synchronisation's eigenvalue (1 for perfectly consistent angles) as the residual.
  if (report) report->residual = 1 - best_lambda;
  return q;
}

} // namespace pairpose::recover
