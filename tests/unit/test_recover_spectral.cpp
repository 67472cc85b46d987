#define BOOST_TEST_MODULE recover_spectral
#include "pairpose_test.hpp"

#include <cmath>
#include <set>

#include "pairpose/core/error.hpp"
#include "pairpose/core/random.hpp"
#include "pairpose/recover/spectral.hpp"
#include "test_recover_spectral_support.hpp"

using namespace pairpose;
using namespace spectral_test;

namespace {

double spectral_error(std::int64_t n, double sigma, recover::SpectralReport& report) {
  const auto truth = random_orientations(n, 7);
  const PairSet pairs = all_pairs(truth, sigma, 11, MPI_COMM_SELF);
  recover::SpectralOptions opt;
  const auto q = recover::spectral_initialise(pairs, MPI_COMM_SELF, opt, &report);
  BOOST_TEST_REQUIRE(q.size() == truth.size());
  return aligned_error(truth, q).median;
}

bool all_unit(const std::vector<geometry::Quat>& q) {
  for (const auto& x : q)
    if (!(std::abs(geometry::norm(x) - 1) < 1e-9) || x.w < 0) return false;
  return true;
}

} // namespace

BOOST_AUTO_TEST_CASE(exact_distances_recover_orientations) {
  recover::SpectralReport report;
  const double error = spectral_error(500, 0.0, report);
  BOOST_TEST_MESSAGE("N=500 exact: median E_OR " << error << " rad, residual " << report.residual
                                                 << ", iterations " << report.n_eigen_iterations);
  BOOST_TEST(error <= 1e-6);
  BOOST_TEST(report.residual <= 1e-12);
  BOOST_TEST(report.eigen_converged);
  // Rank 9: nine eigenvalues near N/3, the rest near 0.
  BOOST_TEST_REQUIRE(report.eigenvalues.size() >= 10u);
  BOOST_TEST(report.eigenvalues[8] > 500.0 / 3 * 0.5);
  BOOST_TEST(std::abs(report.eigenvalues[9]) < 1e-6 * report.eigenvalues[0]);
}

BOOST_AUTO_TEST_CASE(noisy_distances_sigma_0_1) {
  recover::SpectralReport report;
  const double error = spectral_error(1650, 0.1, report);
  BOOST_TEST_MESSAGE("N=1650 σ=0.1: median E_OR " << error << " rad (method.md 0.008), "
                                                  << report.seconds << " s");
  BOOST_TEST(error <= 0.015);
}

BOOST_AUTO_TEST_CASE(noisy_distances_sigma_0_5) {
  recover::SpectralReport report;
  const double error = spectral_error(1650, 0.5, report);
  BOOST_TEST_MESSAGE("N=1650 σ=0.5: median E_OR " << error << " rad (method.md 0.041), "
                                                  << report.seconds << " s");
  BOOST_TEST(error <= 0.06);
}

BOOST_AUTO_TEST_CASE(same_seed_same_result) {
  const auto truth = random_orientations(300, 3);
  const PairSet pairs = all_pairs(truth, 0.3, 5, MPI_COMM_SELF);
  recover::SpectralOptions opt;
  opt.seed = 42;
  const auto a = recover::spectral_initialise(pairs, MPI_COMM_SELF, opt);
  const auto b = recover::spectral_initialise(pairs, MPI_COMM_SELF, opt);
  BOOST_TEST_REQUIRE(a.size() == b.size());
  bool same = true;
  for (std::size_t i = 0; i < a.size(); ++i)
    same = same && a[i].w == b[i].w && a[i].x == b[i].x && a[i].y == b[i].y && a[i].z == b[i].z;
  BOOST_TEST(same);
  BOOST_TEST(all_unit(a));
}

BOOST_AUTO_TEST_CASE(landmark_indices_are_deterministic_and_distinct) {
  const auto a = recover::landmark_indices(10000, 500, 3);
  BOOST_TEST(a == recover::landmark_indices(10000, 500, 3));
  BOOST_TEST(a != recover::landmark_indices(10000, 500, 4));
  BOOST_TEST_REQUIRE(a.size() == 500u);
  BOOST_TEST(std::is_sorted(a.begin(), a.end()));
  BOOST_TEST((std::adjacent_find(a.begin(), a.end()) == a.end()));
  BOOST_TEST((a.front() >= 0 && a.back() < 10000));
  BOOST_CHECK_THROW(recover::landmark_indices(100, 8, 1), Error);
  BOOST_CHECK_THROW(recover::landmark_indices(100, 101, 1), Error);
}

