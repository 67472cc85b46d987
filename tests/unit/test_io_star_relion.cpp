// STAR + MRCS compatibility with RELION 3.1 itself (the acceptance of the io foundation):
//  - a stack and STAR written by pairpose are reconstructed by relion_reconstruct into the map
//    that made the images (and the shift sign matters: flipping it ruins the map);
//  - a stack and STAR written by relion_project are read back by pairpose with the chosen
//    angles, shifts and image names, and its images match pairpose's projection convention
//    (method.md §2), shift included.
// Images are exact projections of a map of Gaussian blobs (a blob projects to a 2D Gaussian).
// Skipped when relion_project or relion_reconstruct is not on the PATH.
#define BOOST_TEST_MODULE io_star_relion
#include "pairpose_test.hpp"

#include <cmath>
#include <cstdlib>
#include <fstream>

#include "pairpose/core/files.hpp"
#include "pairpose/core/random.hpp"
#include "pairpose/geometry/rotation.hpp"
#include "pairpose/io/mrc.hpp"
#include "pairpose/io/star.hpp"

using namespace pairpose;

namespace {

constexpr std::int64_t box = 32; // pixels
constexpr double angpix = 2.0;   // Å per pixel
constexpr double sigma = 2.0;    // blob width, voxels
constexpr std::uint64_t seed = 2026;

struct Blob {
  geometry::Vec3 centre; ///< voxels from the box centre
  double amplitude;
};
// An asymmetric arrangement, well inside the box.
const Blob blobs[] = {
    {{0, 0, 0}, 1.0}, {{8, -3, 2}, 0.8}, {{-5, 6, -4}, 0.6}, {{2, 4, 8}, 0.9}, {{-7, -5, 3}, 0.5}};

struct needs_relion {
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
    const bool ok = std::system("command -v relion_project >/dev/null 2>&1") == 0 &&
                    std::system("command -v relion_reconstruct >/dev/null 2>&1") == 0;
    boost::test_tools::assertion_result r(ok);
    if (!ok) r.message() << "skipped: relion_project / relion_reconstruct not on the PATH";
    return r;
  }
};

Volume blob_map() {
  Volume v(box, box, box, angpix);
  for (std::int64_t z = 0; z < box; ++z)
    for (std::int64_t y = 0; y < box; ++y)
      for (std::int64_t x = 0; x < box; ++x) {
        double s = 0;
        for (const auto& b : blobs) {
          const double dx = x - box / 2 - b.centre[0], dy = y - box / 2 - b.centre[1],
                       dz = z - box / 2 - b.centre[2];
          s += b.amplitude * std::exp(-(dx * dx + dy * dy + dz * dz) / (2 * sigma * sigma));
        }
        v.at(x, y, z) = static_cast<float>(s);
      }
  return v;
}

/// Projection of the blob map for orientation q and shift (Å): blob centre c lands at
/// (A·c)_xy − shift/pixel (method.md §2 and the RELION shift convention).
void project(const Particle& p, float* image) {
  const geometry::Mat3 a = geometry::to_matrix(p.orientation);
  for (std::int64_t y = 0; y < box; ++y)
    for (std::int64_t x = 0; x < box; ++x) {
      double s = 0;
      for (const auto& b : blobs) {
        const geometry::Vec3 c = geometry::apply(a, b.centre);
        const double dx = x - box / 2 - (c[0] - p.shift_x / angpix);
        const double dy = y - box / 2 - (c[1] - p.shift_y / angpix);
        s += b.amplitude * std::exp(-(dx * dx + dy * dy) / (2 * sigma * sigma));
      }
      image[y * box + x] = static_cast<float>(s);
    }
}

double correlation(const float* a, const float* b, std::size_t n) {
  double ma = 0, mb = 0;
  for (std::size_t i = 0; i < n; ++i)
    ma += a[i], mb += b[i];
  ma /= n, mb /= n;
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < n; ++i) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) * (a[i] - ma);
    bb += (b[i] - mb) * (b[i] - mb);
  }
  return ab / std::sqrt(aa * bb);
}

