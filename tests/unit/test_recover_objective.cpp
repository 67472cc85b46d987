#define BOOST_TEST_MODULE recover_objective
#include "pairpose_test.hpp"
#include "recover_support.hpp"

#include <cmath>

#include "pairpose/core/error.hpp"
#include "pairpose/core/random.hpp"
#include "pairpose/geometry/rotation.hpp"
#include "pairpose/pairs/pair_sampler.hpp"
#include "pairpose/recover/initial.hpp"
#include "pairpose/recover/objective.hpp"
#include "pairpose/recover/solver.hpp"

using namespace pairpose;
using namespace pairpose::recover;

namespace {

using testing::as_quats;

PairSet noisy_pairs(std::int64_t n, const std::vector<double>& truth, double sigma) {
  auto model = pairs::DistanceModel::exact_noise(as_quats(truth), sigma, 5);
  pairs::SamplingOptions opt;
  opt.budget = 6;
  return pairs::sample_pairs(opt, model, MPI_COMM_SELF);
}

std::string error_of(const PairSet& p) {
  try {
    PairObjective obj(p, {}, MPI_COMM_SELF);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

} // namespace

BOOST_AUTO_TEST_CASE(zero_loss_at_the_truth_for_exact_distances) {
  const auto truth = random_quaternions(100, 3, 0);
  const PairObjective obj(noisy_pairs(100, truth, 0.0), {}, MPI_COMM_SELF);
  std::vector<double> g(400);
  BOOST_TEST(obj.value_and_gradient(truth.data(), g.data()) < 1e-25);
  double gmax = 0;
  for (double x : g)
    gmax = std::max(gmax, std::abs(x));
  BOOST_TEST(gmax < 1e-10);
}

BOOST_AUTO_TEST_CASE(gradient_matches_finite_differences_and_geometry) {
  const std::int64_t n = 60;
  const auto truth = random_quaternions(n, 4, 0);
  const PairSet p = noisy_pairs(n, truth, 0.3);
  WeightOptions w;
  w.scheme = WeightOptions::Scheme::exponential;
  const PairObjective obj(p, w, MPI_COMM_SELF);
  const auto q = random_quaternions(n, 8, 0);
  std::vector<double> g(4 * n);
  const double loss = obj.value_and_gradient(q.data(), g.data());
  BOOST_TEST(loss == obj.value(q.data()), boost::test_tools::tolerance(1e-12));
  // Reference from geometry::distance_gradient, pair by pair.
  std::vector<double> ref(4 * n, 0.0);
  double ref_loss = 0, w_sum = 0;
  const auto quats = as_quats(q);
  for (std::int64_t e = 0; e < p.size(); ++e) {
    geometry::Quat ga, gb;
    const double d = geometry::distance_gradient(quats[p.i[e]], quats[p.j[e]], ga, gb);
    const double wt = std::exp(-p.distance[e] / w.tau), r = d - p.distance[e];
    ref_loss += wt * r * r, w_sum += wt;
    const double ca[4] = {ga.w, ga.x, ga.y, ga.z}, cb[4] = {gb.w, gb.x, gb.y, gb.z};
    for (int k = 0; k < 4; ++k) {
      ref[4 * p.i[e] + k] += 2 * wt * r * ca[k];
      ref[4 * p.j[e] + k] += 2 * wt * r * cb[k];
    }
  }
  BOOST_TEST(loss == ref_loss / w_sum, boost::test_tools::tolerance(1e-10));
  for (std::int64_t c = 0; c < 4 * n; ++c)
    BOOST_TEST_REQUIRE(g[c] == ref[c] / w_sum, boost::test_tools::tolerance(1e-7));
  // Central differences along a tangent direction of particle 5.
  std::vector<double> dir(4 * n, 0.0);
  dir[20] = 0.3, dir[21] = -0.5, dir[22] = 0.1, dir[23] = 0.7;
  project_tangent(q.data(), dir.data(), n);
  const double h = 1e-6;
  std::vector<double> plus(q), minus(q);
  for (int c = 0; c < 4 * n; ++c)
    plus[c] += h * dir[c], minus[c] -= h * dir[c];
  const double fd = (obj.value(plus.data()) - obj.value(minus.data())) / (2 * h);
  double an = 0;
  for (int c = 0; c < 4 * n; ++c)
    an += g[c] * dir[c];
  BOOST_TEST(fd == an, boost::test_tools::tolerance(1e-5));
}

BOOST_AUTO_TEST_CASE(bad_pairs_are_refused_with_the_pair_named) {
  const auto truth = random_quaternions(20, 1, 0);
  const PairSet good = noisy_pairs(20, truth, 0.1);
  BOOST_TEST(error_of(good).empty());
  PairSet p = good;
  p.distance[3] = std::nan("");
  BOOST_TEST(error_of(p).find("pair 3") != std::string::npos);
  BOOST_TEST(error_of(p).find("not finite") != std::string::npos);
  p = good;
  p.distance[2] = -0.5;
  BOOST_TEST(error_of(p).find("outside [0, π]") != std::string::npos);
  p = good;
  p.j[4] = 20;
  BOOST_TEST(error_of(p).find("outside [0, 20)") != std::string::npos);
  p = good;
  p.j[1] = p.i[1];
  BOOST_TEST(error_of(p).find("itself") != std::string::npos);
  p = good;
  p.weight[0] = -1;
  BOOST_TEST(error_of(p).find("weight") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(isolated_particles_are_counted) {
  PairSet p;
  p.n_particles = 6;
  p.rows = {0, 6};
  p.i = {0, 1, 2};
  p.j = {1, 2, 4};
  p.distance = {0.1, 0.2, 0.3};
  p.weight = {1, 1, 1};
  const PairObjective obj(p, {}, MPI_COMM_SELF);
  BOOST_TEST(obj.pair_check().n_isolated == 2);
  BOOST_TEST(obj.pair_check().first_isolated == 3);
  BOOST_TEST(obj.degree()[1] == 2);
}
