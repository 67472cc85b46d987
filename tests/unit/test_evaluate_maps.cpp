#define BOOST_TEST_MODULE evaluate_maps
#include "pairpose_test.hpp"

#include <cmath>

#include "pairpose/core/error.hpp"
#include "pairpose/core/random.hpp"
#include "pairpose/evaluate/fsc.hpp"
#include "pairpose/evaluate/map_alignment.hpp"

using namespace pairpose;
using geometry::Mat3;

namespace {

/// An asymmetric map: anisotropic Gaussian blobs at seeded random places within n/3 of the
/// centre (no rotational or mirror symmetry).
Volume blob_map(std::int64_t n, std::uint64_t seed, int n_blobs = 8) {
  Volume v(n, n, n, 3.0);
  Rng rng(seed);
  const double c = n / 2, reach = n / 4.0;
  for (int b = 0; b < n_blobs; ++b) {
    const geometry::Vec3 centre{rng.uniform(-reach, reach), rng.uniform(-reach, reach),
                                rng.uniform(-reach, reach)};
    const Mat3 axes = geometry::to_matrix(geometry::random_rotation(rng));
    const geometry::Vec3 sigma{rng.uniform(1.5, 3.5), rng.uniform(1.5, 3.5), rng.uniform(1.5, 3.5)};
    const double amplitude = rng.uniform(0.5, 1.0);
    for (std::int64_t z = 0; z < n; ++z)
      for (std::int64_t y = 0; y < n; ++y)
        for (std::int64_t x = 0; x < n; ++x) {
          const auto d =
              geometry::apply(axes, {x - c - centre[0], y - c - centre[1], z - c - centre[2]});
          const double r2 = d[0] * d[0] / (sigma[0] * sigma[0]) +
                            d[1] * d[1] / (sigma[1] * sigma[1]) +
                            d[2] * d[2] / (sigma[2] * sigma[2]);
          v.at(x, y, z) += static_cast<float>(amplitude * std::exp(-r2 / 2));
        }
  }
  return v;
}

double max_abs_difference(const Volume& a, const Volume& b) {
  double d = 0;
  for (size_t i = 0; i < a.data.size(); ++i)
    d = std::max(d, double(std::abs(a.data[i] - b.data[i])));
  return d;
}

/// The map as a reconstruction from orientations off by (R, mirrored) would show it: the
/// alignment (R, mirrored) brings it back, i.e. moved(q) = map(T⁻¹·q), T = Ĵ·R.
Volume moved_map(const Volume& map, const evaluate::MapAlignment& a) {
  return evaluate::transform_map(map, geometry::transpose(a.matrix()));
}

void check_aligned_back(bool mirrored, std::uint64_t seed) {
  const Volume map = blob_map(48, seed);
  Rng rng(seed, stream_evaluate, 1);
  evaluate::MapAlignment truth;
  truth.rotation = geometry::to_matrix(geometry::random_rotation(rng));
  truth.mirrored = mirrored;
  const Volume moved = moved_map(map, truth);

  evaluate::MapAligner aligner(MPI_COMM_SELF);
  evaluate::MapSearchOptions o;
  o.coarse_size = 24;
  o.coarse_step_deg = 20;
  o.refine_size = 48;
  o.n_candidates = 2;
  aligner.set_options(o);
  const auto found = aligner.align(moved, map);
  BOOST_TEST_MESSAGE("mirrored " << mirrored << ": angle error "
                                 << evaluate::angle_between_deg(found, truth) << " deg, score "
                                 << found.score << " vs other hand " << found.other_hand_score
                                 << ", " << aligner.report().n_scored << " scores in "
                                 << aligner.report().seconds << " s");
  BOOST_TEST(found.mirrored == mirrored);
  BOOST_TEST(evaluate::angle_between_deg(found, truth) < 1.0);
  BOOST_TEST(found.score > 0.99);
  BOOST_TEST(found.score > found.other_hand_score + 0.05);

  const Volume back = evaluate::transform_map(moved, found.matrix());
  const auto fsc = evaluate::fourier_shell_correlation(back, map);
  for (size_t s = 1; s <= 12; ++s) // the blobs' power is negligible beyond shell ~12 of 24
    BOOST_TEST(fsc[s] > 0.98, "shell " << s << ": " << fsc[s]);
}

} // namespace

