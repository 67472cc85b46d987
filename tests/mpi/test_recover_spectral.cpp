#define BOOST_TEST_MODULE mpi_recover_spectral
#include "pairpose_test.hpp"

#include <chrono>
#include <cstdlib>
#include <set>

#include "../unit/test_recover_spectral_support.hpp"
#include "pairpose/core/log.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/recover/spectral.hpp"

using namespace pairpose;
using namespace spectral_test;

namespace {

double max_difference(const std::vector<geometry::Quat>& a, const std::vector<geometry::Quat>& b) {
  double d = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    d = std::max({d, std::abs(a[i].w - b[i].w), std::abs(a[i].x - b[i].x),
                  std::abs(a[i].y - b[i].y), std::abs(a[i].z - b[i].z)});
  return d;
}

/// The same quaternions on every rank of `comm` (bitwise).
bool identical_on_all_ranks(const std::vector<geometry::Quat>& q, MPI_Comm comm) {
  std::vector<geometry::Quat> root = q;
  mpi::broadcast(reinterpret_cast<double*>(root.data()), 4 * std::int64_t(q.size()), 0, comm);
  return mpi::all_true(max_difference(q, root) == 0.0, comm);
}

} // namespace

// The world result against the same computation on every rank alone (MPI_COMM_SELF): at 2 ranks
// this compares the 2-rank and 1-rank results inside one job.
BOOST_AUTO_TEST_CASE(spectral_independent_of_rank_count) {
  const auto truth = random_orientations(600, 21);
  recover::SpectralOptions opt;
  opt.seed = 3;
  recover::SpectralReport world_report, self_report;
  const auto world = recover::spectral_initialise(all_pairs(truth, 0.3, 4, MPI_COMM_WORLD),
                                                  MPI_COMM_WORLD, opt, &world_report);
  const auto self = recover::spectral_initialise(all_pairs(truth, 0.3, 4, MPI_COMM_SELF),
                                                 MPI_COMM_SELF, opt, &self_report);
  BOOST_TEST(identical_on_all_ranks(world, MPI_COMM_WORLD));
  const double e_world = aligned_error(truth, world).median;
  const double e_self = aligned_error(truth, self).median;
  BOOST_TEST_MESSAGE("N=600 σ=0.3 spectral: E_OR " << e_world << " (world), " << e_self
                                                   << " (self)");
  BOOST_TEST(std::abs(e_world - e_self) <= 1e-6);
  BOOST_TEST(e_world <= 0.05);
  BOOST_TEST(std::abs(world_report.eigenvalues[0] - self_report.eigenvalues[0]) <=
             1e-9 * self_report.eigenvalues[0]);
}

// The Laplacian start (nearest-neighbour pairs) on all ranks against one rank alone.
BOOST_AUTO_TEST_CASE(laplacian_independent_of_rank_count) {
  const auto truth = random_orientations(600, 23);
  recover::SpectralOptions opt;
  opt.max_eigen_iterations = 5000;
  const auto world = recover::laplacian_initialise(nearest_pairs(truth, 20, 0.1, 4, MPI_COMM_WORLD),
                                                   MPI_COMM_WORLD, opt);
  const auto self = recover::laplacian_initialise(nearest_pairs(truth, 20, 0.1, 4, MPI_COMM_SELF),
                                                  MPI_COMM_SELF, opt);
  BOOST_TEST(identical_on_all_ranks(world, MPI_COMM_WORLD));
  const double e_world = aligned_error(truth, world).median;
  const double e_self = aligned_error(truth, self).median;
  BOOST_TEST_MESSAGE("N=600, 20 nearest, σ=0.1, laplacian: E_OR " << e_world << " (world), "
                                                                  << e_self << " (self)");
  BOOST_TEST(std::abs(e_world - e_self) <= 1e-6);
  BOOST_TEST(e_world <= 0.35); // a rough start (0.28 measured); the solver refines it
}

// Landmark pairs are stored on either particle's rank (routing across ranks); the landmark
// result is independent of the rank count up to round-off (it sorts its equations).
BOOST_AUTO_TEST_CASE(landmarks_independent_of_rank_count) {
  const std::int64_t n = 3000;
  recover::SpectralOptions opt;
  opt.n_landmarks = 150;
  opt.seed = 8;
  const auto truth = random_orientations(n, 22);
  const auto marks = recover::landmark_indices(n, opt.n_landmarks, opt.seed);
  recover::SpectralReport world_report, self_report;
  const auto world = recover::landmark_initialise(
      landmark_pairs(truth, marks, 0.3, 6, MPI_COMM_WORLD), MPI_COMM_WORLD, opt, &world_report);
  const auto self = recover::landmark_initialise(
      landmark_pairs(truth, marks, 0.3, 6, MPI_COMM_SELF), MPI_COMM_SELF, opt, &self_report);
  BOOST_TEST(identical_on_all_ranks(world, MPI_COMM_WORLD));
  BOOST_TEST(max_difference(world, self) <= 1e-12);
  const double e_world = aligned_error(truth, world).median;
  const double e_self = aligned_error(truth, self).median;
  BOOST_TEST_MESSAGE("N=3000 L=150 σ=0.3 landmarks: E_OR " << e_world << " (world), " << e_self
                                                           << " (self)");
  BOOST_TEST(std::abs(e_world - e_self) <= 1e-6);
  // Least-squares error ∝ 1/√L: 0.044 rad at L = 500 (method.md) → ≈ 0.08 at L = 150 (measured
  // 0.084; the 150-landmark spectral step is noisier too).
  BOOST_TEST(e_world <= 0.1);
  BOOST_TEST(world_report.unplaced.empty());
  BOOST_TEST(world_report.median_landmark_pairs == opt.n_landmarks);
}

