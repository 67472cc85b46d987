#pragma once
/// @file distance_model.hpp
/// Where the estimated distance d̂_ij of a pair comes from (method.md §3, §7). A DistanceModel
/// holds per-particle features for ALL particles (replicated on every rank) and evaluates d̂ of any
/// pair as a pure, symmetric function of (a, b): the same value whichever rank asks, so the pair
/// set and its distances do not depend on the rank count.
///
/// Sources:
/// - `exact`: d_q(t_a, t_b) from the true orientations t (validation).
/// - `exact+noise`: d_q + σ·n, n ~ N(0, 1), clipped to [0, π] (the paper's perturbation
///   experiment). n is drawn from Rng(seed + noise_seed_offset, stream_pairs, min·N + max), so
///   each unordered pair has one fixed perturbation.
/// - `euclidean`: scale·‖p_a − p_b‖₂ / sqrt(n_pixels), clipped to [0, π] (the seed's baseline:
///   image distance only tracks d_q for small angles). The scale is set after sampling (see
///   pair_sampler.hpp: auto scale matches the mean of d̂ to the mean angle of uniform random
///   rotations, π/2 + 2/π).
/// - `embedding`: 2·acos(clip(cos_sim(f_a, f_b), 0, 1)) ∈ [0, π] for per-particle embedding
///   vectors f (the learned distance's head; the dataset stores them as rows
///   `embedding/vectors`, N × D).
///
/// Memory: exact 32 bytes a particle; embedding 8·D; euclidean 4·n_pixels (every image on every
/// rank: meant for N·n_pixels up to ~10⁸).
#include <cstdint>
#include <string>
#include <vector>

#include "pairpose/geometry/rotation.hpp"

namespace pairpose::pairs {

enum class DistanceSource { exact, exact_noise, euclidean, embedding };

/// "exact" | "exact+noise" | "euclidean" | "embedding"; throws naming the text otherwise.
DistanceSource parse_distance_source(const std::string& text);
std::string to_string(DistanceSource source);

/// Offset added to the seed for the pair-noise generator (keeps it apart from partner draws).
constexpr std::uint64_t noise_seed_offset = 0x9e3779b97f4a7c15ull;

class DistanceModel {
public:
  /// d_q of the true orientations (unit quaternions, one per particle).
  static DistanceModel exact(std::vector<geometry::Quat> truth);
  /// d_q + σ·n clipped to [0, π]; σ in radians.
  static DistanceModel exact_noise(std::vector<geometry::Quat> truth, double sigma,
                                   std::uint64_t seed);
  /// Embeddings: `vectors` holds n × dim values, row a = particle a. Rows are normalised here; a
  /// zero or non-finite row throws naming the particle.
  static DistanceModel embedding(std::int64_t n, std::int64_t dim, std::vector<double> vectors);
  /// Images: `pixels` holds n × n_pixels values, row a = image a. scale = 1 until set_scale().
  static DistanceModel euclidean(std::int64_t n, std::int64_t n_pixels, std::vector<float> pixels);

  DistanceSource source() const { return source_; }
  std::int64_t n_particles() const { return n_; }
  /// For euclidean: the factor applied to the raw RMS pixel difference.
  void set_scale(double scale) { scale_ = scale; }
  double scale() const { return scale_; }

  /// d̂(a, b) in radians, in [0, π]; d̂(a, b) == d̂(b, a) bit for bit. a != b, both in [0, N).
  double operator()(std::int64_t a, std::int64_t b) const;
  /// The unscaled, unclipped value for euclidean (RMS pixel difference); operator() otherwise.
  double raw(std::int64_t a, std::int64_t b) const;

private:
  DistanceSource source_ = DistanceSource::exact;
  std::int64_t n_ = 0;
  std::int64_t dim_ = 0;
  double sigma_ = 0;
  double scale_ = 1;
  std::uint64_t seed_ = 0;
  std::vector<geometry::Quat> truth_;
  std::vector<double> vectors_;
  std::vector<float> pixels_;
};

/// Mean angle of the relative rotation of two independent uniform random rotations, π/2 + 2/π.
constexpr double mean_uniform_angle = 1.5707963267948966 + 0.6366197723675814;

} // namespace pairpose::pairs
