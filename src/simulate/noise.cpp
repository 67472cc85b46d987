#include "pairpose/simulate/noise.hpp"

#include <algorithm>
#include <cmath>

namespace pairpose::simulate {

void PixelMoments::add(const float* image, std::int64_t n_pixels) {
  for (std::int64_t i = 0; i < n_pixels; ++i) {
    sum += image[i];
    sum_squares += double(image[i]) * image[i];
  }
  count += n_pixels;
}

void PixelMoments::add(const PixelMoments& o) {
  sum += o.sum, sum_squares += o.sum_squares, count += o.count;
}

double PixelMoments::variance() const {
  if (count < 2) return 0.0;
  const double mean = sum / count;
  return std::max(0.0, sum_squares / count - mean * mean);
}

void add_white_noise(float* image, std::int64_t n_pixels, double sigma, Rng& rng) {
  for (std::int64_t i = 0; i < n_pixels; ++i)
    image[i] += static_cast<float>(sigma * ziggurat_normal(rng));
}

void add_particle_noise(float* image, std::int64_t n_pixels, double sigma, std::uint64_t seed,
                        std::int64_t index) {
  Rng rng(seed, stream_noise, static_cast<std::uint64_t>(index));
  add_white_noise(image, n_pixels, sigma, rng);
}

} // namespace pairpose::simulate
