#pragma once
/// @file draw.hpp
/// Random particle parameters for simulation: orientation, shift, CTF and source map. Each
/// particle's draws come from (seed, particle index) alone, through Rng(seed, stream, index) with
/// one named stream per quantity (core/random.hpp), so any rank — or the training stage drawing
/// online — gets the same particle i, and adding a quantity never changes the others.
#include <cstdint>
#include <string>

#include "pairpose/geometry/rotation.hpp"
#include "pairpose/io/particle.hpp"

namespace pairpose::simulate {

enum class ShiftDistribution {
  uniform, ///< uniform over the disk of radius shift_max
  gaussian ///< isotropic Gaussian of σ = shift_max / 2 per axis, redrawn beyond shift_max
};
/// Parses "uniform" | "gaussian"; throws naming the text otherwise.
ShiftDistribution parse_shift_distribution(const std::string& text);

struct DrawOptions {
  geometry::ViewRange views = geometry::ViewRange::full; ///< allowed viewing directions
  double shift_max = 0;                                  ///< Å; 0 = no shifts
  ShiftDistribution shift_distribution = ShiftDistribution::uniform;
  bool ctf = false;           ///< draw a CTF per particle
  double defocus_min = 10000; ///< Å, mean defocus (U + V)/2 drawn uniformly in [min, max]
  double defocus_max = 25000; ///< Å
  double astigmatism_max = 0; ///< Å, U − V drawn uniformly in [0, max]; angle uniform [0, 180°)
  /// Voltage, Cs, amplitude contrast, B-factor and phase shift shared by all particles (the
  /// defocus fields are ignored).
  CtfParams ctf_fixed;
  std::int32_t n_maps = 1; ///< map index drawn uniformly in [0, n_maps)
};

/// Throws pairpose::Error naming the parameter when a range is empty (min > max), a value is
/// negative where it must not be, or the CTF constants are invalid.
void check_draw_options(const DrawOptions& options);

/// Particle `index` of the simulation seeded by `seed`.
Particle draw_particle(const DrawOptions& options, std::uint64_t seed, std::int64_t index);

} // namespace pairpose::simulate
