#define BOOST_TEST_MODULE io_mrc
#include "pairpose_test.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>

#include "pairpose/core/error.hpp"
#include "pairpose/io/mrc.hpp"

using namespace pairpose;
using namespace pairpose::io;
namespace fs = std::filesystem;

namespace {

const char* python = "/usr/bin/python3";

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

/// Runs a Python script with Debian's python3; returns (exit status, stdout + stderr).
std::pair<int, std::string> run_python(const std::string& folder, const std::string& script) {
  const std::string script_path = folder + "/script.py", out_path = folder + "/script.out";
  std::ofstream(script_path) << script;
  const std::string cmd = std::string(python) + " " + script_path + " > " + out_path + " 2>&1";
  const int status = std::system(cmd.c_str());
  std::ifstream in(out_path);
  std::stringstream ss;
  ss << in.rdbuf();
  return {status, ss.str()};
}

/// Precondition: Debian's python3 with mrcfile and numpy.
struct needs_mrcfile {
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
    const std::string cmd = std::string(python) + " -c 'import mrcfile, numpy' > /dev/null 2>&1";
    boost::test_tools::assertion_result r(fs::exists(python) && std::system(cmd.c_str()) == 0);
    if (!r) r.message() << "skipped: " << python << " with mrcfile and numpy is not available";
    return r;
  }
};

std::vector<float> read_raw_floats(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<float> v;
  float x;
  while (in.read(reinterpret_cast<char*>(&x), 4))
    v.push_back(x);
  return v;
}

/// A little-endian MRC header with the given fields (everything else standard).
std::vector<unsigned char> raw_header(std::int32_t nx, std::int32_t ny, std::int32_t nz,
                                      std::int32_t mode) {
  std::vector<unsigned char> b(1024, 0);
  auto put = [&](int word, std::int32_t v) { std::memcpy(b.data() + 4 * word, &v, 4); };
  auto putf = [&](int word, float v) { std::memcpy(b.data() + 4 * word, &v, 4); };
  put(0, nx), put(1, ny), put(2, nz), put(3, mode);
  put(7, nx), put(8, ny), put(9, nz);
  putf(10, float(nx)), putf(11, float(ny)), putf(12, float(nz));
  put(16, 1), put(17, 2), put(18, 3), put(22, 1);
  std::memcpy(b.data() + 208, "MAP ", 4);
  b[212] = b[213] = 0x44;
  return b;
}

void write_bytes(const std::string& path, const std::vector<unsigned char>& header,
                 std::int64_t n_data_bytes, const std::vector<float>& floats = {}) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(header.data()), std::streamsize(header.size()));
  if (!floats.empty())
    out.write(reinterpret_cast<const char*>(floats.data()), std::streamsize(4 * floats.size()));
  else
    out << std::string(static_cast<size_t>(n_data_bytes), '\0');
}

Volume test_volume() {
  Volume v(7, 5, 4, 1.5);
  v.origin = {1.25, -2.5, 3.0};
  for (std::int64_t i = 0; i < v.size(); ++i)
    v.data[i] = std::sin(0.37f * i) * 3.0f + 0.5f;
  return v;
}

} // namespace

