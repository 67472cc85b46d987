#define BOOST_TEST_MODULE geometry_distance
#include "pairpose_test.hpp"

#include "pairpose/core/random.hpp"
#include "pairpose/geometry/rotation.hpp"

#include <cmath>

using namespace pairpose;
using namespace pairpose::geometry;

namespace {
Quat scaled(const Quat& q, double f) { return {f * q.w, f * q.x, f * q.y, f * q.z}; }
Quat add(const Quat& a, const Quat& b) { return {a.w + b.w, a.x + b.x, a.y + b.y, a.z + b.z}; }
double component(const Quat& q, int k) { return k == 0 ? q.w : k == 1 ? q.x : k == 2 ? q.y : q.z; }
Quat unit_vector(int k) {
  Quat e{0, 0, 0, 0};
  (k == 0 ? e.w : k == 1 ? e.x : k == 2 ? e.y : e.z) = 1;
  return e;
}

/// A unit quaternion rotated from q by the angle `angle` (radians) about a random axis.
Quat perturbed(const Quat& q, double angle, Rng& rng) {
  Vec3 axis{rng.normal(), rng.normal(), rng.normal()};
  const double n = std::sqrt(axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]);
  const double s = std::sin(angle / 2) / n;
  return multiply(q, Quat{std::cos(angle / 2), s * axis[0], s * axis[1], s * axis[2]});
}

/// A random unit vector orthogonal to q (a tangent direction of S³ at q).
Quat tangent(const Quat& q, Rng& rng) {
  Quat v{rng.normal(), rng.normal(), rng.normal(), rng.normal()};
  v = add(v, scaled(q, -dot(v, q)));
  return normalized(v);
}
} // namespace

BOOST_AUTO_TEST_CASE(distance_properties) {
  Rng rng(21);
  for (int k = 0; k < 20000; ++k) {
    const Quat a = random_rotation(rng), b = random_rotation(rng);
    const double d = distance(a, b);
    BOOST_TEST_REQUIRE(d >= 0.0);
    BOOST_TEST_REQUIRE(d <= M_PI);
    BOOST_TEST_REQUIRE(d == distance(b, a));
    BOOST_TEST_REQUIRE(d == distance(a, scaled(b, -1)));
    BOOST_TEST_REQUIRE(std::abs(d - rotation_angle(to_matrix(a), to_matrix(b))) < 1e-12);
    if (d > 1e-3) BOOST_TEST_REQUIRE(std::abs(d - 2 * std::acos(std::abs(dot(a, b)))) < 1e-11);
    // Invariant under the same rotation on either side.
    const Quat c = random_rotation(rng);
    BOOST_TEST_REQUIRE(std::abs(distance(multiply(c, a), multiply(c, b)) - d) < 1e-12);
    BOOST_TEST_REQUIRE(std::abs(distance(multiply(a, c), multiply(b, c)) - d) < 1e-12);
  }
  const Quat a = random_rotation(rng);
  BOOST_TEST(distance(a, a) == 0.0);
}

BOOST_AUTO_TEST_CASE(distance_is_accurate_for_small_and_large_angles) {
  Rng rng(22);
  for (double angle : {1e-12, 1e-9, 1e-6, 1e-3, 0.5, 2.0, M_PI - 1e-3, M_PI - 1e-7}) {
    for (int k = 0; k < 100; ++k) {
      const Quat a = random_rotation(rng);
      const Quat b = perturbed(a, angle, rng);
      BOOST_TEST_REQUIRE(std::abs(distance(a, b) - angle) < 1e-15 + 1e-9 * angle,
                         "angle " << angle << " got " << distance(a, b));
      const double r = rotation_angle(to_matrix(a), to_matrix(b));
      BOOST_TEST_REQUIRE(std::abs(r - angle) < 2e-15 + 1e-9 * angle);
    }
  }
}

BOOST_AUTO_TEST_CASE(gradient_against_finite_differences_unprojected) {
  // The ambient function 4·asin(‖a − s·b‖/2) in R⁴ × R⁴, central differences per component.
  Rng rng(23);
  const double h = 1e-6;
  for (int k = 0; k < 300; ++k) {
    const Quat a = random_rotation(rng);
    const Quat b = perturbed(a, rng.uniform(0.01, 3.1), rng);
    Quat ga, gb;
    const double d = distance_gradient(a, b, ga, gb);
    BOOST_TEST_REQUIRE(std::abs(d - distance(a, b)) < 1e-15);
    for (int c = 0; c < 4; ++c) {
      const Quat e = scaled(unit_vector(c), h);
      const double fa = (distance(add(a, e), b) - distance(add(a, scaled(e, -1)), b)) / (2 * h);
      const double fb = (distance(a, add(b, e)) - distance(a, add(b, scaled(e, -1)))) / (2 * h);
      BOOST_TEST_REQUIRE(std::abs(fa - component(ga, c)) < 1e-6);
      BOOST_TEST_REQUIRE(std::abs(fb - component(gb, c)) < 1e-6);
    }
  }
}

BOOST_AUTO_TEST_CASE(gradient_against_finite_differences_projected) {
  // Along a geodesic of S³ through a, the derivative of d is the tangent part of the gradient,
  // and it agrees with the derivative of 2·acos|⟨a, b⟩| (the definition) away from 0 and π.
  Rng rng(24);
  const double h = 1e-6;
  for (int k = 0; k < 300; ++k) {
    const Quat a = random_rotation(rng);
    const Quat b = perturbed(a, rng.uniform(0.01, 3.1), rng);
    Quat ga, gb;
    distance_gradient(a, b, ga, gb);
    const Quat v = tangent(a, rng);
    auto along = [&](double t) { return add(scaled(a, std::cos(t)), scaled(v, std::sin(t))); };
    const double fd = (distance(along(h), b) - distance(along(-h), b)) / (2 * h);
    const double projected = dot(add(ga, scaled(a, -dot(ga, a))), v);
    BOOST_TEST_REQUIRE(std::abs(fd - projected) < 1e-6);
    auto acos_form = [&](double t) { return 2 * std::acos(std::abs(dot(along(t), b))); };
    BOOST_TEST_REQUIRE(std::abs((acos_form(h) - acos_form(-h)) / (2 * h) - projected) < 1e-6);
    // d is twice the geodesic distance on S³ from a to ±b: its tangent gradient has norm 2.
    const Quat pa = add(ga, scaled(a, -dot(ga, a)));
    BOOST_TEST_REQUIRE(std::abs(norm(pa) - 2) < 1e-9);
  }
}

BOOST_AUTO_TEST_CASE(gradient_bounded_near_zero_and_zero_at_zero) {
  Rng rng(25);
  const Quat a = random_rotation(rng);
  Quat ga, gb;
  BOOST_TEST(distance_gradient(a, a, ga, gb) == 0.0);
  BOOST_TEST(norm(ga) == 0.0);
  BOOST_TEST(norm(gb) == 0.0);
  for (double angle : {1e-12, 1e-8, 1e-4}) {
    const Quat b = perturbed(a, angle, rng);
    distance_gradient(a, b, ga, gb);
    BOOST_TEST(std::abs(norm(ga) - 2) < 1e-3);
    BOOST_TEST(std::abs(norm(gb) - 2) < 1e-3);
  }
}
