#pragma once
// Synthetic pair sets with known orientations and an O(4)-aligned orientation error, shared by
// the unit and MPI tests of the spectral initialisation.
#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <vector>

#include "pairpose/core/partition.hpp"
#include "pairpose/core/random.hpp"
#include "pairpose/geometry/rotation.hpp"
#include "pairpose/pairs/pair_set.hpp"

namespace spectral_test {

using pairpose::PairSet;
using pairpose::Rng;
using pairpose::geometry::Quat;

inline std::vector<Quat> random_orientations(std::int64_t n, std::uint64_t seed) {
  std::vector<Quat> q(n);
  for (std::int64_t i = 0; i < n; ++i) {
    Rng rng(seed, pairpose::stream_orientation, i);
    q[i] = pairpose::geometry::random_rotation(rng);
  }
  return q;
}

/// d_q(q_a, q_b) + σ·N(0, 1) clamped to [0, π]; the noise depends on the unordered pair only.
inline double noisy_distance(const std::vector<Quat>& q, std::int64_t a, std::int64_t b,
                             double sigma, std::uint64_t seed) {
  const std::int64_t lo = std::min(a, b), hi = std::max(a, b);
  Rng rng(seed, pairpose::stream_noise, static_cast<std::uint64_t>(lo * 2654435761LL + hi));
  const double d = pairpose::geometry::distance(q[a], q[b]) + sigma * rng.normal();
  return std::clamp(d, 0.0, M_PI);
}

/// Which particle stores the unordered pair {a, b}: alternates with the parity of a + b, so that
/// both orders (i < j and i > j) occur and pairs cross rank blocks.
inline bool stores(std::int64_t self, std::int64_t other) {
  return ((self + other) % 2 == 0) == (self < other);
}

inline void add_pair(PairSet& s, const std::vector<Quat>& q, std::int64_t a, std::int64_t b,
                     double sigma, std::uint64_t seed) {
  s.i.push_back(a);
  s.j.push_back(b);
  s.distance.push_back(noisy_distance(q, a, b, sigma, seed));
  s.weight.push_back(1.0);
}

/// Every pair, each stored once, rows = split_block(n, comm).
inline PairSet all_pairs(const std::vector<Quat>& q, double sigma, std::uint64_t seed,
                         MPI_Comm comm) {
  PairSet s;
  s.n_particles = static_cast<std::int64_t>(q.size());
  s.rows = pairpose::split_block(s.n_particles, comm);
  for (std::int64_t i = s.rows.begin; i < s.rows.end; ++i)
    for (std::int64_t j = 0; j < s.n_particles; ++j)
      if (j != i && stores(i, j)) add_pair(s, q, i, j, sigma, seed);
  return s;
}

/// All landmark–landmark pairs and every other particle paired with every landmark.
inline PairSet landmark_pairs(const std::vector<Quat>& q, const std::vector<std::int64_t>& marks,
                              double sigma, std::uint64_t seed, MPI_Comm comm) {
  PairSet s;
  s.n_particles = static_cast<std::int64_t>(q.size());
  s.rows = pairpose::split_block(s.n_particles, comm);
  std::vector<char> is_mark(q.size(), 0);
  for (auto l : marks)
    is_mark[l] = 1;
  for (std::int64_t i = s.rows.begin; i < s.rows.end; ++i) {
    if (is_mark[i]) {
      for (std::int64_t j = 0; j < s.n_particles; ++j)
        if (j != i && stores(i, j)) add_pair(s, q, i, j, sigma, seed);
    } else {
      for (auto l : marks)
        if (stores(i, l)) add_pair(s, q, i, l, sigma, seed);
    }
  }
  return s;
}

/// Each particle's k nearest by true distance (the pair set of pairs.strategy = "knn"): the
/// unordered pair {a, b} is present when either is among the other's k nearest, stored once.
inline PairSet nearest_pairs(const std::vector<Quat>& q, int k, double sigma, std::uint64_t seed,
                             MPI_Comm comm) {
  PairSet s;
  s.n_particles = static_cast<std::int64_t>(q.size());
  s.rows = pairpose::split_block(s.n_particles, comm);
  std::vector<std::vector<std::int64_t>> near(q.size());
  for (std::int64_t a = 0; a < s.n_particles; ++a) {
    std::vector<std::pair<double, std::int64_t>> d;
    for (std::int64_t b = 0; b < s.n_particles; ++b)
      if (b != a) d.emplace_back(pairpose::geometry::distance(q[a], q[b]), b);
    std::partial_sort(d.begin(), d.begin() + k, d.end());
    for (int c = 0; c < k; ++c)
      near[a].push_back(d[c].second);
    std::sort(near[a].begin(), near[a].end());
  }
  auto is_near = [&](std::int64_t a, std::int64_t b) {
    return std::binary_search(near[a].begin(), near[a].end(), b);
  };
  for (std::int64_t i = s.rows.begin; i < s.rows.end; ++i)
    for (std::int64_t j = 0; j < s.n_particles; ++j)
      if (j != i && stores(i, j) && (is_near(i, j) || is_near(j, i)))
        add_pair(s, q, i, j, sigma, seed);
  return s;
}

struct Error4 {
  double median = 0, mean = 0;
};

/// min over T ∈ O(4) of the median of d_q(q_i, T·q̂_i): alternating sign choice and Procrustes
/// in R⁴ from several deterministic starts (identity and seeded random orthogonal matrices).
inline Error4 aligned_error(const std::vector<Quat>& truth, const std::vector<Quat>& est) {
  const std::size_t n = truth.size();
  Eigen::MatrixXd a(4, n), b(4, n);
  for (std::size_t i = 0; i < n; ++i) {
    a.col(i) << truth[i].w, truth[i].x, truth[i].y, truth[i].z;
    b.col(i) << est[i].w, est[i].x, est[i].y, est[i].z;
  }
  Error4 best{1e9, 1e9};
  for (int start = 0; start < 12; ++start) {
    Eigen::Matrix4d t = Eigen::Matrix4d::Identity();
    if (start > 0) {
      Rng rng(99, pairpose::stream_evaluate, start);
      Eigen::Matrix4d g;
      for (int k = 0; k < 16; ++k)
        g(k / 4, k % 4) = rng.normal();
      t = Eigen::HouseholderQR<Eigen::Matrix4d>(g).householderQ();
    }
    Eigen::VectorXd s(n);
    for (int it = 0; it < 100; ++it) {
      s = ((t * b).cwiseProduct(a)).colwise().sum().transpose().array().sign();
      const Eigen::Matrix4d c = a * s.asDiagonal() * b.transpose();
      Eigen::JacobiSVD<Eigen::Matrix4d> svd(c, Eigen::ComputeFullU | Eigen::ComputeFullV);
      t = svd.matrixU() * svd.matrixV().transpose();
    }
    std::vector<double> d(n);
    const Eigen::MatrixXd tb = t * b;
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const Quat qa = truth[i];
      const Quat qb{tb(0, i), tb(1, i), tb(2, i), tb(3, i)};
      d[i] = pairpose::geometry::distance(qa, pairpose::geometry::normalized(qb));
      sum += d[i];
    }
    std::nth_element(d.begin(), d.begin() + n / 2, d.end());
    if (d[n / 2] < best.median) best = {d[n / 2], sum / n};
  }
  return best;
}

} // namespace spectral_test
