#pragma once
/// @file noise.hpp
/// White Gaussian noise at a given signal-to-noise ratio (method.md §2). The noise variance is
/// σ² = v_ref / SNR, where v_ref is the variance of the clean images taken together (all pixels of
/// a reference set of images, one mean). The paper's σ² on globally standardised images is the
/// same thing with SNR = 1/σ² (σ² = 16 is SNR 1/16).
#include <cstddef>
#include <cstdint>

#include "pairpose/core/array.hpp"
#include "pairpose/core/random.hpp"

namespace pairpose::simulate {

/// Sums over the pixels of some images, to pool into one variance in a fixed order.
struct PixelMoments {
  double sum = 0, sum_squares = 0;
  std::int64_t count = 0;
  void add(const float* image, std::int64_t n_pixels);
  void add(const PixelMoments& other);
  /// Variance of all the pixels added (population variance; 0 when fewer than 2).
  double variance() const;
};

/// Adds independent N(0, σ²) to each pixel, drawing from `rng` in pixel order (ziggurat_normal,
/// core/random.hpp).
void add_white_noise(float* image, std::int64_t n_pixels, double sigma, Rng& rng);

/// Adds noise to particle `index` of a simulation seeded by `seed`: draws from
/// Rng(seed, stream_noise, index), so the noise depends on nothing else.
void add_particle_noise(float* image, std::int64_t n_pixels, double sigma, std::uint64_t seed,
                        std::int64_t index);

} // namespace pairpose::simulate
