#pragma once
// Helpers shared by the map resampling and the map alignment search (not part of the API).
#include <cmath>
#include <cstdint>

#include "pairpose/core/array.hpp"

namespace pairpose::evaluate::detail {

/// Trilinear interpolation of `v` at the grid position (x, y, z) (voxel indices, x fastest);
/// voxels outside the box count as zero.
inline float trilinear(const Volume& v, double x, double y, double z) {
  const double fx = std::floor(x), fy = std::floor(y), fz = std::floor(z);
  const auto x0 = static_cast<std::int64_t>(fx), y0 = static_cast<std::int64_t>(fy),
             z0 = static_cast<std::int64_t>(fz);
  const double ax = x - fx, ay = y - fy, az = z - fz;
  if (x0 >= 0 && y0 >= 0 && z0 >= 0 && x0 + 1 < v.nx && y0 + 1 < v.ny && z0 + 1 < v.nz) {
    const float* p = v.data.data() + (z0 * v.ny + y0) * v.nx + x0;
    const std::int64_t sy = v.nx, sz = v.nx * v.ny;
    const double c00 = p[0] + ax * (p[1] - p[0]), c10 = p[sy] + ax * (p[sy + 1] - p[sy]);
    const double c01 = p[sz] + ax * (p[sz + 1] - p[sz]);
    const double c11 = p[sz + sy] + ax * (p[sz + sy + 1] - p[sz + sy]);
    const double c0 = c00 + ay * (c10 - c00), c1 = c01 + ay * (c11 - c01);
    return static_cast<float>(c0 + az * (c1 - c0));
  }
  double sum = 0;
  for (int k = 0; k < 8; ++k) {
    const std::int64_t xi = x0 + (k & 1), yi = y0 + ((k >> 1) & 1), zi = z0 + ((k >> 2) & 1);
    if (xi < 0 || yi < 0 || zi < 0 || xi >= v.nx || yi >= v.ny || zi >= v.nz) continue;
    const double w =
        ((k & 1) ? ax : 1 - ax) * (((k >> 1) & 1) ? ay : 1 - ay) * (((k >> 2) & 1) ? az : 1 - az);
    sum += w * v.at(xi, yi, zi);
  }
  return static_cast<float>(sum);
}

} // namespace pairpose::evaluate::detail
