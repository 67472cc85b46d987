#define BOOST_TEST_MODULE reconstruct_ranks
#include "pairpose_test.hpp"

#include <algorithm>
#include <cmath>

#include "../unit/test_reconstruct_blobs.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/core/partition.hpp"
#include "pairpose/reconstruct/reconstructor.hpp"

using namespace pairpose;
using reconstruct::Reconstructor;
using reconstruct::ReconstructorOptions;

namespace {

constexpr std::int64_t n = 44; // padded grid 90 (rounded up from 88)
constexpr double pixel = 2.0;
constexpr std::int64_t n_particles = 600;
constexpr std::uint64_t seed = 5;

// Reconstructs particles `rows` of the test set on `comm` (each rank passes its own rows).
reconstruct::Reconstruction run(MPI_Comm comm, Block rows) {
  ReconstructorOptions o;
  o.image_size = n;
  o.pixel_size = pixel;
  o.source = "blobs";
  Reconstructor rec(comm, o);
  const auto blob_list = blobs::make_blobs(n);
  for (std::int64_t first = rows.begin; first < rows.end; first += 100) {
    const Block batch{first, std::min(first + 100, rows.end)};
    const auto ps = blobs::particles(batch.begin, batch.size(), 3 * pixel, true);
    rec.insert(blobs::images(blob_list, ps, n, pixel), ps,
               reconstruct::random_half_sets(seed, batch), batch.begin);
  }
  return rec.finish();
}

double max_abs(const Volume& v) {
  double m = 0;
  for (float x : v.data)
    m = std::max(m, double(std::abs(x)));
  return m;
}

double max_difference(const Volume& a, const Volume& b) {
  double m = 0;
  for (size_t i = 0; i < a.data.size(); ++i)
    m = std::max(m, double(std::abs(a.data[i] - b.data[i])));
  return m;
}

} // namespace

BOOST_AUTO_TEST_CASE(distributed_map_equals_single_rank_map) {
  const MPI_Comm world = MPI_COMM_WORLD;
  const auto maps = run(world, split_block(n_particles, world));
  BOOST_TEST(maps.n_particles[0] + maps.n_particles[1] == n_particles);
  if (mpi::comm_rank(world) == 0) {
    // The same particles on one rank (MPI_COMM_SELF, a sub-communicator).
    const auto serial = run(MPI_COMM_SELF, {0, n_particles});
    BOOST_TEST(serial.n_particles[0] == maps.n_particles[0]);
    const Volume* a[3] = {&maps.full, &maps.half1, &maps.half2};
    const Volume* b[3] = {&serial.full, &serial.half1, &serial.half2};
    for (int m = 0; m < 3; ++m) {
      BOOST_TEST(a[m]->size() == n * n * n);
      const double tolerance = 1e-4 * max_abs(*b[m]);
      BOOST_TEST(max_difference(*a[m], *b[m]) <= tolerance);
    }
    const auto truth = blobs::blob_map(blobs::make_blobs(n), n, pixel);
    const double c = blobs::masked_correlation(maps.full, truth, n / 2 - 2);
    BOOST_TEST_MESSAGE("correlation with the truth " << c);
    BOOST_TEST(c >= 0.95);
  } else {
    BOOST_TEST(maps.full.data.empty());
  }
}

BOOST_AUTO_TEST_CASE(half_split_is_independent_of_rank_count) {
  const MPI_Comm world = MPI_COMM_WORLD;
  const Block mine = split_block(n_particles, world);
  const auto local = reconstruct::random_half_sets(seed, mine);
  std::vector<int> gathered(n_particles);
  const int n_ranks = mpi::comm_size(world);
  std::vector<int> counts(n_ranks), displs(n_ranks);
  for (int r = 0; r < n_ranks; ++r) {
    const Block b = split_block(n_particles, n_ranks, r);
    counts[r] = static_cast<int>(b.size());
    displs[r] = static_cast<int>(b.begin);
  }
  MPI_Allgatherv(local.data(), static_cast<int>(local.size()), MPI_INT, gathered.data(),
                 counts.data(), displs.data(), MPI_INT, world);
  BOOST_TEST(gathered == reconstruct::random_half_sets(seed, {0, n_particles}));
}

BOOST_AUTO_TEST_CASE(empty_half_set_fails_on_every_rank) {
  ReconstructorOptions o;
  o.image_size = n;
  o.pixel_size = pixel;
  o.source = "tiny";
  Reconstructor rec(MPI_COMM_WORLD, o);
  if (mpi::comm_rank(MPI_COMM_WORLD) == 0) {
    const auto ps = blobs::particles(0, 1, 0, false);
    rec.insert(blobs::images(blobs::make_blobs(n), ps, n, pixel), ps, {2}, 0);
  }
  BOOST_CHECK_THROW(rec.finish(), CollectiveError);
}
