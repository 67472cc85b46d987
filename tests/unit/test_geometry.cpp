#define BOOST_TEST_MODULE geometry
#include "pairpose_test.hpp"

#include "pairpose/core/error.hpp"
#include "pairpose/core/random.hpp"
#include "pairpose/geometry/rotation.hpp"

#include <cmath>

using namespace pairpose;
using namespace pairpose::geometry;

namespace {
// method.md §2: RELION's A and its quaternion for (rot, tilt, psi) = (30°, 50°, 70°).
const Mat3 A_ref = {-0.279454, 0.923721, -0.262003, -0.694109, -0.005813,
                    0.719846,  0.663414, 0.383022,  0.642788};
const Quat q_ref = {0.5826, -0.1445, -0.3971, -0.6943};

double max_diff(const Mat3& a, const Mat3& b) {
  double m = 0;
  for (int k = 0; k < 9; ++k)
    m = std::max(m, std::abs(a[k] - b[k]));
  return m;
}

double quat_diff(const Quat& a, const Quat& b) {
  return std::max(
      {std::abs(a.w - b.w), std::abs(a.x - b.x), std::abs(a.y - b.y), std::abs(a.z - b.z)});
}

/// Angular difference in degrees, modulo 360.
double angle_diff_deg(double a, double b) { return std::abs(std::remainder(a - b, 360.0)); }

Mat3 rotation_y(double t) {
  const double c = std::cos(t), s = std::sin(t);
  return {c, 0, s, 0, 1, 0, -s, 0, c};
}

constexpr double deg = M_PI / 180.0;
} // namespace

BOOST_AUTO_TEST_CASE(test_vector_euler_to_matrix_and_quaternion) {
  const Mat3 a = euler_to_matrix(30, 50, 70);
  BOOST_TEST(max_diff(a, A_ref) < 2e-6);
  // Independent construction: A = (Rz(rot)·Ry(tilt)·Rz(psi))ᵀ from elementary rotations.
  const Mat3 m =
      multiply(multiply(rotation_z(30 * deg), rotation_y(50 * deg)), rotation_z(70 * deg));
  BOOST_TEST(max_diff(a, transpose(m)) < 1e-14);
  const Quat q = euler_to_quaternion(30, 50, 70);
  BOOST_TEST(quat_diff(q, q_ref) < 1e-4); // canonical sign: w > 0 as printed
  BOOST_TEST(std::abs(norm(q) - 1) < 1e-15);
  BOOST_TEST(max_diff(to_matrix(q), A_ref) < 2e-6);
  BOOST_TEST(max_diff(to_matrix(q), a) < 1e-14);
}

BOOST_AUTO_TEST_CASE(test_vector_back_to_euler) {
  const Vec3 e = matrix_to_euler(euler_to_matrix(30, 50, 70));
  BOOST_TEST(std::abs(e[0] - 30) < 1e-10);
  BOOST_TEST(std::abs(e[1] - 50) < 1e-10);
  BOOST_TEST(std::abs(e[2] - 70) < 1e-10);
  const Vec3 f = quaternion_to_euler(q_ref);
  BOOST_TEST(std::abs(f[0] - 30) < 0.02);
  BOOST_TEST(std::abs(f[1] - 50) < 0.02);
  BOOST_TEST(std::abs(f[2] - 70) < 0.02);
  const Quat minus{-q_ref.w, -q_ref.x, -q_ref.y, -q_ref.z};
  const Vec3 g = quaternion_to_euler(minus);
  BOOST_TEST(std::abs(g[1] - f[1]) < 1e-12);
}

BOOST_AUTO_TEST_CASE(projection_example_of_method_notes) {
  // A blob at p = (12, −5, 7) voxels from the box centre, projected at (30°, 50°, 70°), lands at
  // (A·p)_x,y = (−9.81, −3.26) from the image centre (checked against relion_project).
  const Vec3 r = apply(euler_to_matrix(30, 50, 70), {12, -5, 7});
  BOOST_TEST(std::abs(r[0] - (-9.81)) < 0.005);
  BOOST_TEST(std::abs(r[1] - (-3.26)) < 0.005);
}

