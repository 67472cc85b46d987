#include "pairpose/evaluate/fsc.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <fftw3.h>
#include <limits>

#include "pairpose/core/error.hpp"

namespace pairpose::evaluate {

namespace {
/// Half-spectrum (n × n × (n/2 + 1)) of a cubic map, double precision.
std::vector<std::complex<double>> spectrum(const Volume& v) {
  const int n = static_cast<int>(v.nx);
  const std::int64_t nh = n / 2 + 1;
  std::vector<double> real(v.data.begin(), v.data.end());
  std::vector<std::complex<double>> out(static_cast<size_t>(v.nx * v.nx * nh));
  fftw_plan plan = fftw_plan_dft_r2c_3d(n, n, n, real.data(),
                                        reinterpret_cast<fftw_complex*>(out.data()), FFTW_ESTIMATE);
  PAIRPOSE_CHECK(plan, "FSC: FFTW could not plan a " << n << "^3 transform");
  fftw_execute(plan);
  fftw_destroy_plan(plan);
  return out;
}
} // namespace

std::vector<double> fourier_shell_correlation(const Volume& a, const Volume& b) {
  PAIRPOSE_CHECK(a.is_cube() && b.is_cube() && a.nx == b.nx && a.nx > 1,
                 "FSC: the maps must be cubes of the same size, got "
                     << a.nx << "x" << a.ny << "x" << a.nz << " and " << b.nx << "x" << b.ny << "x"
                     << b.nz);
  const std::int64_t n = a.nx, nh = n / 2 + 1, n_shells = n / 2 + 1;
  const auto fa = spectrum(a), fb = spectrum(b);
  std::vector<double> cross(n_shells, 0.0), pa(n_shells, 0.0), pb(n_shells, 0.0);
  for (std::int64_t z = 0; z < n; ++z)
    for (std::int64_t y = 0; y < n; ++y)
      for (std::int64_t x = 0; x < nh; ++x) {
        const double kz = z <= n / 2 ? z : z - n, ky = y <= n / 2 ? y : y - n;
        const auto s = static_cast<std::int64_t>(std::lround(std::sqrt(x * x + ky * ky + kz * kz)));
        if (s >= n_shells) continue;
        const auto& u = fa[(z * n + y) * nh + x];
        const auto& v = fb[(z * n + y) * nh + x];
        cross[s] += (u * std::conj(v)).real();
        pa[s] += std::norm(u);
        pb[s] += std::norm(v);
      }
  std::vector<double> fsc(n_shells, 0.0);
  for (std::int64_t s = 0; s < n_shells; ++s)
    if (pa[s] > 0 && pb[s] > 0) fsc[s] = cross[s] / std::sqrt(pa[s] * pb[s]);
  return fsc;
}

double shell_at(const std::vector<double>& fsc, double threshold) {
  for (size_t s = 1; s < fsc.size(); ++s)
    if (fsc[s] < threshold) {
      const double above = fsc[s - 1], below = fsc[s];
      if (s == 1 || above <= below) return double(s);
      return double(s - 1) + (above - threshold) / (above - below);
    }
  return fsc.empty() ? 0.0 : double(fsc.size() - 1);
}

double shell_resolution(double shell, std::int64_t box, double voxel_size) {
  return shell > 0 ? box * voxel_size / shell : std::numeric_limits<double>::infinity();
}

std::vector<double> shell_frequencies(std::int64_t n_shells, std::int64_t box, double voxel_size) {
  std::vector<double> out(static_cast<size_t>(std::max<std::int64_t>(n_shells, 0)));
  for (std::int64_t s = 0; s < n_shells; ++s)
    out[s] = double(s) / (double(box) * voxel_size);
  return out;
}

void check_same_grid(const Volume& a, const std::string& what_a, const Volume& b,
                     const std::string& what_b) {
  PAIRPOSE_CHECK(a.is_cube(),
                 what_a << ": expected a cubic map, got " << a.nx << "x" << a.ny << "x" << a.nz);
  PAIRPOSE_CHECK(b.nx == a.nx && b.ny == a.ny && b.nz == a.nz,
                 what_b << " is " << b.nx << "x" << b.ny << "x" << b.nz << " voxels, expected "
                        << a.nx << "x" << a.ny << "x" << a.nz << " like " << what_a);
  PAIRPOSE_CHECK(std::abs(b.voxel_size - a.voxel_size) <= 1e-3 * a.voxel_size,
                 what_b << " has a voxel size of " << b.voxel_size << " Å, expected "
                        << a.voxel_size << " Å like " << what_a);
}

Volume soft_sphere_masked(const Volume& map, double diameter, double edge) {
  PAIRPOSE_CHECK(diameter > 0 && std::isfinite(diameter),
                 "mask diameter must be > 0 Å, got " << diameter);
  PAIRPOSE_CHECK(edge >= 0 && std::isfinite(edge), "mask edge must be >= 0 Å, got " << edge);
  Volume out = map;
  const double inner = 0.5 * diameter / map.voxel_size, width = edge / map.voxel_size;
  for (std::int64_t z = 0; z < map.nz; ++z)
    for (std::int64_t y = 0; y < map.ny; ++y)
      for (std::int64_t x = 0; x < map.nx; ++x) {
        const double dx = x - map.nx / 2, dy = y - map.ny / 2, dz = z - map.nz / 2;
        const double r = std::sqrt(dx * dx + dy * dy + dz * dz);
        double m = 1.0;
        if (r > inner + width)
          m = 0.0;
        else if (r > inner)
          m = 0.5 * (1.0 + std::cos(M_PI * (r - inner) / width));
        out.at(x, y, z) = static_cast<float>(out.at(x, y, z) * m);
      }
  return out;
}

} // namespace pairpose::evaluate
