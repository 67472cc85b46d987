#define BOOST_TEST_MODULE recover_kernel
#include "pairpose_test.hpp"

#include <cmath>
#include <cstring>

#include "pairpose/core/error.hpp"
#include "pairpose/core/random.hpp"
#include "pairpose/recover/initial.hpp"
#include "pairpose/recover/objective.hpp"
#include "pairpose/recover/pair_kernel.hpp"

using namespace pairpose;
using namespace pairpose::recover;

namespace {

/// Distance in units in the last place between two positive doubles.
double ulps(double a, double b) {
  std::int64_t ia, ib;
  std::memcpy(&ia, &a, 8), std::memcpy(&ib, &b, 8);
  return std::abs(double(ia - ib));
}

/// Pairs over n particles with special cases first: identical quaternions (r = 0), q_j = −q_i
/// (s = −1, r = 0), orthogonal quaternions (the largest distance, h = 1/√2), then random pairs.
struct Case {
  std::vector<double> q;
  std::vector<std::uint32_t> i, j;
  std::vector<double> d, w;
  PairTerms terms(bool weighted) const {
    return {i.data(), j.data(), d.data(), weighted ? w.data() : nullptr,
            static_cast<std::int64_t>(d.size())};
  }
};

Case make_case(std::int64_t n, std::int64_t m) {
  Case c;
  c.q = random_quaternions(n, 5, 0);
  for (int k = 0; k < 4; ++k)
    c.q[4 + k] = c.q[k], c.q[8 + k] = -c.q[k];
  c.q[12] = -c.q[1], c.q[13] = c.q[0], c.q[14] = -c.q[3], c.q[15] = c.q[2]; // ⟨q0, q3⟩ = 0
  Rng rng(9, stream_init, 0);
  for (std::int64_t e = 0; e < m; ++e) {
    std::uint32_t a = e < 3 ? 0 : std::uint32_t(rng.uniform() * double(n));
    std::uint32_t b = e < 3 ? std::uint32_t(e + 1) : std::uint32_t(rng.uniform() * double(n));
    if (a == b) b = (b + 1) % std::uint32_t(n);
    c.i.push_back(a), c.j.push_back(b);
    c.d.push_back(M_PI * rng.uniform());
    c.w.push_back(rng.uniform());
  }
  return c;
}

/// The straightforward formula with std::asin, pair by pair.
double reference(const Case& c, bool weighted, std::vector<double>& grad) {
  double loss = 0;
  for (std::size_t e = 0; e < c.d.size(); ++e) {
    const double* a = &c.q[4 * c.i[e]];
    const double* b = &c.q[4 * c.j[e]];
    const double s = a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3] < 0 ? -1 : 1;
    double u[4], r2 = 0;
    for (int k = 0; k < 4; ++k)
      u[k] = a[k] - s * b[k], r2 += u[k] * u[k];
    const double r = std::sqrt(r2), h = std::min(r / 2, 1.0), w = weighted ? c.w[e] : 1.0;
    const double res = 4 * std::asin(h) - c.d[e];
    loss += w * res * res;
    if (r == 0 || h >= 1) continue;
    const double f = 4 * w * res / (r * std::sqrt(1 - h * h));
    for (int k = 0; k < 4; ++k)
      grad[4 * c.i[e] + k] += f * u[k], grad[4 * c.j[e] + k] -= s * f * u[k];
  }
  return loss;
}

} // namespace

BOOST_AUTO_TEST_CASE(asin_kernel_is_within_two_ulp_of_std_asin) {
  double worst = 0;
  for (int k = 0; k <= 200000; ++k) {
    const double x = k / 200000.0;
    worst = std::max(worst, ulps(asin_kernel(x), std::asin(x)));
  }
  for (double x : {0.0, 1e-300, 1e-8, 0.5, std::nextafter(0.5, 1.0), 0.7071067811865476, 1.0})
    worst = std::max(worst, ulps(asin_kernel(x), std::asin(x)));
  BOOST_TEST(worst <= 2);
}

