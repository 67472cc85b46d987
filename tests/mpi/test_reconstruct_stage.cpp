#define BOOST_TEST_MODULE reconstruct_stage
#include "pairpose_test.hpp"

#include <cmath>
#include <filesystem>
#include <limits>

#include "../unit/test_reconstruct_blobs.hpp"
#include "pairpose/core/error.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/io/dataset.hpp"
#include "pairpose/io/mrc.hpp"
#include "pairpose/reconstruct/stage.hpp"

using namespace pairpose;

namespace {

constexpr std::int64_t n = 32;
constexpr double pixel = 2.0;
constexpr std::int64_t n_particles = 400;

// A simulated dataset of blob projections (with true orientations when `with_truth`), written
// collectively; each rank writes its block.
void make_dataset(const std::string& path, bool with_truth) {
  io::DatasetInfo info;
  info.n_particles = n_particles;
  info.image_size = n;
  info.pixel_size = pixel;
  info.has_orientations = with_truth;
  auto ds = io::Dataset::create(path, MPI_COMM_WORLD, info);
  const Block mine = ds.block();
  const auto ps = blobs::particles(mine.begin, mine.size(), 2 * pixel, false);
  ds.write_images(mine, blobs::images(blobs::make_blobs(n), ps, n, pixel));
  ds.write_particles(mine, ps);
  ds.commit();
}

// The quaternions of particles `rows`, with particle `missing` set to NaN (if in range).
void write_recovered(const std::string& path, std::int64_t missing) {
  auto ds = io::Dataset::open(path, MPI_COMM_WORLD, io::Dataset::Mode::update);
  const Block mine = ds.block();
  const auto ps = blobs::particles(mine.begin, mine.size(), 0, false);
  std::vector<double> q;
  for (std::int64_t i = mine.begin; i < mine.end; ++i) {
    const auto& o = ps[i - mine.begin].orientation;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    if (i == missing)
      q.insert(q.end(), {nan, nan, nan, nan});
    else
      q.insert(q.end(), {o.w, o.x, o.y, o.z});
  }
  ds.write_rows("recover/quaternions", mine.size(), 4, q.data());
  ds.commit();
}

void run(const std::string& input, const std::string& orientations, const std::string& output,
         const std::string& schedule = "dynamic") {
  config::Schema schema("reconstruct", "");
  reconstruct::declare_reconstruct(schema);
  std::map<std::string, config::Value> values;
  for (const auto& e : schema.entries())
    values[e.key] = e.default_value;
  config::Params params("reconstruct", values);
  params.set("input", input);
  params.set("orientations", orientations);
  params.set("output", output);
  params.set("schedule", schedule);
  params.set("batch_size", std::int64_t(3)); // many pieces per rank
  Logger log(MPI_COMM_WORLD, LogLevel::quiet);
  TimerOutput timers(MPI_COMM_WORLD);
  StageContext ctx{MPI_COMM_WORLD, params, log, timers, "# test"};
  reconstruct::run_reconstruct(ctx);
}

bool message_has(const Error& e, const std::string& what) {
  return std::string(e.what()).find(what) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_CASE(true_and_recovered_orientations_give_the_map) {
  const std::string dir = testing::scratch_folder("reconstruct_stage");
  const std::string input = dir + "/blobs.h5";
  make_dataset(input, true);
  run(input, "true", dir + "/true/map.mrc");
  write_recovered(input, -1);
  run(input, "recovered", dir + "/recovered.mrc");
  run(input, "true", dir + "/static.mrc", "static");
  for (const char* f : {"/true/map_half1.mrc", "/true/map_half2.mrc", "/true/map.mrc.params.toml",
                        "/recovered_half2.mrc"})
    BOOST_TEST(std::filesystem::exists(dir + f), f);
  if (mpi::comm_rank(MPI_COMM_WORLD) != 0) return;
  const auto map = io::read_mrc_volume(dir + "/true/map.mrc");
  const auto again = io::read_mrc_volume(dir + "/recovered.mrc");
  BOOST_TEST(map.nx == n);
  BOOST_TEST(std::abs(map.voxel_size - pixel) < 1e-4);
  const auto truth = blobs::blob_map(blobs::make_blobs(n), n, pixel);
  const double c = blobs::masked_correlation(map, truth, n / 2 - 2);
  BOOST_TEST_MESSAGE("correlation with the truth " << c);
  BOOST_TEST(c >= 0.95);
  BOOST_TEST(blobs::masked_correlation(map, again, n / 2) > 0.99999);
  // Pieces taken in turns or dealt round robin: the same map up to the float summation order.
  const auto dealt = io::read_mrc_volume(dir + "/static.mrc");
  float peak = 0, worst = 0;
  for (std::size_t i = 0; i < map.data.size(); ++i) {
    peak = std::max(peak, std::abs(dealt.data[i]));
    worst = std::max(worst, std::abs(map.data[i] - dealt.data[i]));
  }
  BOOST_TEST(worst <= 1e-5f * peak);
}

BOOST_AUTO_TEST_CASE(missing_orientations_are_errors) {
  const std::string dir = testing::scratch_folder("reconstruct_stage_errors");
  const std::string input = dir + "/blobs.h5";
  make_dataset(input, false);
  BOOST_CHECK_EXCEPTION(run(input, "true", dir + "/a.mrc"), Error, [&](const Error& e) {
    return message_has(e, input + ": no true orientations");
  });
  BOOST_CHECK_EXCEPTION(run(input, "recovered", dir + "/a.mrc"), Error,
                        [&](const Error& e) { return message_has(e, "recover/quaternions"); });
  write_recovered(input, 123);
  BOOST_CHECK_EXCEPTION(run(input, "recovered", dir + "/a.mrc"), Error, [&](const Error& e) {
    return message_has(e, "particle 123: orientation is missing");
  });
  BOOST_TEST(!std::filesystem::exists(dir + "/a.mrc"));
}
