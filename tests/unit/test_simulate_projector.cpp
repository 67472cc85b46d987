#define BOOST_TEST_MODULE simulate_projector
#include "pairpose_test.hpp"

#include <cmath>
#include <limits>

#include "pairpose/core/error.hpp"
#include "pairpose/geometry/rotation.hpp"
#include "pairpose/io/mrc.hpp"
#include "pairpose/simulate/projector.hpp"

using namespace pairpose;
using namespace pairpose::simulate;

namespace {

/// A 3D Gaussian of width sigma (voxels) and peak 1 centred at p (voxels from the box centre).
Volume gaussian_blob(std::int64_t n, double voxel, geometry::Vec3 p, double sigma) {
  Volume v(n, n, n, voxel);
  for (std::int64_t z = 0; z < n; ++z)
    for (std::int64_t y = 0; y < n; ++y)
      for (std::int64_t x = 0; x < n; ++x) {
        const double dx = x - n / 2 - p[0], dy = y - n / 2 - p[1], dz = z - n / 2 - p[2];
        v.at(x, y, z) = std::exp(-(dx * dx + dy * dy + dz * dz) / (2 * sigma * sigma));
      }
  return v;
}

/// Largest |image − analytic projection| over the image, relative to the analytic peak. The
/// analytic projection of the blob is √(2π)σ·exp(−|r·p/v − c|²/(2σ²)), c in voxels.
double blob_error(const float* image, std::int64_t n, double pixel_over_voxel, double cx, double cy,
                  double sigma) {
  const double peak = std::sqrt(2 * M_PI) * sigma;
  double worst = 0;
  for (std::int64_t y = 0; y < n; ++y)
    for (std::int64_t x = 0; x < n; ++x) {
      const double dx = (x - n / 2) * pixel_over_voxel - cx,
                   dy = (y - n / 2) * pixel_over_voxel - cy;
      const double expected = peak * std::exp(-(dx * dx + dy * dy) / (2 * sigma * sigma));
      worst = std::max(worst, std::abs(image[y * n + x] - expected) / peak);
    }
  return worst;
}

const geometry::Vec3 angle_sets[] = {{0, 0, 0}, {30, 50, 70}, {-120, 100, 15}, {200, 170, -40}};
const geometry::Vec3 generic_angles[] = {
    {30, 50, 70}, {-120, 100, 15}, {200, 170, -40}, {77, 33, 123}};

} // namespace

BOOST_AUTO_TEST_CASE(method_md_example_position) {
  // method.md §2: a blob at (12, −5, 7) projected at (30°, 50°, 70°) peaks at (−9.81, −3.26).
  // Tolerance as in the next test (padding 2, blob 14.7 voxels off-centre).
  const Volume map = gaussian_blob(64, 1.0, {12, -5, 7}, 2.5);
  FourierProjector projector(map, {}, MPI_COMM_SELF);
  Particle p;
  p.orientation = geometry::euler_to_quaternion(30, 50, 70);
  std::vector<float> image(64 * 64);
  projector.project(p, image.data());
  BOOST_TEST(blob_error(image.data(), 64, 1.0, -9.81, -3.26, 2.5) < 0.02);
  BOOST_TEST(blob_error(image.data(), 64, 1.0, -9.81 + 0.3, -3.26, 2.5) > 0.03);
  // The wrong position (e.g. Aᵀ instead of A) must fail the same check.
  BOOST_TEST(blob_error(image.data(), 64, 1.0, 9.81, 3.26, 2.5) > 0.5);
}

BOOST_AUTO_TEST_CASE(gaussian_blob_projects_to_analytic_gaussian) {
  // A blob 11.6 voxels off-centre at generic (not grid-aligned) orientations, with and without
  // shift, at the map's sampling and down-sampled ×2. Trilinear interpolation on a padded grid
  // leaves errors that grow with the distance d from the centre as (πd/N)²: about 1.5 % of the
  // peak for padding 2 (N = 96) and a quarter of that for padding 4.
  const geometry::Vec3 centre{6, -4, 9};
  const double sigma = 3.0, voxel = 2.0;
  const Volume map = gaussian_blob(48, voxel, centre, sigma);
  for (const int padding : {2, 4}) {
    const double tolerance = padding == 2 ? 0.02 : 0.005;
    ProjectorOptions options;
    options.padding = padding;
    FourierProjector same(map, options, MPI_COMM_SELF);
    options.image_size = 36;
    options.pixel_size = 2 * voxel; // down-sampled ×2 in Fourier space
    FourierProjector coarse(map, options, MPI_COMM_SELF);
    for (const auto& e : generic_angles)
      for (const bool shifted : {false, true}) {
        Particle p;
        p.orientation = geometry::euler_to_quaternion(e[0], e[1], e[2]);
        if (shifted) p.shift_x = 7.0, p.shift_y = -5.0; // Å
        const geometry::Vec3 c =
            geometry::apply(geometry::euler_to_matrix(e[0], e[1], e[2]), centre);
        // The particle centre sits at −shift from the image centre (io/star.hpp), in voxels.
        const double cx = c[0] - p.shift_x / voxel, cy = c[1] - p.shift_y / voxel;
        std::vector<float> image(48 * 48), small(36 * 36);
        same.project(p, image.data());
        coarse.project(p, small.data());
        BOOST_TEST_CONTEXT("padding " << padding << ", angles " << e[0] << " " << e[1] << " "
                                      << e[2] << ", shift " << shifted) {
          BOOST_TEST(blob_error(image.data(), 48, 1.0, cx, cy, sigma) < tolerance);
          BOOST_TEST(blob_error(small.data(), 36, 2.0, cx, cy, sigma) < tolerance);
          // Sensitivity: half a voxel off in position, or 5 % in width, fails.
          BOOST_TEST(blob_error(image.data(), 48, 1.0, cx + 0.5, cy, sigma) > 0.05);
          BOOST_TEST(blob_error(image.data(), 48, 1.0, cx, cy, sigma * 1.05) > 0.04);
        }
      }
  }
}

