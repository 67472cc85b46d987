#define BOOST_TEST_MODULE pairs_sampling
#include "pairpose_test.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "pairpose/core/error.hpp"
#include "pairpose/core/random.hpp"
#include "pairpose/pairs/pair_sampler.hpp"

using namespace pairpose;
using namespace pairpose::pairs;

namespace {

std::vector<geometry::Quat> random_truth(std::int64_t n, std::uint64_t seed) {
  std::vector<geometry::Quat> q(static_cast<size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    Rng rng(seed, stream_orientation, static_cast<std::uint64_t>(i));
    double v[4], s = 0;
    for (double& x : v)
      x = rng.normal(), s += x * x;
    s = std::sqrt(s);
    q[i] = {v[0] / s, v[1] / s, v[2] / s, v[3] / s};
  }
  return q;
}

/// Unordered pairs of a one-rank pair set, checking the structural invariants on the way.
std::set<std::pair<std::int64_t, std::int64_t>> unordered(const PairSet& p) {
  std::set<std::pair<std::int64_t, std::int64_t>> out;
  for (std::int64_t e = 0; e < p.size(); ++e) {
    BOOST_TEST_REQUIRE(p.i[e] != p.j[e]);
    BOOST_TEST_REQUIRE(p.rows.contains(p.i[e]));
    BOOST_TEST_REQUIRE(pair_owner(p.i[e], p.j[e], p.n_particles) == p.i[e]);
    if (e > 0)
      BOOST_TEST_REQUIRE((std::make_pair(p.i[e - 1], p.j[e - 1]) < std::make_pair(p.i[e], p.j[e])));
    const bool fresh = out.emplace(std::min(p.i[e], p.j[e]), std::max(p.i[e], p.j[e])).second;
    BOOST_TEST_REQUIRE(fresh); // stored once
  }
  return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(owner_rule_picks_one_end_and_balances) {
  for (std::int64_t n : {2, 7, 8, 101}) {
    std::vector<std::int64_t> owned(n, 0);
    for (std::int64_t a = 0; a < n; ++a)
      for (std::int64_t b = a + 1; b < n; ++b) {
        const auto o = pair_owner(a, b, n);
        BOOST_TEST((o == a || o == b));
        BOOST_TEST(o == pair_owner(b, a, n));
        ++owned[o];
      }
    const auto [lo, hi] = std::minmax_element(owned.begin(), owned.end());
    BOOST_TEST(*hi - *lo <= 1);
  }
}

BOOST_AUTO_TEST_CASE(all_pairs_each_once) {
  for (std::int64_t n : {7, 8}) {
    DistanceModel model = DistanceModel::exact(random_truth(n, 3));
    SamplingOptions opt;
    opt.strategy = Strategy::all;
    const PairSet p = sample_pairs(opt, model, MPI_COMM_SELF);
    BOOST_TEST(p.size() == n * (n - 1) / 2);
    BOOST_TEST(unordered(p).size() == static_cast<size_t>(n * (n - 1) / 2));
  }
}

BOOST_AUTO_TEST_CASE(random_pairs_budget_and_determinism) {
  const std::int64_t n = 300, k = 12;
  DistanceModel model = DistanceModel::exact(random_truth(n, 5));
  SamplingOptions opt;
  opt.budget = k;
  opt.seed = 9;
  const PairSet p = sample_pairs(opt, model, MPI_COMM_SELF);
  const auto set = unordered(p);
  std::vector<int> degree(n, 0);
  for (const auto& [a, b] : set)
    ++degree[a], ++degree[b];
  BOOST_TEST(*std::min_element(degree.begin(), degree.end()) >= k);
  // Only pairs drawn by both ends collapse: at most n·k pairs, and most survive.
  BOOST_TEST(p.size() <= n * k);
  BOOST_TEST(p.size() >= n * k * 9 / 10);
  const PairSet again = sample_pairs(opt, model, MPI_COMM_SELF);
  BOOST_TEST(again.i == p.i);
  BOOST_TEST(again.j == p.j);
  BOOST_TEST(pair_set_hash(again, MPI_COMM_SELF) == pair_set_hash(p, MPI_COMM_SELF));
  opt.seed = 10;
  const PairSet other = sample_pairs(opt, model, MPI_COMM_SELF);
  BOOST_TEST(pair_set_hash(other, MPI_COMM_SELF) != pair_set_hash(p, MPI_COMM_SELF));
  for (std::int64_t e = 0; e < p.size(); ++e) {
    BOOST_TEST_REQUIRE(p.distance[e] >= 0);
    BOOST_TEST_REQUIRE(p.distance[e] <= M_PI);
  }
}

BOOST_AUTO_TEST_CASE(knn_pairs_are_the_nearest) {
  const std::int64_t n = 200, k = 6;
  const auto truth = random_truth(n, 7);
  DistanceModel model = DistanceModel::exact(truth);
  SamplingOptions opt;
  opt.strategy = Strategy::knn;
  opt.budget = k;
  const auto set = unordered(sample_pairs(opt, model, MPI_COMM_SELF));
  for (std::int64_t i : {0, 17, 199}) {
    std::vector<std::pair<double, std::int64_t>> d;
    for (std::int64_t j = 0; j < n; ++j)
      if (j != i) d.emplace_back(model(i, j), j);
    std::sort(d.begin(), d.end());
    for (int m = 0; m < k; ++m) {
      const auto j = d[m].second;
      BOOST_TEST(set.count({std::min(i, j), std::max(i, j)}) == 1u);
    }
  }
}

BOOST_AUTO_TEST_CASE(mix_and_landmarks) {
  const std::int64_t n = 400;
  DistanceModel model = DistanceModel::exact(random_truth(n, 11));
  SamplingOptions opt;
  opt.strategy = Strategy::mix;
  opt.budget = 10;
  opt.random_fraction = 0.3;
  opt.knn_candidates = 50;
  opt.landmarks = {3, 50, 51, 120, 399};
  opt.landmark_partners = 2;
  const auto set = unordered(sample_pairs(opt, model, MPI_COMM_SELF));
  for (std::size_t a = 0; a < opt.landmarks.size(); ++a)
    for (std::size_t b = a + 1; b < opt.landmarks.size(); ++b)
      BOOST_TEST(set.count({opt.landmarks[a], opt.landmarks[b]}) == 1u);
  std::map<std::int64_t, int> to_marks;
  for (const auto& [a, b] : set) {
    const bool ma = std::binary_search(opt.landmarks.begin(), opt.landmarks.end(), a);
    const bool mb = std::binary_search(opt.landmarks.begin(), opt.landmarks.end(), b);
    if (ma && !mb) ++to_marks[b];
    if (mb && !ma) ++to_marks[a];
  }
  int fewer = 0;
  for (std::int64_t i = 0; i < n; ++i)
    if (!std::binary_search(opt.landmarks.begin(), opt.landmarks.end(), i) && to_marks[i] < 2)
      ++fewer;
  BOOST_TEST(fewer == 0);
}

BOOST_AUTO_TEST_CASE(noise_is_fixed_per_pair_and_has_sigma) {
  const std::int64_t n = 2000;
  const auto truth = random_truth(n, 13);
  const DistanceModel exact = DistanceModel::exact(truth);
  const DistanceModel noisy = DistanceModel::exact_noise(truth, 0.2, 4);
  double sum = 0, sum2 = 0;
  int count = 0;
  for (std::int64_t a = 0; a + 1 < n; a += 2) {
    BOOST_TEST_REQUIRE(noisy(a, a + 1) == noisy(a + 1, a));
    const double d = exact(a, a + 1);
    if (d < 1.0 || d > M_PI - 1.0) continue; // away from the clipping
    const double e = noisy(a, a + 1) - d;
    sum += e, sum2 += e * e, ++count;
  }
  const double mean = sum / count, sd = std::sqrt(sum2 / count - mean * mean);
  BOOST_TEST(std::abs(mean) < 0.03);
  BOOST_TEST(std::abs(sd - 0.2) < 0.02);
  BOOST_CHECK_THROW(DistanceModel::exact_noise(truth, -1, 1), Error);
}

BOOST_AUTO_TEST_CASE(embedding_distance_is_twice_the_angle) {
  // Rows: e1, e1 scaled, e2, (cos 60°, sin 60°), -e1.
  const double c = std::cos(M_PI / 3), s = std::sin(M_PI / 3);
  DistanceModel m = DistanceModel::embedding(5, 2, {1, 0, 3, 0, 0, 1, c, s, -1, 0});
  BOOST_TEST(m(0, 1) == 0.0, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(m(0, 2) == M_PI, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(m(0, 3) == 2 * M_PI / 3, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(m(0, 4) == M_PI, boost::test_tools::tolerance(1e-12)); // clipped at cos 0
  BOOST_CHECK_THROW(DistanceModel::embedding(2, 2, {1, 0, 0, 0}), Error);
}

BOOST_AUTO_TEST_CASE(euclidean_auto_scale_matches_mean_angle) {
  const std::int64_t n = 300, pixels = 16;
  std::vector<float> images(n * pixels);
  Rng rng(1, stream_noise, 0);
  for (float& x : images)
    x = static_cast<float>(0.1 * rng.normal());
  DistanceModel m = DistanceModel::euclidean(n, pixels, images);
  SamplingOptions opt;
  opt.budget = 20;
  const PairSet p = sample_pairs(opt, m, MPI_COMM_SELF);
  double mean = 0;
  for (double d : p.distance)
    mean += d;
  mean /= static_cast<double>(p.size());
  // Clipping at π only lowers the mean, a little.
  BOOST_TEST(mean <= mean_uniform_angle + 1e-9);
  BOOST_TEST(mean > mean_uniform_angle - 0.05);
  BOOST_TEST(m(4, 9) == m(9, 4));
}

BOOST_AUTO_TEST_CASE(bad_options) {
  DistanceModel model = DistanceModel::exact(random_truth(1, 1));
  BOOST_CHECK_THROW(sample_pairs(SamplingOptions{}, model, MPI_COMM_SELF), Error);
  BOOST_CHECK_THROW(parse_strategy("nearest"), Error);
  BOOST_CHECK_THROW(parse_distance_source("learned"), Error);
  std::vector<geometry::Quat> bad = random_truth(3, 1);
  bad[2].w = 2;
  BOOST_CHECK_THROW(DistanceModel::exact(bad), Error);
}
