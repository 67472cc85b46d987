#pragma once
/// @file landmarks.hpp
/// The landmarks of the landmark initialisation (recover/spectral.hpp, landmark_initialise):
/// which particles they are, drawn once from the seed so that the pair sampler (which adds the
/// landmark pairs) and the initialisation (which uses them) agree.
#include <cstdint>
#include <vector>

namespace pairpose::pairs {

/// The L landmarks of a data set: L distinct particle indices in [0, n_particles), ascending, a
/// function of (n_particles, n_landmarks, seed) only (drawn with Rng(seed, stream_pairs,
/// landmark_rng_index)). The pair sampler and landmark_initialise must call it with the same
/// arguments. What the sampler must provide for landmark_initialise:
/// - every landmark–landmark pair (L(L−1)/2 pairs; missing ones enter the L × L matrix as 0 with
///   the 1/p scaling of spectral_initialise, which loses accuracy quickly);
/// - for every other particle, pairs to at least 9 landmarks (the least squares has 9 unknowns);
///   accuracy grows with the number: all L landmarks, or at least ~100, is recommended.
/// Each pair stored once, in the row block of its first index, in either order.
std::vector<std::int64_t> landmark_indices(std::int64_t n_particles, std::int64_t n_landmarks,
                                           std::uint64_t seed);
/// Index of the Rng draw of landmark_indices within stream_pairs (the sampler's per-particle
/// draws use indices < n_particles).
inline constexpr std::uint64_t landmark_rng_index = ~std::uint64_t(0);

} // namespace pairpose::pairs
