#include "pairpose/gauge/search.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

#include "pairpose/core/error.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/core/partition.hpp"

namespace pairpose::gauge {

using geometry::Quat;
using geometry::Vec3;

std::vector<Quat> so3_grid(double spacing_deg) {
  PAIRPOSE_CHECK(spacing_deg >= 1 && spacing_deg <= 90,
                 "gauge: grid spacing must be in [1, 90] degrees, got " << spacing_deg);
  const double delta = spacing_deg * M_PI / 180.0;
  const auto n_dir = std::max<std::int64_t>(2, std::llround(std::ceil(4 * M_PI / (delta * delta))));
  const auto n_psi = std::max<std::int64_t>(1, std::llround(std::ceil(360.0 / spacing_deg)));
  const double golden = M_PI * (3.0 - std::sqrt(5.0));
  std::vector<Quat> out;
  out.reserve(static_cast<size_t>(n_dir * n_psi));
  for (std::int64_t k = 0; k < n_dir; ++k) {
    const double z = 1.0 - (2.0 * k + 1.0) / double(n_dir);
    const double phi = std::fmod(golden * double(k), 2 * M_PI);
    const double rot = phi * 180.0 / M_PI, tilt = std::acos(z) * 180.0 / M_PI;
    for (std::int64_t j = 0; j < n_psi; ++j)
      out.push_back(geometry::euler_to_quaternion(rot, tilt, 360.0 * double(j) / double(n_psi)));
  }
  return out;
}

Quat rotation_vector_to_quat(const Vec3& w) {
  const double angle = std::sqrt(w[0] * w[0] + w[1] * w[1] + w[2] * w[2]);
  if (angle < 1e-300) return Quat{};
  const double s = std::sin(angle / 2) / angle;
  return geometry::canonical({std::cos(angle / 2), w[0] * s, w[1] * s, w[2] * s});
}

GaugeSearch::GaugeSearch(const SearchOptions& options) : options_(options) {
  PAIRPOSE_CHECK(options.n_refine >= 0, "gauge: n_refine must be ≥ 0");
  PAIRPOSE_CHECK(options.refine_tol_deg > 0, "gauge: refine_tol_deg must be > 0");
}

namespace {

struct Refined {
  Quat c;
  double score = 0;
  std::int64_t n_evaluations = 0;
};

/// Nelder–Mead (reflection 1, expansion 2, contraction ½, shrink ½) maximising the score of
/// exp(ω)·start over ω ∈ R³.
Refined nelder_mead(const CommonLineScore& score, const Quat& start, bool transposed,
                    const SearchOptions& o) {
  const double step =
      (o.refine_step_deg > 0 ? o.refine_step_deg : o.grid_spacing_deg / 2) * M_PI / 180.0;
  const double tol = o.refine_tol_deg * M_PI / 180.0;
  std::int64_t n_eval = 0;
  auto f = [&](const Vec3& w) {
    ++n_eval;
    const Quat c = geometry::multiply(rotation_vector_to_quat(w), start);
    return -score.score(geometry::to_matrix(c), transposed);
  };
  std::array<Vec3, 4> x{Vec3{0, 0, 0}, Vec3{step, 0, 0}, Vec3{0, step, 0}, Vec3{0, 0, step}};
  std::array<double, 4> fx{};
  for (int i = 0; i < 4; ++i)
    fx[i] = f(x[i]);
  auto point = [](const Vec3& a, const Vec3& b, double t) { // a + t (b − a)
    return Vec3{a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]), a[2] + t * (b[2] - a[2])};
  };
  while (n_eval < o.max_evaluations) {
    std::array<int, 4> idx{0, 1, 2, 3};
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return fx[a] < fx[b]; });
    std::array<Vec3, 4> xs;
    std::array<double, 4> fs;
    for (int i = 0; i < 4; ++i)
      xs[i] = x[idx[i]], fs[i] = fx[idx[i]];
    x = xs, fx = fs;
    double size = 0;
    for (int i = 1; i < 4; ++i)
      for (int d = 0; d < 3; ++d)
        size = std::max(size, std::abs(x[i][d] - x[0][d]));
    if (size < tol) break;
    Vec3 centroid{0, 0, 0};
    for (int i = 0; i < 3; ++i)
      for (int d = 0; d < 3; ++d)
        centroid[d] += x[i][d] / 3.0;
    const Vec3 xr = point(centroid, x[3], -1.0);
    const double fr = f(xr);
    if (fr < fx[0]) {
      const Vec3 xe = point(centroid, x[3], -2.0);
      const double fe = f(xe);
      x[3] = fe < fr ? xe : xr, fx[3] = std::min(fe, fr);
    } else if (fr < fx[2]) {
      x[3] = xr, fx[3] = fr;
    } else {
      const Vec3 xc = point(centroid, fr < fx[3] ? xr : x[3], 0.5);
      const double fc = f(xc);
      if (fc < std::min(fr, fx[3])) {
        x[3] = xc, fx[3] = fc;
      } else {
        for (int i = 1; i < 4; ++i)
          x[i] = point(x[0], x[i], 0.5), fx[i] = f(x[i]);
      }
    }
  }
  const int best = static_cast<int>(std::min_element(fx.begin(), fx.end()) - fx.begin());
  return {geometry::canonical(geometry::multiply(rotation_vector_to_quat(x[best]), start)),
          -fx[best], n_eval};
}

