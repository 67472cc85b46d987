#pragma once
/// @file common_lines.hpp
/// Common-line scoring of a gauge candidate (method.md §5).
///
/// Recovered orientations Â_i are known only up to O(4): Â_i = C₀·A_i·B₀ or C₀·A_iᵀ·B₀ (A_i the
/// true RELION matrices, quaternion products q̂ = a·q·b or a·conj(q)·b). The right factor B₀ is
/// the frame of the map and harmless; the left factor and the transpose are not. A candidate
/// (C, transposed) corrects them to
///
///     Ã_i = C·Â_i          (transposed = false)      quaternion c·q̂_i
///     Ã_i = C·Â_iᵀ         (transposed = true)       quaternion c·conj(q̂_i)
///
/// (for Â_i = C₀·A_iᵀ·B₀, C = B₀ gives Ã_i = A_i·C₀ᵀ: the truth up to a right factor). The images
/// then decide: the central sections of images i and j (planes ⟂ n = third row of Ã) meet along
/// v = n_i × n_j, which lies in image i at direction Ã_i·v (z component 0), so each image's 2D
/// transform along its predicted line must agree. Both flips of the handedness (Ã → J·Ã·J, the map
/// mirrored) give the same score: C and Rz(π)·C are equally good, as they must be.
///
/// PolarTransforms precomputes each image's 2D Fourier transform on a polar grid (low-passed to a
/// resolution, optionally CTF phase-flipped or multiplied, optionally whitened per radius), so a
/// line is a lookup plus a linear interpolation in angle. CommonLineScore then scores a candidate
/// by the mean over a fixed set of image pairs of the real normalised correlation of the two
/// lines. Both are serial objects on replicated data (every rank may hold the same copy).
#include <complex>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "pairpose/core/array.hpp"
#include "pairpose/geometry/rotation.hpp"
#include "pairpose/io/particle.hpp"

namespace pairpose::gauge {

/// How a particle's CTF enters its polar transform.
enum class CtfMode {
  none,     ///< ignored
  flip,     ///< F·sign(CTF): the lines of i and j then agree up to the positive |CTF_i|, |CTF_j|
  multiply, ///< F·CTF: both become X·CTF², emphasising the frequencies the CTF transmits
};
/// "none" | "flip" | "multiply"; throws naming the text otherwise.
CtfMode parse_ctf_mode(const std::string& text);

/// Layout and filtering of the polar transforms.
struct PolarOptions {
  std::int64_t image_size = 0; ///< n: images are n × n pixels
  double pixel_size = 1.0;     ///< Å per pixel
  /// Highest spatial frequency kept, as a resolution in Å (≥ 2 pixels). Radii run from r_min to
  /// n·pixel/resolution Fourier pixels of the n × n image.
  double resolution = 8.0;
  double r_min = 1.0;       ///< lowest radius, Fourier pixels (the DC term is never used)
  double radial_step = 1.0; ///< spacing of the radii, Fourier pixels
  int n_angles = 360;       ///< angles over [0, 2π) (even; half are stored, the rest by symmetry)
  CtfMode ctf = CtfMode::flip;
  /// Divide each radius by its RMS over the angles (per image), so that every radius weighs the
  /// same in a line correlation instead of the lowest frequencies dominating.
  bool whiten = true;
};

/// Polar Fourier transforms of a set of images. Image k's value at radius index r and angle
/// index t ∈ [0, n_angles/2) is stored; angle t + n_angles/2 is its complex conjugate (real
/// images). Angles are measured from the +x axis (fastest pixel axis) towards +y (rows); the
/// image centre (n/2, n/2) is the phase origin.
class PolarTransforms {
public:
  explicit PolarTransforms(const PolarOptions& options);
  const PolarOptions& options() const { return options_; }
  int n_radii() const { return n_radii_; }
  int n_angles() const { return options_.n_angles; }
  std::int64_t n_images() const { return n_images_; }
  /// Values per image: n_angles/2 × n_radii complex floats.
  std::int64_t image_stride() const { return std::int64_t(options_.n_angles / 2) * n_radii_; }

  /// Allocates room for `n_images` transforms (zeros).
  void resize(std::int64_t n_images);
  /// Computes transform `slot` from an n × n image (x fastest) and its particle (CTF used when
  /// has_ctf and the mode is not none). The image's mean is removed; shifts are not applied.
  void compute(std::int64_t slot, const float* image, const Particle& particle);
  /// All transforms (n_images × image_stride): e.g. to sum the slots each rank filled.
  std::vector<std::complex<float>>& data() { return data_; }
  const std::vector<std::complex<float>>& data() const { return data_; }

  /// The line of image `slot` along angle `theta` (radians, any value), radius by radius,
  /// linearly interpolated between the two nearest stored angles; `out` holds n_radii() values.
  void line(std::int64_t slot, double theta, std::complex<float>* out) const;

private:
  PolarOptions options_;
  int n_radii_ = 0;
  std::int64_t n_images_ = 0;
  std::vector<std::complex<float>> data_;
};

/// Quaternion of the corrected orientation: c·q̂ or c·conj(q̂), canonical.
geometry::Quat apply_gauge(const geometry::Quat& c, bool transposed, const geometry::Quat& q_hat);

/// Scores candidates on fixed image pairs.
class CommonLineScore {
public:
  /// `orientations[k]`: the (uncorrected) orientation of polar slot k; `pairs`: slot pairs (a, b),
  /// a ≠ b. Pairs whose corrected viewing directions are closer than `min_view_angle_deg` (or
  /// opposite within it) have no well-defined common line and are skipped for that candidate.
  CommonLineScore(const PolarTransforms& polar, std::vector<geometry::Quat> orientations,
                  std::vector<std::pair<std::int64_t, std::int64_t>> pairs,
                  double min_view_angle_deg = 10.0);

  /// Mean line correlation (in [−1, 1]) of candidate (c, transposed) over the first `n_use`
  /// pairs (all by default); −2 when no pair has a usable common line. Deterministic: the same
  /// value on every rank.
  double score(const geometry::Mat3& c, bool transposed,
               std::size_t n_use = static_cast<std::size_t>(-1)) const;
  /// The correlation of one pair (index into pairs()) under a candidate, or NaN when skipped.
  double pair_score(std::size_t pair, const geometry::Mat3& c, bool transposed) const;

  std::size_t n_pairs() const { return pairs_.size(); }
  const std::vector<std::pair<std::int64_t, std::int64_t>>& pairs() const { return pairs_; }

private:
  const PolarTransforms& polar_;
  std::vector<geometry::Mat3> a_, at_; ///< Â_k and Â_kᵀ
  std::vector<std::pair<std::int64_t, std::int64_t>> pairs_;
  double min_sin_ = 0;
};

} // namespace pairpose::gauge