BOOST_AUTO_TEST_CASE(in_plane_rotation_is_a_left_factor) {
  // Adding φ to psi rotates the image by φ: A' = Rz(−φ)·A.
  const Mat3 a = euler_to_matrix(-120, 33, 10);
  const Mat3 b = euler_to_matrix(-120, 33, 10 + 25);
  BOOST_TEST(max_diff(b, multiply(rotation_z(-25 * deg), a)) < 1e-14);
}

BOOST_AUTO_TEST_CASE(euler_round_trip_random_angles) {
  Rng rng(11);
  for (int k = 0; k < 20000; ++k) {
    const double rot = rng.uniform(-180, 180), tilt = rng.uniform(0.5, 179.5),
                 psi = rng.uniform(-180, 180);
    const Mat3 a = euler_to_matrix(rot, tilt, psi);
    const Vec3 e = matrix_to_euler(a);
    BOOST_TEST_REQUIRE(angle_diff_deg(e[0], rot) < 1e-9);
    BOOST_TEST_REQUIRE(std::abs(e[1] - tilt) < 1e-9);
    BOOST_TEST_REQUIRE(angle_diff_deg(e[2], psi) < 1e-9);
    BOOST_TEST_REQUIRE(e[0] > -180.0);
    BOOST_TEST_REQUIRE(e[0] <= 180.0);
    BOOST_TEST_REQUIRE(e[2] > -180.0);
    BOOST_TEST_REQUIRE(e[2] <= 180.0);
    BOOST_TEST_REQUIRE(max_diff(euler_to_matrix(e[0], e[1], e[2]), a) < 1e-14);
    const Vec3 f = quaternion_to_euler(euler_to_quaternion(rot, tilt, psi));
    BOOST_TEST_REQUIRE(max_diff(euler_to_matrix(f[0], f[1], f[2]), a) < 1e-14);
  }
}

BOOST_AUTO_TEST_CASE(euler_at_gimbal_lock) {
  // tilt 0: only rot + psi is defined; RELION puts it all in psi.
  Vec3 e = matrix_to_euler(euler_to_matrix(40, 0, 25));
  BOOST_TEST(e[0] == 0.0);
  BOOST_TEST(e[1] == 0.0);
  BOOST_TEST(angle_diff_deg(e[2], 65) < 1e-12);
  // tilt 180: only rot − psi is defined.
  e = matrix_to_euler(euler_to_matrix(40, 180, 25));
  BOOST_TEST(e[0] == 0.0);
  BOOST_TEST(std::abs(e[1] - 180) < 1e-12);
  BOOST_TEST(max_diff(euler_to_matrix(e[0], e[1], e[2]), euler_to_matrix(40, 180, 25)) < 1e-14);
  e = matrix_to_euler(identity3());
  BOOST_TEST(e[0] == 0.0);
  BOOST_TEST(e[1] == 0.0);
  BOOST_TEST(e[2] == 0.0);
}

BOOST_AUTO_TEST_CASE(euler_near_gimbal_lock) {
  Rng rng(12);
  for (double tilt : {1e-7, 1e-5, 1e-10, 1e-13, 180 - 1e-7, 180 - 1e-5, 180 - 1e-10, 180 - 1e-13}) {
    for (int k = 0; k < 200; ++k) {
      const double rot = rng.uniform(-180, 180), psi = rng.uniform(-180, 180);
      const Mat3 a = euler_to_matrix(rot, tilt, psi);
      const Vec3 e = matrix_to_euler(a);
      BOOST_TEST_REQUIRE(max_diff(euler_to_matrix(e[0], e[1], e[2]), a) < 1e-13,
                         "tilt " << tilt << " rot " << rot << " psi " << psi);
      BOOST_TEST_REQUIRE(std::abs(e[1] - tilt) < 1e-9);
      // The well-defined combination is recovered accurately.
      if (tilt < 90)
        BOOST_TEST_REQUIRE(angle_diff_deg(e[0] + e[2], rot + psi) < 1e-9);
      else
        BOOST_TEST_REQUIRE(angle_diff_deg(e[0] - e[2], rot - psi) < 1e-9);
    }
  }
}

