#define BOOST_TEST_MODULE core_random
#include "pairpose_test.hpp"

#include "pairpose/core/random.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace tt = boost::test_tools;
using pairpose::Rng;
using pairpose::ziggurat_normal;

namespace {
double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

std::vector<double> draws(std::size_t n, std::uint64_t seed) {
  Rng rng(seed, pairpose::stream_noise, 3);
  std::vector<double> z(n);
  for (auto& v : z)
    v = ziggurat_normal(rng);
  return z;
}
} // namespace

BOOST_AUTO_TEST_CASE(ziggurat_matches_the_normal_distribution) {
  // 10^6 draws: Kolmogorov–Smirnov distance to Φ below the 0.1 % critical value (1.95 / sqrt(n)),
  // moments within a few standard errors, and the tail beyond the base layer (|z| > 3.654, where
  // the separate tail sampler takes over) as frequent as 2 (1 − Φ(3.654)) = 2.58e-4.
  const std::size_t n = 1000000;
  std::vector<double> z = draws(n, 5);
  double sum = 0, sum2 = 0, sum4 = 0;
  std::size_t n_tail = 0;
  for (double v : z) {
    sum += v, sum2 += v * v, sum4 += v * v * v * v;
    n_tail += std::abs(v) > 3.6541528853610088;
  }
  BOOST_TEST(std::abs(sum / n) < 4.0 / std::sqrt(double(n)));
  BOOST_TEST(sum2 / n == 1.0, tt::tolerance(4 * std::sqrt(2.0 / n)));
  BOOST_TEST(sum4 / n == 3.0, tt::tolerance(4 * std::sqrt(96.0 / n) / 3.0));
  const double p_tail = 2 * (1 - normal_cdf(3.6541528853610088));
  BOOST_TEST(std::abs(double(n_tail) - n * p_tail) < 5 * std::sqrt(n * p_tail));
  std::sort(z.begin(), z.end());
  double ks = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double f = normal_cdf(z[i]);
    ks = std::max({ks, std::abs(f - double(i) / n), std::abs(f - double(i + 1) / n)});
  }
  BOOST_TEST(ks < 1.95 / std::sqrt(double(n)));
}

BOOST_AUTO_TEST_CASE(ziggurat_is_reproducible_per_generator) {
  BOOST_TEST((draws(1000, 7) == draws(1000, 7)));
  BOOST_TEST(!(draws(1000, 7) == draws(1000, 8)));
}
