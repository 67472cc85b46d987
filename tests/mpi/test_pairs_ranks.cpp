#define BOOST_TEST_MODULE pairs_ranks
#include "pairpose_test.hpp"

#include <cmath>

#include "pairpose/core/mpi.hpp"
#include "pairpose/core/random.hpp"
#include "pairpose/pairs/pair_sampler.hpp"

using namespace pairpose;
using namespace pairpose::pairs;

namespace {

std::vector<geometry::Quat> random_truth(std::int64_t n) {
  std::vector<geometry::Quat> q(static_cast<size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    Rng rng(21, stream_orientation, static_cast<std::uint64_t>(i));
    double v[4], s = 0;
    for (double& x : v)
      x = rng.normal(), s += x * x;
    s = std::sqrt(s);
    q[i] = {v[0] / s, v[1] / s, v[2] / s, v[3] / s};
  }
  return q;
}

/// Every rank's pairs concatenated in rank order, on every rank: (i, j, distance bits as double).
std::vector<double> gather(const PairSet& p, MPI_Comm comm) {
  const int n_ranks = mpi::comm_size(comm);
  std::vector<double> mine;
  for (std::int64_t e = 0; e < p.size(); ++e)
    mine.insert(mine.end(), {double(p.i[e]), double(p.j[e]), p.distance[e]});
  int count = static_cast<int>(mine.size());
  std::vector<int> counts(n_ranks), offsets(n_ranks + 1, 0);
  MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, comm);
  for (int r = 0; r < n_ranks; ++r)
    offsets[r + 1] = offsets[r] + counts[r];
  std::vector<double> all(offsets[n_ranks]);
  MPI_Allgatherv(mine.data(), count, MPI_DOUBLE, all.data(), counts.data(), offsets.data(),
                 MPI_DOUBLE, comm);
  return all;
}

void check_same_as_one_rank(const SamplingOptions& opt, DistanceModel model, MPI_Comm comm) {
  DistanceModel serial_model = model;
  const PairSet local = sample_pairs(opt, model, comm);
  BOOST_TEST((local.rows == split_block(model.n_particles(), comm)));
  const PairSet serial = sample_pairs(opt, serial_model, MPI_COMM_SELF);
  const std::vector<double> all = gather(local, comm);
  std::vector<double> expected;
  for (std::int64_t e = 0; e < serial.size(); ++e)
    expected.insert(expected.end(), {double(serial.i[e]), double(serial.j[e]), serial.distance[e]});
  BOOST_TEST_REQUIRE(all.size() == expected.size());
  BOOST_TEST((all == expected)); // same pairs, same order, same distance bits
  BOOST_TEST(pair_set_hash(local, comm) == pair_set_hash(serial, MPI_COMM_SELF));
  BOOST_TEST(total_pairs(local, comm) == serial.size());
}

} // namespace

BOOST_AUTO_TEST_CASE(random_noise_pairs_do_not_depend_on_rank_count) {
  SamplingOptions opt;
  opt.budget = 15;
  opt.seed = 3;
  opt.landmarks = {1, 10, 100, 200};
  opt.landmark_partners = 2;
  check_same_as_one_rank(opt, DistanceModel::exact_noise(random_truth(501), 0.3, 3),
                         MPI_COMM_WORLD);
}

BOOST_AUTO_TEST_CASE(knn_and_all_pairs_do_not_depend_on_rank_count) {
  SamplingOptions opt;
  opt.strategy = Strategy::mix;
  opt.budget = 8;
  check_same_as_one_rank(opt, DistanceModel::exact(random_truth(300)), MPI_COMM_WORLD);
  opt.strategy = Strategy::all;
  check_same_as_one_rank(opt, DistanceModel::exact(random_truth(64)), MPI_COMM_WORLD);
}

BOOST_AUTO_TEST_CASE(euclidean_scale_is_rank_independent_on_a_sub_communicator) {
  // Each half of the world (one rank each at np2) samples on its own communicator.
  MPI_Comm sub;
  MPI_Comm_split(MPI_COMM_WORLD, mpi::comm_rank(MPI_COMM_WORLD) % 2, 0, &sub);
  std::vector<float> images(200 * 9);
  Rng rng(2, stream_noise, 0);
  for (float& x : images)
    x = static_cast<float>(rng.normal());
  SamplingOptions opt;
  opt.budget = 10;
  check_same_as_one_rank(opt, DistanceModel::euclidean(200, 9, images), sub);
  check_same_as_one_rank(opt, DistanceModel::euclidean(200, 9, images), MPI_COMM_WORLD);
  MPI_Comm_free(&sub);
}
