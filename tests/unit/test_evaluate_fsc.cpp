#define BOOST_TEST_MODULE evaluate_fsc
#include "pairpose_test.hpp"

#include <cmath>

#include "pairpose/core/error.hpp"
#include "pairpose/core/random.hpp"
#include "pairpose/evaluate/fsc.hpp"

using namespace pairpose;

namespace {
Volume random_map(std::int64_t n, std::uint64_t seed) {
  Volume v(n, n, n, 2.0);
  Rng rng(seed);
  for (auto& x : v.data)
    x = static_cast<float>(rng.normal());
  return v;
}

/// A Gaussian blob of width `sigma` voxels centred on voxel (cx, cy, cz) of an n³ map, plus
/// `noise` times white noise of unit variance (seed `seed`).
Volume noisy_blob(std::int64_t n, double cx, double cy, double cz, double sigma, float noise,
                  std::uint64_t seed) {
  Volume v(n, n, n, 2.0);
  for (std::int64_t z = 0; z < n; ++z)
    for (std::int64_t y = 0; y < n; ++y)
      for (std::int64_t x = 0; x < n; ++x) {
        const double r2 = (x - cx) * (x - cx) + (y - cy) * (y - cy) + (z - cz) * (z - cz);
        v.at(x, y, z) = static_cast<float>(std::exp(-r2 / (2 * sigma * sigma)));
      }
  const Volume white = random_map(n, seed);
  for (size_t i = 0; i < v.data.size(); ++i)
    v.data[i] += noise * white.data[i];
  return v;
}
} // namespace

BOOST_AUTO_TEST_CASE(identical_maps_correlate_fully) {
  const Volume a = random_map(16, 1);
  const auto fsc = evaluate::fourier_shell_correlation(a, a);
  BOOST_TEST(fsc.size() == 9u);
  for (size_t s = 1; s < fsc.size(); ++s)
    BOOST_TEST(fsc[s] == 1.0, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(evaluate::shell_at(fsc, 0.5) == 8.0);
}

BOOST_AUTO_TEST_CASE(independent_noise_is_uncorrelated_and_negation_anticorrelated) {
  const Volume a = random_map(24, 2), b = random_map(24, 3);
  const auto fsc = evaluate::fourier_shell_correlation(a, b);
  for (size_t s = 3; s < fsc.size(); ++s)
    BOOST_TEST(std::abs(fsc[s]) < 0.25);
  Volume c = a;
  for (auto& x : c.data)
    x = -x;
  const auto neg = evaluate::fourier_shell_correlation(a, c);
  for (size_t s = 1; s < neg.size(); ++s)
    BOOST_TEST(neg[s] == -1.0, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(smooth_map_plus_noise_crosses_once) {
  // A smooth blob (power falling fast with frequency) plus weak white noise: the FSC starts near
  // 1 and falls below 0.5 at some shell; shell_at interpolates between the bracketing shells.
  const std::int64_t n = 32;
  const Volume a = noisy_blob(n, 16, 14, 17, 1.5, 0.0f, 0);
  const Volume b = noisy_blob(n, 16, 14, 17, 1.5, 0.01f, 5);
  const auto fsc = evaluate::fourier_shell_correlation(a, b);
  BOOST_TEST(fsc[1] > 0.99);
  BOOST_TEST(fsc.back() < 0.5);
  const double shell = evaluate::shell_at(fsc, 0.5);
  const auto below = static_cast<size_t>(std::ceil(shell));
  BOOST_TEST(shell > 1.0);
  BOOST_TEST(fsc[below - 1] >= 0.5);
  BOOST_TEST(fsc[below] < 0.5);
  for (size_t s = 1; s < below; ++s)
    BOOST_TEST(fsc[s] >= 0.5);
  BOOST_TEST(evaluate::shell_resolution(8.0, n, 2.0) == 8.0);
}

BOOST_AUTO_TEST_CASE(soft_sphere_mask_profile_and_masked_fsc) {
  const std::int64_t n = 32;
  Volume ones(n, n, n, 2.0);
  for (auto& x : ones.data)
    x = 1.0f;
  // Diameter 20 Å = radius 5 voxels, edge 4 Å = 2 voxels.
  const Volume m = evaluate::soft_sphere_masked(ones, 20.0, 4.0);
  BOOST_TEST(m.at(16, 16, 16) == 1.0f);
  BOOST_TEST(m.at(21, 16, 16) == 1.0f);                                      // r = 5
  BOOST_TEST(m.at(22, 16, 16) == 0.5f, boost::test_tools::tolerance(1e-6f)); // mid-edge
  BOOST_TEST(m.at(23, 16, 16) == 0.0f, boost::test_tools::tolerance(1e-6f)); // r = 7
  BOOST_TEST(m.at(16, 16, 24) == 0.0f);
  BOOST_CHECK_THROW(evaluate::soft_sphere_masked(ones, 0.0, 4.0), Error);
  BOOST_CHECK_THROW(evaluate::soft_sphere_masked(ones, 20.0, -1.0), Error);

  // A small particle plus independent noise filling the box: the mask removes most of the
  // noise, so the masked FSC with the clean particle is higher in every shell past the first.
  const Volume clean = noisy_blob(n, 16, 15, 17, 2.0, 0.0f, 0);
  const Volume noisy = noisy_blob(n, 16, 15, 17, 2.0, 0.05f, 9);
  const auto plain = evaluate::fourier_shell_correlation(clean, noisy);
  const auto masked =
      evaluate::fourier_shell_correlation(evaluate::soft_sphere_masked(clean, 24.0, 6.0),
                                          evaluate::soft_sphere_masked(noisy, 24.0, 6.0));
  for (size_t s = 2; s < 10; ++s)
    BOOST_TEST(masked[s] > plain[s]);
  BOOST_TEST(evaluate::shell_at(masked, 0.5) > evaluate::shell_at(plain, 0.5));
}

BOOST_AUTO_TEST_CASE(shapes_must_agree) {
  BOOST_CHECK_THROW(evaluate::fourier_shell_correlation(random_map(8, 1), random_map(10, 1)),
                    Error);
  Volume slab(8, 8, 4, 1.0);
  BOOST_CHECK_THROW(evaluate::fourier_shell_correlation(slab, slab), Error);
}
