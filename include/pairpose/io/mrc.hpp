#pragma once
/// @file mrc.hpp
/// MRC2014 maps and image stacks (method.md §2). Reads modes 0 (int8), 1 (int16), 2 (float32)
/// and 6 (uint16), either byte order (from the machine stamp), MAPC/MAPR/MAPS permutations;
/// writes mode 2 little-endian with voxel size (cell / grid), origin, min/max/mean/rms and a
/// label. Every problem (truncated file, unknown mode, sizes that disagree with the file length,
/// NaN or infinite values) throws pairpose::Error naming the file. Writers go through a
/// temporary name and a rename.
///
/// Reading details:
/// - Byte order: machine stamp 0x44 0x44 / 0x44 0x41 (little-endian), 0x11 0x11 (big-endian);
///   a zero stamp is taken as little-endian; any other stamp is decided by which byte order
///   gives a known mode and positive sizes.
/// - The extended header (NSYMBT bytes) is skipped. The 'MAP ' tag is not required (pre-2014
///   files lack it).
/// - Voxel size = CELLA.x / MX (NX when MX is 0); a zero cell (unset) reads as 1 Å. Maps must
///   have cubic voxels (x, y and z spacing equal to 0.1 %), images square pixels; otherwise an
///   error says so.
/// - A map whose MAPC/MAPR/MAPS is a permutation other than 1,2,3 is reordered to x fastest;
///   stacks must use the standard order.
/// - The whole data block must be present and the file must end with it (extra bytes are an
///   error, as they mean the header's sizes are wrong).
///
/// Writing: mode 2, little-endian, NVERSION 20141, MAPC/R/S 1,2,3, cell angles 90°, DMIN, DMAX,
/// DMEAN and RMS (standard deviation) of the data, stamp 0x44 0x44 0 0, one label
/// ("pairpose <version>: <label>"). A map gets ISPG 1 and MX,MY,MZ = NX,NY,NZ, cell = n · voxel;
/// a stack gets ISPG 0, NZ = number of images, MZ = 1 and cell z = one pixel (the convention of
/// mrcfile and RELION, so that cell / M gives the pixel size on every axis). Files pass
/// mrcfile's validate().
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>

#include "pairpose/core/array.hpp"

namespace pairpose::io {

/// The header fields pairpose uses, as stored in the file: nx, ny, nz are the numbers of columns,
/// rows and sections (equal to the x, y, z sizes when MAPC/MAPR/MAPS = 1,2,3).
struct MrcHeader {
  std::int64_t nx = 0, ny = 0, nz = 0;
  int mode = 2;
  double cell_x = 0, cell_y = 0, cell_z = 0; ///< Å
  std::array<double, 3> origin{0, 0, 0};     ///< Å
  int ispg = 0;
  int mapc = 1, mapr = 2, maps = 3;
  std::int64_t extended_header_bytes = 0;
  bool big_endian = false;
  std::int64_t mx = 0, my = 0, mz = 0; ///< sampling along x, y, z (0 when unset)
  double voxel_size() const {
    const std::int64_t m = mx > 0 ? mx : nx;
    return m > 0 && cell_x > 0 ? cell_x / m : 1.0;
  }
  /// Bytes per value of the mode (1, 2 or 4).
  int bytes_per_value() const;
  /// Offset of the first data byte: 1024 + extended header.
  std::int64_t data_offset() const { return 1024 + extended_header_bytes; }
};

/// Reads and checks only the header (sizes, mode, axis order, file length).
MrcHeader read_mrc_header(const std::string& path);
/// A 3D map (ISPG 1..230, or 0 with nz > 1, or a volume stack holding one volume). Values as
/// float32, x fastest.
Volume read_mrc_volume(const std::string& path);
/// Every section as an image stack (nz images of ny × nx).
ImageStack read_mrc_stack(const std::string& path);
/// Images [first, first + count) of a stack, reading only those bytes.
ImageStack read_mrc_images(const std::string& path, std::int64_t first, std::int64_t count);

/// An image stack kept open for many reads (e.g. the runs of images a STAR file points to): the
/// header is read and checked once. Each read checks its values for NaN/Inf. Not thread-safe;
/// one per thread or rank.
///
///     io::MrcStackReader stack("particles.mrcs");
///     ImageStack block = stack.read(first, count);
class MrcStackReader {
public:
  explicit MrcStackReader(const std::string& path);
  ~MrcStackReader();
  MrcStackReader(MrcStackReader&&) noexcept;
  MrcStackReader& operator=(MrcStackReader&&) noexcept;

  const std::string& path() const { return path_; }
  const MrcHeader& header() const { return header_; }
  std::int64_t n_images() const { return header_.nz; }
  std::int64_t nx() const { return header_.nx; }
  std::int64_t ny() const { return header_.ny; }
  double pixel_size() const { return pixel_size_; }
  /// Images [first, first + count) as a stack.
  ImageStack read(std::int64_t first, std::int64_t count);
  /// The same into `dst`, which holds count · ny · nx floats.
  void read_into(std::int64_t first, std::int64_t count, float* dst);

private:
  std::string path_;
  MrcHeader header_;
  double pixel_size_ = 1.0;
  std::unique_ptr<std::ifstream> in_;
};

/// Writes a map (ISPG 1) or a stack (ISPG 0, z = image index, MZ = 1, cell z = pixel size).
/// `label` goes into the first of the ten 80-character labels (truncated).
void write_mrc(const std::string& path, const Volume& volume, const std::string& label = "");
void write_mrc(const std::string& path, const ImageStack& stack, const std::string& label = "");

} // namespace pairpose::io
