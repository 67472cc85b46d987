#include "pairpose/recover/initial.hpp"

#include <cmath>

#include "pairpose/core/random.hpp"
#include "pairpose/recover/solver.hpp"

namespace pairpose::recover {

std::vector<double> random_quaternions(std::int64_t n, std::uint64_t seed, std::int64_t restart) {
  std::vector<double> q(static_cast<std::size_t>(4 * n));
  for (std::int64_t i = 0; i < n; ++i) {
    Rng rng(seed + static_cast<std::uint64_t>(restart), stream_init, static_cast<std::uint64_t>(i));
    double s = 0;
    while (s < 1e-12) {
      s = 0;
      for (int k = 0; k < 4; ++k) {
        q[4 * i + k] = rng.normal();
        s += q[4 * i + k] * q[4 * i + k];
      }
    }
    const double inv = 1 / std::sqrt(s);
    for (int k = 0; k < 4; ++k)
      q[4 * i + k] *= inv;
  }
  canonicalize(q);
  return q;
}

} // namespace pairpose::recover
