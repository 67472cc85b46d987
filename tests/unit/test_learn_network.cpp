#define BOOST_TEST_MODULE learn_network
#include "pairpose_test.hpp"

#ifdef PAIRPOSE_HAVE_LEARN

#include <cmath>
#include <fstream>
#include <limits>

#include "pairpose/core/error.hpp"
#include "pairpose/core/files.hpp"
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

std::vector<float> noise_images(std::int64_t n, std::int64_t side, std::uint64_t seed) {
  std::vector<float> v(static_cast<size_t>(n * side * side));
  Rng rng(seed);
  for (auto& x : v)
    x = float(rng.normal());
  return v;
}

bool message_has(const Error& e, const std::string& text) {
  const bool ok = std::string(e.what()).find(text) != std::string::npos;
  if (!ok) BOOST_TEST_MESSAGE("message: " << e.what());
  return ok;
}

/// Images that depend smoothly on the orientation: a few pixels carry the rotation matrix.
void synthetic_batch(std::int64_t n, std::vector<float>& images, std::vector<geometry::Quat>& q) {
  const std::int64_t s = 16;
  images.assign(static_cast<size_t>(n * s * s), 0.0f);
  q.clear();
  Rng rng(11);
  for (std::int64_t i = 0; i < n; ++i) {
    q.push_back(geometry::random_rotation(rng));
    const geometry::Mat3 a = geometry::to_matrix(q.back());
    for (std::int64_t y = 0; y < s; ++y)
      for (std::int64_t x = 0; x < s; ++x)
        images[i * s * s + y * s + x] = float(a[(x + 3 * y) % 9] * std::cos(0.3 * (x + y)));
  }
}

} // namespace

BOOST_AUTO_TEST_CASE(presets_and_text_form) {
  const NetworkConfig paper = network_preset("paper", 116);
  BOOST_TEST(paper.channels.size() == 7u);
  BOOST_TEST(paper.output_dim() == 512);
  BOOST_TEST(!paper.batch_norm);
  const NetworkConfig small = network_preset("small", 32);
  BOOST_TEST(small.output_dim() == 64);
  BOOST_TEST(NetworkConfig::from_text(small.to_text()).to_text() == small.to_text());
  BOOST_TEST(NetworkConfig::from_text(paper.to_text()).to_text() == paper.to_text());
  BOOST_CHECK_THROW(network_preset("huge", 32), Error);
  BOOST_CHECK_THROW(NetworkConfig::from_text("preset=small image_size=32"), Error);
  NetworkConfig bad = small;
  bad.kernels = {3, 4, 3, 3};
  BOOST_CHECK_THROW(bad.check(), Error);
}

