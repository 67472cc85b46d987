#define BOOST_TEST_MODULE learn_images
#include "pairpose_test.hpp"

#ifdef PAIRPOSE_HAVE_LEARN

#include <cmath>
#include <limits>

#include "pairpose/core/error.hpp"
#include "pairpose/core/random.hpp"
#include "pairpose/learn/images.hpp"
#include "pairpose/simulate/projector.hpp"

using namespace pairpose;
using namespace pairpose::learn;

namespace {

/// An asymmetric map of Gaussian blobs (no in-plane symmetry) in a 32³ box.
Volume blob_map() {
  Volume v(32, 32, 32, 2.0);
  const double centres[4][4] = {
      {5, -3, 2, 2.0}, {-6, -4, -1, 2.5}, {1, 7, 3, 1.8}, {-2, 1, -6, 2.2}};
  for (std::int64_t z = 0; z < 32; ++z)
    for (std::int64_t y = 0; y < 32; ++y)
      for (std::int64_t x = 0; x < 32; ++x) {
        double s = 0;
        for (const auto& c : centres) {
          const double dx = x - 16 - c[0], dy = y - 16 - c[1], dz = z - 16 - c[2];
          s += std::exp(-(dx * dx + dy * dy + dz * dz) / (2 * c[3] * c[3]));
        }
        v.at(x, y, z) = float(s);
      }
  return v;
}

/// Correlation over the pixels within radius n/2 - 2 of the centre (rotation leaves the corners
/// empty).
double disc_correlation(const std::vector<float>& a, const std::vector<float>& b, std::int64_t n) {
  std::vector<float> ma, mb;
  for (std::int64_t y = 0; y < n; ++y)
    for (std::int64_t x = 0; x < n; ++x) {
      const double r = std::hypot(double(x - n / 2), double(y - n / 2));
      if (r < n / 2 - 2) ma.push_back(a[y * n + x]), mb.push_back(b[y * n + x]);
    }
  return simulate::correlation(ma.data(), mb.data(), std::int64_t(ma.size()));
}

} // namespace

BOOST_AUTO_TEST_CASE(resample_area_averages_blocks) {
  std::vector<float> in(16);
  for (int k = 0; k < 16; ++k)
    in[k] = float(k);
  std::vector<float> out(4);
  resample_area(in.data(), 4, out.data(), 2);
  // centre-aligned footprints: output pixel (1, 1) averages input pixels 1..3 with weights
  // 1/4, 1/2, 1/4 on each axis, i.e. the value of the linear ramp x + 4y at (2, 2)
  BOOST_TEST(out[3] == 2 + 4 * 2, boost::test_tools::tolerance(1e-6));
  // the corner's footprint is clipped to the image: weights 1/2 ... and 1/4 renormalised
  BOOST_TEST(out[0] == (0 + 0.5) / 1.5 + 4 * (0 + 0.5) / 1.5, boost::test_tools::tolerance(1e-6));
  std::vector<float> same(16);
  resample_area(in.data(), 4, same.data(), 4);
  for (int k = 0; k < 16; ++k)
    BOOST_TEST(same[k] == in[k], boost::test_tools::tolerance(1e-6));
  // a constant image stays constant at a non-integer ratio, border included
  std::vector<float> ones(48 * 48, 1.0f), small(20 * 20);
  resample_area(ones.data(), 48, small.data(), 20);
  for (float v : small)
    BOOST_TEST(v == 1.0, boost::test_tools::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(rotate_image_by_a_quarter_turn) {
  const std::int64_t n = 8;
  std::vector<float> in(n * n, 0.0f), out(n * n);
  in[4 * n + 6] = 1.0f; // r = (+2, 0) from the centre (4, 4)
  rotate_image(in.data(), n, M_PI / 2, out.data());
  // content turned by +90°: (2, 0) → (0, 2)
  BOOST_TEST(out[6 * n + 4] == 1.0, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(out[4 * n + 6] == 0.0, boost::test_tools::tolerance(1e-6));
  rotate_image(in.data(), n, 0.0, out.data());
  BOOST_TEST(out == in);
}

// The augmentation identity: turning the projection at A by φ gives the projection at Rz(φ)·A.
BOOST_AUTO_TEST_CASE(in_plane_rotation_is_a_left_factor) {
  const Volume map = blob_map();
  simulate::ProjectorOptions po;
  simulate::FourierProjector proj(map, po, MPI_COMM_SELF);
  const std::int64_t n = proj.image_size();
  Rng rng(3);
  for (int trial = 0; trial < 3; ++trial) {
    Particle p;
    p.orientation = geometry::random_rotation(rng);
    const double phi = rng.uniform(0.3, 2 * M_PI - 0.3);
    std::vector<float> image(n * n), turned(n * n), expected(n * n), wrong(n * n);
    proj.project(p, image.data());
    rotate_image(image.data(), n, phi, turned.data());
    Particle q = p;
    q.orientation = rotate_orientation(p.orientation, phi);
    proj.project(q, expected.data());
    q.orientation = rotate_orientation(p.orientation, -phi);
    proj.project(q, wrong.data());
    const double good = disc_correlation(turned, expected, n);
    const double bad = disc_correlation(turned, wrong, n);
    BOOST_TEST_MESSAGE("phi " << phi << ": correlation " << good << " (opposite sign " << bad
                              << ")");
    BOOST_TEST(good > 0.99);
    BOOST_TEST(bad < 0.9);
  }
}

BOOST_AUTO_TEST_CASE(preprocess_standardizes_masks_and_rejects_nan) {
  const std::int64_t n = 24;
  std::vector<float> image(n * n);
  Rng rng(7);
  for (auto& v : image)
    v = float(3 + 2 * rng.normal());
  PreprocessOptions pre;
  pre.size = 12;
  std::vector<float> out(144);
  preprocess_image(image.data(), n, pre, 0.0, out.data(), 0);
  double sum = 0, sum2 = 0, count = 0;
  for (std::int64_t y = 0; y < 12; ++y)
    for (std::int64_t x = 0; x < 12; ++x) {
      const double r2 = double((x - 6) * (x - 6) + (y - 6) * (y - 6));
      if (r2 > 36) {
        BOOST_TEST(out[y * 12 + x] == 0.0f);
      } else {
        sum += out[y * 12 + x], sum2 += out[y * 12 + x] * out[y * 12 + x], count += 1;
      }
    }
  BOOST_TEST(std::abs(sum / count) < 1e-5);
  BOOST_TEST(sum2 / count == 1.0, boost::test_tools::tolerance(1e-4));

  std::vector<float> constant(n * n, 5.0f);
  preprocess_image(constant.data(), n, pre, 0.0, out.data(), 0);
  for (float v : out)
    BOOST_TEST(v == 0.0f);

  image[37] = std::numeric_limits<float>::quiet_NaN();
  BOOST_CHECK_EXCEPTION(
      preprocess_image(image.data(), n, pre, 0.0, out.data(), 41), Error,
      [](const Error& e) { return std::string(e.what()).find("image 41") != std::string::npos; });
}

#else

BOOST_AUTO_TEST_CASE(skipped) { BOOST_TEST_MESSAGE("skipped: built without Torch"); }

#endif
