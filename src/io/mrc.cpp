#include "pairpose/io/mrc.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "pairpose/core/error.hpp"
#include "pairpose/core/files.hpp"
#include "pairpose/core/memory.hpp"
#include "pairpose/version.hpp"

namespace pairpose::io {
namespace {

constexpr std::int64_t header_bytes = 1024;
constexpr bool host_little_endian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

bool supported_mode(int mode) { return mode == 0 || mode == 1 || mode == 2 || mode == 6; }

/// Reads 32-bit words of the raw header in a given byte order.
class RawHeader {
public:
  explicit RawHeader(const unsigned char* bytes) : b_(bytes) {}
  void set_big_endian(bool big) { big_ = big; }
  std::uint32_t word(int i) const {
    const unsigned char* p = b_ + 4 * i;
    return big_ ? (std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 |
                   std::uint32_t(p[2]) << 8 | std::uint32_t(p[3]))
                : (std::uint32_t(p[3]) << 24 | std::uint32_t(p[2]) << 16 |
                   std::uint32_t(p[1]) << 8 | std::uint32_t(p[0]));
  }
  std::int32_t integer(int i) const { return static_cast<std::int32_t>(word(i)); }
  float real(int i) const {
    const std::uint32_t w = word(i);
    float f;
    std::memcpy(&f, &w, 4);
    return f;
  }
  const unsigned char* bytes() const { return b_; }

private:
  const unsigned char* b_;
  bool big_ = false;
};

/// Byte order from the machine stamp (bytes 212–213); unknown stamps are decided by plausibility.
bool detect_big_endian(RawHeader& raw) {
  const unsigned char* st = raw.bytes() + 212;
  if (st[0] == 0x44 && (st[1] == 0x44 || st[1] == 0x41)) return false;
  if (st[0] == 0x11 && st[1] == 0x11) return true;
  if (st[0] == 0 && st[1] == 0 && st[2] == 0 && st[3] == 0) return false;
  for (bool big : {false, true}) {
    raw.set_big_endian(big);
    const int mode = raw.integer(3);
    if (raw.integer(0) > 0 && raw.integer(0) < (1 << 24) && mode >= 0 && mode <= 12) return big;
  }
  return false;
}

MrcHeader parse_header(const unsigned char* bytes, const std::string& path) {
  RawHeader raw(bytes);
  MrcHeader h;
  h.big_endian = detect_big_endian(raw);
  raw.set_big_endian(h.big_endian);
  h.nx = raw.integer(0);
  h.ny = raw.integer(1);
  h.nz = raw.integer(2);
  h.mode = raw.integer(3);
  h.mx = raw.integer(7);
  h.my = raw.integer(8);
  h.mz = raw.integer(9);
  h.cell_x = raw.real(10);
  h.cell_y = raw.real(11);
  h.cell_z = raw.real(12);
  h.mapc = raw.integer(16);
  h.mapr = raw.integer(17);
  h.maps = raw.integer(18);
  h.ispg = raw.integer(22);
  h.extended_header_bytes = raw.integer(23);
  h.origin = {raw.real(49), raw.real(50), raw.real(51)};

  PAIRPOSE_CHECK(h.nx > 0 && h.ny > 0 && h.nz > 0,
                 path << ": MRC header has non-positive dimensions NX, NY, NZ = " << h.nx << ", "
                      << h.ny << ", " << h.nz << " (" << (h.big_endian ? "big" : "little")
                      << "-endian)");
  PAIRPOSE_CHECK(supported_mode(h.mode),
                 path << ": MRC mode " << h.mode
                      << " is not supported (supported: 0 int8, 1 int16, 2 float32, 6 uint16)");
  int axes[3] = {h.mapc, h.mapr, h.maps};
  std::sort(axes, axes + 3);
  PAIRPOSE_CHECK(axes[0] == 1 && axes[1] == 2 && axes[2] == 3,
                 path << ": MAPC/MAPR/MAPS = " << h.mapc << "," << h.mapr << "," << h.maps
                      << " is not a permutation of 1,2,3");
  PAIRPOSE_CHECK(h.extended_header_bytes >= 0,
                 path << ": negative extended header size NSYMBT = " << h.extended_header_bytes);
  PAIRPOSE_CHECK(h.mx >= 0 && h.my >= 0 && h.mz >= 0, path << ": negative sampling MX, MY, MZ = "
                                                           << h.mx << ", " << h.my << ", " << h.mz);
  return h;
}

/// Number of samples along x, y, z (file columns/rows/sections mapped through MAPC/MAPR/MAPS).
std::array<std::int64_t, 3> xyz_sizes(const MrcHeader& h) {
  std::array<std::int64_t, 3> n{};
  n[h.mapc - 1] = h.nx;
  n[h.mapr - 1] = h.ny;
  n[h.maps - 1] = h.nz;
  return n;
}

double spacing(double cell, std::int64_t m, std::int64_t n) {
  const std::int64_t d = m > 0 ? m : n;
  return cell > 0 ? cell / d : 1.0;
}

bool close(double a, double b) { return std::abs(a - b) <= 1e-3 * std::max(a, b); }

std::ifstream open_input(const std::string& path) {
  PAIRPOSE_CHECK(file_exists(path), path << ": MRC file does not exist");
  std::ifstream in(path, std::ios::binary);
  PAIRPOSE_CHECK(in, path << ": cannot open for reading: " << std::strerror(errno));
  return in;
}

/// Converts `count` values of the header's mode and byte order to float.
void decode(const MrcHeader& h, const unsigned char* src, std::int64_t count, float* dst) {
  const bool swap = h.big_endian == host_little_endian;
  for (std::int64_t i = 0; i < count; ++i) {
    switch (h.mode) {
    case 0: dst[i] = static_cast<std::int8_t>(src[i]); break;
    case 1:
    case 6: {
      unsigned char b[2] = {src[2 * i], src[2 * i + 1]};
      if (swap) std::swap(b[0], b[1]);
      if (h.mode == 1) {
        std::int16_t v;
        std::memcpy(&v, b, 2);
        dst[i] = v;
      } else {
        std::uint16_t v;
        std::memcpy(&v, b, 2);
        dst[i] = v;
      }
      break;
    }
    default: {
      unsigned char b[4] = {src[4 * i], src[4 * i + 1], src[4 * i + 2], src[4 * i + 3]};
      if (swap) std::reverse(b, b + 4);
      std::memcpy(&dst[i], b, 4);
    }
    }
  }
}

/// Reads `count` values starting at value index `first` of the data block into `out`.
void read_values(std::istream& in, const std::string& path, const MrcHeader& h, std::int64_t first,
                 std::int64_t count, float* out) {
  const std::int64_t bpv = h.bytes_per_value();
  in.clear();
  in.seekg(h.data_offset() + first * bpv);
  const bool direct = h.mode == 2 && h.big_endian != host_little_endian;
  constexpr std::int64_t chunk = 1 << 20;
  std::vector<unsigned char> buffer(direct ? 0 : static_cast<size_t>(std::min(count, chunk) * bpv));
  for (std::int64_t done = 0; done < count; done += chunk) {
    const std::int64_t n = std::min(chunk, count - done);
    char* target =
        direct ? reinterpret_cast<char*>(out + done) : reinterpret_cast<char*>(buffer.data());
    in.read(target, n * bpv);
    PAIRPOSE_CHECK(in.gcount() == n * bpv, path << ": MRC data truncated while reading value "
                                                << first + done + in.gcount() / bpv);
    if (!direct) decode(h, buffer.data(), n, out + done);
  }
}

void check_finite(const std::string& path, const float* v, std::int64_t n, std::int64_t offset) {
  std::int64_t n_bad = 0, first_bad = -1;
  for (std::int64_t i = 0; i < n; ++i)
    if (!std::isfinite(v[i])) {
      if (n_bad++ == 0) first_bad = i + offset;
    }
  PAIRPOSE_CHECK(n_bad == 0, path << ": " << n_bad
                                  << " NaN or infinite values in the MRC data, the first at "
                                     "value index "
                                  << first_bad);
}

/// Reorders data stored as (sections, rows, columns) into x fastest.
std::vector<float> to_xyz(const MrcHeader& h, const std::vector<float>& in) {
  if (h.mapc == 1 && h.mapr == 2 && h.maps == 3) return in;
  const auto n = xyz_sizes(h);
  std::vector<float> out(in.size());
  std::int64_t idx[3];
  size_t k = 0;
  for (std::int64_t s = 0; s < h.nz; ++s)
    for (std::int64_t r = 0; r < h.ny; ++r)
      for (std::int64_t c = 0; c < h.nx; ++c, ++k) {
        idx[h.mapc - 1] = c;
        idx[h.mapr - 1] = r;
        idx[h.maps - 1] = s;
        out[static_cast<size_t>((idx[2] * n[1] + idx[1]) * n[0] + idx[0])] = in[k];
      }
  return out;
}

void require_standard_axes(const std::string& path, const MrcHeader& h) {
  PAIRPOSE_CHECK(h.mapc == 1 && h.mapr == 2 && h.maps == 3,
                 path << ": an image stack must have MAPC/MAPR/MAPS = 1,2,3, found " << h.mapc
                      << "," << h.mapr << "," << h.maps);
}

double stack_pixel_size(const std::string& path, const MrcHeader& h) {
  const double px = spacing(h.cell_x, h.mx, h.nx), py = spacing(h.cell_y, h.my, h.ny);
  PAIRPOSE_CHECK(close(px, py), path << ": pixels are not square (" << px << " × " << py
                                     << " Å from the cell and MX, MY)");
  return px;
}

// --- writing --------------------------------------------------------------------------------

void put_word(std::vector<unsigned char>& b, int i, std::uint32_t w) {
  for (int k = 0; k < 4; ++k)
    b[4 * i + k] = static_cast<unsigned char>(w >> (8 * k));
}
void put_int(std::vector<unsigned char>& b, int i, std::int64_t v) {
  put_word(b, i, static_cast<std::uint32_t>(static_cast<std::int32_t>(v)));
}
void put_real(std::vector<unsigned char>& b, int i, double v) {
  const float f = static_cast<float>(v);
  std::uint32_t w;
  std::memcpy(&w, &f, 4);
  put_word(b, i, w);
}

struct Layout {
  std::int64_t nx, ny, nz, mz;
  double cell_x, cell_y, cell_z;
  std::array<double, 3> origin;
  int ispg;
};

/// Running min, max, mean and standard deviation (sums shifted by the first value for accuracy)
/// plus the count and first index of non-finite values.
struct Stats {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo, shift = 0, s1 = 0, s2 = 0;
  std::int64_t n = 0, n_bad = 0, first_bad = -1;
  void add(const float* v, std::int64_t count) {
    for (std::int64_t i = 0; i < count; ++i, ++n) {
      if (!std::isfinite(v[i])) {
        if (n_bad++ == 0) first_bad = n;
        continue;
      }
      if (n == 0) shift = v[i];
      lo = std::min(lo, double(v[i]));
      hi = std::max(hi, double(v[i]));
      const double d = v[i] - shift;
      s1 += d;
      s2 += d * d;
    }
  }
  double mean() const { return shift + s1 / double(n); }
  double rms() const { return std::sqrt(std::max(0.0, s2 / double(n) - (s1 / n) * (s1 / n))); }
};

std::vector<unsigned char> make_header(const Layout& L, const Stats& st, const std::string& label) {
  std::vector<unsigned char> b(header_bytes, 0);
  const std::int64_t ints[] = {L.nx, L.ny, L.nz, 2, 0, 0, 0, L.nx, L.ny, L.mz};
  for (int i = 0; i < 10; ++i)
    put_int(b, i, ints[i]);
  const double reals[] = {L.cell_x, L.cell_y, L.cell_z, 90, 90, 90};
  for (int i = 0; i < 6; ++i)
    put_real(b, 10 + i, reals[i]);
  put_int(b, 16, 1);
  put_int(b, 17, 2);
  put_int(b, 18, 3);
  put_real(b, 19, st.lo);
  put_real(b, 20, st.hi);
  put_real(b, 21, st.mean());
  put_int(b, 22, L.ispg);
  put_int(b, 27, 20141); // NVERSION
  for (int i = 0; i < 3; ++i)
    put_real(b, 49 + i, L.origin[i]);
  std::memcpy(b.data() + 208, "MAP ", 4);
  b[212] = b[213] = 0x44;
  put_real(b, 54, st.rms());
  put_int(b, 55, 1);
  std::string text = std::string("pairpose ") + version_string;
  if (!label.empty()) text += ": " + label;
  for (char& c : text)
    if (static_cast<unsigned char>(c) < 32 || static_cast<unsigned char>(c) > 126) c = ' ';
  std::memcpy(b.data() + 224, text.data(), std::min<size_t>(80, text.size()));
  return b;
}

/// Little-endian float32 bytes of `count` values.
void encode(const float* v, std::int64_t count, std::vector<unsigned char>& out) {
  out.resize(static_cast<size_t>(count) * 4);
  if (host_little_endian) {
    std::memcpy(out.data(), v, out.size());
    return;
  }
  for (std::int64_t i = 0; i < count; ++i) {
    std::uint32_t w;
    std::memcpy(&w, &v[i], 4);
    for (int k = 0; k < 4; ++k)
      out[4 * i + k] = static_cast<unsigned char>(w >> (8 * k));
  }
}

/// Streams the data to the temporary file in chunks (collecting statistics), then writes the
/// header; non-finite values abort the write after the scan (the temporary is removed).
void write_file(const std::string& path, const Layout& L, const std::vector<float>& data,
                const std::string& label) {
  PAIRPOSE_CHECK(L.nx > 0 && L.ny > 0 && L.nz > 0,
                 path << ": cannot write an MRC file with dimensions " << L.nx << " × " << L.ny
                      << " × " << L.nz);
  constexpr std::int64_t max_dim = std::numeric_limits<std::int32_t>::max();
  PAIRPOSE_CHECK(L.nx <= max_dim && L.ny <= max_dim && L.nz <= max_dim,
                 path << ": dimensions too large for an MRC header");
  const std::int64_t n = L.nx * L.ny * L.nz;
  PAIRPOSE_CHECK(static_cast<std::int64_t>(data.size()) == n,
                 path << ": data holds " << data.size() << " values, dimensions say " << n);
  OutputFile out(path);
  std::ofstream f(out.temporary(), std::ios::binary);
  PAIRPOSE_CHECK(f, out.temporary() << ": cannot open for writing: " << std::strerror(errno));
  f.seekp(header_bytes);
  Stats st;
  std::vector<unsigned char> bytes;
  constexpr std::int64_t chunk = 1 << 20;
  for (std::int64_t done = 0; done < n; done += chunk) {
    const std::int64_t m = std::min(chunk, n - done);
    st.add(data.data() + done, m);
    encode(data.data() + done, m, bytes);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(m * 4));
  }
  PAIRPOSE_CHECK(st.n_bad == 0, path << ": refusing to write " << st.n_bad
                                     << " NaN or infinite values, the first at value index "
                                     << st.first_bad);
  const auto header = make_header(L, st, label);
  f.seekp(0);
  f.write(reinterpret_cast<const char*>(header.data()), header_bytes);
  f.close();
  PAIRPOSE_CHECK(!f.fail(), out.temporary() << ": write failed: " << std::strerror(errno));
  out.commit();
}

} // namespace

