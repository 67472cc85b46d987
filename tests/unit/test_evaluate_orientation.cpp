#define BOOST_TEST_MODULE evaluate_orientation
#include "pairpose_test.hpp"

#include "pairpose/core/error.hpp"
#include "pairpose/core/random.hpp"
#include "pairpose/evaluate/orientation_error.hpp"
#include "pairpose/geometry/rotation.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <numeric>

using namespace pairpose;
using namespace pairpose::evaluate;
using geometry::Mat3;
using geometry::Quat;
using Quats = std::vector<Quat>;

namespace {
Quats random_quats(std::size_t n, std::uint64_t seed) {
  Quats q(n);
  for (std::size_t i = 0; i < n; ++i) {
    Rng rng(seed, stream_orientation, i);
    q[i] = geometry::random_rotation(rng);
  }
  return q;
}

/// A random element of O(4) (QR of a Gaussian matrix), with a chosen determinant.
Mat4 random_o4(Rng& rng, bool reflection) {
  Eigen::Matrix4d g;
  for (int i = 0; i < 16; ++i)
    g(i / 4, i % 4) = rng.normal();
  Eigen::Matrix4d t = Eigen::HouseholderQR<Eigen::Matrix4d>(g).householderQ();
  if ((t.determinant() < 0) != reflection) t.col(0) *= -1;
  Mat4 out;
  for (int i = 0; i < 16; ++i)
    out[i] = t(i / 4, i % 4);
  return out;
}

Mat4 transposed(const Mat4& t) {
  Mat4 r;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j)
      r[4 * j + i] = t[4 * i + j];
  return r;
}

/// q rotated by `angle` about a random axis (right factor: a change of the particle's pose).
Quat perturbed(const Quat& q, double angle, Rng& rng) {
  double a[3] = {rng.normal(), rng.normal(), rng.normal()};
  const double s = std::sin(angle / 2) / std::sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]);
  return geometry::multiply(q, Quat{std::cos(angle / 2), s * a[0], s * a[1], s * a[2]});
}

/// A random sign flip: the metrics must not care.
Quat random_sign(const Quat& q, Rng& rng) {
  return rng.uniform() < 0.5 ? Quat{-q.w, -q.x, -q.y, -q.z} : q;
}

double max_of(const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); }

/// ‖a − ±b‖∞ for 4×4 matrices (T is defined up to sign).
double mat4_diff_up_to_sign(const Mat4& a, const Mat4& b) {
  double plus = 0, minus = 0;
  for (int i = 0; i < 16; ++i) {
    plus = std::max(plus, std::abs(a[i] - b[i]));
    minus = std::max(minus, std::abs(a[i] + b[i]));
  }
  return std::min(plus, minus);
}

double mat3_diff(const Mat3& a, const Mat3& b) {
  double m = 0;
  for (int i = 0; i < 9; ++i)
    m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}
} // namespace

// --- E_OR ----------------------------------------------------------------------------------
BOOST_AUTO_TEST_CASE(e_or_exact_under_random_o4) {
  Rng rng(41);
  const Quats truth = random_quats(3000, 1);
  for (int trial = 0; trial < 8; ++trial) {
    const Mat4 t = random_o4(rng, trial % 2 == 1);
    const Mat4 inverse = transposed(t);
    Quats estimate(truth.size());
    for (std::size_t i = 0; i < truth.size(); ++i)
      estimate[i] = random_sign(transform(inverse, truth[i]), rng);
    const OrientationError e = orientation_error(truth, estimate);
    BOOST_TEST(e.median < 1e-12);
    BOOST_TEST(e.mean < 1e-12);
    BOOST_TEST(max_of(e.errors) < 1e-12);
    BOOST_TEST(e.errors.size() == truth.size());
    BOOST_TEST(mat4_diff_up_to_sign(e.t, t) < 1e-10);
    BOOST_TEST(mat4_diff_up_to_sign(e.t_median, t) < 1e-10);
  }
}

