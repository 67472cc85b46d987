// STAR files: the generic reader/writer and the particle level (RELION 3.1 and older forms).
#define BOOST_TEST_MODULE io_star
#include "pairpose_test.hpp"

#include <cmath>
#include <filesystem>

#include "pairpose/core/error.hpp"
#include "pairpose/core/files.hpp"
#include "pairpose/geometry/rotation.hpp"
#include "pairpose/io/mrc.hpp"
#include "pairpose/io/star.hpp"

using namespace pairpose;
namespace fs = std::filesystem;

namespace {

std::string normal(const std::string& p) { return fs::absolute(p).lexically_normal().string(); }

/// Runs `f`, expecting a pairpose::Error whose message contains every one of `parts`.
template <class F> void check_error(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    BOOST_ERROR("no error thrown");
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& p : parts)
      BOOST_CHECK_MESSAGE(msg.find(p) != std::string::npos,
                          "message '" << msg << "' lacks '" << p << "'");
  }
}

std::string write_sample(const std::string& folder, const std::string& name,
                         const std::string& text) {
  const std::string path = folder + "/" + name;
  write_file_atomic(path, text);
  return path;
}

// A RELION 3.1 file with two optics groups, comments, quotes and a key-value block.
const char* relion31_sample = R"(
# version 30001
data_general
_rlnNrClasses   1   # a comment
_rlnComment 'two words'

# version 30001

data_optics

loop_
_rlnOpticsGroup #1
_rlnOpticsGroupName #2
_rlnAmplitudeContrast #3
_rlnSphericalAberration #4
_rlnVoltage #5
_rlnImagePixelSize #6
_rlnImageSize #7
_rlnImageDimensionality #8
1 opticsGroup1 0.1 2.7 300 1.5 64 2
2 "group two" 0.07 2.0 200 1.5 64 2

data_particles

loop_
_rlnImageName #1
_rlnAngleRot #2
_rlnAngleTilt #3
_rlnAnglePsi #4
_rlnOriginXAngst #5
_rlnOriginYAngst #6
_rlnDefocusU #7
_rlnDefocusV #8
_rlnDefocusAngle #9
_rlnPhaseShift #10
_rlnOpticsGroup #11
000001@Extract/stack_a.mrcs 30 50 70 1.5 -2.25 15000 14000 33 0 1
000007@Extract/stack_a.mrcs -10 120 -170 0 0 12000 12500 -10 45 2
   3@/abs/b.mrcs   0.0 0.0 0.0 -3 4 10000 10000 0 0 2
)";

// The pre-3.1 single-table form: shifts in pixels, optics per particle.
const char* relion30_sample = R"(
data_

loop_
_rlnImageName #1
_rlnMicrographName #2
_rlnAngleRot #3
_rlnAngleTilt #4
_rlnAnglePsi #5
_rlnOriginX #6
_rlnOriginY #7
_rlnDefocusU #8
_rlnDefocusV #9
_rlnDefocusAngle #10
_rlnVoltage #11
_rlnSphericalAberration #12
_rlnAmplitudeContrast #13
_rlnCtfBfactor #14
_rlnDetectorPixelSize #15
_rlnMagnification #16
1@stacks/p.mrcs mic1.mrc 30 50 70 2 -1 15000 14000 33 300 2.7 0.1 50 5.0 25000
2@stacks/p.mrcs mic1.mrc 0 90 0 -0.5 0.25 15000 14000 33 300 2.7 0.1 0 5.0 25000
)";

} // namespace