BOOST_AUTO_TEST_CASE(kernels_match_the_reference_formula) {
  const Case c = make_case(300, 4003); // not a multiple of 4: the vector kernel's tail too
  for (bool weighted : {false, true}) {
    std::vector<double> ref(c.q.size(), 0.0), gen(c.q.size(), 0.0), fast(c.q.size(), 0.0);
    const double l_ref = reference(c, weighted, ref);
    const double l_gen = pair_kernel_generic(c.terms(weighted), c.q.data(), gen.data());
    const double l_fast = pair_kernel(c.terms(weighted), c.q.data(), fast.data());
    BOOST_TEST(l_gen == l_ref, boost::test_tools::tolerance(1e-13));
    BOOST_TEST(l_fast == l_ref, boost::test_tools::tolerance(1e-13));
    BOOST_TEST(pair_kernel(c.terms(weighted), c.q.data(), nullptr) == l_fast); // same path
    double scale = 0;
    for (double g : ref)
      scale = std::max(scale, std::abs(g));
    for (std::size_t k = 0; k < ref.size(); ++k) {
      BOOST_TEST_REQUIRE(std::abs(gen[k] - ref[k]) <= 1e-12 * scale);
      BOOST_TEST_REQUIRE(std::abs(fast[k] - ref[k]) <= 1e-12 * scale);
    }
  }
  BOOST_TEST_MESSAGE("pair kernel in use: " << pair_kernel_name());
}

BOOST_AUTO_TEST_CASE(tile_order_changes_only_rounding_and_is_deterministic) {
  const std::int64_t n = 500;
  const Case c = make_case(n, 6000);
  PairSet p;
  p.n_particles = n;
  p.rows = {0, n};
  for (std::size_t e = 0; e < c.d.size(); ++e) {
    p.i.push_back(c.i[e]), p.j.push_back(c.j[e]);
    p.distance.push_back(c.d[e]), p.weight.push_back(c.w[e]);
  }
  const PairObjective whole(p, {}, MPI_COMM_SELF, {1 << 20, 1 << 20});
  const PairObjective tiled(p, {}, MPI_COMM_SELF, {16, 64});
  std::vector<double> g1(4 * n, 0.0), g2(4 * n, 0.0), g3(4 * n, 0.0);
  const double l1 = whole.local_value_and_gradient(c.q.data(), g1.data());
  const double l2 = tiled.local_value_and_gradient(c.q.data(), g2.data());
  const double l3 = tiled.local_value_and_gradient(c.q.data(), g3.data());
  BOOST_TEST(l1 == l2, boost::test_tools::tolerance(1e-13));
  BOOST_TEST(l2 == l3); // bit-identical on repetition
  for (std::int64_t k = 0; k < 4 * n; ++k) {
    BOOST_TEST_REQUIRE(g1[k] == g2[k], boost::test_tools::tolerance(1e-11));
    BOOST_TEST_REQUIRE(g2[k] == g3[k]);
  }
  BOOST_TEST(tiled.local_value(c.q.data()) == l2);
}

BOOST_AUTO_TEST_CASE(the_consuming_constructor_frees_the_pair_set) {
  PairSet p;
  p.n_particles = 4;
  p.rows = {0, 4};
  p.i = {0, 1, 2};
  p.j = {1, 2, 3};
  p.distance = {0.1, 0.2, 0.3};
  p.weight = {1, 1, 1};
  const PairObjective obj(std::move(p), {}, MPI_COMM_SELF);
  BOOST_TEST(obj.n_local_pairs() == 3);
  BOOST_TEST(p.i.capacity() == 0u);
  BOOST_TEST(p.distance.capacity() == 0u);
  BOOST_TEST(p.weight.capacity() == 0u);
  PairSet bad;
  bad.n_particles = 4;
  bad.rows = {0, 4};
  bad.i = {0};
  bad.j = {1};
  bad.distance = {0.1};
  BOOST_CHECK_THROW(PairObjective(bad, {}, MPI_COMM_SELF, {3, 8}), Error);
  BOOST_TEST(pair_degrees(bad, MPI_COMM_SELF)[1] == 1);
  BOOST_TEST(isolated_particles(pair_degrees(bad, MPI_COMM_SELF)).n_isolated == 2);
}