BOOST_AUTO_TEST_CASE(e_or_exact_under_conjugation_and_multiplication) {
  Rng rng(42);
  const Quats truth = random_quats(2000, 2);
  const Quat a = geometry::random_rotation(rng), b = geometry::random_rotation(rng);
  Quats conj(truth.size()), both(truth.size());
  for (std::size_t i = 0; i < truth.size(); ++i) {
    conj[i] = geometry::conjugate(truth[i]); // R → Rᵀ
    both[i] = geometry::conjugate(geometry::multiply(a, geometry::multiply(truth[i], b)));
  }
  BOOST_TEST(max_of(orientation_error(truth, conj).errors) < 1e-12);
  BOOST_TEST(max_of(orientation_error(truth, both).errors) < 1e-12);
  BOOST_TEST(max_of(orientation_error(truth, truth).errors) < 1e-12);
}

BOOST_AUTO_TEST_CASE(e_or_noisy_recovers_the_perturbation) {
  Rng rng(43);
  const Quats truth = random_quats(4000, 3);
  const Mat4 t = random_o4(rng, true);
  const Mat4 inverse = transposed(t);
  Quats estimate(truth.size());
  std::vector<double> angles(truth.size());
  for (std::size_t i = 0; i < truth.size(); ++i) {
    angles[i] = rng.uniform(0.0, 0.2);
    estimate[i] = transform(inverse, perturbed(truth[i], angles[i], rng));
  }
  const double true_median = median(angles);
  const double true_mean = std::accumulate(angles.begin(), angles.end(), 0.0) / angles.size();
  const OrientationError e = orientation_error(truth, estimate);
  // Minima over T: at or below the values at the true T, and only slightly, since six
  // parameters cannot absorb independent random perturbations.
  BOOST_TEST(e.mean <= true_mean + 1e-12);
  BOOST_TEST(e.mean > 0.99 * true_mean);
  BOOST_TEST(e.median <= true_median + 1e-12);
  BOOST_TEST(e.median > 0.97 * true_median);
  BOOST_TEST(mat4_diff_up_to_sign(e.t, t) < 0.01);
  BOOST_TEST(mat4_diff_up_to_sign(e.t_median, t) < 0.01);
  const double mean_of_errors =
      std::accumulate(e.errors.begin(), e.errors.end(), 0.0) / e.errors.size();
  BOOST_TEST(std::abs(mean_of_errors - e.mean) < 1e-12);
}

BOOST_AUTO_TEST_CASE(e_or_ignores_outliers_in_the_median) {
  // 70 % exact, 30 % unrelated: the median must be exactly 0, not dragged by the outliers.
  Rng rng(44);
  const Quats truth = random_quats(3000, 4);
  const Quats junk = random_quats(3000, 5);
  const Mat4 t = random_o4(rng, false);
  Quats estimate(truth.size());
  for (std::size_t i = 0; i < truth.size(); ++i)
    estimate[i] = i % 10 < 7 ? transform(transposed(t), truth[i]) : junk[i];
  const OrientationError e = orientation_error(truth, estimate);
  BOOST_TEST(e.median < 1e-12);
  BOOST_TEST(mat4_diff_up_to_sign(e.t, t) < 1e-10);
}

BOOST_AUTO_TEST_CASE(e_or_random_versus_random_is_large) {
  const Quats truth = random_quats(5000, 6), other = random_quats(5000, 7);
  const OrientationError e = orientation_error(truth, other);
  BOOST_TEST(e.median > 1.5); // Haar median of the angle: 2.31 rad
  BOOST_TEST(e.mean > 1.5);
}

BOOST_AUTO_TEST_CASE(e_or_fit_on_subset_is_accurate_and_reproducible) {
  Rng rng(45);
  const std::size_t n = 100000;
  const Quats truth = random_quats(n, 8);
  const Mat4 t = random_o4(rng, true);
  Quats estimate(n);
  std::size_t n_moved = 0;
  for (std::size_t i = 0; i < n; ++i) {
    Rng noise(9, stream_noise, i);
    const bool moved = i % 3 != 0;
    n_moved += moved;
    estimate[i] = transform(transposed(t), perturbed(truth[i], moved ? 0.05 : 0.0, noise));
  }
  AlignmentOptions options;
  options.n_fit = 20000;
  options.seed = 3;
  const OrientationError a = orientation_error(truth, estimate, options);
  const OrientationError b = orientation_error(truth, estimate, options);
  BOOST_TEST(a.errors.size() == n);
  BOOST_TEST(a.median == b.median);
  BOOST_TEST(a.mean == b.mean);
  // A third of the particles exact, the others 0.05 rad off: at the true T the mean is
  // 0.05·n_moved/n, and nothing does better, since moving T costs the exact third at first
  // order. The median (0.05 at the true T) can be traded lower, but not by much.
  BOOST_TEST(std::abs(a.mean - 0.05 * n_moved / n) < 1e-7);
  BOOST_TEST(mat4_diff_up_to_sign(a.t, t) < 1e-4);
  BOOST_TEST(a.median <= 0.05 + 1e-12);
  BOOST_TEST(a.median > 0.045);
}