BOOST_AUTO_TEST_CASE(generic_reader_blocks_quotes_comments) {
  const auto f = io::parse_star(relion31_sample, "mem.star");
  BOOST_TEST(f.tables.size() == 3u);
  const auto& general = f.require("general");
  BOOST_TEST(!general.is_loop());
  BOOST_TEST(general.value("rlnNrClasses") == "1");
  BOOST_TEST(general.value("rlnComment") == "two words");
  BOOST_TEST(general.line_of(0, general.require_column("rlnComment")) == 5);
  const auto& optics = f.require("optics");
  BOOST_TEST(optics.n_rows() == 2);
  BOOST_TEST(optics.n_columns() == 8);
  BOOST_TEST(optics.text(1, optics.require_column("rlnOpticsGroupName")) == "group two");
  BOOST_TEST(optics.real(1, optics.require_column("rlnVoltage")) == 200.0);
  BOOST_TEST(optics.integer(0, optics.require_column("rlnImageSize")) == 64);
  const auto& parts = f.require("particles");
  BOOST_TEST(parts.n_rows() == 3);
  BOOST_TEST(parts.line_of(2, 0) == 39);
  BOOST_TEST(parts.text(2, 0) == "3@/abs/b.mrcs");
  BOOST_TEST(f.find("model") == nullptr);
  check_error([&] { f.require("model"); }, {"mem.star", "data_model", "data_optics"});
}

BOOST_AUTO_TEST_CASE(generic_writer_round_trip_with_quoting) {
  io::StarTable kv("info", false);
  const std::string odd = "a value with spaces";
  kv.add_key("rlnText", odd);
  io::StarTable loop("things", true);
  loop.add_column("rlnName");
  loop.add_column("rlnValue");
  loop.add_row({"#hash", "1.5"});
  loop.add_row({"say \"hi\"", "-2e-3"});
  loop.add_row({"", "data_x"});
  const std::string text = io::format_star({kv, loop}, "pairpose test\n# already a comment");
  BOOST_TEST(text.rfind("# pairpose test\n# already a comment\n", 0) == 0u);
  const auto f = io::parse_star(text, "round.star");
  BOOST_TEST(f.require("info").value("rlnText") == odd);
  const auto& t = f.require("things");
  BOOST_TEST(t.n_rows() == 3);
  BOOST_TEST(t.text(0, 0) == "#hash");
  BOOST_TEST(t.text(1, 0) == "say \"hi\"");
  BOOST_TEST(t.real(1, 1) == -2e-3);
  BOOST_TEST(t.text(2, 0) == "");
  BOOST_TEST(t.text(2, 1) == "data_x");
  check_error([&] { loop.add_row({"only one"}); }, {"data_things", "1 values, expected 2"});
  check_error([&] { loop.add_key("rlnKey", "1"); }, {"_rlnKey", "loop block 'data_things'"});
  check_error([&] { kv.add_key("rlnText", "again"); }, {"duplicate label _rlnText"});
}

