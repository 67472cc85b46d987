#define BOOST_TEST_MODULE core_partition
#include "pairpose_test.hpp"

#include <algorithm>
#include <vector>

#include "pairpose/core/error.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/core/partition.hpp"
#include "pairpose/core/random.hpp"

using namespace pairpose;

BOOST_AUTO_TEST_CASE(blocks_cover_the_range_once) {
  for (std::int64_t n : {0LL, 1LL, 7LL, 1000LL, 5000000000LL}) {
    for (int parts : {1, 2, 3, 7, 64}) {
      std::int64_t next = 0, smallest = n, largest = 0;
      for (int p = 0; p < parts; ++p) {
        const Block b = split_block(n, parts, p);
        BOOST_TEST(b.begin == next);
        next = b.end;
        smallest = std::min(smallest, b.size());
        largest = std::max(largest, b.size());
        if (!b.empty()) {
          BOOST_TEST(block_owner(b.begin, n, parts) == p);
          BOOST_TEST(block_owner(b.end - 1, n, parts) == p);
        }
      }
      BOOST_TEST(next == n);
      BOOST_TEST(largest - smallest <= 1);
    }
  }
  BOOST_CHECK_THROW(split_block(10, 0, 0), Error);
  BOOST_CHECK_THROW(block_owner(10, 10, 2), Error);
}

BOOST_AUTO_TEST_CASE(blocks_on_a_sub_communicator) {
  // Split the job into single-rank communicators: each must see itself as the whole range.
  MPI_Comm world = MPI_COMM_WORLD, self_comm;
  MPI_Comm_split(world, mpi::comm_rank(world), 0, &self_comm);
  const Block b = split_block(1001, self_comm);
  BOOST_TEST(b.begin == 0);
  BOOST_TEST(b.end == 1001);
  BOOST_TEST(mpi::all_sum<std::int64_t>(b.size(), self_comm) == 1001);
  MPI_Comm_free(&self_comm);
  // And over the world, the blocks sum to the whole.
  BOOST_TEST(mpi::all_sum<std::int64_t>(split_block(1001, world).size(), world) == 1001);
}

BOOST_AUTO_TEST_CASE(agree_or_throw_carries_the_failing_ranks_message) {
  MPI_Comm world = MPI_COMM_WORLD;
  const int me = mpi::comm_rank(world), last = mpi::comm_size(world) - 1;
  try {
    mpi::agree_or_throw(me == last ? "bad input on the last rank" : "", world);
    BOOST_FAIL("expected an error");
  } catch (const CollectiveError& e) {
    BOOST_TEST(std::string(e.what()).find("bad input on the last rank") != std::string::npos);
  }
  BOOST_CHECK_NO_THROW(mpi::agree_or_throw("", world));
}

BOOST_AUTO_TEST_CASE(shared_counter_deals_every_piece_once) {
  MPI_Comm world = MPI_COMM_WORLD;
  const std::int64_t n = 1000, step = 7;
  std::vector<std::int64_t> mine;
  {
    mpi::SharedCounter counter(world, 5);
    for (std::int64_t first; (first = counter.fetch_add(step)) < n;)
      mine.push_back(first);
  }
  // Every rank took at least the one fetch past the end; together they took each piece once.
  std::vector<std::int64_t> taken(size_t(n), 0);
  for (const auto first : mine)
    for (std::int64_t i = first; i < std::min(n, first + step); ++i)
      ++taken[size_t(i)];
  mpi::all_sum_inplace(taken.data(), n, world);
  for (std::int64_t i = 0; i < n; ++i)
    BOOST_TEST(taken[size_t(i)] == (i < 5 ? 0 : 1), "piece " << i);
  // The pieces a rank gets come in increasing order.
  BOOST_TEST(std::is_sorted(mine.begin(), mine.end()));
  // A second counter on the same communicator starts afresh.
  mpi::SharedCounter again(world);
  const std::int64_t got = again.fetch_add(1);
  BOOST_TEST(mpi::all_sum(got, world) ==
             std::int64_t(mpi::comm_size(world)) * (mpi::comm_size(world) - 1) / 2);
}

BOOST_AUTO_TEST_CASE(random_streams_depend_only_on_seed_stream_index) {
  Rng a(42, stream_noise, 123), b(42, stream_noise, 123), c(42, stream_noise, 124),
      d(42, stream_shift, 123);
  const auto x = a.next();
  BOOST_TEST(x == b.next());
  BOOST_TEST(x != c.next());
  BOOST_TEST(x != d.next());
  Rng g(1);
  double sum = 0, sum2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double v = g.normal();
    sum += v;
    sum2 += v * v;
  }
  BOOST_TEST(std::abs(sum / n) < 0.01);
  BOOST_TEST(std::abs(sum2 / n - 1.0) < 0.01);
}