/// n particles with uniform random orientations, shifts within ±`max_shift` Å and a CTF.
io::ParticleStar random_particles(std::int64_t n, double max_shift, const std::string& stack) {
  io::ParticleStar s;
  s.pixel_size = angpix;
  s.image_size = box;
  for (std::int64_t i = 0; i < n; ++i) {
    Rng rng(seed, stream_orientation, static_cast<std::uint64_t>(i));
    Rng shift(seed, stream_shift, static_cast<std::uint64_t>(i));
    Particle p;
    p.orientation = geometry::random_rotation(rng);
    p.shift_x = shift.uniform(-max_shift, max_shift);
    p.shift_y = shift.uniform(-max_shift, max_shift);
    p.has_ctf = true;
    p.ctf.defocus_u = 15000 + 10 * i;
    p.ctf.defocus_v = 14000 + 10 * i;
    p.ctf.defocus_angle = 30;
    s.particles.push_back(p);
    s.images.push_back({stack, i + 1});
  }
  return s;
}

/// Runs `command` in `folder`, output to `folder`/`log`; true when it exits with status 0.
bool run_in(const std::string& folder, const std::string& command, const std::string& log) {
  const std::string full = "cd '" + folder + "' && " + command + " > " + log + " 2>&1";
  BOOST_TEST_MESSAGE("running: " << full);
  return std::system(full.c_str()) == 0;
}

/// relion_reconstruct of `star` (in `folder`) into `out`, then its correlation with `truth`.
double reconstruct_and_compare(const std::string& folder, const std::string& star,
                               const std::string& out, const Volume& truth) {
  // No --ctf: RELION's boolean options are flags, "--ctf false" would switch CTF correction on.
  BOOST_REQUIRE(run_in(folder, "relion_reconstruct --i " + star + " --o " + out, out + ".log"));
  const Volume rec = io::read_mrc_volume(folder + "/" + out);
  BOOST_TEST(rec.nx == box);
  BOOST_TEST(rec.ny == box);
  BOOST_TEST(rec.nz == box);
  BOOST_TEST(std::abs(rec.voxel_size - angpix) < 1e-4);
  BOOST_REQUIRE(rec.size() == truth.size());
  return correlation(rec.data.data(), truth.data.data(), truth.data.size());
}

} // namespace

BOOST_AUTO_TEST_CASE(pairpose_star_is_reconstructed_by_relion,
                     *boost::unit_test::precondition(needs_relion{})) {
  const std::string dir = testing::scratch_folder("star_relion_reconstruct");
  const Volume truth = blob_map();
  const std::int64_t n = 1000;
  io::ParticleStar star = random_particles(n, 4.0, dir + "/stacks/images.mrcs");
  ImageStack images(n, box, box, angpix);
  for (std::int64_t i = 0; i < n; ++i)
    project(star.particles[i], images.image(i));
  io::write_mrc(dir + "/stacks/images.mrcs", images, "pairpose test projections");
  star.extra.push_back({"rlnRandomSubset", {}});
  for (std::int64_t i = 0; i < n; ++i)
    star.extra[0].values.push_back(i % 2 ? "2" : "1");
  io::write_particles_star(dir + "/particles.star", star, "# pairpose test_io_star_relion");

  const double cc = reconstruct_and_compare(dir, "particles.star", "rec.mrc", truth);
  BOOST_TEST_MESSAGE("correlation of relion_reconstruct's map with the truth: " << cc);
  BOOST_TEST(cc > 0.98);

  // The same images with the shifts' sign flipped: RELION must then disagree.
  for (auto& p : star.particles)
    p.shift_x = -p.shift_x, p.shift_y = -p.shift_y;
  io::write_particles_star(dir + "/flipped.star", star);
  const double cc_flipped = reconstruct_and_compare(dir, "flipped.star", "flipped.mrc", truth);
  BOOST_TEST_MESSAGE("with flipped shift signs: " << cc_flipped);
  BOOST_TEST(cc_flipped < cc - 0.1);
}