/// Indices of the best candidates (score descending, index ascending on ties), each at least
/// `separation` radians from those chosen before with the same flag, also counting the
/// handedness twin Rz(π)·C as the same candidate.
std::vector<std::int64_t> distinct_best(const std::vector<double>& scores,
                                        const std::vector<Quat>& grid, int n_best,
                                        double separation) {
  const auto n_grid = static_cast<std::int64_t>(grid.size());
  std::vector<std::int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int64_t a, std::int64_t b) { return scores[a] > scores[b]; });
  const Quat rz_pi{0, 0, 0, 1};
  std::vector<std::int64_t> chosen;
  for (const std::int64_t i : order) {
    if (int(chosen.size()) >= n_best) break;
    bool far = true;
    for (const std::int64_t j : chosen) {
      if (i / n_grid != j / n_grid) continue;
      const Quat& a = grid[i % n_grid];
      const Quat& b = grid[j % n_grid];
      const double d =
          std::min(geometry::distance(a, b), geometry::distance(a, geometry::multiply(rz_pi, b)));
      if (d < separation) far = false;
    }
    if (far) chosen.push_back(i);
  }
  return chosen;
}

} // namespace

SearchResult GaugeSearch::run(const CommonLineScore& score, MPI_Comm comm) const {
  const std::vector<Quat> grid = so3_grid(options_.grid_spacing_deg);
  const auto n_grid = static_cast<std::int64_t>(grid.size());
  SearchResult result;
  result.n_candidates = 2 * n_grid;
  std::vector<double> scores(static_cast<size_t>(result.n_candidates), 0.0);
  const Block mine = split_block(result.n_candidates, comm);
  const auto n_coarse =
      options_.coarse_pairs > 0 ? static_cast<std::size_t>(options_.coarse_pairs) : score.n_pairs();
  for (std::int64_t i = mine.begin; i < mine.end; ++i)
    scores[i] = score.score(geometry::to_matrix(grid[i % n_grid]), i >= n_grid, n_coarse);
  mpi::all_sum_inplace(scores.data(), result.n_candidates, comm);
  for (int flag = 0; flag < 2; ++flag)
    result.best_score_by_flag[flag] =
        *std::max_element(scores.begin() + flag * n_grid, scores.begin() + (flag + 1) * n_grid);

  const double separation = 2 * options_.grid_spacing_deg * M_PI / 180.0;
  const auto starts = distinct_best(scores, grid, std::max(1, options_.n_refine), separation);
  result.coarse_score = scores[starts.front()];
  const auto n_starts = static_cast<std::int64_t>(starts.size());
  // Per start: score, c (4), evaluations; each rank fills its starts, the others stay zero.
  std::vector<double> refined(static_cast<size_t>(6 * n_starts), 0.0);
  if (options_.n_refine > 0) {
    const Block share = split_block(n_starts, comm);
    for (std::int64_t k = share.begin; k < share.end; ++k) {
      const std::int64_t i = starts[k];
      const Refined r = nelder_mead(score, grid[i % n_grid], i >= n_grid, options_);
      const double row[6] = {r.score, r.c.w, r.c.x, r.c.y, r.c.z, double(r.n_evaluations)};
      std::copy(row, row + 6, refined.begin() + 6 * k);
    }
    mpi::all_sum_inplace(refined.data(), 6 * n_starts, comm);
  } else {
    const Quat& c = grid[starts.front() % n_grid];
    const double all = score.score(geometry::to_matrix(c), starts.front() >= n_grid);
    const double row[6] = {all, c.w, c.x, c.y, c.z, 0.0};
    std::copy(row, row + 6, refined.begin());
  }
  std::int64_t best = 0;
  for (std::int64_t k = 0; k < n_starts; ++k) {
    result.n_evaluations += static_cast<std::int64_t>(refined[6 * k + 5]);
    if (refined[6 * k] > refined[6 * best]) best = k;
  }
  const double* row = refined.data() + 6 * best;
  result.score = row[0];
  result.c = geometry::canonical({row[1], row[2], row[3], row[4]});
  result.transposed = starts[best] >= n_grid;
  return result;
}

} // namespace pairpose::gauge
