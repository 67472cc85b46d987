#define BOOST_TEST_MODULE refine_matcher
#include "pairpose_test.hpp"

#include <cmath>

#include "pairpose/core/error.hpp"
#include "pairpose/core/random.hpp"
#include "pairpose/refine/matcher.hpp"
#include "test_reconstruct_blobs.hpp"

using namespace pairpose;
using geometry::Mat3;
using geometry::Quat;

namespace {

constexpr std::int64_t n_px = 48;
constexpr double pixel = 2.0;

double degrees_between(const Quat& a, const Quat& b) {
  return geometry::distance(a, b) * 180 / M_PI; // d_q is the rotation angle
}

/// `q` turned by `angle_deg` about a random axis (in the image frame: exp([ω]×)·A).
Quat perturbed(const Quat& q, double angle_deg, std::int64_t index) {
  Rng rng(5, stream_noise, index);
  geometry::Vec3 axis{rng.normal(), rng.normal(), rng.normal()};
  const double norm = std::sqrt(axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]);
  const double angle = angle_deg * M_PI / 180;
  for (auto& v : axis)
    v *= angle / norm;
  return geometry::to_quaternion(
      geometry::multiply(refine::rotation_exp(axis), geometry::to_matrix(q)));
}

} // namespace

BOOST_AUTO_TEST_CASE(rotation_exp_is_the_axis_angle_rotation) {
  const geometry::Vec3 w{0.3, -0.2, 0.5};
  const double angle = std::sqrt(0.09 + 0.04 + 0.25);
  const double s = std::sin(angle / 2) / angle;
  const Mat3 expected = geometry::to_matrix({std::cos(angle / 2), s * w[0], s * w[1], s * w[2]});
  const Mat3 got = refine::rotation_exp(w);
  for (int i = 0; i < 9; ++i)
    BOOST_TEST(got[i] == expected[i], boost::test_tools::tolerance(1e-12));
  const Mat3 one = refine::rotation_exp({0, 0, 0});
  BOOST_TEST(one == geometry::identity3());
}

BOOST_AUTO_TEST_CASE(perturbed_orientations_are_found_again) {
  // Exact projections of a blob map (with CTF and shifts) matched against the map's Fourier
  // projector, from starts 5° off: each comes back within 0.5°, its score above the start's.
  const auto blobs = blobs::make_blobs(n_px);
  const Volume map = blobs::blob_map(blobs, n_px, pixel);
  simulate::ProjectorOptions po;
  po.image_size = n_px;
  po.pixel_size = pixel;
  const simulate::FourierProjector reference(map, po, MPI_COMM_SELF);
  refine::MatchOptions mo;
  mo.k_max = n_px / 2 - 1;
  mo.step_deg = 4;
  mo.min_step_deg = 0.125;
  refine::Matcher matcher(n_px, pixel, mo);
  BOOST_TEST(matcher.band_size() > 100);
  const auto particles = blobs::particles(0, 12, 6.0, true);
  for (std::int64_t i = 0; i < 12; ++i) {
    const Particle& truth = particles[i];
    std::vector<float> image(n_px * n_px);
    blobs::project(blobs, truth, n_px, pixel, image.data());
    Particle start = truth;
    start.orientation = perturbed(truth.orientation, 5.0, i);
    BOOST_TEST(degrees_between(start.orientation, truth.orientation) == 5.0,
               boost::test_tools::tolerance(1e-6));
    const refine::MatchResult r = matcher.match(reference, image.data(), start);
    BOOST_TEST(degrees_between(r.orientation, truth.orientation) < 0.5, "particle " << i);
    BOOST_TEST(r.score > r.start_score);
    BOOST_TEST(r.n_scored > 26);
  }
  // The CTF matters: matched without it, a CTF-affected image scores lower at the truth.
  refine::MatchOptions no_ctf = mo;
  no_ctf.apply_ctf = false;
  refine::Matcher plain(n_px, pixel, no_ctf);
  std::vector<float> image(n_px * n_px);
  blobs::project(blobs, particles[0], n_px, pixel, image.data());
  const double with = matcher.match(reference, image.data(), particles[0]).start_score;
  const double without = plain.match(reference, image.data(), particles[0]).start_score;
  BOOST_TEST(with > without);
}

BOOST_AUTO_TEST_CASE(bad_settings_are_refused) {
  refine::MatchOptions mo;
  mo.k_max = 30; // beyond n/2 = 24
  BOOST_CHECK_THROW(refine::Matcher(n_px, pixel, mo), Error);
  mo.k_max = 10;
  BOOST_CHECK_THROW(refine::Matcher(47, pixel, mo), Error);
  BOOST_CHECK_THROW(refine::Matcher(n_px, 0.0, mo), Error);
  // A reference of another image size is named.
  const Volume map = blobs::blob_map(blobs::make_blobs(32), 32, pixel);
  simulate::ProjectorOptions po;
  po.image_size = 32;
  po.pixel_size = pixel;
  const simulate::FourierProjector small(map, po, MPI_COMM_SELF);
  refine::Matcher matcher(n_px, pixel, mo);
  std::vector<float> image(n_px * n_px, 0.0f);
  BOOST_CHECK_EXCEPTION(matcher.match(small, image.data(), Particle{}), Error, [](const Error& e) {
    return std::string(e.what()).find("reference projects 32 px images") != std::string::npos;
  });
}