// --- physical error ------------------------------------------------------------------------
BOOST_AUTO_TEST_CASE(physical_exact_under_right_factor_and_handedness) {
  Rng rng(51);
  const Quats truth = random_quats(3000, 10);
  for (bool mirrored : {false, true}) {
    const Quat c = geometry::random_rotation(rng);
    Quats estimate(truth.size());
    for (std::size_t i = 0; i < truth.size(); ++i) {
      // Â = Ĵ·A·Ĵ·C: the truth in another map frame, possibly of the mirrored map.
      const Quat e = geometry::multiply(mirrored ? mirror(truth[i]) : truth[i], c);
      estimate[i] = random_sign(e, rng);
    }
    const PhysicalError p = physical_error(truth, estimate);
    BOOST_TEST(p.mirrored == mirrored);
    BOOST_TEST(p.mirrored_median == mirrored);
    BOOST_TEST(p.median_rad < 1e-12);
    BOOST_TEST(p.mean_rad < 1e-12);
    BOOST_TEST(max_of(p.errors) < 1e-12);
    // Ĵ·Â·Ĵ·B = A·(Ĵ·C·Ĵ)·B = A, so B = Ĵ·Cᵀ·Ĵ.
    const Quat expected_b = geometry::conjugate(mirrored ? mirror(c) : c);
    BOOST_TEST(mat3_diff(p.b, geometry::to_matrix(expected_b)) < 1e-10);
    BOOST_TEST(mat3_diff(p.b_median, geometry::to_matrix(expected_b)) < 1e-10);
    for (std::size_t i = 0; i < truth.size(); i += 97)
      BOOST_TEST_REQUIRE(geometry::distance(align(p, estimate[i]), truth[i]) < 1e-12);
  }
}

BOOST_AUTO_TEST_CASE(physical_sees_left_factor_and_transpose) {
  Rng rng(52);
  const Quats truth = random_quats(3000, 11);
  const double angle = 30 * M_PI / 180;
  const Quat c{std::cos(angle / 2), 0.6 * std::sin(angle / 2), 0, 0.8 * std::sin(angle / 2)};
  Quats left(truth.size()), transposed_estimate(truth.size());
  for (std::size_t i = 0; i < truth.size(); ++i) {
    left[i] = geometry::multiply(c, truth[i]);
    transposed_estimate[i] = geometry::conjugate(truth[i]);
  }
  const PhysicalError p = physical_error(truth, left);
  // Aᵀ·C·A is a rotation by 30° for every A: no right factor can absorb it.
  BOOST_TEST(p.median_deg > 27.0, "left factor of 30° gave median " << p.median_deg << "°");
  BOOST_TEST(p.mean_deg > 27.0);
  BOOST_TEST(physical_error(truth, transposed_estimate).median_rad > 1.0);
  // ... which E_OR, blind to all of O(4), does not see.
  BOOST_TEST(orientation_error(truth, left).median < 1e-12);
  BOOST_TEST(orientation_error(truth, transposed_estimate).median < 1e-12);
}