BOOST_AUTO_TEST_CASE(particles_round_trip) {
  const std::string dir = testing::scratch_folder("star_round_trip");
  io::ParticleStar in;
  in.pixel_size = 1.34;
  in.image_size = 96;
  const double angles[4][3] = {{30, 50, 70}, {-150, 10, 5}, {0, 180, 33}, {100, 90, -90}};
  for (int i = 0; i < 4; ++i) {
    Particle p;
    p.orientation = geometry::euler_to_quaternion(angles[i][0], angles[i][1], angles[i][2]);
    p.shift_x = 1.25 * i - 2;
    p.shift_y = -0.5 * i;
    p.has_ctf = true;
    p.ctf.defocus_u = 10000 + 1000 * i;
    p.ctf.defocus_v = 9000 + 500 * i;
    p.ctf.defocus_angle = 15 * i;
    p.ctf.voltage = 200;
    p.ctf.spherical_aberration = 2.0;
    p.ctf.amplitude_contrast = 0.07;
    p.ctf.bfactor = i == 2 ? 40 : 0;
    in.particles.push_back(p);
    in.images.push_back({dir + "/out/stacks/part_" + std::to_string(i % 2) + ".mrcs", i + 1});
  }
  in.extra.push_back({"rlnRandomSubset", {"1", "2", "1", "2"}});
  const std::string path = dir + "/out/particles.star";
  io::write_particles_star(path, in, "# pairpose test\nseed = 3");

  const std::string text = read_file(path);
  BOOST_TEST(text.rfind("# pairpose test\n# seed = 3\n", 0) == 0u);
  BOOST_TEST(text.find("000002@stacks/part_1.mrcs") != std::string::npos);
  BOOST_TEST(!file_exists(path + ".part"));

  const auto out = io::read_particles_star(path);
  BOOST_TEST(out.relion31);
  BOOST_TEST(out.has_angles);
  BOOST_TEST(out.pixel_size == 1.34);
  BOOST_TEST(out.image_size == 96);
  BOOST_REQUIRE(out.particles.size() == in.particles.size());
  for (std::size_t i = 0; i < in.particles.size(); ++i) {
    const Particle &a = in.particles[i], &b = out.particles[i];
    BOOST_TEST(geometry::distance(a.orientation, b.orientation) < 1e-6);
    BOOST_TEST(std::abs(a.shift_x - b.shift_x) < 1e-9);
    BOOST_TEST(std::abs(a.shift_y - b.shift_y) < 1e-9);
    BOOST_TEST(b.has_ctf);
    BOOST_TEST(a.ctf.defocus_u == b.ctf.defocus_u);
    BOOST_TEST(a.ctf.defocus_v == b.ctf.defocus_v);
    BOOST_TEST(a.ctf.defocus_angle == b.ctf.defocus_angle);
    BOOST_TEST(a.ctf.voltage == b.ctf.voltage);
    BOOST_TEST(a.ctf.spherical_aberration == b.ctf.spherical_aberration);
    BOOST_TEST(a.ctf.amplitude_contrast == b.ctf.amplitude_contrast);
    BOOST_TEST(a.ctf.bfactor == b.ctf.bfactor);
    BOOST_TEST(b.ctf.phase_shift == 0.0);
    BOOST_TEST(normal(in.images[i].stack) == normal(out.images[i].stack));
    BOOST_TEST(in.images[i].index == out.images[i].index);
    BOOST_TEST(out.optics_groups[i] == 1);
  }
  const auto generic = io::read_star(path);
  const auto& parts = generic.require("particles");
  BOOST_TEST(parts.text(3, parts.require_column("rlnRandomSubset")) == "2");
  BOOST_TEST(!parts.has_column("rlnPhaseShift"));
  BOOST_TEST(generic.require("optics").integer(0, 6) == 96);
}

BOOST_AUTO_TEST_CASE(particles_relion31_sample) {
  const std::string dir = testing::scratch_folder("star_relion31");
  const auto path = write_sample(dir + "/job", "p.star", relion31_sample);
  const auto s = io::read_particles_star(path);
  BOOST_TEST(s.relion31);
  BOOST_REQUIRE(s.particles.size() == 3u);
  BOOST_TEST(s.pixel_size == 1.5);
  BOOST_TEST(s.image_size == 64);
  // (30, 50, 70) is method.md's test vector.
  const geometry::Quat q{0.5826, -0.1445, -0.3971, -0.6943};
  BOOST_TEST(geometry::distance(s.particles[0].orientation, geometry::normalized(q)) < 1e-3);
  BOOST_TEST(s.particles[0].shift_x == 1.5);
  BOOST_TEST(s.particles[0].shift_y == -2.25);
  BOOST_TEST(s.particles[2].shift_x == -3.0);
  BOOST_TEST(normal(s.images[0].stack) == normal(dir + "/job/Extract/stack_a.mrcs"));
  BOOST_TEST(s.images[1].index == 7);
  BOOST_TEST(s.images[2].stack == "/abs/b.mrcs");
  BOOST_TEST(s.images[2].index == 3);
  BOOST_TEST(s.optics_groups[1] == 2);
  // Optics values joined by group; per-particle phase shift.
  BOOST_TEST(s.particles[0].ctf.voltage == 300.0);
  BOOST_TEST(s.particles[1].ctf.voltage == 200.0);
  BOOST_TEST(s.particles[1].ctf.spherical_aberration == 2.0);
  BOOST_TEST(s.particles[1].ctf.amplitude_contrast == 0.07);
  BOOST_TEST(s.particles[1].ctf.phase_shift == 45.0);
  BOOST_TEST(s.particles[1].ctf.defocus_v == 12500.0);
  BOOST_TEST(s.particles[1].ctf.defocus_angle == -10.0);
  BOOST_TEST(s.particles[0].ctf.bfactor == 0.0);
  // A RELION project folder as image root.
  io::ParticleStarOptions opt;
  opt.image_root = "/project";
  BOOST_TEST(io::read_particles_star(path, opt).images[0].stack == "/project/Extract/stack_a.mrcs");
}