int MrcHeader::bytes_per_value() const {
  switch (mode) {
  case 0: return 1;
  case 1:
  case 6: return 2;
  case 2: return 4;
  default: throw Error("MRC mode " + std::to_string(mode) + " is not supported");
  }
}

MrcHeader read_mrc_header(const std::string& path) {
  std::ifstream in = open_input(path);
  unsigned char bytes[header_bytes];
  in.read(reinterpret_cast<char*>(bytes), header_bytes);
  PAIRPOSE_CHECK(in.gcount() == header_bytes,
                 path << ": truncated MRC header (" << in.gcount() << " bytes, expected 1024)");
  MrcHeader h = parse_header(bytes, path);
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  PAIRPOSE_CHECK(!error, path << ": cannot read the file size: " << error.message());
  const auto file_bytes = static_cast<std::int64_t>(size);
  // Sizes up to 2^31 - 1 each: the product may overflow 64 bits (then no file can hold it).
  const std::int64_t data_bytes = memory::checked_product({h.nx, h.ny, h.nz, h.bytes_per_value()});
  PAIRPOSE_CHECK(data_bytes >= 0 && data_bytes <= file_bytes,
                 path << ": MRC data truncated: the header (" << h.nx << " × " << h.ny << " × "
                      << h.nz << ", mode " << h.mode << ") needs more bytes than the file has ("
                      << file_bytes << ")");
  const std::int64_t expected = h.data_offset() + data_bytes;
  PAIRPOSE_CHECK(file_bytes >= expected, path << ": MRC data truncated: the header (" << h.nx
                                              << " × " << h.ny << " × " << h.nz << ", mode "
                                              << h.mode << ", extended header "
                                              << h.extended_header_bytes << " bytes) needs "
                                              << expected << " bytes, the file has " << file_bytes);
  PAIRPOSE_CHECK(file_bytes == expected,
                 path << ": MRC sizes disagree with the file length: the header (" << h.nx << " × "
                      << h.ny << " × " << h.nz << ", mode " << h.mode << ", extended header "
                      << h.extended_header_bytes << " bytes) needs " << expected
                      << " bytes, the file has " << file_bytes);
  return h;
}

