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
    const double* xd = x.data();
    double* yd = y.data();
    for (std::int64_t p = 0; p < local_.size(); ++p) {
      const double m = value_[p];
      const double* xi = xd + local_.i[p] * k;
      const double* xj = xd + local_.j[p] * k;
      double* yi = yd + local_.i[p] * k;
      double* yj = yd + local_.j[p] * k;
      for (std::int64_t c = 0; c < k; ++c) {
        yi[c] += m * xj[c];
        yj[c] += m * xi[c];
      }
    }
    mpi::all_sum_inplace(yd, x.rows() * k, comm_);
  }

private:
  const PairSet& local_;
  MPI_Comm comm_;
  std::vector<double> value_;
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

  std::int64_t n_used = 0;
  for (double w : local.weight)
    n_used += w > 0;
  n_used = mpi::all_sum(n_used, comm);
  const double fraction = static_cast<double>(n_used) / (0.5 * double(n) * double(n - 1));

  const SampledGram gram(local, 1.0 / fraction, comm);
  detail::EigenPairs eig = detail::top_eigenpairs(gram, n, opt, comm);
  const auto eigen_done = std::chrono::steady_clock::now();
  mpi::broadcast(eig.values.data(), static_cast<std::int64_t>(eig.values.size()), 0, comm);
  mpi::broadcast(&eig.residual, 1, 0, comm);
  RowMatrix y = detail::scaled_embedding(eig);
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

} // namespace pairpose::recover
