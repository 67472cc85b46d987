#include "pairpose/pairs/landmarks.hpp"

#include "pairpose/core/error.hpp"
#include "pairpose/core/random.hpp"

namespace pairpose::pairs {

std::vector<std::int64_t> landmark_indices(std::int64_t n_particles, std::int64_t n_landmarks,
                                           std::uint64_t seed) {
  PAIRPOSE_CHECK(n_landmarks >= 9 && n_landmarks <= n_particles,
                 "landmarks: n_landmarks = " << n_landmarks << " must lie in [9, n_particles = "
                                             << n_particles << "]");
  Rng rng(seed, stream_pairs, landmark_rng_index);
  return sample_indices(n_particles, n_landmarks, rng);
}

} // namespace pairpose::pairs