Volume read_mrc_volume(const std::string& path) {
  const MrcHeader h = read_mrc_header(path);
  const bool one_volume_stack = h.ispg >= 401 && h.ispg <= 630 && (h.mz == 0 || h.mz == h.nz);
  PAIRPOSE_CHECK((h.ispg >= 1 && h.ispg <= 230) || (h.ispg == 0 && h.nz > 1) || one_volume_stack,
                 path << ": not a 3D map (ISPG " << h.ispg << ", NZ " << h.nz << ", MZ " << h.mz
                      << "); read it as an image stack");
  const auto n = xyz_sizes(h);
  const double sx = spacing(h.cell_x, h.mx, n[0]), sy = spacing(h.cell_y, h.my, n[1]),
               sz = spacing(h.cell_z, h.mz, n[2]);
  PAIRPOSE_CHECK(close(sx, sy) && close(sx, sz), path << ": voxels are not cubic (" << sx << " × "
                                                      << sy << " × " << sz
                                                      << " Å from the cell and MX, MY, MZ)");
  const bool permuted = !(h.mapc == 1 && h.mapr == 2 && h.maps == 3);
  memory::require(h.nx * h.ny * h.nz * 4 * (permuted ? 2 : 1), path + ": reading the map");
  std::vector<float> values(static_cast<size_t>(h.nx * h.ny * h.nz));
  std::ifstream in = open_input(path);
  read_values(in, path, h, 0, h.nx * h.ny * h.nz, values.data());
  check_finite(path, values.data(), h.nx * h.ny * h.nz, 0);
  Volume v;
  v.nx = n[0];
  v.ny = n[1];
  v.nz = n[2];
  v.voxel_size = sx;
  v.origin = h.origin;
  v.data = to_xyz(h, values);
  return v;
}

