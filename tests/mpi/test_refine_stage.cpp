#define BOOST_TEST_MODULE refine_stage
#include "pairpose_test.hpp"

#include <algorithm>
#include <cmath>

#include "../unit/test_reconstruct_blobs.hpp"
#include "pairpose/core/error.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/io/dataset.hpp"
#include "pairpose/io/star.hpp"
#include "pairpose/refine/matcher.hpp"
#include "pairpose/refine/stage.hpp"

using namespace pairpose;
using geometry::Quat;

namespace {

constexpr std::int64_t n_px = 40;
constexpr double pixel = 2.0;
constexpr std::int64_t n_particles = 300;
constexpr double start_error_deg = 4.0;

/// The truth turned by 4° about an axis that depends on the particle only.
Quat perturbed(const Quat& q, std::int64_t i) {
  const double a = 0.7 * double(i), angle = start_error_deg * M_PI / 180;
  geometry::Vec3 axis{std::cos(a), std::sin(a), std::cos(1.3 * a)};
  const double norm = std::sqrt(axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]);
  for (auto& v : axis)
    v *= angle / norm;
  return geometry::to_quaternion(
      geometry::multiply(refine::rotation_exp(axis), geometry::to_matrix(q)));
}

/// Noiseless blob projections with CTF and shifts; /gauge/quaternions = the perturbed truth.
void make_dataset(const std::string& path, MPI_Comm comm) {
  io::DatasetInfo info;
  info.n_particles = n_particles;
  info.image_size = n_px;
  info.pixel_size = pixel;
  info.has_orientations = true;
  info.has_ctf = true;
  {
    auto ds = io::Dataset::create(path, comm, info);
    const Block mine = ds.block();
    const auto ps = blobs::particles(mine.begin, mine.size(), 4.0, true);
    ds.write_images(mine, blobs::images(blobs::make_blobs(n_px), ps, n_px, pixel));
    ds.write_particles(mine, ps);
    ds.commit();
  }
  auto ds = io::Dataset::open(path, comm, io::Dataset::Mode::update);
  const Block mine = ds.block();
  const auto ps = ds.read_particles(mine);
  std::vector<double> rows;
  for (std::int64_t i = 0; i < mine.size(); ++i) {
    const Quat s = perturbed(ps[i].orientation, mine.begin + i);
    rows.insert(rows.end(), {s.w, s.x, s.y, s.z});
  }
  ds.write_rows("gauge/quaternions", mine.size(), 4, rows.data());
  ds.commit();
}

void run(const std::string& dataset, const std::string& orientations,
         const std::string& star = "") {
  config::Schema schema("refine", "");
  refine::declare_refine(schema);
  std::map<std::string, config::Value> values;
  for (const auto& e : schema.entries())
    values[e.key] = e.default_value;
  config::Params params("refine", values);
  params.set("dataset", dataset);
  params.set("orientations", orientations);
  params.set("iterations", std::int64_t(2));
  params.set("step", 4.0);
  params.set("min_step", 0.25);
  params.set("batch_size", std::int64_t(32)); // several rounds per rank
  params.set("star", star);
  Logger log(MPI_COMM_WORLD, LogLevel::quiet);
  TimerOutput timers(MPI_COMM_WORLD);
  StageContext ctx{MPI_COMM_WORLD, params, log, timers, "# test"};
  refine::run_refine(ctx);
}

/// A scratch folder of its own for each rank count (ctest may run np1 and np2 at once).
std::string scratch(const std::string& name) {
  return testing::scratch_folder(name + "_np" + std::to_string(mpi::comm_size(MPI_COMM_WORLD)));
}

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

} // namespace

BOOST_AUTO_TEST_CASE(orientations_4_degrees_off_come_back) {
  const std::string dir = scratch("refine_stage");
  const std::string path = dir + "/blobs.h5", star = dir + "/refined.star";
  make_dataset(path, MPI_COMM_WORLD);
  run(path, "gauge/quaternions", star);
  const auto ds = io::Dataset::open(path, MPI_COMM_WORLD);
  BOOST_TEST(ds.is_complete("refine"));
  const auto start = io::read_orientation_array(ds, "gauge/quaternions");
  const auto refined = io::read_orientation_array(ds, "refine/quaternions");
  const auto particles = ds.read_particles({0, n_particles});
  std::vector<double> before, after;
  for (std::int64_t i = 0; i < n_particles; ++i) {
    before.push_back(geometry::distance(start[i], particles[i].orientation) * 180 / M_PI);
    after.push_back(geometry::distance(refined[i], particles[i].orientation) * 180 / M_PI);
  }
  BOOST_TEST(median(before) == start_error_deg, boost::test_tools::tolerance(1e-6));
  BOOST_TEST_MESSAGE("median error " << median(before) << "° -> " << median(after) << "°");
  BOOST_TEST(median(after) < 0.75);
  // The STAR export holds the same orientations, every particle (each rank refined a block).
  const io::ParticleStar exported = io::read_particles_star(star);
  BOOST_TEST(std::int64_t(exported.particles.size()) == n_particles);
  double worst = 0;
  for (std::int64_t i = 0; i < n_particles; ++i)
    worst = std::max(worst, geometry::distance(exported.particles[i].orientation, refined[i]));
  BOOST_TEST(worst * 180 / M_PI < 1e-3); // Euler angles in the file: 6 decimals
  BOOST_TEST(ds.n_rows("refine/score") == n_particles);
  // The attributes record each iteration, and the physical error (known truth) falls.
  const std::string errors = ds.attribute("refine", "physical_error_median_deg");
  BOOST_TEST(std::count(errors.begin(), errors.end(), ',') == 2); // input + 2 iterations
  BOOST_TEST(std::stod(errors.substr(errors.rfind(',') + 1)) < 0.75);
  BOOST_TEST(std::stod(ds.attribute("refine", "final_resolution_angstrom")) < 10.0);
}

BOOST_AUTO_TEST_CASE(a_missing_orientation_array_is_named) {
  const std::string path = scratch("refine_errors") + "/blobs.h5";
  make_dataset(path, MPI_COMM_WORLD);
  BOOST_CHECK_EXCEPTION(run(path, "recover/quaternions"), Error, [](const Error& e) {
    return std::string(e.what()).find("no complete array /recover/quaternions") !=
           std::string::npos;
  });
  BOOST_TEST(!io::Dataset::open(path, MPI_COMM_WORLD).has("refine/quaternions"));
}