BOOST_AUTO_TEST_CASE(shapes_and_distance_range) {
  for (const NetworkConfig& c : {tiny(true), network_preset("small", 16)}) {
    DistanceNetwork net(c, 3);
    const std::int64_t n = 6;
    const auto images = noise_images(n, 16, 1);
    const std::vector<float> f = net.embed(images.data(), n, 4);
    const int d = c.output_dim();
    BOOST_REQUIRE(f.size() == size_t(n * d));
    for (std::int64_t i = 0; i < n; ++i) {
      double norm = 0;
      for (int k = 0; k < d; ++k)
        norm += f[i * d + k] * f[i * d + k];
      BOOST_TEST(norm == 1.0, boost::test_tools::tolerance(1e-5));
      for (std::int64_t j = 0; j < n; ++j) {
        const double dist = embedding_distance(&f[i * d], &f[j * d], d);
        BOOST_TEST((dist >= 0.0 && dist <= M_PI));
      }
    }
  }
  // the paper's seven blocks at 16 px: pooling stops at 1 × 1, the embedding is 512 wide
  DistanceNetwork paper(network_preset("paper", 16), 1);
  const auto images = noise_images(2, 16, 2);
  BOOST_TEST(paper.embed(images.data(), 2).size() == 1024u);
  // opposite embeddings clip to π, equal ones to 0
  const float a[2] = {1, 0}, b[2] = {-1, 0};
  BOOST_TEST(embedding_distance(a, b, 2) == M_PI, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(embedding_distance(a, a, 2) == 0.0);
}

BOOST_AUTO_TEST_CASE(nan_images_are_refused) {
  DistanceNetwork net(tiny(false), 3);
  auto images = noise_images(3, 16, 1);
  images[2 * 256 + 5] = std::numeric_limits<float>::quiet_NaN();
  BOOST_CHECK_EXCEPTION(net.embed(images.data(), 3), Error,
                        [](const Error& e) { return message_has(e, "image 2"); });
}

BOOST_AUTO_TEST_CASE(save_load_round_trip_and_errors) {
  const std::string dir = testing::scratch_folder("learn_network");
  DistanceNetwork net(tiny(true), 5);
  const auto images = noise_images(4, 16, 9);
  const std::vector<float> before = net.embed(images.data(), 4);
  net.save(dir + "/m.model", {{"maps", "a.mrc;b.mrc"}, {"validation_rmse", "0.25"}});
  ModelInfo info;
  DistanceNetwork back = DistanceNetwork::load(dir + "/m.model", &info);
  BOOST_TEST(back.config().to_text() == net.config().to_text());
  BOOST_TEST(info.at("maps") == "a.mrc;b.mrc");
  BOOST_TEST(back.state_vector() == net.state_vector());
  BOOST_TEST(back.embed(images.data(), 4) == before);

  // another architecture or image size
  NetworkConfig other = tiny(true);
  other.image_size = 32;
  BOOST_CHECK_EXCEPTION(DistanceNetwork::load_expecting(dir + "/m.model", other), Error,
                        [](const Error& e) { return message_has(e, "differs"); });
  // corrupted: one byte changed in the parameters, truncated, not a model, missing
  std::string bytes = read_file(dir + "/m.model");
  std::string altered = bytes;
  altered[bytes.size() / 2] ^= 0x5a;
  write_file_atomic(dir + "/altered.model", altered);
  BOOST_CHECK_EXCEPTION(DistanceNetwork::load(dir + "/altered.model"), Error,
                        [](const Error& e) { return message_has(e, "corrupted"); });
  write_file_atomic(dir + "/short.model", bytes.substr(0, bytes.size() / 3));
  BOOST_CHECK_EXCEPTION(DistanceNetwork::load(dir + "/short.model"), Error,
                        [](const Error& e) { return message_has(e, "short.model"); });
  write_file_atomic(dir + "/text.model", "hello\n");
  BOOST_CHECK_EXCEPTION(DistanceNetwork::load(dir + "/text.model"), Error,
                        [](const Error& e) { return message_has(e, "not a valid pairpose"); });
  BOOST_CHECK_EXCEPTION(DistanceNetwork::load(dir + "/absent.model"), Error,
                        [](const Error& e) { return message_has(e, "not found"); });
}

BOOST_AUTO_TEST_CASE(pair_weights_rebalance_and_scale) {
  const std::vector<double> d = {0.1, 0.15, 2.0, 2.05, 2.1, 3.0};
  const auto plain = pair_weights(d, false, 0);
  for (double w : plain)
    BOOST_TEST(w == 1.0);
  const auto r = pair_weights(d, true, 0);
  double sum = 0;
  for (double w : r)
    sum += w;
  BOOST_TEST(sum == double(d.size()), boost::test_tools::tolerance(1e-12));
  BOOST_TEST(r[0] * 2 == r[2] * 3, boost::test_tools::tolerance(1e-12)); // bins of 2 and 3 pairs
  const auto s = pair_weights(d, false, 0.5);
  BOOST_TEST(s[0] == std::exp(-0.2), boost::test_tools::tolerance(1e-12));
  // Pairs marked unused (two different maps) weigh 0 and do not count in the bins: the three
  // used pairs of two bins get weights 3/(2·1) for the lone one and 3/(2·2) for the others.
  const auto m = pair_weights(d, true, 0, {1, 0, 1, 1, 0, 0});
  BOOST_TEST(m[1] == 0.0);
  BOOST_TEST(m[4] == 0.0);
  BOOST_TEST(m[0] == 1.5, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(m[2] == 0.75, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(m[3] == 0.75, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(loss_decreases_on_a_fixed_batch) {
  for (const std::string optimizer : {"adam", "rmsprop"}) {
    DistanceNetwork net(tiny(false), 2);
    TrainerOptions o;
    o.optimizer = optimizer;
    o.learning_rate = 3e-3;
    Trainer trainer(MPI_COMM_SELF, net, o);
    std::vector<float> images;
    std::vector<geometry::Quat> q;
    synthetic_batch(16, images, q);
    const double first = trainer.step(images.data(), q, {0, 16});
    double last = first;
    for (int s = 0; s < 60; ++s)
      last = trainer.step(images.data(), q, {0, 16});
    BOOST_TEST_MESSAGE(optimizer << ": loss " << first << " -> " << last);
    BOOST_TEST(last < 0.5 * first);
    BOOST_TEST(trainer.step_count() == 61);
  }
}

BOOST_AUTO_TEST_CASE(pairs_of_two_maps_are_left_out) {
  // Images 0, 1 show map 0 and 2, 3 map 1: the loss is the mean over the two pairs of one map,
  // i.e. the mean of the losses of the two 2-image sets (inference mode: no batch statistics).
  DistanceNetwork net(tiny(false), 2);
  Trainer trainer(MPI_COMM_SELF, net, TrainerOptions{});
  std::vector<float> images;
  std::vector<geometry::Quat> q;
  synthetic_batch(4, images, q);
  const std::int64_t s2 = 16 * 16;
  const PairEvaluation grouped = trainer.evaluate(images.data(), q, {0, 4}, 0, {0, 0, 1, 1});
  const PairEvaluation first = trainer.evaluate(images.data(), {q[0], q[1]}, {0, 2});
  const PairEvaluation second = trainer.evaluate(images.data() + 2 * s2, {q[2], q[3]}, {0, 2});
  const PairEvaluation all = trainer.evaluate(images.data(), q, {0, 4});
  BOOST_TEST(grouped.n_pairs == 2);
  BOOST_TEST(all.n_pairs == 6);
  BOOST_TEST(grouped.loss == 0.5 * (first.loss + second.loss), boost::test_tools::tolerance(1e-5));
  BOOST_TEST(grouped.loss != all.loss, boost::test_tools::tolerance(1e-3));
  // No two images of one map: nothing to learn from, a clear error.
  BOOST_CHECK_THROW(trainer.step(images.data(), q, {0, 4}, {0, 1, 2, 3}), Error);
  BOOST_CHECK_THROW(trainer.step(images.data(), q, {0, 4}, {0, 0, 1}), Error);
}

BOOST_AUTO_TEST_CASE(learning_rate_schedules) {
  DistanceNetwork net(tiny(false), 2);
  TrainerOptions o;
  o.schedule = "exponential";
  o.decay = 0.5;
  o.decay_steps = 1;
  Trainer trainer(MPI_COMM_SELF, net, o);
  std::vector<float> images;
  std::vector<geometry::Quat> q;
  synthetic_batch(4, images, q);
  BOOST_TEST(trainer.learning_rate() == 1e-3, boost::test_tools::tolerance(1e-12));
  trainer.step(images.data(), q, {0, 4});
  trainer.step(images.data(), q, {0, 4});
  BOOST_TEST(trainer.learning_rate() == 2.5e-4, boost::test_tools::tolerance(1e-12));
  o.schedule = "bogus";
  BOOST_CHECK_THROW(o.check(), Error);
}

BOOST_AUTO_TEST_CASE(checkpoint_resume_continues_identically) {
  const std::string dir = testing::scratch_folder("learn_checkpoint");
  std::vector<float> images;
  std::vector<geometry::Quat> q;
  synthetic_batch(8, images, q);
  TrainerOptions o;
  DistanceNetwork a(tiny(true), 4);
  Trainer ta(MPI_COMM_SELF, a, o);
  for (int s = 0; s < 3; ++s)
    ta.step(images.data(), q, {0, 8});
  ta.save_checkpoint(dir + "/c.ckpt", {{"note", "x"}});
  const double next_a = ta.step(images.data(), q, {0, 8});
  const double after_a = ta.step(images.data(), q, {0, 8});

  DistanceNetwork b(tiny(true), 99); // different initialisation, replaced by the checkpoint
  Trainer tb(MPI_COMM_SELF, b, o);
  BOOST_TEST(tb.load_checkpoint(dir + "/c.ckpt").at("note") == "x");
  BOOST_TEST(tb.step_count() == 3);
  BOOST_TEST(tb.step(images.data(), q, {0, 8}) == next_a, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(tb.step(images.data(), q, {0, 8}) == after_a, boost::test_tools::tolerance(1e-6));

  // a checkpoint of another architecture, or a plain model file, cannot be resumed
  DistanceNetwork c(tiny(false), 4);
  Trainer tc(MPI_COMM_SELF, c, o);
  BOOST_CHECK_EXCEPTION(tc.load_checkpoint(dir + "/c.ckpt"), Error,
                        [](const Error& e) { return message_has(e, "differs"); });
  a.save(dir + "/plain.model", {});
  BOOST_CHECK_EXCEPTION(tb.load_checkpoint(dir + "/plain.model"), Error,
                        [](const Error& e) { return message_has(e, "not a pairpose training"); });
  // the checkpoint is also a readable model
  BOOST_TEST(DistanceNetwork::load(dir + "/c.ckpt").config().to_text() == tiny(true).to_text());
}

#else

BOOST_AUTO_TEST_CASE(skipped) { BOOST_TEST_MESSAGE("skipped: built without Torch"); }

#endif
