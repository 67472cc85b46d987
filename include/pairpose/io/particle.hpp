#pragma once
/// @file particle.hpp
/// Per-particle metadata shared by the dataset (HDF5), STAR files and the simulator.
#include <cstdint>

#include "pairpose/geometry/rotation.hpp"

namespace pairpose {

/// RELION's CTF model (method.md §2). Defocus is underfocus-positive.
struct CtfParams {
  double defocus_u = 0;          ///< Å
  double defocus_v = 0;          ///< Å
  double defocus_angle = 0;      ///< degrees
  double voltage = 300;          ///< kV
  double spherical_aberration = 2.7; ///< Cs, mm
  double amplitude_contrast = 0.1;
  double bfactor = 0;            ///< Å²
  double phase_shift = 0;        ///< degrees
};

/// One particle's geometry and imaging parameters.
struct Particle {
  geometry::Quat orientation;   ///< RELION's A as a canonical unit quaternion
  double shift_x = 0;           ///< Å, as RELION 3.1 rlnOriginXAngst
  double shift_y = 0;           ///< Å, as RELION 3.1 rlnOriginYAngst
  bool has_ctf = false;
  CtfParams ctf;
  std::int32_t map_index = 0;   ///< which source map (simulated data); 0 otherwise
};

} // namespace pairpose
