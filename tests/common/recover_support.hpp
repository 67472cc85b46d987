#pragma once
// Helpers shared by the recover tests.
#include <vector>

#include "pairpose/geometry/rotation.hpp"

namespace pairpose::testing {

/// Quaternions from a flat array (w, x, y, z per particle), as the solver stores them.
inline std::vector<geometry::Quat> as_quats(const std::vector<double>& q) {
  std::vector<geometry::Quat> out(q.size() / 4);
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = {q[4 * i], q[4 * i + 1], q[4 * i + 2], q[4 * i + 3]};
  return out;
}

} // namespace pairpose::testing