BOOST_AUTO_TEST_CASE(landmarks_noisy) {
  const std::int64_t n = 20000;
  recover::SpectralOptions opt;
  opt.n_landmarks = 500;
  opt.seed = 5;
  const auto truth = random_orientations(n, 8);
  const auto marks = recover::landmark_indices(n, opt.n_landmarks, opt.seed);
  const PairSet pairs = landmark_pairs(truth, marks, 0.3, 13, MPI_COMM_SELF);
  recover::SpectralReport report;
  const auto q = recover::landmark_initialise(pairs, MPI_COMM_SELF, opt, &report);
  const double error = aligned_error(truth, q).median;
  BOOST_TEST_MESSAGE("N=20000 L=500 σ=0.3: median E_OR " << error << " rad (method.md 0.044), "
                                                         << report.seconds << " s");
  BOOST_TEST(error <= 0.06);
  BOOST_TEST(report.unplaced.empty());
  BOOST_TEST(report.median_landmark_pairs == 500);
  BOOST_TEST(all_unit(q));
}

BOOST_AUTO_TEST_CASE(landmarks_report_unplaceable_particles) {
  const std::int64_t n = 400;
  recover::SpectralOptions opt;
  opt.n_landmarks = 60;
  const auto truth = random_orientations(n, 9);
  const auto marks = recover::landmark_indices(n, opt.n_landmarks, opt.seed);
  PairSet pairs = landmark_pairs(truth, marks, 0.0, 1, MPI_COMM_SELF);
  // Particle `lonely` loses every landmark pair, particle `few` keeps 5 (< 9 unknowns).
  std::int64_t lonely = 0, few = 1;
  while (std::binary_search(marks.begin(), marks.end(), lonely))
    ++lonely;
  few = lonely + 1;
  while (std::binary_search(marks.begin(), marks.end(), few))
    ++few;
  PairSet kept = pairs;
  kept.i.clear(), kept.j.clear(), kept.distance.clear(), kept.weight.clear();
  int n_few = 0;
  for (std::int64_t p = 0; p < pairs.size(); ++p) {
    const bool touches_lonely = pairs.i[p] == lonely || pairs.j[p] == lonely;
    const bool touches_few = pairs.i[p] == few || pairs.j[p] == few;
    if (touches_lonely || (touches_few && n_few++ >= 5)) continue;
    kept.i.push_back(pairs.i[p]), kept.j.push_back(pairs.j[p]);
    kept.distance.push_back(pairs.distance[p]), kept.weight.push_back(1.0);
  }
  recover::SpectralReport report;
  const auto q = recover::landmark_initialise(kept, MPI_COMM_SELF, opt, &report);
  BOOST_TEST((report.unplaced == std::vector<std::int64_t>{lonely, few}));
  BOOST_TEST(all_unit(q));
  // The others are still exact.
  std::vector<geometry::Quat> t_rest, q_rest;
  for (std::int64_t i = 0; i < n; ++i)
    if (i != lonely && i != few) t_rest.push_back(truth[i]), q_rest.push_back(q[i]);
  BOOST_TEST(aligned_error(t_rest, q_rest).median <= 1e-6);
}

// Each particle's 20 nearest only (pairs.strategy = "knn"): the Gram matrix is mostly unknown,
// not sampled. The Laplacian eigenmap gives a rough start (≈ 0.22 rad, measured), closer than
// the spectral one (≈ 0.37 rad); the solver refines it (unit_recover_accuracy).
BOOST_AUTO_TEST_CASE(laplacian_start_from_nearest_neighbours) {
  const auto truth = random_orientations(800, 5);
  recover::SpectralOptions opt;
  opt.max_eigen_iterations = 5000;
  for (const double sigma : {0.0, 0.1}) {
    const PairSet pairs = nearest_pairs(truth, 20, sigma, 9, MPI_COMM_SELF);
    recover::SpectralReport lap_report, gram_report;
    const auto lap = recover::laplacian_initialise(pairs, MPI_COMM_SELF, opt, &lap_report);
    const auto gram = recover::spectral_initialise(pairs, MPI_COMM_SELF, opt, &gram_report);
    const double e_lap = aligned_error(truth, lap).median;
    const double e_gram = aligned_error(truth, gram).median;
    BOOST_TEST_MESSAGE("N=800, 20 nearest, σ=" << sigma << ": E_OR laplacian " << e_lap
                                               << " rad (residual " << lap_report.residual << ", "
                                               << lap_report.n_eigen_iterations
                                               << " iterations), spectral " << e_gram);
    BOOST_TEST(all_unit(lap));
    BOOST_TEST(lap_report.eigen_converged);
    BOOST_TEST(e_lap <= 0.3);
    BOOST_TEST(e_lap < e_gram);
    // The trivial eigenvector is deflated: the top reported eigenvalue is below 1.
    BOOST_TEST(lap_report.eigenvalues[0] < 1.0 - 1e-6);
  }
}