BOOST_AUTO_TEST_CASE(particles_pre31_sample) {
  const std::string dir = testing::scratch_folder("star_relion30");
  const auto path = write_sample(dir, "old.star", relion30_sample);
  const auto s = io::read_particles_star(path);
  BOOST_TEST(!s.relion31);
  BOOST_REQUIRE(s.particles.size() == 2u);
  BOOST_TEST(std::abs(s.pixel_size - 2.0) < 1e-12); // 5 µm / 25000
  BOOST_TEST(s.image_size == 0);                    // no rlnImageSize and no stack on disk
  BOOST_TEST(std::abs(s.particles[0].shift_x - 4.0) < 1e-12);
  BOOST_TEST(std::abs(s.particles[0].shift_y + 2.0) < 1e-12);
  BOOST_TEST(std::abs(s.particles[1].shift_y - 0.5) < 1e-12);
  BOOST_TEST(s.particles[0].ctf.bfactor == 50.0);
  BOOST_TEST(s.particles[1].ctf.voltage == 300.0);
  BOOST_TEST(s.images[1].index == 2);
  BOOST_TEST(normal(s.images[1].stack) == normal(dir + "/stacks/p.mrcs"));
  BOOST_TEST(s.optics_groups[0] == 1);
  const auto e = geometry::quaternion_to_euler(s.particles[1].orientation);
  BOOST_TEST(std::abs(e[1] - 90.0) < 1e-9);

  // data_images with an explicit pixel size and no CTF or shift columns.
  const auto images = write_sample(dir, "images.star",
                                   "data_images\nloop_\n_rlnImageName\n_rlnAngleRot\n"
                                   "_rlnAngleTilt\n_rlnAnglePsi\n1@x.mrcs 0 0 0\n");
  const auto t = io::read_particles_star(images);
  BOOST_TEST(t.particles.size() == 1u);
  BOOST_TEST(!t.particles[0].has_ctf);
  BOOST_TEST(t.particles[0].shift_x == 0.0);
  BOOST_TEST(t.pixel_size == 0.0);
  // Shifts in pixels without any pixel size are refused; an explicit one is accepted.
  const auto px = write_sample(dir, "px.star",
                               "data_\nloop_\n_rlnImageName\n_rlnAngleRot\n_rlnAngleTilt\n"
                               "_rlnAnglePsi\n_rlnOriginX\n1@x.mrcs 0 0 0 2\n");
  check_error([&] { io::read_particles_star(px); }, {"px.star:8", "pixel size"});
  io::ParticleStarOptions opt;
  opt.pixel_size = 1.5;
  BOOST_TEST(io::read_particles_star(px, opt).particles[0].shift_x == 3.0);
}