BOOST_AUTO_TEST_CASE(volume_and_stack_round_trip) {
  const auto dir = testing::scratch_folder("mrc_round_trip");
  const Volume v = test_volume();
  write_mrc(dir + "/v.mrc", v, "round trip");
  const MrcHeader h = read_mrc_header(dir + "/v.mrc");
  BOOST_TEST(h.nx == 7);
  BOOST_TEST(h.nz == 4);
  BOOST_TEST(h.ispg == 1);
  BOOST_TEST(h.mode == 2);
  BOOST_TEST(!h.big_endian);
  BOOST_TEST(h.cell_x == 7 * 1.5);
  const Volume r = read_mrc_volume(dir + "/v.mrc");
  BOOST_TEST(r.nx == 7);
  BOOST_TEST(r.ny == 5);
  BOOST_TEST(r.nz == 4);
  BOOST_TEST(r.voxel_size == 1.5);
  BOOST_TEST(r.origin[1] == -2.5);
  BOOST_TEST(r.data == v.data, boost::test_tools::per_element());

  ImageStack s(5, 6, 8, 2.25);
  for (std::int64_t i = 0; i < std::int64_t(s.data.size()); ++i)
    s.data[i] = float(i % 17) - 3;
  write_mrc(dir + "/s.mrcs", s);
  const MrcHeader hs = read_mrc_header(dir + "/s.mrcs");
  BOOST_TEST(hs.ispg == 0);
  BOOST_TEST(hs.mz == 1);
  BOOST_TEST(hs.cell_z == 2.25);
  const ImageStack all = read_mrc_stack(dir + "/s.mrcs");
  BOOST_TEST(all.n == 5);
  BOOST_TEST(all.pixel_size == 2.25);
  BOOST_TEST(all.data == s.data, boost::test_tools::per_element());
  const ImageStack part = read_mrc_images(dir + "/s.mrcs", 2, 2);
  BOOST_TEST(part.n == 2);
  const std::vector<float> expected(s.image(2), s.image(4));
  BOOST_TEST(part.data == expected, boost::test_tools::per_element());
  // An open reader: reads in any order, repeated, into a caller's buffer.
  MrcStackReader reader(dir + "/s.mrcs");
  BOOST_TEST(reader.n_images() == 5);
  BOOST_TEST(reader.pixel_size() == 2.25);
  const ImageStack last = reader.read(4, 1);
  BOOST_TEST(std::vector<float>(last.image(0), last.image(1)) ==
                 std::vector<float>(s.image(4), s.image(5)),
             boost::test_tools::per_element());
  std::vector<float> buffer(2 * 48);
  reader.read_into(0, 2, buffer.data());
  BOOST_TEST(buffer == std::vector<float>(s.image(0), s.image(2)),
             boost::test_tools::per_element());
  BOOST_TEST(reader.read(2, 2).data == expected, boost::test_tools::per_element());
  BOOST_TEST(reader.read(5, 0).n == 0);
  BOOST_CHECK_THROW(reader.read(4, 2), Error);
  // A stack with one image per section is not a map.
  const auto m = message_of([&] {
    ImageStack one(1, 4, 4, 1.0);
    write_mrc(dir + "/one.mrcs", one);
    read_mrc_volume(dir + "/one.mrcs");
  });
  BOOST_TEST(contains(m, "not a 3D map"), m);
}