ImageStack read_mrc_stack(const std::string& path) {
  const MrcHeader h = read_mrc_header(path);
  return read_mrc_images(path, 0, h.nz);
}

ImageStack read_mrc_images(const std::string& path, std::int64_t first, std::int64_t count) {
  return MrcStackReader(path).read(first, count);
}

MrcStackReader::MrcStackReader(const std::string& path)
    : path_(path), header_(read_mrc_header(path)) {
  require_standard_axes(path, header_);
  pixel_size_ = stack_pixel_size(path, header_);
  in_ = std::make_unique<std::ifstream>(open_input(path));
}

MrcStackReader::~MrcStackReader() = default;
MrcStackReader::MrcStackReader(MrcStackReader&&) noexcept = default;
MrcStackReader& MrcStackReader::operator=(MrcStackReader&&) noexcept = default;

ImageStack MrcStackReader::read(std::int64_t first, std::int64_t count) {
  PAIRPOSE_CHECK(count >= 0, path_ << ": negative image count " << count);
  PAIRPOSE_CHECK(first >= 0 && first + count <= header_.nz,
                 path_ << ": images [" << first << ", " << first + count
                       << ") requested, the stack holds " << header_.nz);
  memory::require(memory::checked_product({count, header_.ny, header_.nx, 4}),
                  path_ + ": reading " + std::to_string(count) + " images");
  ImageStack s(count, header_.ny, header_.nx, pixel_size_);
  read_into(first, count, s.data.data());
  return s;
}

