#include "pairpose/core/random.hpp"

#include <set>

#include "pairpose/core/error.hpp"

namespace pairpose {

std::vector<std::int64_t> sample_indices(std::int64_t n, std::int64_t n_samples, Rng& rng) {
  PAIRPOSE_CHECK(n_samples >= 0 && n_samples <= n,
                 "sample_indices: cannot draw " << n_samples << " distinct indices from " << n);
  // Floyd: for j = n − m … n − 1 draw t in [0, j]; take t, or j if t was taken.
  std::set<std::int64_t> chosen;
  for (std::int64_t j = n - n_samples; j < n; ++j) {
    const auto t = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(j + 1)));
    if (!chosen.insert(t).second) chosen.insert(j);
  }
  return {chosen.begin(), chosen.end()};
}

} // namespace pairpose
