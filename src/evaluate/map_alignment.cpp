// Search for the rotation and handedness that bring a map onto a reference (map_alignment.hpp).
#include "pairpose/evaluate/map_alignment.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <ctime>
#include <memory>
#include <numeric>

#include "map_internal.hpp"
#include "pairpose/core/error.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/core/partition.hpp"

namespace pairpose::evaluate {

using geometry::Mat3;

namespace {

constexpr double deg = M_PI / 180.0;

/// Pearson correlation of map(T·p) with the reference over the sphere of radius size/2 − 1
/// voxels about the centre voxel.
class Scorer {
public:
  Scorer(const Volume& map, const Volume& reference) : map_(map) {
    const std::int64_t n = map.nx;
    centre_ = double(n / 2);
    const double radius = n / 2.0 - 1.0;
    double sum = 0, sum2 = 0;
    for (std::int64_t z = 0; z < n; ++z)
      for (std::int64_t y = 0; y < n; ++y)
        for (std::int64_t x = 0; x < n; ++x) {
          const double px = x - centre_, py = y - centre_, pz = z - centre_;
          if (px * px + py * py + pz * pz > radius * radius) continue;
          points_.push_back({float(px), float(py), float(pz)});
          const double r = reference.at(x, y, z);
          ref_.push_back(float(r));
          sum += r;
          sum2 += r * r;
        }
    // Centre the reference once: then Σ r'·a needs no mean of a.
    const double mean = sum / double(ref_.size());
    for (auto& r : ref_)
      r = float(r - mean);
    ref_var_ = sum2 - sum * mean;
    PAIRPOSE_CHECK(ref_var_ > 0, "map alignment: the reference is constant inside the sphere");
  }

  double operator()(const Mat3& t) const {
    double sa = 0, saa = 0, sar = 0;
    for (size_t i = 0; i < points_.size(); ++i) {
      const auto& p = points_[i];
      const double a = detail::trilinear(map_, t[0] * p[0] + t[1] * p[1] + t[2] * p[2] + centre_,
                                         t[3] * p[0] + t[4] * p[1] + t[5] * p[2] + centre_,
                                         t[6] * p[0] + t[7] * p[1] + t[8] * p[2] + centre_);
      sa += a;
      saa += a * a;
      sar += a * ref_[i];
    }
    const double var = saa - sa * sa / double(points_.size());
    return var > 0 ? sar / std::sqrt(var * ref_var_) : 0.0;
  }

private:
  const Volume& map_;
  double centre_ = 0, ref_var_ = 0;
  std::vector<std::array<float, 3>> points_;
  std::vector<float> ref_;
};

/// J·R when mirrored, else R.
Mat3 with_hand(const Mat3& r, bool mirrored) {
  MapAlignment a;
  a.rotation = r;
  a.mirrored = mirrored;
  return a.matrix();
}

/// Rotation by `angle` (radians) about coordinate axis `axis`.
Mat3 axis_rotation(int axis, double angle) {
  const double c = std::cos(angle), s = std::sin(angle);
  const int i = (axis + 1) % 3, j = (axis + 2) % 3;
  Mat3 m = geometry::identity3();
  m[3 * i + i] = c;
  m[3 * i + j] = -s;
  m[3 * j + i] = s;
  m[3 * j + j] = c;
  return m;
}

/// Pattern search on R·exp([ω]ₓ) from `r` (score `best`), steps from `start` halved while
/// ≥ `stop` (radians). Returns the number of scores computed.
std::int64_t pattern_search(const Scorer& score, bool mirrored, Mat3& r, double& best, double start,
                            double stop) {
  std::int64_t n_scored = 0;
  for (double step = start; step >= stop; step /= 2) {
    for (int round = 0; round < 30; ++round) {
      Mat3 best_move = r;
      double best_move_score = best;
      for (int move = 0; move < 6; ++move) {
        const Mat3 trial = geometry::multiply(r, axis_rotation(move / 2, move % 2 ? step : -step));
        const double s = score(with_hand(trial, mirrored));
        ++n_scored;
        if (s > best_move_score) best_move_score = s, best_move = trial;
      }
      if (best_move_score <= best) break;
      best = best_move_score;
      r = geometry::nearest_rotation(best_move);
    }
  }
  return n_scored;
}

/// Indices of the best `n` grid rotations of one hand (scores[offset + i], i < n_grid), each at
/// least `separation` radians from every better pick.
std::vector<std::int64_t> pick_candidates(const std::vector<double>& scores, std::int64_t offset,
                                          const std::vector<Mat3>& grid, int n, double separation) {
  std::vector<std::int64_t> order(grid.size());
  std::iota(order.begin(), order.end(), std::int64_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    return scores[offset + a] > scores[offset + b];
  });
  std::vector<std::int64_t> picked;
  for (std::int64_t i : order) {
    if (static_cast<int>(picked.size()) >= n) break;
    const bool far = std::all_of(picked.begin(), picked.end(), [&](std::int64_t j) {
      return geometry::rotation_angle(grid[i], grid[j]) >= separation;
    });
    if (far) picked.push_back(i);
  }
  return picked;
}

struct Candidate {
  Mat3 rotation;
  bool mirrored;
};

} // namespace