void MrcStackReader::read_into(std::int64_t first, std::int64_t count, float* dst) {
  const MrcHeader& h = header_;
  PAIRPOSE_CHECK(first >= 0 && count >= 0 && first + count <= h.nz,
                 path_ << ": images [" << first << ", " << first + count
                       << ") requested, the stack holds " << h.nz);
  const std::int64_t per_image = h.nx * h.ny;
  read_values(*in_, path_, h, first * per_image, count * per_image, dst);
  check_finite(path_, dst, count * per_image, first * per_image);
}

void write_mrc(const std::string& path, const Volume& volume, const std::string& label) {
  const double a = volume.voxel_size;
  PAIRPOSE_CHECK(a > 0, path << ": voxel size must be positive, got " << a);
  const Layout L{volume.nx,     volume.ny,     volume.nz,     volume.nz, volume.nx * a,
                 volume.ny * a, volume.nz * a, volume.origin, 1};
  write_file(path, L, volume.data, label);
}

void write_mrc(const std::string& path, const ImageStack& stack, const std::string& label) {
  const double a = stack.pixel_size;
  PAIRPOSE_CHECK(a > 0, path << ": pixel size must be positive, got " << a);
  const Layout L{stack.nx, stack.ny, stack.n, 1, stack.nx * a, stack.ny * a, a, {0, 0, 0}, 0};
  write_file(path, L, stack.data, label);
}

} // namespace pairpose::io