BOOST_AUTO_TEST_CASE(relion_project_star_is_read_by_pairpose,
                     *boost::unit_test::precondition(needs_relion{})) {
  const std::string dir = testing::scratch_folder("star_relion_project");
  io::write_mrc(dir + "/blobs.mrc", blob_map(), "pairpose blob map");
  const std::int64_t n = 60;
  const io::ParticleStar in = random_particles(n, 4.0, dir + "/none.mrcs");
  io::write_particles_star(dir + "/angles.star", in);
  BOOST_REQUIRE(run_in(dir,
                       "relion_project --i blobs.mrc --o proj --ang angles.star --angpix " +
                           std::to_string(angpix),
                       "project.log"));

  const io::ParticleStar out = io::read_particles_star(dir + "/proj.star");
  BOOST_TEST(out.relion31);
  BOOST_TEST(out.has_angles);
  BOOST_TEST(out.pixel_size == angpix);
  BOOST_TEST(out.image_size == box);
  BOOST_REQUIRE(out.particles.size() == static_cast<std::size_t>(n));
  const std::string stack = out.images[0].stack;
  BOOST_REQUIRE(file_exists(stack));
  const ImageStack images = io::read_mrc_stack(stack);
  BOOST_TEST(images.n == n);
  BOOST_TEST(images.nx == box);
  double worst_angle = 0, worst_cc = 1;
  std::vector<float> expected(static_cast<std::size_t>(box * box));
  for (std::int64_t i = 0; i < n; ++i) {
    const Particle &a = in.particles[i], &b = out.particles[i];
    worst_angle = std::max(worst_angle, geometry::distance(a.orientation, b.orientation));
    BOOST_TEST(std::abs(a.shift_x - b.shift_x) < 1e-5);
    BOOST_TEST(std::abs(a.shift_y - b.shift_y) < 1e-5);
    BOOST_TEST(out.images[i].stack == stack);
    BOOST_TEST(out.images[i].index == i + 1);
    BOOST_TEST(b.has_ctf);
    BOOST_TEST(std::abs(b.ctf.defocus_u - a.ctf.defocus_u) < 1e-3);
    // RELION's image i is pairpose's projection of the same particle (geometry and shift).
    project(b, expected.data());
    worst_cc = std::min(worst_cc, correlation(images.image(i), expected.data(), expected.size()));
  }
  BOOST_TEST_MESSAGE("largest angle between written and read orientations (rad): "
                     << worst_angle << "; lowest image correlation: " << worst_cc);
  BOOST_TEST(worst_angle <= 1e-4);
  BOOST_TEST(worst_cc >= 0.99);
}

// relion_project --nr_uniform writes pixel origins (rlnOriginX/Y) inside a 3.1 file and names the
// images after --o relative to its working directory; pairpose reads both (with image_root).
BOOST_AUTO_TEST_CASE(relion_project_uniform_star_is_read_by_pairpose,
                     *boost::unit_test::precondition(needs_relion{})) {
  const std::string dir = testing::scratch_folder("star_relion_uniform");
  io::write_mrc(dir + "/blobs.mrc", blob_map(), "pairpose blob map");
  BOOST_REQUIRE(run_in(dir,
                       "mkdir -p sub && relion_project --i blobs.mrc --o sub/uni "
                       "--nr_uniform 7 --sigma_offset 2 --angpix 2",
                       "uniform.log"));
  const io::StarFile raw = io::read_star(dir + "/sub/uni.star");
  BOOST_TEST(raw.require("particles").has_column("rlnOriginX"));
  io::ParticleStarOptions opt;
  opt.image_root = dir; // RELION's working directory
  const io::ParticleStar s = io::read_particles_star(dir + "/sub/uni.star", opt);
  BOOST_REQUIRE(s.particles.size() == 7u);
  BOOST_TEST(s.pixel_size == angpix);
  BOOST_TEST(file_exists(s.images[6].stack));
  BOOST_TEST(io::read_mrc_header(s.images[6].stack).nz == 7);
  const auto& parts = raw.require("particles");
  const int ox = parts.require_column("rlnOriginX");
  const ImageStack images = io::read_mrc_stack(s.images[0].stack);
  std::vector<float> expected(static_cast<std::size_t>(box * box));
  for (std::int64_t i = 0; i < 7; ++i) {
    BOOST_TEST(s.images[i].index == i + 1);
    BOOST_TEST(std::abs(s.particles[i].shift_x - angpix * parts.real(i, ox)) < 1e-9);
    // RELION 3.1.3 quirk (docs/conventions.md): --nr_uniform --sigma_offset records random
    // origins but projects without them; the images are the unshifted projections.
    Particle unshifted = s.particles[i];
    unshifted.shift_x = unshifted.shift_y = 0;
    project(unshifted, expected.data());
    BOOST_TEST(correlation(images.image(i), expected.data(), expected.size()) >= 0.99);
  }
}
