#pragma once
/// @file images.hpp
/// Image preprocessing for the learned distance (Torch-free): down-sampling, in-plane rotation
/// (the free augmentation of method.md §7), masking and standardisation.
///
/// Pixel coordinates follow the projector (method.md §2, simulate/projector.hpp): x is the fastest
/// axis, y the row, both measured from the image centre n/2. A map point p lands at (A·p)_x,y.
///
/// In-plane rotation: rotate_image(φ) gives out(r) = in(Rz(φ)ᵀ r), the content turned by +φ
/// (counter-clockwise with x right and y up). Since image(r) = ∫ x(Aᵀ r) dz, the rotated image is
/// the projection at A' = Rz(φ)·A (rotate_orientation); tests/unit/test_learn_images.cpp checks
/// this against the projector.
#include <cstdint>
#include <vector>

#include "pairpose/geometry/rotation.hpp"

namespace pairpose::learn {

/// Area-average resampling of an n × n image to m × m (any ratio; the image centre n/2 maps onto
/// the output centre m/2). Each output pixel is the mean of the input over the part of its
/// footprint inside the image (n/m input pixels wide; a constant image stays constant). With the
/// centre convention an even factor shifts the footprints by half an input pixel: at 2:1, output
/// pixel j averages input pixels 2j − 1, 2j, 2j + 1 with weights ¼, ½, ¼.
void resample_area(const float* in, std::int64_t n, float* out, std::int64_t m);

/// out(r) = in(Rz(φ)ᵀ r) by bilinear interpolation, zero outside the input; n × n, `in` != `out`.
void rotate_image(const float* in, std::int64_t n, double phi, float* out);

/// The orientation of an image turned in-plane by φ: Rz(φ)·A, as a canonical quaternion.
geometry::Quat rotate_orientation(const geometry::Quat& a, double phi);

struct PreprocessOptions {
  std::int64_t size = 32;  ///< network input side, pixels
  bool mask = true;        ///< zero pixels farther than size/2 from the centre
  bool standardize = true; ///< zero mean, unit variance over the (masked) pixels, per image
  /// > 0: resample to this side first (when smaller than the input) and rotate there. Training
  /// with augmentation keeps its images at 2·size and the model file records it, so `embed`
  /// takes exactly the same path (without the rotation).
  std::int64_t intermediate_size = 0;
};

/// One image n × n → options.size × options.size: area resampling to intermediate_size (if set
/// and smaller than n), optional rotation by φ there (φ = 0: none), area resampling to size, mask,
/// standardisation. A constant image becomes zeros.
/// Throws pairpose::Error naming `index` when a pixel is not finite.
void preprocess_image(const float* in, std::int64_t n, const PreprocessOptions& options, double phi,
                      float* out, std::int64_t index);

/// A stack of `count` images (n × n each) preprocessed without rotation, count × size² floats.
std::vector<float> preprocess_images(const float* in, std::int64_t count, std::int64_t n,
                                     const PreprocessOptions& options, std::int64_t first_index);

} // namespace pairpose::learn
