#define BOOST_TEST_MODULE pairs_aligned
// Rotational alignment of images (pairs.source = "aligned"): an image and its exact in-plane
// rotation are found at the rotation's angle, with correlation near 1; the angle changes sign
// with the order; unlike images correlate less; the pair set keeps only pairs of images that
// share neighbours and stores one in-plane angle per pair; bad images are refused by index.
#include "pairpose_test.hpp"

#include <cmath>
#include <set>

#include "pairpose/core/error.hpp"
#include "pairpose/core/partition.hpp"
#include "pairpose/pairs/aligned.hpp"

using namespace pairpose;
using namespace pairpose::pairs;

namespace {

constexpr std::int64_t size = 64;

struct Blob {
  double x, y, sx, sy, tilt, weight;
};

/// Sum of anisotropic Gaussians, the whole picture turned by `angle` (rad, counter-clockwise in
/// (x, y) with y along the rows) about the centre (size/2, size/2): exact, no interpolation.
void draw(const std::vector<Blob>& blobs, double angle, float* out) {
  const double c = std::cos(angle), s = std::sin(angle);
  for (std::int64_t row = 0; row < size; ++row)
    for (std::int64_t col = 0; col < size; ++col) {
      const double x = col - size / 2, y = row - size / 2;
      // The point that lands here after the turn.
      const double u = c * x + s * y, v = -s * x + c * y;
      double value = 0;
      for (const Blob& b : blobs) {
        const double ct = std::cos(b.tilt), st = std::sin(b.tilt);
        const double du = u - b.x, dv = v - b.y;
        const double p = (ct * du + st * dv) / b.sx, q = (-st * du + ct * dv) / b.sy;
        value += b.weight * std::exp(-0.5 * (p * p + q * q));
      }
      out[row * size + col] = static_cast<float>(value);
    }
}

const std::vector<Blob> shape_a = {
    {-8, 3, 5, 2.5, 0.3, 1.0}, {6, -4, 3, 6, -0.7, 0.8}, {2, 11, 2.5, 2.5, 0, 0.6}};
const std::vector<Blob> shape_b = {{0, 0, 9, 3, 1.2, 1.0}, {-10, -10, 2, 2, 0, 0.5}};

AlignedOptions options() {
  AlignedOptions opt;
  opt.pixel_size = 2.0;
  opt.resolution = 6.0;
  return opt;
}

} // namespace

BOOST_AUTO_TEST_CASE(rotated_image_is_found_at_its_angle) {
  const double turn = 0.7; // rad, not on the 5° grid of the polar samples
  ImageStack images(3, size, size, 2.0);
  draw(shape_a, 0.0, images.image(0));
  draw(shape_a, turn, images.image(1));
  draw(shape_b, 0.0, images.image(2));
  const std::vector<Particle> particles(3); // no CTF
  const PolarFeatures f = polar_features(images, particles, options());
  BOOST_TEST(f.n == 3);
  BOOST_TEST(f.n_coefficients == options().n_angles / 2 + 1);

  const AlignmentPeak self = align(f, 0, 0, options().n_angles);
  BOOST_TEST(self.correlation == 1.0, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(std::abs(self.angle) < 1e-9);

  const AlignmentPeak ab = align(f, 0, 1, options().n_angles);
  const AlignmentPeak ba = align(f, 1, 0, options().n_angles);
  BOOST_TEST_MESSAGE("turn " << turn << " rad: align(0, 1) = " << ab.angle << " rad (correlation "
                             << ab.correlation << "), align(1, 0) = " << ba.angle);
  // Image 1 is image 0 turned by +turn; align(0, 1) is the turn that brings image 1 onto
  // image 0, −turn (the convention of the pair set's /pairs/inplane).
  BOOST_TEST(std::abs(ab.angle + turn) < 0.01);
  BOOST_TEST(std::abs(ab.angle + ba.angle) < 1e-6);
  BOOST_TEST(ab.correlation > 0.97);
  BOOST_TEST(align(f, 0, 2, options().n_angles).correlation < ab.correlation - 0.1);
}

BOOST_AUTO_TEST_CASE(pair_set_keeps_shared_neighbours) {
  // Two families: shape a and shape b, each at 12 turns; neighbours within a family.
  const int per_family = 12;
  ImageStack images(2 * per_family, size, size, 2.0);
  std::vector<double> turns;
  for (int k = 0; k < per_family; ++k) {
    const double turn = 2 * M_PI * k / per_family + 0.05 * k;
    draw(shape_a, turn, images.image(k));
    draw(shape_b, turn, images.image(per_family + k));
    turns.push_back(turn);
  }
  const std::vector<Particle> particles(images.n);
  AlignedOptions opt = options();
  opt.neighbours = 5;
  opt.min_shared = 3;
  const PolarFeatures f = polar_features(images, particles, opt);
  const PairSet pairs = aligned_pairs(f, split_block(images.n, MPI_COMM_SELF), opt, MPI_COMM_SELF);
  BOOST_TEST_REQUIRE(pairs.size() > 0);
  BOOST_TEST(pairs.inplane.size() == pairs.distance.size());
  std::set<std::int64_t> covered;
  for (std::int64_t p = 0; p < pairs.size(); ++p) {
    const std::int64_t i = pairs.i[p], j = pairs.j[p];
    BOOST_TEST(i < j);
    covered.insert(i);
    covered.insert(j);
    // Same family, and the in-plane angle is the difference of the turns.
    BOOST_TEST((i < per_family) == (j < per_family));
    const double expected = std::remainder(turns[i % per_family] - turns[j % per_family], 2 * M_PI);
    BOOST_TEST(std::abs(std::remainder(pairs.inplane[p] - expected, 2 * M_PI)) < 0.02);
    // d̂ = 2 acos(cos(t/2) |cos(α/2)|) ≥ t.
    BOOST_TEST(pairs.distance[p] >= opt.tilt - 1e-12);
    BOOST_TEST(pairs.weight[p] == 1.0);
  }
  BOOST_TEST(covered.size() == static_cast<std::size_t>(images.n));

  // Needing more shared neighbours than there are keeps nothing.
  opt.min_shared = 100;
  BOOST_TEST(aligned_pairs(f, split_block(images.n, MPI_COMM_SELF), opt, MPI_COMM_SELF).size() ==
             0);
}

BOOST_AUTO_TEST_CASE(bad_images_and_options_are_refused) {
  ImageStack images(3, size, size, 2.0);
  draw(shape_a, 0.0, images.image(0));
  draw(shape_a, 0.3, images.image(1));
  // image 2 stays constant (all zero)
  const std::vector<Particle> particles(3);
  try {
    polar_features(images, particles, options());
    BOOST_FAIL("expected an error for the constant image 2");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("image 2") != std::string::npos);
  }
  draw(shape_b, 0.0, images.image(2));
  images.image(1)[77] = std::nanf("");
  try {
    polar_features(images, particles, options());
    BOOST_FAIL("expected an error for the NaN in image 1");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("image 1") != std::string::npos);
  }
  images.image(1)[77] = 0;
  AlignedOptions odd = options();
  odd.n_angles = 71;
  BOOST_CHECK_THROW(polar_features(images, particles, odd), Error);
  BOOST_CHECK_THROW(polar_features(images, std::vector<Particle>(2), options()), Error);
}
