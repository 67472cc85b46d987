#pragma once
/// @file array.hpp
/// Dense float arrays of the field: a 3D map (Volume) and a stack of 2D images (ImageStack).
/// Storage is C order with x the fastest axis, as in MRC files: element (x, y, z) of a volume is
/// data[(z * ny + y) * nx + x]. Sizes are 64-bit.
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace pairpose {

struct Volume {
  std::int64_t nx = 0, ny = 0, nz = 0;
  double voxel_size = 1.0;               ///< Å per voxel (cubic voxels)
  std::array<double, 3> origin{0, 0, 0}; ///< MRC ORIGIN field, Å
  std::vector<float> data;

  Volume() = default;
  Volume(std::int64_t nx_, std::int64_t ny_, std::int64_t nz_, double voxel = 1.0)
      : nx(nx_), ny(ny_), nz(nz_), voxel_size(voxel),
        data(static_cast<size_t>(nx_ * ny_ * nz_), 0.0f) {}
  std::int64_t size() const { return nx * ny * nz; }
  bool is_cube() const { return nx == ny && ny == nz; }
  float& at(std::int64_t x, std::int64_t y, std::int64_t z) {
    return data[static_cast<size_t>((z * ny + y) * nx + x)];
  }
  float at(std::int64_t x, std::int64_t y, std::int64_t z) const {
    return data[static_cast<size_t>((z * ny + y) * nx + x)];
  }
};

/// n images of ny × nx pixels; image i starts at data[i * ny * nx].
struct ImageStack {
  std::int64_t n = 0, ny = 0, nx = 0;
  double pixel_size = 1.0; ///< Å per pixel
  std::vector<float> data;

  ImageStack() = default;
  ImageStack(std::int64_t n_, std::int64_t ny_, std::int64_t nx_, double pixel = 1.0)
      : n(n_), ny(ny_), nx(nx_), pixel_size(pixel),
        data(static_cast<size_t>(n_ * ny_ * nx_), 0.0f) {}
  std::int64_t image_size() const { return ny * nx; }
  float* image(std::int64_t i) { return data.data() + i * ny * nx; }
  const float* image(std::int64_t i) const { return data.data() + i * ny * nx; }
};

} // namespace pairpose