BOOST_AUTO_TEST_CASE(pairpose_writes_mrcfile_reads,
                     *boost::unit_test::precondition(needs_mrcfile{})) {
  const auto dir = testing::scratch_folder("mrc_to_python");
  const Volume v = test_volume();
  write_mrc(dir + "/v.mrc", v, "written by the test");
  ImageStack s(3, 4, 6, 0.8);
  for (size_t i = 0; i < s.data.size(); ++i)
    s.data[i] = float(i) * 0.5f - 2.0f;
  write_mrc(dir + "/s.mrcs", s, "stack");
  const auto [status, out] = run_python(dir, R"(
import mrcfile, io, sys
for name in ['v.mrc', 's.mrcs']:
    path = sys.argv[0].rsplit('/', 1)[0] + '/' + name
    log = io.StringIO()
    valid = mrcfile.validate(path, print_file=log)
    with mrcfile.open(path, permissive=False) as m:
        vs = m.voxel_size
        print(name, 'shape', *m.data.shape, 'mode', int(m.header.mode), 'ispg', int(m.header.ispg),
              'stack', int(m.is_image_stack()), 'volume', int(m.is_volume()),
              'voxel %.6f %.6f %.6f' % (vs.x, vs.y, vs.z),
              'origin %.4f %.4f %.4f' % (m.header.origin.x, m.header.origin.y, m.header.origin.z),
              'valid', int(valid), log.getvalue().replace('\n', ' | '))
        m.data.astype('<f4').tofile(path + '.raw')
)");
  BOOST_TEST_REQUIRE(status == 0, out);
  BOOST_TEST(contains(out, "v.mrc shape 4 5 7 mode 2 ispg 1 stack 0 volume 1 "
                           "voxel 1.500000 1.500000 1.500000 origin 1.2500 -2.5000 3.0000 valid 1"),
             out);
  BOOST_TEST(contains(out, "s.mrcs shape 3 4 6 mode 2 ispg 0 stack 1 volume 0 "
                           "voxel 0.800000 0.800000 0.800000 origin 0.0000 0.0000 0.0000 valid 1"),
             out);
  BOOST_TEST(read_raw_floats(dir + "/v.mrc.raw") == v.data, boost::test_tools::per_element());
  BOOST_TEST(read_raw_floats(dir + "/s.mrcs.raw") == s.data, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(mrcfile_writes_pairpose_reads,
                     *boost::unit_test::precondition(needs_mrcfile{})) {
  const auto dir = testing::scratch_folder("mrc_from_python");
  // value(x, y, z) = x + 10 y + 50 z - 60 fits every mode except uint16 (offset by 60 there).
  const auto [status, out] = run_python(dir, R"(
import mrcfile, numpy as np, sys
d = sys.argv[0].rsplit('/', 1)[0]
z, y, x = np.meshgrid(np.arange(3), np.arange(4), np.arange(5), indexing='ij')
base = x + 10 * y + 50 * z - 60
for mode, dt, off in [(0, 'i1', 0), (1, 'i2', 0), (2, 'f4', 0), (6, 'u2', 60)]:
    for order in '<>':
        with mrcfile.new('%s/m%d%s.mrc' % (d, mode, 'be' if order == '>' else 'le')) as m:
            m.set_data((base + off).astype(order + dt))
            m.voxel_size = 2.5
            m.header.origin = (10.0, 20.0, -30.0)
# Permuted axes: columns are z, rows y, sections x; data[s, r, c] = c + 10 r + 100 s.
s, r, c = np.meshgrid(np.arange(2), np.arange(3), np.arange(4), indexing='ij')
with mrcfile.new(d + '/perm.mrc') as m:
    m.set_data((c + 10 * r + 100 * s).astype('f4'))
    m.header.mapc, m.header.mapr, m.header.maps = 3, 2, 1
    m.header.mx, m.header.my, m.header.mz = 2, 3, 4
    m.header.cella = (3.0, 4.5, 6.0)
# Extended header of 160 bytes.
with mrcfile.new(d + '/ext.mrc') as m:
    m.set_data(base.astype('f4'))
    m.set_extended_header(np.arange(40, dtype='i4'))
    m.header.exttyp = b'MRCO'
# Image stack.
with mrcfile.new(d + '/stack.mrcs') as m:
    m.set_data(base.astype('f4'))
    m.set_image_stack()
    m.voxel_size = 1.75
# int8 has no byte order in numpy: turn the little-endian file into a big-endian one by hand.
from mrcfile.dtypes import HEADER_DTYPE
raw = open(d + '/m0le.mrc', 'rb').read()
h = np.frombuffer(raw[:1024], dtype=HEADER_DTYPE).astype(HEADER_DTYPE.newbyteorder('>'))
h['machst'] = [0x11, 0x11, 0, 0]
open(d + '/m0be.mrc', 'wb').write(h.tobytes() + raw[1024:])
print('ok')
)");
  BOOST_TEST_REQUIRE(status == 0, out);
  for (int mode : {0, 1, 2, 6})
    for (const char* order : {"le", "be"}) {
      const std::string path = dir + "/m" + std::to_string(mode) + order + ".mrc";
      BOOST_TEST_CONTEXT(path) {
        const MrcHeader h = read_mrc_header(path);
        BOOST_TEST(h.mode == mode);
        BOOST_TEST(h.big_endian == (std::string(order) == "be"));
        const Volume v = read_mrc_volume(path);
        BOOST_TEST(v.nx == 5);
        BOOST_TEST(v.ny == 4);
        BOOST_TEST(v.nz == 3);
        BOOST_TEST(v.voxel_size == 2.5);
        BOOST_TEST(v.origin[2] == -30.0);
        std::int64_t n_wrong = 0;
        for (int z = 0; z < 3; ++z)
          for (int y = 0; y < 4; ++y)
            for (int x = 0; x < 5; ++x)
              n_wrong += v.at(x, y, z) != float(x + 10 * y + 50 * z - 60 + (mode == 6 ? 60 : 0));
        BOOST_TEST(n_wrong == 0);
      }
    }
  const Volume p = read_mrc_volume(dir + "/perm.mrc");
  BOOST_TEST(p.nx == 2);
  BOOST_TEST(p.ny == 3);
  BOOST_TEST(p.nz == 4);
  BOOST_TEST(p.voxel_size == 1.5);
  BOOST_TEST(p.at(1, 2, 3) == 3 + 10 * 2 + 100 * 1);
  BOOST_TEST(p.at(0, 1, 2) == 2 + 10 * 1);
  const Volume e = read_mrc_volume(dir + "/ext.mrc");
  BOOST_TEST(read_mrc_header(dir + "/ext.mrc").extended_header_bytes == 160);
  BOOST_TEST(e.at(4, 3, 2) == 4 + 30 + 100 - 60);
  BOOST_TEST(e.at(0, 0, 0) == -60);
  const ImageStack st = read_mrc_images(dir + "/stack.mrcs", 1, 2);
  BOOST_TEST(st.n == 2);
  BOOST_TEST(st.pixel_size == 1.75);
  BOOST_TEST(st.image(1)[4 + 5 * 3] == 4 + 30 + 100 - 60);
}

BOOST_AUTO_TEST_CASE(reads_5j0n,
                     *boost::unit_test::precondition(testing::needs_shared_data{"5j0n.mrc"})) {
  const std::string path = testing::shared_data("5j0n.mrc");
  const Volume v = read_mrc_volume(path);
  BOOST_TEST(v.nx == 75);
  BOOST_TEST(v.ny == 57);
  BOOST_TEST(v.nz == 69);
  BOOST_TEST(v.voxel_size == 275.0 / 75, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(v.origin[0] == 69.753, boost::test_tools::tolerance(1e-4));
  double sum = 0;
  for (float x : v.data)
    sum += x;
  BOOST_TEST(sum / v.size() == 0.011948, boost::test_tools::tolerance(1e-4));
  if (!needs_mrcfile{}(0)) return;
  const auto dir = testing::scratch_folder("mrc_5j0n");
  const auto [status, out] =
      run_python(dir, "import mrcfile, numpy as np\nwith mrcfile.open('" + path +
                          "') as m:\n    print('%.9f %.6f %.6f' % "
                          "(m.data.mean(dtype=np.float64), "
                          "m.voxel_size.x, m.header.origin.z))\n");
  BOOST_TEST_REQUIRE(status == 0, out);
  double mean = 0, voxel = 0, origin_z = 0;
  std::istringstream(out) >> mean >> voxel >> origin_z;
  BOOST_TEST(sum / v.size() == mean, boost::test_tools::tolerance(1e-7));
  BOOST_TEST(v.voxel_size == voxel, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(v.origin[2] == origin_z, boost::test_tools::tolerance(1e-5));
}

BOOST_AUTO_TEST_CASE(bad_files_name_the_file_and_the_problem) {
  const auto dir = testing::scratch_folder("mrc_bad");
  auto expect = [&](const std::string& path, const std::string& what) {
    const auto m = message_of([&] { read_mrc_volume(path); });
    BOOST_TEST(contains(m, path), "message does not name " << path << ": " << m);
    BOOST_TEST(contains(m, what), "expected '" << what << "' in: " << m);
  };
  expect(dir + "/missing.mrc", "does not exist");

  auto h = raw_header(4, 3, 2, 2);
  write_bytes(dir + "/short_header.mrc", std::vector<unsigned char>(h.begin(), h.begin() + 500), 0);
  expect(dir + "/short_header.mrc", "truncated MRC header (500 bytes");

  write_bytes(dir + "/mode12.mrc", raw_header(4, 3, 2, 12), 48);
  expect(dir + "/mode12.mrc", "mode 12 is not supported (supported: 0 int8, 1 int16, 2 float32");
  write_bytes(dir + "/mode3.mrc", raw_header(4, 3, 2, 3), 96);
  expect(dir + "/mode3.mrc", "mode 3 is not supported");

  write_bytes(dir + "/long.mrc", raw_header(4, 3, 2, 2), 4 * 24 + 8);
  expect(dir + "/long.mrc", "sizes disagree with the file length");
  write_bytes(dir + "/truncated.mrc", raw_header(4, 3, 2, 2), 4 * 24 - 4);
  expect(dir + "/truncated.mrc", "data truncated");
  expect(dir + "/truncated.mrc", "needs 1120 bytes, the file has 1116");

  std::vector<float> values(24, 1.0f);
  values[5] = std::nanf("");
  values[15] = INFINITY;
  write_bytes(dir + "/nan.mrc", raw_header(4, 3, 2, 2), 0, values);
  expect(dir + "/nan.mrc", "2 NaN or infinite values in the MRC data, the first at value index 5");
  const auto m = message_of([&] { read_mrc_images(dir + "/nan.mrc", 1, 1); });
  BOOST_TEST(contains(m, "1 NaN or infinite values in the MRC data, the first at value index 15"),
             m);

  write_bytes(dir + "/zero.mrc", raw_header(4, 0, 2, 2), 0);
  expect(dir + "/zero.mrc", "non-positive dimensions NX, NY, NZ = 4, 0, 2");
  write_bytes(dir + "/negative.mrc", raw_header(4, 3, -2, 2), 0);
  expect(dir + "/negative.mrc", "non-positive dimensions");

  h = raw_header(4, 3, 2, 2);
  h[16 * 4] = 2; // MAPC = 2 = MAPR
  write_bytes(dir + "/axes.mrc", h, 96);
  expect(dir + "/axes.mrc", "is not a permutation of 1,2,3");

  write_bytes(dir + "/ok.mrcs", raw_header(4, 3, 2, 2), 96);
  const auto r = message_of([&] { read_mrc_images(dir + "/ok.mrcs", 1, 2); });
  BOOST_TEST(contains(r, "images [1, 3) requested, the stack holds 2"), r);
}

BOOST_AUTO_TEST_CASE(byte_order_without_a_standard_stamp) {
  const auto dir = testing::scratch_folder("mrc_stamp");
  std::vector<float> values(24);
  for (int i = 0; i < 24; ++i)
    values[i] = 0.5f * i - 3;
  // A zero stamp is little-endian.
  auto h = raw_header(4, 3, 2, 2);
  h[212] = h[213] = 0;
  write_bytes(dir + "/zero.mrc", h, 0, values);
  BOOST_TEST(!read_mrc_header(dir + "/zero.mrc").big_endian);
  BOOST_TEST(read_mrc_volume(dir + "/zero.mrc").data == values, boost::test_tools::per_element());
  // An unknown stamp on a big-endian file: the byte order that gives a known mode wins.
  for (int w = 0; w < 56; ++w)
    std::reverse(h.begin() + 4 * w, h.begin() + 4 * w + 4);
  std::memcpy(h.data() + 208, "MAP ", 4);
  h[212] = 0x99, h[213] = 0x99, h[214] = h[215] = 0;
  std::vector<float> swapped = values;
  for (auto& v : swapped) {
    auto* b = reinterpret_cast<unsigned char*>(&v);
    std::reverse(b, b + 4);
  }
  write_bytes(dir + "/big.mrc", h, 0, swapped);
  BOOST_TEST(read_mrc_header(dir + "/big.mrc").big_endian);
  const Volume v = read_mrc_volume(dir + "/big.mrc");
  BOOST_TEST(v.nx == 4);
  BOOST_TEST(v.nz == 2);
  BOOST_TEST(v.data == values, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(failed_write_leaves_no_file) {
  const auto dir = testing::scratch_folder("mrc_failed_write");
  Volume v = test_volume();
  v.data[11] = std::nanf("");
  v.data[20] = -INFINITY;
  const std::string path = dir + "/v.mrc";
  auto m = message_of([&] { write_mrc(path, v); });
  BOOST_TEST(contains(m, path), m);
  BOOST_TEST(contains(m, "2 NaN or infinite values, the first at value index 11"), m);
  BOOST_TEST(!fs::exists(path));
  BOOST_TEST(!fs::exists(path + ".part"));
  // An existing file is left untouched by a failed write.
  const Volume good = test_volume();
  write_mrc(path, good);
  const auto size_before = fs::file_size(path);
  message_of([&] { write_mrc(path, v); });
  BOOST_TEST(fs::file_size(path) == size_before);
  BOOST_TEST(read_mrc_volume(path).data == good.data, boost::test_tools::per_element());
  // Dimensions that disagree with the data.
  Volume bad(3, 3, 3);
  bad.data.resize(26);
  m = message_of([&] { write_mrc(dir + "/bad.mrc", bad); });
  BOOST_TEST(contains(m, "data holds 26 values, dimensions say 27"), m);
  BOOST_TEST(!fs::exists(dir + "/bad.mrc"));
}
