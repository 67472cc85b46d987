#define BOOST_TEST_MODULE evaluate_stage
#include "pairpose_test.hpp"

#include <fstream>
#include <sstream>

#include "pairpose/config/provenance.hpp"
#include "pairpose/core/error.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/core/random.hpp"
#include "pairpose/evaluate/stage.hpp"
#include "pairpose/io/dataset.hpp"

using namespace pairpose;

namespace {

/// A dataset of n particles (no images) with random true orientations, and an estimate that is
/// the truth moved by a left rotation C and a right rotation B, plus a small perturbation.
void make_dataset(const std::string& path, std::int64_t n, bool left_factor) {
  MPI_Comm comm = MPI_COMM_WORLD;
  io::DatasetInfo info;
  info.n_particles = n;
  info.has_orientations = true;
  auto ds = io::Dataset::create(path, comm, info);
  const Block mine = ds.block();
  std::vector<Particle> parts(static_cast<size_t>(mine.size()));
  std::vector<double> estimate;
  Rng g(99);
  const auto b = geometry::random_rotation(g), c = geometry::random_rotation(g);
  for (std::int64_t k = 0; k < mine.size(); ++k) {
    Rng rng(5, stream_orientation, static_cast<std::uint64_t>(mine.begin + k));
    parts[k].orientation = geometry::random_rotation(rng);
    geometry::Quat e = geometry::multiply(parts[k].orientation, b);
    if (left_factor) e = geometry::multiply(c, e);
    estimate.insert(estimate.end(), {e.w, e.x, e.y, e.z});
  }
  ds.write_particles(mine, parts);
  ds.write_rows("recover/quaternions", mine.size(), 4, estimate.data());
  ds.commit();
}

std::string run(const std::string& dataset, const std::string& summary) {
  MPI_Comm comm = MPI_COMM_WORLD;
  config::Schema schema("evaluate", "");
  evaluate::declare_evaluate(schema);
  auto params = config::resolve(schema, config::ParameterFile::parse("", "none"),
                                {config::parse_override("evaluate.dataset=" + dataset),
                                 config::parse_override("evaluate.summary=" + summary)});
  Logger log(comm, LogLevel::quiet);
  TimerOutput timers(comm);
  StageContext ctx{comm, params, log, timers, make_provenance(params)};
  evaluate::run_evaluate(ctx);
  std::ifstream in(summary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double field(const std::string& json, const std::string& object, const std::string& key) {
  const auto at = json.find("\"" + key + "\"", json.find("\"" + object + "\""));
  BOOST_REQUIRE(at != std::string::npos);
  return std::stod(json.substr(json.find(':', at) + 1));
}

} // namespace

BOOST_AUTO_TEST_CASE(right_factor_is_invisible_left_factor_is_not) {
  const std::string dir = testing::scratch_folder("evaluate_stage");
  make_dataset(dir + "/right.h5", 500, false);
  const std::string right = run(dir + "/right.h5", dir + "/right.json");
  BOOST_TEST(field(right, "e_or", "median_rad") < 1e-8);
  BOOST_TEST(field(right, "physical", "median_deg") < 1e-6);
  make_dataset(dir + "/left.h5", 500, true);
  const std::string left = run(dir + "/left.h5", dir + "/left.json");
  BOOST_TEST(field(left, "e_or", "median_rad") < 1e-8);    // O(4) absorbs the left factor
  BOOST_TEST(field(left, "physical", "median_deg") > 5.0); // but the physical error does not
  BOOST_TEST(left.find("\"provenance\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(missing_estimate_is_a_clear_error) {
  const std::string dir = testing::scratch_folder("evaluate_missing");
  MPI_Comm comm = MPI_COMM_WORLD;
  io::DatasetInfo info;
  info.n_particles = 10;
  info.has_orientations = true;
  auto ds = io::Dataset::create(dir + "/none.h5", comm, info);
  ds.write_particles(ds.block(), std::vector<Particle>(ds.block().size()));
  ds.commit();
  try {
    run(dir + "/none.h5", dir + "/none.json");
    BOOST_FAIL("expected an error");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("recover/quaternions") != std::string::npos);
  }
  BOOST_TEST(!std::ifstream(dir + "/none.json").good());
}
