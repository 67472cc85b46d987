#define BOOST_TEST_MODULE simulate_ctf
#include "pairpose_test.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "pairpose/core/error.hpp"
#include "pairpose/simulate/ctf.hpp"
#include "pairpose/simulate/draw.hpp"
#include "pairpose/simulate/noise.hpp"

using namespace pairpose;
using namespace pairpose::simulate;
namespace tt = boost::test_tools;

BOOST_AUTO_TEST_CASE(relativistic_wavelength) {
  // Standard values: 0.01969 Å at 300 kV, 0.02508 Å at 200 kV.
  BOOST_TEST(electron_wavelength(300) == 0.019687, tt::tolerance(1e-4));
  BOOST_TEST(electron_wavelength(200) == 0.025079, tt::tolerance(1e-4));
}

BOOST_AUTO_TEST_CASE(value_at_zero_and_first_zero) {
  CtfParams p;
  p.defocus_u = p.defocus_v = 20000;
  p.amplitude_contrast = 0.1;
  p.spherical_aberration = 0; // χ = πλΔf u² + atan(Q/√(1−Q²)) exactly
  const Ctf ctf(p);
  BOOST_TEST(ctf(0, 0) == 0.1, tt::tolerance(1e-12)); // RELION's CTF(0) = +Q
  const double lambda = electron_wavelength(300);
  const double phase = std::atan(0.1 / std::sqrt(1 - 0.01));
  const double u_zero = std::sqrt((M_PI - phase) / (M_PI * lambda * 20000));
  BOOST_TEST(std::abs(ctf(u_zero, 0)) < 1e-9);
  BOOST_TEST(ctf(0.5 * u_zero, 0) > 0.5); // first lobe positive
  BOOST_TEST(std::abs(ctf(0, u_zero)) < 1e-9);
}

BOOST_AUTO_TEST_CASE(astigmatism_follows_the_angle) {
  CtfParams p;
  p.defocus_u = 22000, p.defocus_v = 18000, p.defocus_angle = 30;
  const Ctf ctf(p);
  CtfParams along_u = p, along_v = p;
  along_u.defocus_v = along_u.defocus_u; // isotropic at U
  along_v.defocus_u = along_v.defocus_v; // isotropic at V
  const double u = 0.05, a = 30 * M_PI / 180;
  BOOST_TEST(ctf(u * std::cos(a), u * std::sin(a)) ==
                 Ctf(along_u)(u * std::cos(a), u * std::sin(a)),
             tt::tolerance(1e-9));
  BOOST_TEST(ctf(-u * std::sin(a), u * std::cos(a)) ==
                 Ctf(along_v)(-u * std::sin(a), u * std::cos(a)),
             tt::tolerance(1e-9));
  BOOST_TEST(std::abs(ctf(u, 0) - ctf(0, u)) > 1e-3); // astigmatic: directions differ
}