// ---- Experiments at scale (disabled: run by hand, see the recover report) --------------------
// PAIRPOSE_SPECTRAL_N particles, K random partners each (PAIRPOSE_SPECTRAL_K), distance noise σ
// (PAIRPOSE_SPECTRAL_SIGMA); for landmarks every particle gets K random landmark partners among L
// (PAIRPOSE_SPECTRAL_L) plus all landmark–landmark pairs.
namespace {

double env(const char* name, double fallback) {
  const char* v = std::getenv(name);
  return v ? std::atof(v) : fallback;
}

PairSet random_pairs(const std::vector<geometry::Quat>& q, std::int64_t k, double sigma,
                     MPI_Comm comm) {
  PairSet s;
  s.n_particles = static_cast<std::int64_t>(q.size());
  s.rows = split_block(s.n_particles, comm);
  for (std::int64_t i = s.rows.begin; i < s.rows.end; ++i) {
    Rng rng(77, stream_pairs, i);
    for (std::int64_t c = 0; c < k; ++c) {
      std::int64_t j = static_cast<std::int64_t>(rng.below(s.n_particles - 1));
      if (j >= i) ++j;
      add_pair(s, q, i, j, sigma, 5);
    }
  }
  return s;
}

PairSet sampled_landmark_pairs(const std::vector<geometry::Quat>& q,
                               const std::vector<std::int64_t>& marks, std::int64_t k, double sigma,
                               MPI_Comm comm) {
  PairSet s;
  s.n_particles = static_cast<std::int64_t>(q.size());
  s.rows = split_block(s.n_particles, comm);
  std::vector<char> is_mark(q.size(), 0);
  for (auto l : marks)
    is_mark[l] = 1;
  for (std::int64_t i = s.rows.begin; i < s.rows.end; ++i) {
    if (is_mark[i]) {
      for (auto l : marks)
        if (l > i) add_pair(s, q, i, l, sigma, 5);
      continue;
    }
    Rng rng(78, stream_pairs, i);
    const auto n_marks = static_cast<std::int64_t>(marks.size());
    std::set<std::int64_t> chosen; // Floyd: k distinct landmark positions
    for (std::int64_t j = n_marks - std::min(k, n_marks); j < n_marks; ++j)
      if (!chosen.insert(static_cast<std::int64_t>(rng.below(j + 1))).second) chosen.insert(j);
    for (auto pos : chosen)
      add_pair(s, q, i, marks[pos], sigma, 5);
  }
  return s;
}

} // namespace

BOOST_AUTO_TEST_CASE(experiment_sparse_vs_landmarks, *boost::unit_test::disabled()) {
  const auto n = static_cast<std::int64_t>(env("PAIRPOSE_SPECTRAL_N", 100000));
  const auto k = static_cast<std::int64_t>(env("PAIRPOSE_SPECTRAL_K", 50));
  const auto n_marks = static_cast<std::int64_t>(env("PAIRPOSE_SPECTRAL_L", 1000));
  const double sigma = env("PAIRPOSE_SPECTRAL_SIGMA", 0.2);
  const int mode = static_cast<int>(env("PAIRPOSE_SPECTRAL_MODE", 3)); // 1 sparse, 2 landmarks
  const auto truth = random_orientations(n, 31);
  recover::SpectralOptions opt;
  opt.n_landmarks = n_marks;
  Logger log(MPI_COMM_WORLD);
  if (mode & 1) {
    recover::SpectralReport rep;
    const auto q = recover::spectral_initialise(random_pairs(truth, k, sigma, MPI_COMM_WORLD),
                                                MPI_COMM_WORLD, opt, &rep);
    const auto e = aligned_error(truth, q);
    log.info("sparse N={} K={} σ={}: E_OR median {:.4f} mean {:.4f} rad; eigen {} it (converged "
             "{}, residual {:.2e}), λ9/N={:.4f} λ10/N={:.4f}, rounding residual {:.4f}, {:.1f} s "
             "(eigen {:.1f}, rounding {:.1f})",
             n, k, sigma, e.median, e.mean, rep.n_eigen_iterations, rep.eigen_converged,
             rep.eigen_residual, rep.eigenvalues[8] / n, rep.eigenvalues[9] / n, rep.residual,
             rep.seconds, rep.seconds_eigen, rep.seconds_rounding);
  }
  if (mode & 2) {
    const auto marks = recover::landmark_indices(n, n_marks, opt.seed);
    recover::SpectralReport rep;
    const auto q = recover::landmark_initialise(
        sampled_landmark_pairs(truth, marks, k, sigma, MPI_COMM_WORLD), MPI_COMM_WORLD, opt, &rep);
    const auto e = aligned_error(truth, q);
    log.info(
        "landmarks N={} L={} K={} σ={}: E_OR median {:.4f} mean {:.4f} rad; landmark "
        "residual {:.4f}, unplaced {}, {:.1f} s (landmark eigen {:.1f}, rounding {:.1f}, placement "
        "{:.1f})",
        n, n_marks, k, sigma, e.median, e.mean, rep.residual, rep.unplaced.size(), rep.seconds,
        rep.seconds_eigen, rep.seconds_rounding, rep.seconds_placement);
  }
}
