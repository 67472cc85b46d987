#define BOOST_TEST_MODULE gauge
#include "pairpose_test.hpp"

#include <cmath>

#include "pairpose/core/error.hpp"
#include "pairpose/core/random.hpp"
#include "pairpose/evaluate/orientation_error.hpp"
#include "pairpose/gauge/common_lines.hpp"
#include "pairpose/gauge/search.hpp"
#include "test_reconstruct_blobs.hpp"

using namespace pairpose;
using geometry::Quat;

namespace {

constexpr std::int64_t n_px = 48;
constexpr double pixel = 2.0;

struct Scramble {
  Quat a, b;
  bool conj = false;
};

/// q̂ = a·q·b or a·conj(q)·b: what orientation recovery may return for the truth q.
Quat scrambled(const Scramble& s, const Quat& q) {
  const Quat inner = s.conj ? geometry::conjugate(q) : q;
  return geometry::canonical(geometry::multiply(geometry::multiply(s.a, inner), s.b));
}

Scramble random_scramble(std::uint64_t seed, bool conj) {
  Rng rng(seed, stream_gauge, 99);
  return {geometry::random_rotation(rng), geometry::random_rotation(rng), conj};
}

/// Blob projections of `n_images` particles (with CTF when asked), their polar transforms.
struct Scene {
  std::vector<Particle> particles;
  gauge::PolarTransforms polar;
  std::vector<std::pair<std::int64_t, std::int64_t>> pairs;

  Scene(std::int64_t n_images, bool ctf, double resolution)
      : particles(blobs::particles(0, n_images, 0.0, ctf)), polar(options(resolution)) {
    const auto images = blobs::images(blobs::make_blobs(n_px), particles, n_px, pixel);
    polar.resize(n_images);
    for (std::int64_t i = 0; i < n_images; ++i)
      polar.compute(i, images.image(i), particles[i]);
    for (std::int64_t a = 0; a < n_images; ++a)
      for (std::int64_t b = a + 1; b < n_images; ++b)
        pairs.emplace_back(a, b);
  }
  static gauge::PolarOptions options(double resolution) {
    gauge::PolarOptions o;
    o.image_size = n_px;
    o.pixel_size = pixel;
    o.resolution = resolution;
    return o;
  }
  std::vector<Quat> truth() const {
    std::vector<Quat> q;
    for (const auto& p : particles)
      q.push_back(p.orientation);
    return q;
  }
};

double median_error_deg(const std::vector<Quat>& truth, const std::vector<Quat>& estimate) {
  return evaluate::physical_error(truth, estimate).median_deg;
}

} // namespace

BOOST_AUTO_TEST_CASE(the_right_gauge_undoes_left_factor_and_transpose) {
  Rng rng(5, stream_gauge, 1);
  std::vector<Quat> truth;
  for (int i = 0; i < 50; ++i)
    truth.push_back(geometry::random_rotation(rng));
  for (const bool conj : {false, true}) {
    const Scramble s = random_scramble(conj ? 2 : 1, conj);
    // Not transposed: C = conj(a) gives q·b. Transposed: conj(q̂) = conj(b)·q·conj(a), so
    // C = b gives q·conj(a). Both leave only a right factor.
    const Quat c = conj ? s.b : geometry::conjugate(s.a);
    std::vector<Quat> fixed, wrong;
    for (const auto& q : truth) {
      fixed.push_back(gauge::apply_gauge(c, conj, scrambled(s, q)));
      wrong.push_back(gauge::apply_gauge(c, !conj, scrambled(s, q)));
    }
    BOOST_TEST(median_error_deg(truth, fixed) < 1e-6);
    BOOST_TEST(median_error_deg(truth, wrong) > 10.0);
  }
}

BOOST_AUTO_TEST_CASE(true_orientations_score_best_and_handedness_ties) {
  const Scene scene(40, false, 4 * pixel);
  const gauge::CommonLineScore score(scene.polar, scene.truth(), scene.pairs);
  const double best = score.score(geometry::identity3(), false);
  BOOST_TEST(best > 0.9);
  // Rz(π)·A = J·A·J up to a right factor: the mirrored map gives the same images.
  BOOST_TEST(std::abs(score.score(geometry::rotation_z(M_PI), false) - best) < 1e-3);
  // A small wrong left factor, or the transpose, scores lower.
  const auto tilt = geometry::to_matrix(gauge::rotation_vector_to_quat({0.0, 0.1, 0.0}));
  BOOST_TEST(score.score(tilt, false) < best - 0.05);
  BOOST_TEST(score.score(geometry::identity3(), true) < best - 0.2);
}

BOOST_AUTO_TEST_CASE(grid_covers_so3) {
  const auto grid = gauge::so3_grid(20);
  Rng rng(3, stream_gauge, 7);
  double worst = 0;
  for (int k = 0; k < 200; ++k) {
    const Quat q = geometry::random_rotation(rng);
    double nearest = M_PI;
    for (const auto& g : grid)
      nearest = std::min(nearest, geometry::distance(q, g));
    worst = std::max(worst, nearest);
  }
  BOOST_TEST(worst * 180 / M_PI < 20.0); // every rotation within one spacing of a grid point
  BOOST_CHECK_THROW(gauge::so3_grid(0.5), Error);
}

BOOST_AUTO_TEST_CASE(search_recovers_scrambled_orientations) {
  for (const bool ctf : {false, true}) {
    const Scene scene(40, ctf, 4 * pixel);
    const auto truth = scene.truth();
    const Scramble s = random_scramble(ctf ? 11 : 12, ctf);
    std::vector<Quat> q_hat;
    for (const auto& q : truth)
      q_hat.push_back(scrambled(s, q));
    const gauge::CommonLineScore score(scene.polar, q_hat, scene.pairs);
    gauge::SearchOptions o;
    o.grid_spacing_deg = 20;
    o.coarse_pairs = 300;
    o.n_refine = 2;
    const auto r = gauge::GaugeSearch(o).run(score, MPI_COMM_SELF);
    BOOST_TEST(r.transposed == ctf);
    std::vector<Quat> fixed;
    for (const auto& q : q_hat)
      fixed.push_back(gauge::apply_gauge(r.c, r.transposed, q));
    const double err = median_error_deg(truth, fixed);
    BOOST_TEST_MESSAGE("ctf " << ctf << ": score " << r.score << ", median error " << err << "°");
    BOOST_TEST(err < 1.0);
  }
}

BOOST_AUTO_TEST_CASE(bad_options_are_refused) {
  gauge::PolarOptions o = Scene::options(1.0); // below 2 pixels: clamped to the largest radius
  BOOST_CHECK_NO_THROW(gauge::PolarTransforms{o});
  o.n_angles = 7;
  BOOST_CHECK_THROW(gauge::PolarTransforms{o}, Error);
  BOOST_CHECK_THROW(gauge::parse_ctf_mode("phase"), Error);
  gauge::PolarTransforms polar(Scene::options(8.0));
  polar.resize(3);
  BOOST_CHECK_THROW(gauge::CommonLineScore(polar, std::vector<Quat>(2), {{0, 1}}), Error);
  BOOST_CHECK_THROW(gauge::CommonLineScore(polar, std::vector<Quat>(3), {{1, 1}}), Error);
}