// Pairs of nearby viewing directions with their in-plane angles, as pairs.source = "aligned"
// writes them (α_ij = −(in-plane angle of R_j·R_iᵀ)), with 0.02 rad of noise on α: the vdm start
// finds the orientations; without the angles it is refused.
BOOST_AUTO_TEST_CASE(vdm_start_from_viewing_neighbours) {
  const std::int64_t n = 2000;
  const int k = 20;
  const auto truth = random_orientations(n, 13);
  std::vector<geometry::Mat3> r(n);
  for (std::int64_t i = 0; i < n; ++i)
    r[i] = geometry::to_matrix(truth[i]);
  PairSet pairs;
  pairs.n_particles = n;
  pairs.rows = split_block(n, MPI_COMM_SELF);
  std::vector<std::vector<std::int64_t>> near(n);
  for (std::int64_t a = 0; a < n; ++a) {
    std::vector<std::pair<double, std::int64_t>> d;
    for (std::int64_t b = 0; b < n; ++b)
      if (b != a) {
        double c = 0; // viewing directions: the third rows
        for (int e = 0; e < 3; ++e)
          c += r[a][6 + e] * r[b][6 + e];
        d.emplace_back(-c, b);
      }
    std::partial_sort(d.begin(), d.begin() + k, d.end());
    for (int c = 0; c < k; ++c)
      near[a].push_back(d[c].second);
  }
  std::set<std::pair<std::int64_t, std::int64_t>> seen;
  for (std::int64_t a = 0; a < n; ++a)
    for (const std::int64_t b : near[a]) {
      const auto key = std::minmax(a, b);
      if (!seen.insert(key).second) continue;
      const geometry::Mat3 m = geometry::multiply(r[key.second], geometry::transpose(r[key.first]));
      Rng rng(5, stream_noise, static_cast<std::uint64_t>(key.first * n + key.second));
      pairs.i.push_back(key.first);
      pairs.j.push_back(key.second);
      pairs.distance.push_back(geometry::distance(truth[key.first], truth[key.second]));
      pairs.weight.push_back(1.0);
      pairs.inplane.push_back(-std::atan2(m[3] - m[1], m[0] + m[4]) + 0.02 * rng.normal());
    }
  recover::SpectralOptions opt;
  opt.max_eigen_iterations = 5000;
  recover::SpectralReport report;
  const auto q = recover::vdm_initialise(pairs, MPI_COMM_SELF, opt, &report);
  const double e = aligned_error(truth, q).median;
  BOOST_TEST_MESSAGE("N=2000, 20 viewing neighbours, α ± 0.02: vdm E_OR " << e << " rad, 1 − λ "
                                                                          << report.residual);
  BOOST_TEST(all_unit(q));
  BOOST_TEST(e <= 0.1);
  PairSet bare = pairs;
  bare.inplane.clear();
  try {
    recover::vdm_initialise(bare, MPI_COMM_SELF, opt);
    BOOST_FAIL("expected an error for pairs without in-plane angles");
  } catch (const Error& err) {
    BOOST_TEST(std::string(err.what()).find("in-plane") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(laplacian_rejects_bad_settings) {
  const auto truth = random_orientations(40, 2);
  const PairSet pairs = nearest_pairs(truth, 12, 0.0, 1, MPI_COMM_SELF);
  recover::SpectralOptions opt;
  opt.laplacian_tau = 0;
  BOOST_CHECK_THROW(recover::laplacian_initialise(pairs, MPI_COMM_SELF, opt), Error);
  opt.laplacian_tau = 0.5;
  const auto few = random_orientations(10, 2);
  BOOST_CHECK_THROW(
      recover::laplacian_initialise(all_pairs(few, 0.0, 1, MPI_COMM_SELF), MPI_COMM_SELF, opt),
      Error);
  PairSet isolated = pairs;
  for (std::int64_t p = 0; p < isolated.size(); ++p)
    if (isolated.i[p] == 7 || isolated.j[p] == 7) isolated.weight[p] = 0;
  try {
    recover::laplacian_initialise(isolated, MPI_COMM_SELF, opt);
    BOOST_FAIL("expected an error for particle 7 without pairs");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("7") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(spectral_rejects_isolated_particle_and_bad_pairs) {
  const auto truth = random_orientations(50, 2);
  const PairSet pairs = all_pairs(truth, 0.0, 1, MPI_COMM_SELF);
  PairSet isolated = pairs;
  for (std::int64_t p = 0; p < isolated.size(); ++p)
    if (isolated.i[p] == 17 || isolated.j[p] == 17) isolated.weight[p] = 0;
  recover::SpectralOptions opt;
  try {
    recover::spectral_initialise(isolated, MPI_COMM_SELF, opt);
    BOOST_FAIL("expected an error for particle 17 without pairs");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("17") != std::string::npos);
  }
  PairSet bad = pairs;
  bad.distance[3] = 4.0;
  BOOST_CHECK_THROW(recover::spectral_initialise(bad, MPI_COMM_SELF, opt), Error);
  bad = pairs;
  bad.j[2] = 50;
  BOOST_CHECK_THROW(recover::spectral_initialise(bad, MPI_COMM_SELF, opt), Error);
  bad = pairs;
  bad.weight.pop_back();
  BOOST_CHECK_THROW(recover::spectral_initialise(bad, MPI_COMM_SELF, opt), Error);
}
