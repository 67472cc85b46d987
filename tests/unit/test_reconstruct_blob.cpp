#define BOOST_TEST_MODULE reconstruct_blob
#include "pairpose_test.hpp"

#include <limits>

#include "pairpose/core/error.hpp"
#include "pairpose/reconstruct/reconstructor.hpp"
#include "test_reconstruct_blobs.hpp"

using namespace pairpose;
using reconstruct::Reconstructor;
using reconstruct::ReconstructorOptions;

namespace {

constexpr std::int64_t n = 48;
constexpr double pixel = 1.5;

ReconstructorOptions options(std::int64_t size = n) {
  ReconstructorOptions o;
  o.image_size = size;
  o.pixel_size = pixel;
  o.source = "blobs";
  return o;
}

reconstruct::Reconstruction reconstruct_blobs(std::int64_t n_particles, bool with_ctf,
                                              bool pad_images = true, std::int64_t size = n) {
  const auto blob_list = blobs::make_blobs(size);
  auto o = options(size);
  o.pad_images = pad_images;
  Reconstructor rec(MPI_COMM_SELF, o);
  for (std::int64_t first = 0; first < n_particles; first += 250) {
    const std::int64_t count = std::min<std::int64_t>(250, n_particles - first);
    const auto ps = blobs::particles(first, count, 4 * pixel, with_ctf);
    rec.insert(blobs::images(blob_list, ps, size, pixel), ps,
               reconstruct::random_half_sets(7, {first, first + count}), first);
  }
  return rec.finish();
}

bool message_has(const Error& e, const std::string& what) {
  return std::string(e.what()).find(what) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_CASE(blob_map_is_recovered_from_shifted_projections) {
  const auto truth = blobs::blob_map(blobs::make_blobs(n), n, pixel);
  const auto maps = reconstruct_blobs(1500, false);
  BOOST_TEST(maps.n_particles[0] + maps.n_particles[1] == 1500);
  BOOST_TEST(maps.full.nx == n);
  BOOST_TEST(maps.full.voxel_size == pixel);
  const double c_full = blobs::masked_correlation(maps.full, truth, n / 2 - 2);
  const double c_half = blobs::masked_correlation(maps.half1, truth, n / 2 - 2);
  BOOST_TEST_MESSAGE("correlation full " << c_full << ", half 1 " << c_half);
  BOOST_TEST(c_full >= 0.95);
  BOOST_TEST(c_half >= 0.95);
  // The density scale is that of the map whose line integrals are the images.
  const double peak_ratio =
      maps.full.at(n / 2 + 6, n / 2 - 3, n / 2 + 4) / truth.at(n / 2 + 6, n / 2 - 3, n / 2 + 4);
  BOOST_TEST(peak_ratio > 0.9);
  BOOST_TEST(peak_ratio < 1.1);
}

BOOST_AUTO_TEST_CASE(ctf_weighted_reconstruction_recovers_the_map) {
  const auto truth = blobs::blob_map(blobs::make_blobs(n), n, pixel);
  const auto maps = reconstruct_blobs(1500, true);
  const double c = blobs::masked_correlation(maps.full, truth, n / 2 - 2);
  BOOST_TEST_MESSAGE("correlation with CTF " << c);
  BOOST_TEST(c >= 0.95);
}

BOOST_AUTO_TEST_CASE(unpadded_images_recover_the_map) {
  const auto truth = blobs::blob_map(blobs::make_blobs(n), n, pixel);
  const auto maps = reconstruct_blobs(1500, true, false);
  const double c = blobs::masked_correlation(maps.full, truth, n / 2 - 2);
  BOOST_TEST_MESSAGE("correlation without image padding " << c);
  BOOST_TEST(c >= 0.95);
}

BOOST_AUTO_TEST_CASE(grid_rounded_up_to_a_fast_fft_size) {
  // n = 44: padding 2 gives 88 = 8 · 11, rounded up to 90 = 2 · 3² · 5.
  constexpr std::int64_t size = 44;
  BOOST_TEST(Reconstructor(MPI_COMM_SELF, options(size)).padded_size() == 90);
  const auto truth = blobs::blob_map(blobs::make_blobs(size), size, pixel);
  for (bool pad : {true, false}) {
    const auto maps = reconstruct_blobs(1200, false, pad, size);
    BOOST_TEST(maps.full.nx == size);
    const double c = blobs::masked_correlation(maps.full, truth, size / 2 - 2);
    BOOST_TEST_MESSAGE("n = 44, pad_images " << pad << ": correlation " << c);
    BOOST_TEST(c >= 0.95);
  }
}

BOOST_AUTO_TEST_CASE(half_sets_depend_only_on_seed_and_index) {
  const auto whole = reconstruct::random_half_sets(11, {0, 1000});
  auto first = reconstruct::random_half_sets(11, {0, 377});
  const auto second = reconstruct::random_half_sets(11, {377, 1000});
  first.insert(first.end(), second.begin(), second.end());
  BOOST_TEST(first == whole);
  const auto ones = std::count(whole.begin(), whole.end(), 1);
  BOOST_TEST(ones > 400);
  BOOST_TEST(ones < 600);
  BOOST_TEST(reconstruct::random_half_sets(12, {0, 1000}) != whole);
}

BOOST_AUTO_TEST_CASE(bad_input_names_the_particle) {
  const auto blob_list = blobs::make_blobs(n);
  Reconstructor rec(MPI_COMM_SELF, options());
  auto ps = blobs::particles(100, 4, 0, false);
  auto images = blobs::images(blob_list, ps, n, pixel);
  images.image(2)[5] = std::numeric_limits<float>::quiet_NaN();
  BOOST_CHECK_EXCEPTION(rec.insert(images, ps, {1, 2, 1, 2}, 100), Error,
                        [](const Error& e) { return message_has(e, "blobs: particle 102"); });
  images = blobs::images(blob_list, ps, n, pixel);
  ps[3].orientation = {0, 0, 0, 0};
  BOOST_CHECK_EXCEPTION(rec.insert(images, ps, {1, 2, 1, 2}, 100), Error, [](const Error& e) {
    return message_has(e, "particle 103: orientation is missing");
  });
  ps[3].orientation = {1, 0, 0, 0};
  BOOST_CHECK_EXCEPTION(rec.insert(images, ps, {1, 2, 3, 2}, 100), Error,
                        [](const Error& e) { return message_has(e, "particle 102: half-set"); });
  ImageStack small(4, n - 2, n - 2, pixel);
  BOOST_CHECK_THROW(rec.insert(small, ps, {1, 1, 1, 1}, 0), Error);
}

BOOST_AUTO_TEST_CASE(empty_half_set_is_an_error) {
  const auto blob_list = blobs::make_blobs(n);
  Reconstructor rec(MPI_COMM_SELF, options());
  const auto ps = blobs::particles(0, 3, 0, false);
  rec.insert(blobs::images(blob_list, ps, n, pixel), ps, {1, 1, 1}, 0);
  BOOST_CHECK_EXCEPTION(rec.finish(), Error,
                        [](const Error& e) { return message_has(e, "half-set 2 is empty"); });
}

BOOST_AUTO_TEST_CASE(bad_options_are_refused) {
  auto o = options();
  o.image_size = 47;
  BOOST_CHECK_THROW(Reconstructor(MPI_COMM_SELF, o), Error);
  o = options();
  o.padding = 0;
  BOOST_CHECK_THROW(Reconstructor(MPI_COMM_SELF, o), Error);
  o = options();
  o.pixel_size = 0;
  BOOST_CHECK_THROW(Reconstructor(MPI_COMM_SELF, o), Error);
}
