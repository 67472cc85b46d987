#pragma once
/// @file mrc.hpp
/// MRC2014 maps and image stacks (method.md §2). Reads modes 0 (int8), 1 (int16), 2 (float32)
/// and 6 (uint16), either byte order (from the machine stamp), MAPC/MAPR/MAPS permutations;
/// writes mode 2 little-endian with voxel size (cell / grid), origin, min/max/mean/rms and a
/// label. Every problem (truncated file, unknown mode, sizes that disagree with the file length,
/// NaN or infinite values) throws pairpose::Error naming the file. Writers go through a
/// temporary name and a rename.
#include <cstdint>
#include <string>

#include "pairpose/core/array.hpp"

namespace pairpose::io {

/// The header fields pairpose uses.
struct MrcHeader {
  std::int64_t nx = 0, ny = 0, nz = 0;
  int mode = 2;
  double cell_x = 0, cell_y = 0, cell_z = 0; ///< Å
  std::array<double, 3> origin{0, 0, 0};     ///< Å
  int ispg = 0;
  int mapc = 1, mapr = 2, maps = 3;
  std::int64_t extended_header_bytes = 0;
  bool big_endian = false;
  double voxel_size() const { return nx > 0 ? cell_x / nx : 1.0; }
};

/// Reads and checks only the header.
MrcHeader read_mrc_header(const std::string& path);
/// A 3D map (ISPG 1 or 0 with nz > 1). Values as float32.
Volume read_mrc_volume(const std::string& path);
/// Every section as an image stack (nz images of ny × nx).
ImageStack read_mrc_stack(const std::string& path);
/// Images [first, first + count) of a stack, reading only those bytes.
ImageStack read_mrc_images(const std::string& path, std::int64_t first, std::int64_t count);

/// Writes a map (ISPG 1) or a stack (ISPG 0, z = image index, cell z = nz · pixel size).
/// `label` goes into the first of the ten 80-character labels (truncated).
void write_mrc(const std::string& path, const Volume& volume, const std::string& label = "");
void write_mrc(const std::string& path, const ImageStack& stack, const std::string& label = "");

} // namespace pairpose::io