BOOST_AUTO_TEST_CASE(fourier_resampling_round_trip_and_centre) {
  const Volume map = blob_map(32, 3);
  const Volume up = evaluate::resample(map, 64, false);
  BOOST_TEST(up.voxel_size == 1.5, boost::test_tools::tolerance(1e-12));
  // Every second voxel of the up-sampled map is a voxel of the map (band-limited interpolation).
  double worst = 0;
  for (std::int64_t z = 0; z < 32; ++z)
    for (std::int64_t y = 0; y < 32; ++y)
      for (std::int64_t x = 0; x < 32; ++x)
        worst = std::max(worst, double(std::abs(up.at(2 * x, 2 * y, 2 * z) - map.at(x, y, z))));
  BOOST_TEST(worst < 1e-3);
  BOOST_TEST(max_abs_difference(evaluate::resample(up, 32, false), map) < 1e-3);
  // A Gaussian at the centre voxel stays at the centre voxel, odd and even sizes alike.
  for (std::int64_t m : {17, 20, 25, 40}) {
    Volume g(32, 32, 32, 1.0);
    for (std::int64_t z = 0; z < 32; ++z)
      for (std::int64_t y = 0; y < 32; ++y)
        for (std::int64_t x = 0; x < 32; ++x)
          g.at(x, y, z) = float(
              std::exp(-((x - 16) * (x - 16) + (y - 16) * (y - 16) + (z - 16) * (z - 16)) / 18.0));
    const Volume r = evaluate::resample(g, m, true);
    const auto top = std::max_element(r.data.begin(), r.data.end()) - r.data.begin();
    BOOST_TEST(top == (m / 2 * m + m / 2) * m + m / 2, "size " << m);
  }
}

BOOST_AUTO_TEST_CASE(centred_placement_pads_and_crops) {
  Volume odd(5, 7, 9, 2.0);
  odd.at(2, 3, 4) = 1.0f; // its centre voxel
  const Volume big = evaluate::place_centred(odd, 12);
  BOOST_TEST(big.at(6, 6, 6) == 1.0f);
  BOOST_TEST(big.voxel_size == 2.0);
  const Volume small = evaluate::place_centred(odd, 4);
  BOOST_TEST(small.nx == 4);
  BOOST_TEST(small.at(2, 2, 2) == 1.0f);
}

BOOST_AUTO_TEST_CASE(transform_follows_the_coordinate_convention) {
  const Volume map = blob_map(24, 5);
  // Identity, without oversampling: the map itself.
  BOOST_TEST(max_abs_difference(evaluate::transform_map(map, geometry::identity3(), 1), map) ==
             0.0);
  // out(p) = map(T·p) with T a quarter turn about z: (x, y, z) -> (−y, x, z) about the centre.
  const Mat3 t = geometry::rotation_z(M_PI / 2);
  const Volume out = evaluate::transform_map(map, t, 1);
  const std::int64_t c = 12;
  for (std::int64_t z = 2; z < 22; z += 3)
    for (std::int64_t y = 2; y < 22; y += 3)
      for (std::int64_t x = 2; x < 22; x += 3)
        BOOST_TEST(out.at(x, y, z) == map.at(c - (y - c), c + (x - c), z),
                   boost::test_tools::tolerance(1e-5f));
  // The mirror J = diag(1, 1, −1) of an alignment flips z about the centre.
  evaluate::MapAlignment mirror;
  mirror.mirrored = true;
  const Volume flipped = evaluate::transform_map(map, mirror.matrix(), 1);
  BOOST_TEST(flipped.at(7, 9, c + 5) == map.at(7, 9, c - 5));
}