BOOST_AUTO_TEST_CASE(particles_bad_input) {
  const std::string dir = testing::scratch_folder("star_bad");
  const std::string head = "data_particles\nloop_\n_rlnImageName #1\n_rlnAngleRot #2\n"
                           "_rlnAngleTilt #3\n_rlnAnglePsi #4\n";
  auto bad = [&](const std::string& name, const std::string& rows) {
    return write_sample(dir, name, head + rows);
  };
  // Missing column.
  const auto missing = write_sample(dir, "missing.star",
                                    "data_particles\nloop_\n_rlnImageName\n_rlnAngleRot\n"
                                    "_rlnAnglePsi\n1@a.mrcs 1 2\n");
  check_error([&] { io::read_particles_star(missing); },
              {"missing.star", "data_particles", "_rlnAngleTilt"});
  // Malformed number: file, line, block, column, row.
  const auto number = bad("number.star", "1@a.mrcs 1 2 3\n2@a.mrcs 1 2x 3\n");
  check_error([&] { io::read_particles_star(number); },
              {"number.star:8", "data_particles", "_rlnAngleTilt", "row 2", "'2x'"});
  check_error([&] { io::read_particles_star(bad("nan.star", "1@a.mrcs 1 nan 3\n")); },
              {"nan.star:7", "_rlnAngleTilt", "expected a number"});
  // Empty file, comments only, absent file.
  check_error([&] { io::read_particles_star(write_sample(dir, "empty.star", "")); },
              {"empty.star", "no data_ block"});
  check_error([&] { io::read_particles_star(write_sample(dir, "c.star", "# nothing\n\n")); },
              {"c.star", "no data_ block"});
  check_error([&] { io::read_particles_star(dir + "/absent.star"); }, {"absent.star"});
  // Image names.
  check_error([&] { io::read_particles_star(bad("noat.star", "a.mrcs 1 2 3\n")); },
              {"noat.star:7", "_rlnImageName", "'a.mrcs'", "N@stack"});
  check_error(
      [&] { io::read_particles_star(bad("zero.star", "1@a.mrcs 1 2 3\n0@a.mrcs 1 2 3\n")); },
      {"zero.star:8", "row 2", "≥ 1"});
  check_error([&] { io::read_particles_star(bad("neg.star", "-2@a.mrcs 1 2 3\n")); },
              {"neg.star:7", "≥ 1"});
  check_error([&] { io::read_particles_star(bad("idx.star", "x@a.mrcs 1 2 3\n")); },
              {"idx.star:7", "not an integer"});
  // Structure: wrong number of values, quote left open, value outside a loop.
  check_error([&] { io::read_particles_star(bad("short.star", "1@a.mrcs 1 2\n")); },
              {"short.star:7", "3 values, expected 4"});
  check_error([&] { io::read_particles_star(bad("quote.star", "'1@a.mrcs 1 2 3\n")); },
              {"quote.star:7", "unterminated"});
  check_error([&] { io::read_particles_star(write_sample(dir, "kv.star", "data_x\n_a 1\n2\n")); },
              {"kv.star:3", "outside a loop"});
  // Optics: unknown group, no particle table.
  const auto group = write_sample(
      dir, "group.star",
      "data_optics\nloop_\n_rlnOpticsGroup\n_rlnImagePixelSize\n1 1.0\n"
      "data_particles\nloop_\n_rlnImageName\n_rlnAngleRot\n_rlnAngleTilt\n_rlnAnglePsi\n"
      "_rlnOpticsGroup\n1@a.mrcs 0 0 0 1\n1@a.mrcs 0 0 0 3\n");
  check_error([&] { io::read_particles_star(group); }, {"group.star:14", "optics group 3"});
  const auto nopart = write_sample(dir, "nopart.star", "data_optics\nloop_\n_rlnOpticsGroup\n1\n");
  check_error([&] { io::read_particles_star(nopart); }, {"nopart.star", "data_particles"});
}

BOOST_AUTO_TEST_CASE(particles_writer_refuses_inconsistent_input) {
  const std::string dir = testing::scratch_folder("star_write_bad");
  io::ParticleStar s;
  s.pixel_size = 1;
  s.image_size = 8;
  s.particles.resize(2);
  s.images = {{dir + "/a.mrcs", 1}, {dir + "/a.mrcs", 0}};
  check_error([&] { io::write_particles_star(dir + "/w.star", s); }, {"particle 1", "index 0"});
  BOOST_TEST(!file_exists(dir + "/w.star"));
  s.images[1].index = 2;
  s.particles[0].has_ctf = true;
  check_error([&] { io::write_particles_star(dir + "/w.star", s); }, {"particle 1", "CTF"});
  s.particles[0].has_ctf = false;
  s.extra.push_back({"rlnRandomSubset", {"1"}});
  check_error([&] { io::write_particles_star(dir + "/w.star", s); },
              {"_rlnRandomSubset", "1 values for 2 particles"});
  s.extra.clear();
  s.pixel_size = 0;
  check_error([&] { io::write_particles_star(dir + "/w.star", s); }, {"w.star", "pixel size"});
}