BOOST_AUTO_TEST_CASE(quaternion_matrix_round_trip) {
  Rng rng(13);
  for (int k = 0; k < 20000; ++k) {
    const Quat q = random_rotation(rng);
    const Mat3 r = to_matrix(q);
    BOOST_TEST_REQUIRE(std::abs(determinant(r) - 1) < 1e-14);
    BOOST_TEST_REQUIRE(max_diff(multiply(transpose(r), r), identity3()) < 1e-14);
    BOOST_TEST_REQUIRE(quat_diff(to_quaternion(r), q) < 1e-14);
    // Hamilton product ↔ matrix product.
    const Quat p = random_rotation(rng);
    BOOST_TEST_REQUIRE(max_diff(to_matrix(multiply(p, q)), multiply(to_matrix(p), r)) < 1e-14);
    BOOST_TEST_REQUIRE(max_diff(to_matrix(conjugate(q)), transpose(r)) < 1e-15);
  }
  // Half-turns (w = 0) exercise the other branches of Shepperd's method.
  for (const Quat& q : {Quat{0, 1, 0, 0}, Quat{0, 0, 1, 0}, Quat{0, 0, 0, 1}, Quat{0, 0.6, -0.8, 0},
                        Quat{0, 0, -0.6, 0.8}, Quat{1e-9, 0.6, 0, -0.8}}) {
    const Quat c = canonical(normalized(q));
    BOOST_TEST(quat_diff(to_quaternion(to_matrix(c)), c) < 1e-14);
  }
}

BOOST_AUTO_TEST_CASE(canonical_sign) {
  BOOST_TEST(quat_diff(canonical({-0.5, 0.5, -0.5, 0.5}), {0.5, -0.5, 0.5, -0.5}) == 0.0);
  BOOST_TEST(quat_diff(canonical({0, -0.6, 0.8, 0}), {0, 0.6, -0.8, 0}) == 0.0);
  BOOST_TEST(quat_diff(canonical({0, 0, -1, 0}), {0, 0, 1, 0}) == 0.0);
  BOOST_TEST(quat_diff(canonical({0, 0, 0, -1}), {0, 0, 0, 1}) == 0.0);
  BOOST_TEST(quat_diff(canonical({0.1, -1, 0, 0}), {0.1, -1, 0, 0}) == 0.0);
}

BOOST_AUTO_TEST_CASE(nearest_rotation_projects) {
  Rng rng(14);
  const Mat3 r = to_matrix(random_rotation(rng));
  Mat3 noisy = r;
  for (auto& v : noisy)
    v += 1e-3 * rng.normal();
  const Mat3 n = nearest_rotation(noisy);
  BOOST_TEST(std::abs(determinant(n) - 1) < 1e-14);
  BOOST_TEST(max_diff(multiply(transpose(n), n), identity3()) < 1e-14);
  BOOST_TEST(max_diff(n, r) < 5e-3);
  BOOST_TEST(max_diff(nearest_rotation(r), r) < 1e-14);
  // A reflection goes to a proper rotation, never to itself.
  const Mat3 mirror = {1, 0, 0, 0, 1, 0, 0, 0, -1};
  BOOST_TEST(std::abs(determinant(nearest_rotation(multiply(r, mirror))) - 1) < 1e-14);
}

BOOST_AUTO_TEST_CASE(parse_view_range_names) {
  BOOST_TEST((parse_view_range("full") == ViewRange::full));
  BOOST_TEST((parse_view_range("half") == ViewRange::half));
  BOOST_TEST((parse_view_range("quarter") == ViewRange::quarter));
  try {
    parse_view_range("hemisphere");
    BOOST_FAIL("expected an error");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("hemisphere") != std::string::npos);
  }
}
