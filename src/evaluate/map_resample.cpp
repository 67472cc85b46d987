// Map resampling (Fourier crop / pad, centred placement, rotation) and the SO(3) grid.
#include "pairpose/evaluate/map_alignment.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <fftw3.h>

#include "map_internal.hpp"
#include "pairpose/core/error.hpp"

namespace pairpose::evaluate {

namespace {

using Complex = std::complex<double>;

/// Half spectrum (n × n × (n/2 + 1)) of a cubic map, unnormalised.
std::vector<Complex> forward(const Volume& v) {
  const int n = static_cast<int>(v.nx);
  std::vector<double> real(v.data.begin(), v.data.end());
  std::vector<Complex> out(static_cast<size_t>(v.nx * v.nx * (v.nx / 2 + 1)));
  fftw_plan plan = fftw_plan_dft_r2c_3d(n, n, n, real.data(),
                                        reinterpret_cast<fftw_complex*>(out.data()), FFTW_ESTIMATE);
  PAIRPOSE_CHECK(plan, "resample: FFTW could not plan a " << n << "^3 transform");
  fftw_execute(plan);
  fftw_destroy_plan(plan);
  return out;
}

/// Real m³ map of a half spectrum (unnormalised inverse; the spectrum is overwritten).
std::vector<double> inverse(std::vector<Complex>& spectrum, std::int64_t m) {
  const int mi = static_cast<int>(m);
  std::vector<double> out(static_cast<size_t>(m * m * m));
  fftw_plan plan = fftw_plan_dft_c2r_3d(
      mi, mi, mi, reinterpret_cast<fftw_complex*>(spectrum.data()), out.data(), FFTW_ESTIMATE);
  PAIRPOSE_CHECK(plan, "resample: FFTW could not plan a " << m << "^3 transform");
  fftw_execute(plan);
  fftw_destroy_plan(plan);
  return out;
}

/// Raised-cosine taper: 1 up to 0.8·limit, 0 from limit on.
double taper_weight(double k, double limit) {
  const double start = 0.8 * limit;
  if (k <= start) return 1.0;
  if (k >= limit) return 0.0;
  return 0.5 * (1 + std::cos(M_PI * (k - start) / (limit - start)));
}

} // namespace

geometry::Mat3 MapAlignment::matrix() const {
  geometry::Mat3 t = rotation;
  if (mirrored)
    for (int c = 0; c < 3; ++c)
      t[6 + c] = -t[6 + c]; // J·R: the third row changes sign
  return t;
}

MapAlignment alignment_from_orientations(const PhysicalError& fit) {
  MapAlignment a;
  a.rotation = fit.b;
  a.mirrored = fit.mirrored;
  return a;
}

double angle_between_deg(const MapAlignment& a, const MapAlignment& b) {
  return geometry::rotation_angle(a.rotation, b.rotation) * 180.0 / M_PI;
}

Volume resample(const Volume& map, std::int64_t m, bool taper) {
  const std::int64_t n = map.nx;
  PAIRPOSE_CHECK(map.is_cube() && n > 1 && m > 1,
                 "resample: expected a cubic map and a size > 1, got "
                     << map.nx << "x" << map.ny << "x" << map.nz << " -> " << m);
  const std::int64_t nh = n / 2 + 1, mh = m / 2 + 1;
  const std::int64_t k_max = (std::min(n, m) - 1) / 2; // the smaller grid's Nyquist is dropped
  const double limit = std::min(n, m) / 2.0;
  // new(j) = old(j·n/m + d): the centre voxel n/2 lands on m/2.
  const double d = double(n / 2) - double(m / 2) * double(n) / double(m);
  const double scale = 1.0 / double(n * n * n);
  const auto f = forward(map);
  std::vector<Complex> g(static_cast<size_t>(m * m * mh), Complex(0, 0));
  for (std::int64_t kz = -k_max; kz <= k_max; ++kz)
    for (std::int64_t ky = -k_max; ky <= k_max; ++ky)
      for (std::int64_t kx = 0; kx <= k_max; ++kx) {
        const double w =
            taper ? taper_weight(std::sqrt(double(kx * kx + ky * ky + kz * kz)), limit) : 1.0;
        if (w == 0.0) continue;
        const std::int64_t sz = (kz + n) % n, sy = (ky + n) % n;
        const std::int64_t tz = (kz + m) % m, ty = (ky + m) % m;
        const double phase = 2 * M_PI * double(kx + ky + kz) * d / double(n);
        g[(tz * m + ty) * mh + kx] = f[(sz * n + sy) * nh + kx] * std::polar(w * scale, phase);
      }
  const auto real = inverse(g, m);
  Volume out(m, m, m, map.voxel_size * double(n) / double(m));
  out.origin = map.origin;
  std::transform(real.begin(), real.end(), out.data.begin(),
                 [](double v) { return static_cast<float>(v); });
  return out;
}

Volume place_centred(const Volume& map, std::int64_t n) {
  PAIRPOSE_CHECK(n > 0, "place_centred: box size must be positive, got " << n);
  Volume out(n, n, n, map.voxel_size);
  out.origin = map.origin;
  const std::int64_t ox = n / 2 - map.nx / 2, oy = n / 2 - map.ny / 2, oz = n / 2 - map.nz / 2;
  for (std::int64_t z = std::max<std::int64_t>(0, oz); z < std::min(n, map.nz + oz); ++z)
    for (std::int64_t y = std::max<std::int64_t>(0, oy); y < std::min(n, map.ny + oy); ++y)
      for (std::int64_t x = std::max<std::int64_t>(0, ox); x < std::min(n, map.nx + ox); ++x)
        out.at(x, y, z) = map.at(x - ox, y - oy, z - oz);
  return out;
}

Volume transform_map(const Volume& map, const geometry::Mat3& t, int oversampling) {
  PAIRPOSE_CHECK(map.is_cube() && map.nx > 1, "transform_map: expected a cubic map, got "
                                                  << map.nx << "x" << map.ny << "x" << map.nz);
  PAIRPOSE_CHECK(oversampling == 1 || oversampling == 2,
                 "transform_map: oversampling must be 1 or 2, got " << oversampling);
  const std::int64_t n = map.nx;
  const Volume fine = oversampling == 2 ? resample(map, 2 * n, false) : Volume();
  const Volume& src = oversampling == 2 ? fine : map;
  const double s = double(oversampling), c = double(n / 2), cs = double(src.nx / 2);
  Volume out(n, n, n, map.voxel_size);
  out.origin = map.origin;
  for (std::int64_t z = 0; z < n; ++z)
    for (std::int64_t y = 0; y < n; ++y)
      for (std::int64_t x = 0; x < n; ++x) {
        const geometry::Vec3 p{x - c, y - c, z - c};
        const auto q = geometry::apply(t, p);
        out.at(x, y, z) = detail::trilinear(src, s * q[0] + cs, s * q[1] + cs, s * q[2] + cs);
      }
  return out;
}

std::vector<geometry::Mat3> rotation_grid(std::int64_t count) {
  PAIRPOSE_CHECK(count > 0, "rotation_grid: count must be positive, got " << count);
  // Super-Fibonacci spiral (Alexa 2022): phi = sqrt(2), psi the real root of psi^4 = psi + 4.
  const double phi = std::sqrt(2.0), psi = 1.533751168755204288118041;
  std::vector<geometry::Mat3> out(static_cast<size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) {
    const double s = i + 0.5, t = s / double(count);
    const double r = std::sqrt(t), big_r = std::sqrt(1 - t);
    const double alpha = 2 * M_PI * s / phi, beta = 2 * M_PI * s / psi;
    const geometry::Quat q{r * std::sin(alpha), r * std::cos(alpha), big_r * std::sin(beta),
                           big_r * std::cos(beta)};
    out[i] = geometry::to_matrix(geometry::normalized(q));
  }
  return out;
}

} // namespace pairpose::evaluate