BOOST_AUTO_TEST_CASE(rotation_grid_covers_so3) {
  const auto grid = evaluate::rotation_grid(2000);
  Rng rng(11);
  double worst = 0;
  for (int k = 0; k < 200; ++k) {
    const Mat3 r = geometry::to_matrix(geometry::random_rotation(rng));
    double nearest = M_PI;
    for (const auto& g : grid)
      nearest = std::min(nearest, geometry::rotation_angle(r, g));
    worst = std::max(worst, nearest);
  }
  // 2000 points: spacing (8π²/2000)^(1/3) ≈ 19.5°; no random rotation is farther than that.
  BOOST_TEST(worst * 180 / M_PI < 19.5);
  for (const auto& g : grid)
    BOOST_TEST(geometry::determinant(g) == 1.0, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(rotated_map_is_aligned_back) { check_aligned_back(false, 21); }

BOOST_AUTO_TEST_CASE(rotated_and_mirrored_map_is_aligned_back) { check_aligned_back(true, 22); }

BOOST_AUTO_TEST_CASE(alignment_from_orientations_matches_the_map_transform) {
  // Orientations Â_i = Ĵ·A_i·Bᵀ·Ĵ (the estimate physical_error aligns by B and Ĵ) come from the
  // map x(Bᵀ·Ĵ·p): the alignment it implies, T = Ĵ·B, maps it back onto x.
  Rng rng(31);
  const auto b = geometry::random_rotation(rng);
  std::vector<geometry::Quat> truth(200), estimate(200);
  for (size_t i = 0; i < truth.size(); ++i) {
    truth[i] = geometry::random_rotation(rng);
    estimate[i] = evaluate::mirror(geometry::multiply(truth[i], geometry::conjugate(b)));
  }
  const auto fit = evaluate::physical_error(truth, estimate);
  const auto a = evaluate::alignment_from_orientations(fit);
  BOOST_TEST(a.mirrored);
  BOOST_TEST(geometry::rotation_angle(a.rotation, geometry::to_matrix(b)) < 1e-6);
}

BOOST_AUTO_TEST_CASE(half_map_fsc_and_grid_checks) {
  const Volume a = blob_map(32, 7);
  const auto same = evaluate::fourier_shell_correlation(a, a);
  BOOST_TEST(evaluate::shell_resolution(evaluate::shell_at(same, 0.143), 32, 3.0) == 6.0);
  Volume noise1(32, 32, 32, 3.0), noise2(32, 32, 32, 3.0);
  Rng r1(1), r2(2);
  for (size_t i = 0; i < noise1.data.size(); ++i)
    noise1.data[i] = float(r1.normal()), noise2.data[i] = float(r2.normal());
  const auto independent = evaluate::fourier_shell_correlation(noise1, noise2);
  double mean = 0;
  for (size_t s = 4; s < independent.size(); ++s)
    mean += independent[s] / double(independent.size() - 4);
  BOOST_TEST(std::abs(mean) < 0.05);
  const auto f = evaluate::shell_frequencies(17, 32, 3.0);
  BOOST_TEST(f[16] == 1.0 / 6.0, boost::test_tools::tolerance(1e-12));

  Volume other_voxel = a;
  other_voxel.voxel_size = 2.0;
  try {
    evaluate::check_same_grid(a, "map.mrc", other_voxel, "ref.mrc");
    BOOST_FAIL("expected an error");
  } catch (const Error& e) {
    const std::string m = e.what();
    BOOST_TEST(m.find("ref.mrc") != std::string::npos);
    BOOST_TEST(m.find("expected 3") != std::string::npos);
  }
  BOOST_CHECK_THROW(evaluate::check_same_grid(a, "map.mrc", blob_map(30, 1), "half2.mrc"), Error);
  BOOST_CHECK_NO_THROW(evaluate::check_same_grid(a, "map.mrc", noise1, "half1.mrc"));
}