BOOST_AUTO_TEST_CASE(batch_matches_single_and_threads) {
  const Volume map = gaussian_blob(32, 1.0, {3, 2, -4}, 2.0);
  ProjectorOptions options;
  options.image_size = 40;
  FourierProjector projector(map, options, MPI_COMM_SELF);
  std::vector<Particle> particles(5);
  for (int i = 0; i < 5; ++i) {
    particles[i].orientation = geometry::euler_to_quaternion(40.0 * i, 20.0 * i + 5, 10.0 * i);
    particles[i].shift_x = i - 2.0;
  }
  const ImageStack one = projector.project(particles, true, 1);
  const ImageStack three = projector.project(particles, true, 3);
  BOOST_TEST(one.data == three.data);
  std::vector<float> image(40 * 40);
  projector.project(particles[3], image.data());
  BOOST_TEST(std::equal(image.begin(), image.end(), one.image(3)));
}

BOOST_AUTO_TEST_CASE(fourier_slice_matches_real_space_5j0n,
                     *boost::unit_test::precondition(testing::needs_shared_data{"5j0n.mrc"})) {
  const Volume map = io::read_mrc_volume(testing::shared_data("5j0n.mrc"));
  ProjectorOptions options;
  options.image_size = 96;
  FourierProjector projector(map, options, MPI_COMM_SELF);
  std::vector<float> fourier(96 * 96), real(96 * 96);
  for (const auto& e : angle_sets) {
    Particle p;
    p.orientation = geometry::euler_to_quaternion(e[0], e[1], e[2]);
    projector.project(p, fourier.data());
    project_real_space(map, geometry::euler_to_matrix(e[0], e[1], e[2]), 96, 0, 0.5, real.data());
    const double r = correlation(fourier.data(), real.data(), 96 * 96);
    BOOST_TEST_CONTEXT("angles " << e[0] << " " << e[1] << " " << e[2]) { BOOST_TEST(r >= 0.99); }
  }
  // A different orientation must not pass: the check can fail.
  Particle q;
  q.orientation = geometry::euler_to_quaternion(90, 90, 0);
  projector.project(q, fourier.data());
  BOOST_TEST(correlation(fourier.data(), real.data(), 96 * 96) < 0.9);
}

BOOST_AUTO_TEST_CASE(pad_to_cube_centres_the_map) {
  Volume map(5, 3, 4, 1.5);
  map.at(2, 1, 2) = 1.0f; // the centre voxel (n/2 on each axis)
  const Volume cube = pad_to_cube(map, 8);
  BOOST_TEST(cube.is_cube());
  BOOST_TEST(cube.voxel_size == 1.5);
  BOOST_TEST(cube.at(4, 4, 4) == 1.0f);
  BOOST_CHECK_THROW(pad_to_cube(map, 4), Error);
}

BOOST_AUTO_TEST_CASE(bad_maps_and_sizes_are_errors) {
  Volume zeros(16, 16, 16, 1.0);
  BOOST_CHECK_THROW(FourierProjector(zeros, {}, MPI_COMM_SELF), Error);
  Volume nan = gaussian_blob(16, 1.0, {0, 0, 0}, 2.0);
  nan.at(3, 4, 5) = std::numeric_limits<float>::quiet_NaN();
  BOOST_CHECK_THROW(FourierProjector(nan, {}, MPI_COMM_SELF), Error);
  const Volume blob = gaussian_blob(16, 1.0, {0, 0, 0}, 2.0);
  ProjectorOptions too_big;
  too_big.image_size = 40; // padded box is 32 voxels
  BOOST_CHECK_THROW(FourierProjector(blob, too_big, MPI_COMM_SELF), Error);
  too_big.image_size = 32;
  BOOST_CHECK_NO_THROW(FourierProjector(blob, too_big, MPI_COMM_SELF));
}

BOOST_AUTO_TEST_CASE(zero_margins_cost_nothing) {
  // A map padded with zeros to a large cube (as RELION needs) is transformed on the grid of its
  // content, and projects to the same images as the map itself.
  const Volume map = gaussian_blob(32, 1.5, {2, -3, 1}, 2.0);
  const Volume cube = pad_to_cube(map, 96);
  ProjectorOptions options;
  options.image_size = 64;
  FourierProjector small(map, options, MPI_COMM_SELF), large(cube, options, MPI_COMM_SELF);
  BOOST_TEST(large.padded_size() == 68); // 2 × (content 2·16 + 2), not 2 × 96
  BOOST_TEST(large.padded_size() < 2 * 96);
  std::vector<float> a(64 * 64), b(64 * 64);
  for (const auto& e : generic_angles) {
    Particle p;
    p.orientation = geometry::euler_to_quaternion(e[0], e[1], e[2]);
    p.shift_x = 4.5;
    small.project(p, a.data());
    large.project(p, b.data());
    BOOST_TEST(correlation(a.data(), b.data(), 64 * 64) > 0.999);
  }
}
