#pragma once
/// @file initial.hpp
/// Random initialisation of the refinement: uniform random rotations (Haar measure: a standard
/// normal 4-vector, normalised), particle i's from Rng(seed + restart, stream_init, i), so every
/// rank draws the same values whatever the rank count. Spectral initialisation is in
/// spectral.hpp.
#include <cstdint>
#include <vector>

namespace pairpose::recover {

/// 4N doubles (w, x, y, z per particle), unit norm, canonical sign.
std::vector<double> random_quaternions(std::int64_t n_particles, std::uint64_t seed,
                                       std::int64_t restart);

} // namespace pairpose::recover
