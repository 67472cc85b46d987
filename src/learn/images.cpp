#include "pairpose/learn/images.hpp"

#include <algorithm>
#include <cmath>

#include "pairpose/core/error.hpp"

namespace pairpose::learn {

namespace {

/// Row j of the m × n area-resampling matrix, as (first input pixel, weights).
struct Footprint {
  std::int64_t first = 0;
  std::vector<double> weights;
};

std::vector<Footprint> footprints(std::int64_t n, std::int64_t m) {
  const double f = double(n) / double(m);
  std::vector<Footprint> rows(m);
  for (std::int64_t j = 0; j < m; ++j) {
    // output pixel j spans [j, j + 1); its centre j + 0.5 - (m/2 + 0.5) maps to n/2 + 0.5
    const double lo = (j - m / 2) * f + n / 2 + 0.5 - 0.5 * f, hi = lo + f;
    const std::int64_t i0 = std::max<std::int64_t>(0, std::int64_t(std::floor(lo)));
    const std::int64_t i1 = std::min<std::int64_t>(n, std::int64_t(std::ceil(hi)));
    rows[j].first = i0;
    double total = 0;
    for (std::int64_t i = i0; i < i1; ++i) {
      rows[j].weights.push_back(
          std::max(0.0, std::min<double>(hi, i + 1) - std::max<double>(lo, i)));
      total += rows[j].weights.back();
    }
    for (double& w : rows[j].weights) // the part of the footprint inside the image
      w = total > 0 ? w / total : 0.0;
  }
  return rows;
}

} // namespace

void resample_area(const float* in, std::int64_t n, float* out, std::int64_t m) {
  const std::vector<Footprint> w = footprints(n, m);
  std::vector<double> rows(static_cast<size_t>(m * n), 0.0); // resampled along x: n rows × m
  for (std::int64_t y = 0; y < n; ++y)
    for (std::int64_t j = 0; j < m; ++j) {
      double s = 0;
      for (size_t k = 0; k < w[j].weights.size(); ++k)
        s += w[j].weights[k] * in[y * n + w[j].first + std::int64_t(k)];
      rows[y * m + j] = s;
    }
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < m; ++j) {
      double s = 0;
      for (size_t k = 0; k < w[i].weights.size(); ++k)
        s += w[i].weights[k] * rows[(w[i].first + std::int64_t(k)) * m + j];
      out[i * m + j] = static_cast<float>(s);
    }
}

void rotate_image(const float* in, std::int64_t n, double phi, float* out) {
  const double c = std::cos(phi), s = std::sin(phi), centre = double(n / 2);
  auto at = [&](std::int64_t x, std::int64_t y) -> double {
    return (x < 0 || y < 0 || x >= n || y >= n) ? 0.0 : in[y * n + x];
  };
  for (std::int64_t y = 0; y < n; ++y)
    for (std::int64_t x = 0; x < n; ++x) {
      const double rx = x - centre, ry = y - centre;
      // source point Rz(φ)ᵀ r
      const double sx = c * rx + s * ry + centre, sy = -s * rx + c * ry + centre;
      const double fx = std::floor(sx), fy = std::floor(sy), tx = sx - fx, ty = sy - fy;
      const std::int64_t x0 = std::int64_t(fx), y0 = std::int64_t(fy);
      out[y * n + x] =
          static_cast<float>((1 - ty) * ((1 - tx) * at(x0, y0) + tx * at(x0 + 1, y0)) +
                             ty * ((1 - tx) * at(x0, y0 + 1) + tx * at(x0 + 1, y0 + 1)));
    }
}

geometry::Quat rotate_orientation(const geometry::Quat& a, double phi) {
  return geometry::to_quaternion(
      geometry::multiply(geometry::rotation_z(phi), geometry::to_matrix(a)));
}

void preprocess_image(const float* in, std::int64_t n, const PreprocessOptions& options, double phi,
                      float* out, std::int64_t index) {
  for (std::int64_t k = 0; k < n * n; ++k)
    PAIRPOSE_CHECK(std::isfinite(in[k]), "image " << index << " has a non-finite pixel (" << k
                                                  << "): NaN or infinite values cannot be learned");
  const std::int64_t m = options.size;
  std::vector<float> smaller, turned;
  if (options.intermediate_size > 0 && options.intermediate_size < n) {
    smaller.resize(static_cast<size_t>(options.intermediate_size * options.intermediate_size));
    resample_area(in, n, smaller.data(), options.intermediate_size);
    in = smaller.data(), n = options.intermediate_size;
  }
  if (phi != 0.0) {
    turned.resize(static_cast<size_t>(n * n));
    rotate_image(in, n, phi, turned.data());
    in = turned.data();
  }
  resample_area(in, n, out, m);
  const double centre = double(m / 2), radius2 = 0.25 * double(m) * double(m);
  std::vector<bool> inside(static_cast<size_t>(m * m), true);
  if (options.mask)
    for (std::int64_t y = 0; y < m; ++y)
      for (std::int64_t x = 0; x < m; ++x)
        inside[y * m + x] = (x - centre) * (x - centre) + (y - centre) * (y - centre) <= radius2;
  if (options.standardize) {
    double sum = 0, count = 0, sum2 = 0;
    for (std::int64_t k = 0; k < m * m; ++k)
      if (inside[k]) sum += out[k], count += 1;
    const double mean = sum / count;
    for (std::int64_t k = 0; k < m * m; ++k)
      if (inside[k]) sum2 += (out[k] - mean) * (out[k] - mean);
    const double sd = std::sqrt(sum2 / count);
    // a constant image (sd at rounding level of its values) carries no signal: zeros
    const double scale = sd > 1e-6 * (std::abs(mean) + 1e-30) ? 1 / sd : 0.0;
    for (std::int64_t k = 0; k < m * m; ++k)
      out[k] = static_cast<float>((out[k] - mean) * scale);
  }
  for (std::int64_t k = 0; k < m * m; ++k)
    if (!inside[k]) out[k] = 0.0f;
}

std::vector<float> preprocess_images(const float* in, std::int64_t count, std::int64_t n,
                                     const PreprocessOptions& options, std::int64_t first_index) {
  const std::int64_t m2 = options.size * options.size;
  std::vector<float> out(static_cast<size_t>(count * m2));
  for (std::int64_t i = 0; i < count; ++i)
    preprocess_image(in + i * n * n, n, options, 0.0, out.data() + i * m2, first_index + i);
  return out;
}

} // namespace pairpose::learn
