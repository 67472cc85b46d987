#define BOOST_TEST_MODULE learn_ranks
#include "pairpose_test.hpp"

#ifdef PAIRPOSE_HAVE_LEARN

#include <cmath>

#include "pairpose/core/mpi.hpp"
#include "pairpose/core/partition.hpp"
#include "pairpose/core/random.hpp"
#include "pairpose/learn/network.hpp"
#include "pairpose/learn/trainer.hpp"

using namespace pairpose;
using namespace pairpose::learn;

namespace {

NetworkConfig tiny(bool batch_norm) {
  NetworkConfig c;
  c.preset = "custom";
  c.image_size = 16;
  c.channels = {8, 16};
  c.kernels = {3, 3};
  c.batch_norm = batch_norm;
  c.mlp_hidden = {16};
  c.embedding_dim = 8;
  return c;
}

/// Global batch `step` of B images (every rank can make all of it) and its orientations.
void global_batch(std::int64_t step, std::int64_t b, std::vector<float>& images,
                  std::vector<geometry::Quat>& q) {
  const std::int64_t s = 16;
  images.assign(static_cast<size_t>(b * s * s), 0.0f);
  q.clear();
  for (std::int64_t i = 0; i < b; ++i) {
    Rng rng(21, stream_train, std::uint64_t(step * b + i));
    q.push_back(geometry::random_rotation(rng));
    const geometry::Mat3 a = geometry::to_matrix(q.back());
    for (std::int64_t k = 0; k < s * s; ++k)
      images[i * s * s + k] = float(a[k % 9] * std::cos(0.2 * k) + 0.1 * rng.normal());
  }
}

} // namespace

// The summed gradient over the ranks equals the 1-rank gradient of the same global batch.
BOOST_AUTO_TEST_CASE(gradient_of_the_global_batch_is_rank_independent) {
  MPI_Comm comm = MPI_COMM_WORLD;
  const std::int64_t b = 10;
  std::vector<float> images;
  std::vector<geometry::Quat> q;
  global_batch(0, b, images, q);
  TrainerOptions o;
  DistanceNetwork one(tiny(false), 7), many(tiny(false), 7);
  Trainer t_one(MPI_COMM_SELF, one, o), t_many(comm, many, o);
  std::vector<float> g_one, g_many;
  const double l_one = t_one.loss_and_gradient(images.data(), q, {0, b}, g_one);
  const Block mine = split_block(b, comm);
  const double l_many = t_many.loss_and_gradient(images.data() + mine.begin * 256, q, mine, g_many);
  BOOST_TEST(l_many == l_one, boost::test_tools::tolerance(1e-6));
  BOOST_REQUIRE(g_one.size() == g_many.size());
  // float32 rounding only (convolutions blocked differently, summation order), amplified by
  // acos' derivative 1/sqrt(1 - c²) at the nearly parallel embeddings of an untrained network
  const auto relative = [](const std::vector<float>& a, const std::vector<float>& b) {
    double d2 = 0, n2 = 0;
    for (size_t k = 0; k < a.size(); ++k)
      d2 += double(a[k] - b[k]) * (a[k] - b[k]), n2 += double(a[k]) * a[k];
    return std::sqrt(d2 / n2);
  };
  const double error = relative(g_one, g_many);
  BOOST_TEST_MESSAGE("relative difference of the gradients " << error);
  BOOST_TEST(error < 1e-4);
  if (mpi::comm_size(comm) > 1) {
    // negative control: summing gradients of the ranks' own pairs only (no cross-rank pairs)
    // misses most of the gradient
    DistanceNetwork local(tiny(false), 7);
    Trainer t_local(MPI_COMM_SELF, local, o);
    std::vector<float> g_local;
    std::vector<geometry::Quat> q_mine(q.begin() + mine.begin, q.begin() + mine.end);
    t_local.loss_and_gradient(images.data() + mine.begin * 256, q_mine, {0, mine.size()}, g_local);
    mpi::all_sum_inplace(g_local.data(), std::int64_t(g_local.size()), comm);
    BOOST_TEST_MESSAGE("without cross-rank pairs: relative difference "
                       << relative(g_one, g_local));
    BOOST_TEST(relative(g_one, g_local) > 100 * error);
  }
}

// Training curves over the first steps agree within 1e-4 whatever the rank count.
BOOST_AUTO_TEST_CASE(loss_curve_is_rank_independent) {
  MPI_Comm comm = MPI_COMM_WORLD;
  const std::int64_t b = 12;
  TrainerOptions o;
  o.learning_rate = 2e-3;
  DistanceNetwork one(tiny(false), 8), many(tiny(false), 8);
  Trainer t_one(MPI_COMM_SELF, one, o), t_many(comm, many, o);
  const Block mine = split_block(b, comm);
  for (std::int64_t step = 0; step < 6; ++step) {
    std::vector<float> images;
    std::vector<geometry::Quat> q;
    global_batch(step, b, images, q);
    const double l_one = t_one.step(images.data(), q, {0, b});
    const double l_many = t_many.step(images.data() + mine.begin * 256, q, mine);
    BOOST_TEST_MESSAGE("step " << step << ": " << l_one << " vs " << l_many);
    BOOST_TEST(std::abs(l_one - l_many) < 1e-4);
  }
  // the held-out figures agree too
  std::vector<float> images;
  std::vector<geometry::Quat> q;
  global_batch(100, b, images, q);
  const PairEvaluation e_one = t_one.evaluate(images.data(), q, {0, b});
  const PairEvaluation e_many = t_many.evaluate(images.data() + mine.begin * 256, q, mine);
  BOOST_TEST(e_one.n_pairs == b * (b - 1) / 2);
  BOOST_TEST(std::abs(e_one.rmse - e_many.rmse) < 1e-4);
}

// With batch-norm, every rank ends a step with the same parameters and running statistics.
BOOST_AUTO_TEST_CASE(batch_norm_state_stays_replicated) {
  MPI_Comm comm = MPI_COMM_WORLD;
  const std::int64_t b = 8;
  DistanceNetwork net(tiny(true), 9);
  Trainer trainer(comm, net, TrainerOptions{});
  const Block mine = split_block(b, comm);
  for (std::int64_t step = 0; step < 3; ++step) {
    std::vector<float> images;
    std::vector<geometry::Quat> q;
    global_batch(step, b, images, q);
    trainer.step(images.data() + mine.begin * 256, q, mine);
  }
  std::vector<float> state = net.state_vector(), root = state;
  mpi::broadcast(root.data(), std::int64_t(root.size()), 0, comm);
  BOOST_TEST(state == root);
}

#else

BOOST_AUTO_TEST_CASE(skipped) { BOOST_TEST_MESSAGE("skipped: built without Torch"); }

#endif
