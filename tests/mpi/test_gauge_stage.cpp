#define BOOST_TEST_MODULE gauge_stage
#include "pairpose_test.hpp"

#include <filesystem>

#include "../unit/test_reconstruct_blobs.hpp"
#include "pairpose/core/error.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/evaluate/orientation_error.hpp"
#include "pairpose/gauge/stage.hpp"
#include "pairpose/io/dataset.hpp"

using namespace pairpose;
using geometry::Quat;

namespace {

constexpr std::int64_t n_px = 40;
constexpr double pixel = 2.0;
constexpr std::int64_t n_particles = 120;

// The scramble of the truth: q̂ = a·conj(q)·b (a transposed estimate with both factors).
const Quat scramble_a = geometry::normalized({0.3, -0.5, 0.7, 0.2});
const Quat scramble_b = geometry::normalized({-0.4, 0.1, 0.6, -0.5});

Quat scrambled(const Quat& q) {
  return geometry::canonical(
      geometry::multiply(geometry::multiply(scramble_a, geometry::conjugate(q)), scramble_b));
}

/// Blob projections with CTF and true orientations; `array` (if not empty) gets the scrambled
/// truth, with `n_rows_missing` rows fewer (rank 0's share shrinks) to test shape errors.
void make_dataset(const std::string& path, MPI_Comm comm, const std::string& array,
                  std::int64_t n_rows_missing = 0) {
  io::DatasetInfo info;
  info.n_particles = n_particles;
  info.image_size = n_px;
  info.pixel_size = pixel;
  info.has_orientations = true;
  info.has_ctf = true;
  {
    auto ds = io::Dataset::create(path, comm, info);
    const Block mine = ds.block();
    const auto ps = blobs::particles(mine.begin, mine.size(), 0.0, true);
    ds.write_images(mine, blobs::images(blobs::make_blobs(n_px), ps, n_px, pixel));
    ds.write_particles(mine, ps);
    ds.commit();
  }
  if (array.empty()) return;
  auto ds = io::Dataset::open(path, comm, io::Dataset::Mode::update);
  const Block mine = ds.block();
  const auto ps = ds.read_particles(mine);
  std::vector<double> rows;
  for (const auto& p : ps) {
    const Quat s = scrambled(p.orientation);
    rows.insert(rows.end(), {s.w, s.x, s.y, s.z});
  }
  const std::int64_t n_mine = mine.size() - (mpi::comm_rank(comm) == 0 ? n_rows_missing : 0);
  ds.write_rows(array, n_mine, 4, rows.data());
  ds.commit();
}

void run(const std::string& dataset, MPI_Comm comm, const std::string& orientations) {
  config::Schema schema("gauge", "");
  gauge::declare_gauge(schema);
  std::map<std::string, config::Value> values;
  for (const auto& e : schema.entries())
    values[e.key] = e.default_value;
  config::Params params("gauge", values);
  params.set("dataset", dataset);
  params.set("orientations", orientations);
  params.set("n_images", std::int64_t(60));
  params.set("n_pairs", std::int64_t(1000));
  params.set("coarse_pairs", std::int64_t(200));
  params.set("grid_spacing", 25.0);
  params.set("n_refine", std::int64_t(2));
  Logger log(comm, LogLevel::quiet);
  TimerOutput timers(comm);
  StageContext ctx{comm, params, log, timers, "# test"};
  gauge::run_gauge(ctx);
}

std::vector<double> gauge_rows(const std::string& path, MPI_Comm comm) {
  const auto ds = io::Dataset::open(path, comm);
  return ds.read_all_rows<double>("gauge/quaternions").data;
}

bool message_has(const Error& e, const std::string& what) {
  return std::string(e.what()).find(what) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_CASE(scrambled_truth_comes_back_at_any_rank_count) {
  const std::string dir = testing::scratch_folder("gauge_stage");
  const std::string path = dir + "/blobs.h5", alone = dir + "/alone.h5";
  make_dataset(path, MPI_COMM_WORLD, "recover/quaternions");
  run(path, MPI_COMM_WORLD, "recover/quaternions");

  const auto ds = io::Dataset::open(path, MPI_COMM_WORLD);
  BOOST_TEST(ds.is_complete("gauge"));
  BOOST_TEST(ds.attribute("gauge", "transposed") == "1");
  const auto rows = ds.read_all_rows<double>("gauge/quaternions");
  const auto particles = ds.read_particles({0, n_particles});
  std::vector<Quat> truth, fixed;
  for (std::int64_t i = 0; i < n_particles; ++i) {
    truth.push_back(particles[i].orientation);
    fixed.push_back({rows.at(i, 0), rows.at(i, 1), rows.at(i, 2), rows.at(i, 3)});
  }
  const auto err = evaluate::physical_error(truth, fixed);
  BOOST_TEST_MESSAGE("physical error median " << err.median_deg << "°, score "
                                              << ds.attribute("gauge", "score"));
  BOOST_TEST(err.median_deg < 1.0);
  BOOST_TEST(std::stod(ds.attribute("gauge", "physical_error_median_deg")) < 1.0);

  // The same run on one rank alone gives bit-identical orientations.
  if (mpi::comm_size(MPI_COMM_WORLD) > 1 && mpi::comm_rank(MPI_COMM_WORLD) == 0) {
    make_dataset(alone, MPI_COMM_SELF, "recover/quaternions");
    run(alone, MPI_COMM_SELF, "recover/quaternions");
    const auto single = gauge_rows(alone, MPI_COMM_SELF);
    BOOST_TEST(single == rows.data);
    BOOST_TEST(io::Dataset::open(alone, MPI_COMM_SELF).attribute("gauge", "c") ==
               ds.attribute("gauge", "c"));
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

BOOST_AUTO_TEST_CASE(missing_or_misshapen_orientations_are_named) {
  const std::string dir = testing::scratch_folder("gauge_errors");
  const std::string path = dir + "/blobs.h5";
  make_dataset(path, MPI_COMM_WORLD, "other/quaternions", 1);
  BOOST_CHECK_EXCEPTION(run(path, MPI_COMM_WORLD, "recover/quaternions"), Error, [](auto& e) {
    return message_has(e, "no complete array /recover/quaternions");
  });
  BOOST_CHECK_EXCEPTION(run(path, MPI_COMM_WORLD, "other/quaternions"), Error, [](auto& e) {
    return message_has(e, "/other/quaternions is 119 x 4, expected 120 x 4");
  });
  BOOST_TEST(!io::Dataset::open(path, MPI_COMM_WORLD).has("gauge/quaternions"));
}