BOOST_AUTO_TEST_CASE(bfactor_envelope_and_phase_shift) {
  CtfParams p;
  p.defocus_u = p.defocus_v = 15000;
  CtfParams damped = p;
  damped.bfactor = 100;
  const double u = 0.1;
  BOOST_TEST(Ctf(damped)(u, 0) == Ctf(p)(u, 0) * std::exp(-100 * u * u / 4), tt::tolerance(1e-9));
  CtfParams plate = p;
  plate.phase_shift = 90;
  plate.amplitude_contrast = 0;
  BOOST_TEST(Ctf(plate)(0, 0) == 1.0, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(half_plane_layout) {
  CtfParams p;
  p.defocus_u = 21000, p.defocus_v = 19000, p.defocus_angle = 10;
  const std::int64_t n = 16;
  const double pixel = 2.0;
  const auto half = ctf_half_plane(p, n, pixel);
  const auto full = ctf_centred_image(p, n, pixel);
  BOOST_TEST(half.size() == size_t(n * (n / 2 + 1)));
  // Row 13 is ky = −3; column 5 is kx = 5. In the centred image that is (8 + 5, 8 − 3).
  BOOST_TEST(half[13 * (n / 2 + 1) + 5] == full[(8 - 3) * n + 8 + 5], tt::tolerance(1e-6));
  BOOST_TEST(half[3 * (n / 2 + 1) + 5] == full[(8 + 3) * n + 8 + 5], tt::tolerance(1e-6));
}

// The CTF's own sine against std::sin, through the whole formula, over phases χ up to several
// hundred radians (a defocus of 5 µm at 1 Å resolution), and Ctf::row against operator().
BOOST_AUTO_TEST_CASE(row_and_sine_match_the_formula) {
  CtfParams p;
  p.defocus_u = 52000, p.defocus_v = 47000, p.defocus_angle = 37, p.phase_shift = 20;
  p.spherical_aberration = 2.7, p.amplitude_contrast = 0.07;
  const Ctf ctf(p);
  const double lambda = electron_wavelength(p.voltage), cs = p.spherical_aberration * 1e7;
  const double q = p.amplitude_contrast, a = p.defocus_angle * M_PI / 180;
  auto reference = [&](double fx, double fy) { // method.md §2 with std::sin and atan2
    const double u2 = fx * fx + fy * fy, alpha = std::atan2(fy, fx);
    const double df = 0.5 * (p.defocus_u + p.defocus_v) +
                      0.5 * (p.defocus_u - p.defocus_v) * std::cos(2 * (alpha - a));
    const double chi = M_PI * lambda * df * u2 - 0.5 * M_PI * cs * std::pow(lambda, 3) * u2 * u2 +
                       p.phase_shift * M_PI / 180 + std::atan(q / std::sqrt(1 - q * q));
    return std::sin(chi);
  };
  const std::int64_t n = 257;
  const double df = 1.0 / (n * 0.9);
  std::vector<float> row(n);
  double worst = 0;
  for (const std::int64_t ky : {0, 1, -7, 64, -128}) {
    ctf.row(ky * df, df, n / 2 + 1, row.data());
    for (std::int64_t kx = 0; kx <= n / 2; ++kx) {
      BOOST_TEST(row[kx] == static_cast<float>(ctf(kx * df, ky * df)));
      if (kx > 0 || ky != 0)
        worst = std::max(worst, std::abs(ctf(kx * df, ky * df) - reference(kx * df, ky * df)));
    }
  }
  BOOST_TEST(worst < 1e-11);
  CtfParams damped = p;
  damped.bfactor = 50;
  Ctf(damped).row(3 * df, df, n / 2 + 1, row.data());
  BOOST_TEST(row[40] == static_cast<float>(Ctf(damped)(40 * df, 3 * df)));
}

BOOST_AUTO_TEST_CASE(bad_parameters_are_errors) {
  CtfParams p;
  p.voltage = 0;
  BOOST_CHECK_THROW(check_ctf(p, "test"), Error);
  p.voltage = 300;
  p.amplitude_contrast = 1.0;
  BOOST_CHECK_THROW(check_ctf(p, "test"), Error);
  DrawOptions d;
  d.ctf = true;
  d.defocus_min = 20000, d.defocus_max = 10000;
  BOOST_CHECK_THROW(check_draw_options(d), Error);
  d.defocus_max = 30000;
  BOOST_CHECK_NO_THROW(check_draw_options(d));
}

BOOST_AUTO_TEST_CASE(draws_depend_only_on_seed_and_index) {
  DrawOptions d;
  d.ctf = true;
  d.shift_max = 10;
  d.astigmatism_max = 1000;
  d.n_maps = 3;
  const Particle a = draw_particle(d, 7, 12345), b = draw_particle(d, 7, 12345),
                 c = draw_particle(d, 7, 12346);
  BOOST_TEST(a.orientation.w == b.orientation.w);
  BOOST_TEST(a.ctf.defocus_u == b.ctf.defocus_u);
  BOOST_TEST(a.orientation.w != c.orientation.w);
  for (int i = 0; i < 200; ++i) {
    const Particle p = draw_particle(d, 1, i);
    BOOST_TEST(std::hypot(p.shift_x, p.shift_y) <= 10.0);
    BOOST_TEST((p.ctf.defocus_u + p.ctf.defocus_v) / 2 >= d.defocus_min - 1e-9);
    BOOST_TEST(p.ctf.defocus_u - p.ctf.defocus_v <= 1000 + 1e-9);
    BOOST_TEST((p.map_index >= 0 && p.map_index < 3));
  }
}

BOOST_AUTO_TEST_CASE(white_noise_statistics) {
  // 200,000 draws: mean 0 and variance σ² within a few standard errors; adjacent pixels
  // uncorrelated; the same (seed, index) gives the same noise.
  std::vector<float> a(200001, 0.0f), b(200001, 0.0f);
  add_particle_noise(a.data(), static_cast<std::int64_t>(a.size()), 2.0, 9, 17);
  add_particle_noise(b.data(), static_cast<std::int64_t>(b.size()), 2.0, 9, 17);
  BOOST_TEST((a == b));
  PixelMoments m;
  m.add(a.data(), static_cast<std::int64_t>(a.size()));
  BOOST_TEST(std::abs(m.sum / m.count) < 4 * 2.0 / std::sqrt(double(m.count)));
  BOOST_TEST(m.variance() == 4.0, tt::tolerance(0.02));
  double lag = 0;
  for (size_t i = 0; i + 1 < a.size(); ++i)
    lag += double(a[i]) * a[i + 1];
  BOOST_TEST(std::abs(lag / (a.size() - 1) / 4.0) < 0.01);
  std::vector<float> c(1000, 0.0f);
  add_particle_noise(c.data(), 1000, 2.0, 9, 18);
  BOOST_TEST(!std::equal(c.begin(), c.end(), a.begin()));
}
