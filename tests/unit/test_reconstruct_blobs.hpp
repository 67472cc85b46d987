#pragma once
// Test helpers for the reconstruct tests: a map made of Gaussian blobs and its exact projections.
// A 3D Gaussian of width σ centred at c projects (line integral along z after the rotation A) to
// a 2D Gaussian of amplitude √(2π)σ centred at (A c)_xy, so the projections need no projector.
#include <cmath>
#include <complex>
#include <cstdint>
#include <fftw3.h>
#include <vector>

#include "pairpose/core/array.hpp"
#include "pairpose/core/random.hpp"
#include "pairpose/geometry/rotation.hpp"
#include "pairpose/io/particle.hpp"
#include "pairpose/simulate/ctf.hpp"

namespace blobs {

struct Blob {
  double x, y, z, sigma, amplitude;
};

// An asymmetric arrangement inside a radius of ~n/4 (voxels from the centre).
inline std::vector<Blob> make_blobs(std::int64_t n) {
  const double s = n / 48.0;
  return {{6 * s, -3 * s, 4 * s, 2.5 * s, 1.0},
          {-7 * s, 5 * s, -2 * s, 3.0 * s, 0.8},
          {2 * s, 8 * s, 7 * s, 2.0 * s, 1.2},
          {-3 * s, -8 * s, -6 * s, 2.2 * s, 0.9},
          {0.5 * s, 0.5 * s, -9 * s, 1.8 * s, 1.1}};
}

inline pairpose::Volume blob_map(const std::vector<Blob>& blobs, std::int64_t n, double voxel) {
  pairpose::Volume v(n, n, n, voxel);
  for (std::int64_t z = 0; z < n; ++z)
    for (std::int64_t y = 0; y < n; ++y)
      for (std::int64_t x = 0; x < n; ++x) {
        double sum = 0;
        for (const auto& b : blobs) {
          const double dx = x - n / 2 - b.x, dy = y - n / 2 - b.y, dz = z - n / 2 - b.z;
          sum += b.amplitude * std::exp(-(dx * dx + dy * dy + dz * dz) / (2 * b.sigma * b.sigma));
        }
        v.at(x, y, z) = static_cast<float>(sum);
      }
  return v;
}

// The particle's image: blobs rotated by A, centred at −shift (pixels = voxels here), then the
// CTF applied in Fourier space when the particle has one.
inline void project(const std::vector<Blob>& blobs, const pairpose::Particle& p, std::int64_t n,
                    double pixel, float* out) {
  const auto a = pairpose::geometry::to_matrix(p.orientation);
  const double ox = p.shift_x / pixel, oy = p.shift_y / pixel;
  for (std::int64_t i = 0; i < n * n; ++i)
    out[i] = 0;
  for (const auto& b : blobs) {
    const auto c = pairpose::geometry::apply(a, {b.x, b.y, b.z});
    const double cx = c[0] - ox, cy = c[1] - oy;
    const double amp = b.amplitude * std::sqrt(2 * M_PI) * b.sigma;
    for (std::int64_t y = 0; y < n; ++y)
      for (std::int64_t x = 0; x < n; ++x) {
        const double dx = x - n / 2 - cx, dy = y - n / 2 - cy;
        out[y * n + x] +=
            static_cast<float>(amp * std::exp(-(dx * dx + dy * dy) / (2 * b.sigma * b.sigma)));
      }
  }
  if (!p.has_ctf) return;
  std::vector<std::complex<float>> spectrum(n * (n / 2 + 1));
  auto* f = reinterpret_cast<fftwf_complex*>(spectrum.data());
  fftwf_plan fwd = fftwf_plan_dft_r2c_2d(n, n, out, f, FFTW_ESTIMATE);
  fftwf_plan inv = fftwf_plan_dft_c2r_2d(n, n, f, out, FFTW_ESTIMATE);
  fftwf_execute(fwd);
  const auto ctf = pairpose::simulate::ctf_half_plane(p.ctf, n, pixel);
  for (size_t i = 0; i < spectrum.size(); ++i)
    spectrum[i] *= ctf[i] / float(n * n);
  fftwf_execute(inv);
  fftwf_destroy_plan(fwd);
  fftwf_destroy_plan(inv);
}

// Particles first … first + count − 1: uniform orientations, shifts up to ±max_shift Å, CTF
// (defocus 8,000–20,000 Å) when with_ctf.
inline std::vector<pairpose::Particle> particles(std::int64_t first, std::int64_t count,
                                                 double max_shift, bool with_ctf) {
  std::vector<pairpose::Particle> out(count);
  for (std::int64_t i = 0; i < count; ++i) {
    pairpose::Rng rng(42, pairpose::stream_orientation, first + i);
    auto& p = out[i];
    p.orientation = pairpose::geometry::random_rotation(rng);
    p.shift_x = rng.uniform(-max_shift, max_shift);
    p.shift_y = rng.uniform(-max_shift, max_shift);
    p.has_ctf = with_ctf;
    p.ctf.defocus_u = rng.uniform(8000, 20000);
    p.ctf.defocus_v = p.ctf.defocus_u - rng.uniform(0, 500);
    p.ctf.defocus_angle = rng.uniform(0, 180);
  }
  return out;
}

inline pairpose::ImageStack images(const std::vector<Blob>& blobs,
                                   const std::vector<pairpose::Particle>& ps, std::int64_t n,
                                   double pixel) {
  pairpose::ImageStack s(static_cast<std::int64_t>(ps.size()), n, n, pixel);
  for (std::int64_t i = 0; i < s.n; ++i)
    project(blobs, ps[i], n, pixel, s.image(i));
  return s;
}

// Pearson correlation inside a sphere of radius `radius` voxels about the centre.
inline double masked_correlation(const pairpose::Volume& a, const pairpose::Volume& b,
                                 double radius) {
  double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0, count = 0;
  const std::int64_t n = a.nx;
  for (std::int64_t z = 0; z < n; ++z)
    for (std::int64_t y = 0; y < n; ++y)
      for (std::int64_t x = 0; x < n; ++x) {
        const double dx = x - n / 2, dy = y - n / 2, dz = z - n / 2;
        if (dx * dx + dy * dy + dz * dz > radius * radius) continue;
        const double u = a.at(x, y, z), v = b.at(x, y, z);
        sa += u, sb += v, saa += u * u, sbb += v * v, sab += u * v, count += 1;
      }
  const double cov = sab / count - sa * sb / (count * count);
  const double va = saa / count - sa * sa / (count * count);
  const double vb = sbb / count - sb * sb / (count * count);
  return cov / std::sqrt(va * vb);
}

} // namespace blobs
