// spectral_initialise: the spectral step on the whole (sampled) Gram matrix, then rounding.
#include <chrono>
#include <cmath>
#include <sstream>

#include "pairpose/core/mpi.hpp"
#include "spectral_internal.hpp"

namespace pairpose::recover {

namespace {

using detail::RowMatrix;

/// Rng index of the rounding sample within stream_init (row indices stay below it).
constexpr std::uint64_t rounding_sample_rng_index = (std::uint64_t(1) << 62) - 1;

/// Throws (collectively) naming the first particles without any usable pair.
void check_degrees(const PairSet& local, MPI_Comm comm) {
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
                 "spectral initialisation: " << n_isolated
                                             << " particle(s) have no pair with weight > 0 (first: "
                                             << isolated.str() << "); every particle needs pairs");
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

  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  mpi::broadcast(&seconds, 1, 0, comm);
  if (report) {
    *report = SpectralReport{};
    report->eigenvalues = eig.values;
    report->n_eigen_iterations = eig.n_iterations;
    report->eigen_converged = eig.converged;
    report->eigen_residual = eig.residual;
    report->residual = rounding.residual;
    report->best_restart = rounding.best_restart;
    report->n_rounding_iterations = rounding.n_iterations;
    report->pair_fraction = fraction;
    report->seconds = seconds;
    report->seconds_eigen = std::chrono::duration<double>(eigen_done - start).count();
    report->seconds_rounding = std::chrono::duration<double>(rounding_done - eigen_done).count();
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

/// y = ½(I + S')·x with S' = D^-½·W·D^-½ − u₀·u₀ᵀ, W_ij = exp(−(d_ij/τ)²) on the pairs and
/// u₀ = √D/‖√D‖ its trivial eigenvector (eigenvalue 1), deflated. The shift maps the spectrum
/// [−1, 1] to [0, 1], so that subspace iteration finds the algebraically largest eigenvalues.
class NormalisedAffinity {
public:
  NormalisedAffinity(const PairSet& local, double tau, MPI_Comm comm) : local_(local), comm_(comm) {
    const std::int64_t n = local.n_particles;
    value_.resize(local.size());
    std::vector<double> degree(static_cast<std::size_t>(n), 0.0);
    for (std::int64_t p = 0; p < local.size(); ++p) {
      const double d = local.distance[p] / tau;
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
  check_degrees(local, comm);

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
  check_degrees(local, comm);
  const double fraction = used_pair_fraction(local, comm);

  SpectralOptions screened = opt;
  screened.stop_when_two_agree = false;
  const NormalisedAffinity affinity(local, opt.laplacian_tau, comm);
  detail::EigenPairs eig = detail::top_eigenpairs(affinity, n, opt, comm);
  const auto eigen_done = std::chrono::steady_clock::now();
  for (double& v : eig.values)
    v = 2 * v - 1; // back to the eigenvalues of D^-½·W·D^-½ (trivial one deflated)
  share_eigenvalues(eig, comm);

  // Generalised eigenvectors D^-½·u, centred and whitened to Yᵀ·Y = N/3.
  RowMatrix y = affinity.inv_sqrt_degree().asDiagonal() * eig.vectors;
  y.rowwise() -= y.colwise().mean();
  const Eigen::MatrixXd second = y.transpose() * y * (3.0 / static_cast<double>(n));
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(second);
  PAIRPOSE_CHECK(es.eigenvalues().minCoeff() > 1e-12 * es.eigenvalues().maxCoeff(),
                 "Laplacian initialisation: the eigenvectors are degenerate (pair graph too "
                 "sparse or disconnected)");
  y = y * es.operatorInverseSqrt();
  return round_embedding(std::move(y), eig, local, comm, screened, fraction, start, eigen_done,
                         report);
}

} // namespace pairpose::recover