BOOST_AUTO_TEST_CASE(physical_noisy_recovers_the_perturbation) {
  Rng rng(53);
  const Quats truth = random_quats(4000, 12);
  const Quat c = geometry::random_rotation(rng);
  Quats estimate(truth.size());
  std::vector<double> angles(truth.size());
  for (std::size_t i = 0; i < truth.size(); ++i) {
    angles[i] = rng.uniform(0.0, 0.2);
    estimate[i] = geometry::multiply(mirror(perturbed(truth[i], angles[i], rng)), c);
  }
  const double true_median = median(angles);
  const double true_mean = std::accumulate(angles.begin(), angles.end(), 0.0) / angles.size();
  const PhysicalError p = physical_error(truth, estimate);
  BOOST_TEST(p.mirrored);
  BOOST_TEST(p.mirrored_median);
  BOOST_TEST(p.mean_rad <= true_mean + 1e-12);
  BOOST_TEST(p.mean_rad > 0.99 * true_mean);
  BOOST_TEST(p.median_rad <= true_median + 1e-12);
  BOOST_TEST(p.median_rad > 0.97 * true_median);
  BOOST_TEST(std::abs(p.median_deg - p.median_rad * 180 / M_PI) < 1e-12);
  BOOST_TEST(std::abs(p.mean_deg - p.mean_rad * 180 / M_PI) < 1e-12);
  BOOST_TEST(mat3_diff(p.b, geometry::to_matrix(geometry::conjugate(mirror(c)))) < 0.01);
}

BOOST_AUTO_TEST_CASE(physical_random_versus_random_is_large) {
  const Quats truth = random_quats(5000, 13), other = random_quats(5000, 14);
  BOOST_TEST(physical_error(truth, other).median_rad > 1.5);
}

BOOST_AUTO_TEST_CASE(physical_ignores_outliers_in_the_median) {
  Rng rng(54);
  const Quats truth = random_quats(3000, 15), junk = random_quats(3000, 16);
  const Quat c = geometry::random_rotation(rng);
  Quats estimate(truth.size());
  for (std::size_t i = 0; i < truth.size(); ++i)
    estimate[i] = i % 10 < 6 ? geometry::multiply(truth[i], c) : junk[i];
  BOOST_TEST(physical_error(truth, estimate).median_rad < 1e-12);
}

BOOST_AUTO_TEST_CASE(tiny_and_degenerate_inputs) {
  Rng rng(55);
  for (std::size_t n : {1, 2, 3, 5}) {
    const Quats truth = random_quats(n, 19 + n);
    const Quat c = geometry::random_rotation(rng);
    Quats moved(n);
    for (std::size_t i = 0; i < n; ++i)
      moved[i] = geometry::multiply(truth[i], c);
    BOOST_TEST(max_of(physical_error(truth, moved).errors) < 1e-12);
    BOOST_TEST(max_of(orientation_error(truth, moved).errors) < 1e-12);
  }
  // A recovery that collapsed every particle onto one orientation is far from the truth.
  const Quats truth = random_quats(2000, 30);
  const Quats collapsed(truth.size(), geometry::random_rotation(rng));
  BOOST_TEST(orientation_error(truth, collapsed).median > 1.5);
  BOOST_TEST(physical_error(truth, collapsed).median_rad > 1.5);
}

// --- helpers and input checks --------------------------------------------------------------
BOOST_AUTO_TEST_CASE(mirror_is_j_a_j) {
  const Mat3 j = {1, 0, 0, 0, 1, 0, 0, 0, -1};
  for (const Quat& q : random_quats(100, 17)) {
    const Mat3 expected = geometry::multiply(geometry::multiply(j, geometry::to_matrix(q)), j);
    BOOST_TEST_REQUIRE(mat3_diff(geometry::to_matrix(mirror(q)), expected) < 1e-15);
  }
}

BOOST_AUTO_TEST_CASE(median_of_odd_and_even_counts) {
  BOOST_TEST(median({3, 1, 2}) == 2.0);
  BOOST_TEST(median({4, 1, 3, 2}) == 2.5);
  BOOST_TEST(median({7}) == 7.0);
  BOOST_CHECK_THROW(median({}), Error);
}

BOOST_AUTO_TEST_CASE(bad_inputs_are_named) {
  const Quats truth = random_quats(10, 18);
  Quats short_list(truth.begin(), truth.end() - 1);
  BOOST_CHECK_THROW(orientation_error(truth, short_list), Error);
  BOOST_CHECK_THROW(physical_error({}, {}), Error);
  Quats bad = truth;
  bad[7] = Quat{NAN, 0, 0, 0};
  try {
    orientation_error(truth, bad);
    BOOST_FAIL("expected an error");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("orientation 7") != std::string::npos);
  }
  bad[7] = Quat{0, 0, 0, 0};
  BOOST_CHECK_THROW(physical_error(truth, bad), Error);
}