MapAlignment MapAligner::align(const Volume& map, const Volume& reference) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::clock_t c0 = std::clock();
  const auto& o = options_;
  PAIRPOSE_CHECK(map.is_cube() && reference.is_cube() && map.nx == reference.nx && map.nx > 3,
                 "map alignment: expected two cubic maps of the same size, got "
                     << map.nx << "x" << map.ny << "x" << map.nz << " and " << reference.nx << "x"
                     << reference.ny << "x" << reference.nz);
  PAIRPOSE_CHECK(o.coarse_size > 3 && o.refine_size > 3 && o.coarse_step_deg > 0 &&
                     o.final_step_deg > 0 && o.n_candidates > 0,
                 "map alignment: invalid search options");
  report_ = {};
  const std::int64_t n = map.nx;
  const std::int64_t nc = std::min(o.coarse_size, n), nf = std::min(o.refine_size, n);
  const Volume coarse_map = resample(map, nc, true), coarse_ref = resample(reference, nc, true);
  const Scorer coarse(coarse_map, coarse_ref);

  // 1. Global grid over both hands, split across the ranks.
  const double step = o.coarse_step_deg * deg;
  const auto n_grid = static_cast<std::int64_t>(std::ceil(8 * M_PI * M_PI / std::pow(step, 3)));
  const auto grid = rotation_grid(n_grid);
  const int n_hands = o.search_mirror ? 2 : 1;
  std::vector<double> scores(static_cast<size_t>(n_hands * n_grid), 0.0);
  const Block mine = split_block(n_hands * n_grid, comm_);
  for (std::int64_t k = mine.begin; k < mine.end; ++k)
    scores[k] = coarse(with_hand(grid[k % n_grid], k >= n_grid));
  mpi::all_sum_inplace(scores.data(), std::int64_t(scores.size()), comm_);
  std::int64_t n_scored = mine.size();

  // 2. Candidates of each hand, refined coarse then fine, split across the ranks.
  std::vector<Candidate> candidates;
  for (int hand = 0; hand < n_hands; ++hand)
    for (std::int64_t i : pick_candidates(scores, hand * n_grid, grid, o.n_candidates, 2 * step))
      candidates.push_back({grid[i], hand == 1});
  const auto n_cand = static_cast<std::int64_t>(candidates.size());
  const Volume fine_map = nf == nc ? Volume() : resample(map, nf, true);
  const Volume fine_ref = nf == nc ? Volume() : resample(reference, nf, true);
  const Scorer* fine = &coarse;
  std::unique_ptr<Scorer> fine_scorer;
  if (nf != nc) fine = (fine_scorer = std::make_unique<Scorer>(fine_map, fine_ref)).get();
  std::vector<double> refined(static_cast<size_t>(n_cand * 10), 0.0);
  const Block my_cand = split_block(n_cand, comm_);
  const double coarse_stop = std::max(o.final_step_deg * deg, step / 16);
  for (std::int64_t c = my_cand.begin; c < my_cand.end; ++c) {
    Mat3 r = candidates[c].rotation;
    const bool mirrored = candidates[c].mirrored;
    double best = coarse(with_hand(r, mirrored));
    n_scored += 1 + pattern_search(coarse, mirrored, r, best, step / 2, coarse_stop);
    if (fine != &coarse) {
      best = (*fine)(with_hand(r, mirrored));
      n_scored +=
          1 + pattern_search(*fine, mirrored, r, best, 2 * coarse_stop, o.final_step_deg * deg);
    }
    std::copy(r.begin(), r.end(), refined.begin() + 10 * c);
    refined[10 * c + 9] = best;
  }
  mpi::all_sum_inplace(refined.data(), std::int64_t(refined.size()), comm_);

  // 3. The best refined candidate; the best of the other hand is its margin.
  MapAlignment out;
  double best_score[2] = {-2.0, -2.0};
  std::int64_t best_index[2] = {-1, -1};
  for (std::int64_t c = 0; c < n_cand; ++c) {
    const int hand = candidates[c].mirrored ? 1 : 0;
    if (refined[10 * c + 9] > best_score[hand])
      best_score[hand] = refined[10 * c + 9], best_index[hand] = c;
  }
  const int win = best_score[1] > best_score[0] ? 1 : 0;
  std::copy_n(refined.begin() + 10 * best_index[win], 9, out.rotation.begin());
  out.rotation = geometry::nearest_rotation(out.rotation);
  out.mirrored = win == 1;
  out.score = best_score[win];
  out.other_hand_score = n_hands == 2 ? best_score[1 - win] : 0.0;
  report_.n_grid = n_grid;
  report_.n_scored = mpi::all_sum(n_scored, comm_);
  report_.cpu_seconds = mpi::all_sum(double(std::clock() - c0) / CLOCKS_PER_SEC, comm_);
  report_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

} // namespace pairpose::evaluate
