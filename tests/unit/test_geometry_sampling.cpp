#define BOOST_TEST_MODULE geometry_sampling
#include "pairpose_test.hpp"

#include "pairpose/core/random.hpp"
#include "pairpose/geometry/rotation.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

using namespace pairpose;
using namespace pairpose::geometry;

namespace {
constexpr int n_samples = 200000;
// Kolmogorov–Smirnov critical value at the 0.1 % level: 1.95 / sqrt(n).
const double ks_limit = 1.95 / std::sqrt(double(n_samples));

/// Kolmogorov–Smirnov statistic of `x` against the continuous CDF `cdf`.
double ks_statistic(std::vector<double> x, const std::function<double(double)>& cdf) {
  std::sort(x.begin(), x.end());
  const double n = double(x.size());
  double d = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double f = cdf(x[i]);
    d = std::max({d, std::abs(f - i / n), std::abs((i + 1) / n - f)});
  }
  return d;
}

/// Haar measure on SO(3): the rotation angle θ has density (1 − cos θ)/π on [0, π].
double haar_angle_cdf(double t) { return (t - std::sin(t)) / M_PI; }

std::vector<Quat> draw(std::uint64_t seed, ViewRange range) {
  std::vector<Quat> q(n_samples);
  for (int i = 0; i < n_samples; ++i) {
    Rng rng(seed, stream_orientation, i);
    q[i] = random_rotation(rng, range);
  }
  return q;
}

/// Beam direction: third row of A.
Vec3 beam(const Quat& q) {
  const Mat3 a = to_matrix(q);
  return {a[6], a[7], a[8]};
}
} // namespace

BOOST_AUTO_TEST_CASE(full_sampling_is_haar) {
  const std::vector<Quat> q = draw(31, ViewRange::full);
  std::vector<double> angle_to_identity(n_samples), angle_to_fixed(n_samples);
  Rng other(99);
  const Quat fixed = random_rotation(other);
  double mean_matrix[9] = {}, mean_square_trace = 0;
  for (int i = 0; i < n_samples; ++i) {
    BOOST_TEST_REQUIRE(std::abs(norm(q[i]) - 1) < 1e-14);
    BOOST_TEST_REQUIRE(q[i].w >= 0.0);
    angle_to_identity[i] = distance(q[i], Quat{});
    angle_to_fixed[i] = distance(q[i], fixed);
    const Mat3 r = to_matrix(q[i]);
    for (int k = 0; k < 9; ++k)
      mean_matrix[k] += r[k] / n_samples;
    const double tr = r[0] + r[4] + r[8];
    mean_square_trace += tr * tr / n_samples;
  }
  BOOST_TEST(ks_statistic(angle_to_identity, haar_angle_cdf) < ks_limit);
  BOOST_TEST(ks_statistic(angle_to_fixed, haar_angle_cdf) < ks_limit);
  // E[R] = 0 (entry standard deviation 1/√3) and E[tr²] = 1 under the Haar measure.
  for (double m : mean_matrix)
    BOOST_TEST(std::abs(m) < 5 / std::sqrt(3.0 * n_samples));
  BOOST_TEST(std::abs(mean_square_trace - 1) < 0.02);
}

BOOST_AUTO_TEST_CASE(full_range_matches_plain_sampler_and_is_reproducible) {
  for (int i = 0; i < 100; ++i) {
    Rng a(5, stream_orientation, i), b(5, stream_orientation, i);
    const Quat p = random_rotation(a), q = random_rotation(b, ViewRange::full);
    BOOST_TEST_REQUIRE((p.w == q.w && p.x == q.x && p.y == q.y && p.z == q.z));
  }
}

BOOST_AUTO_TEST_CASE(half_sphere_of_views) {
  const std::vector<Quat> q = draw(32, ViewRange::half);
  std::vector<double> nz(n_samples), azimuth(n_samples), psi(n_samples);
  for (int i = 0; i < n_samples; ++i) {
    const Vec3 n = beam(q[i]);
    BOOST_TEST_REQUIRE(n[2] >= 0.0);
    nz[i] = n[2];
    azimuth[i] = std::atan2(n[1], n[0]);
    psi[i] = quaternion_to_euler(q[i])[2];
  }
  // Uniform on the half sphere: n_z uniform on [0, 1], azimuth uniform; in-plane angle uniform.
  BOOST_TEST(ks_statistic(nz, [](double z) { return z; }) < ks_limit);
  BOOST_TEST(ks_statistic(azimuth, [](double a) { return (a + M_PI) / (2 * M_PI); }) < ks_limit);
  BOOST_TEST(ks_statistic(psi, [](double p) { return (p + 180) / 360; }) < ks_limit);
}

BOOST_AUTO_TEST_CASE(quarter_sphere_of_views) {
  const std::vector<Quat> q = draw(33, ViewRange::quarter);
  std::vector<double> nz(n_samples), azimuth(n_samples), psi(n_samples);
  double mean_ny = 0;
  for (int i = 0; i < n_samples; ++i) {
    const Vec3 n = beam(q[i]);
    BOOST_TEST_REQUIRE(n[2] >= 0.0);
    BOOST_TEST_REQUIRE(n[1] >= -1e-15);
    nz[i] = n[2];
    azimuth[i] = std::atan2(n[1], n[0]);
    psi[i] = quaternion_to_euler(q[i])[2];
    mean_ny += n[1] / n_samples;
  }
  BOOST_TEST(ks_statistic(nz, [](double z) { return z; }) < ks_limit);
  BOOST_TEST(ks_statistic(azimuth, [](double a) { return a / M_PI; }) < ks_limit);
  BOOST_TEST(ks_statistic(psi, [](double p) { return (p + 180) / 360; }) < ks_limit);
  // E[n_y] = E[sin tilt]·E[sin azimuth] = (π/4)·(2/π) = 1/2 on the quarter sphere.
  BOOST_TEST(std::abs(mean_ny - 0.5) < 0.005);
}
