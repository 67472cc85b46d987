#include "pairpose/pairs/pair_sampler.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <utility>

#include "pairpose/core/error.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/core/random.hpp"

namespace pairpose::pairs {

Strategy parse_strategy(const std::string& text) {
  if (text == "random") return Strategy::random;
  if (text == "knn") return Strategy::knn;
  if (text == "mix") return Strategy::mix;
  if (text == "all") return Strategy::all;
  PAIRPOSE_FAIL("unknown pair strategy '" << text << "' (expected random, knn, mix or all)");
}

std::string to_string(Strategy strategy) {
  switch (strategy) {
  case Strategy::random: return "random";
  case Strategy::knn: return "knn";
  case Strategy::mix: return "mix";
  case Strategy::all: return "all";
  }
  return "?";
}

std::int64_t pair_owner(std::int64_t a, std::int64_t b, std::int64_t n) {
  const std::int64_t t = ((b - a) % n + n) % n;
  if (2 * t < n) return a;
  if (2 * t > n) return b;
  return std::min(a, b);
}

namespace {

using Edge = std::pair<std::int64_t, std::int64_t>; // (owner, other)

/// `count` distinct partners of i drawn uniformly from the other n − 1 particles, sorted.
std::vector<std::int64_t> draw_partners(std::int64_t i, std::int64_t count, std::int64_t n,
                                        Rng& rng) {
  std::vector<std::int64_t> out;
  if (count >= n - 1) {
    for (std::int64_t j = 0; j < n; ++j)
      if (j != i) out.push_back(j);
    return out;
  }
  while (static_cast<std::int64_t>(out.size()) < count) {
    const std::int64_t missing = count - static_cast<std::int64_t>(out.size());
    for (std::int64_t k = 0; k < missing; ++k) {
      const auto x = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(n - 1)));
      out.push_back(x < i ? x : x + 1);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
  }
  return out;
}

/// The `count` partners of smallest d̂ (ties by index) among the candidates, excluding `taken`
/// (sorted).
std::vector<std::int64_t> nearest_partners(std::int64_t i, std::int64_t count,
                                           const std::vector<std::int64_t>& candidates,
                                           const std::vector<std::int64_t>& taken,
                                           const DistanceModel& model) {
  std::vector<std::pair<double, std::int64_t>> scored;
  scored.reserve(candidates.size());
  for (std::int64_t j : candidates)
    if (!std::binary_search(taken.begin(), taken.end(), j)) scored.emplace_back(model.raw(i, j), j);
  const auto k = std::min<std::size_t>(static_cast<std::size_t>(count), scored.size());
  std::partial_sort(scored.begin(), scored.begin() + k, scored.end());
  std::vector<std::int64_t> out(k);
  for (std::size_t m = 0; m < k; ++m)
    out[m] = scored[m].second;
  return out;
}

/// Appends i's landmark partners: every other landmark for a landmark, else
/// `landmark_partners` distinct landmarks drawn at random (all when 0 or ≥ L).
void landmark_partners_of(std::int64_t i, const SamplingOptions& opt, Rng& rng,
                          std::vector<std::int64_t>& partners) {
  const auto& marks = opt.landmarks;
  const auto n_marks = static_cast<std::int64_t>(marks.size());
  if (n_marks == 0) return;
  const bool is_mark = std::binary_search(marks.begin(), marks.end(), i);
  if (is_mark || opt.landmark_partners <= 0 || opt.landmark_partners >= n_marks) {
    for (std::int64_t l : marks)
      if (l != i) partners.push_back(l);
    return;
  }
  // Positions in the landmark list, drawn like partners of a particle outside [0, L).
  for (std::int64_t pos : draw_partners(n_marks, opt.landmark_partners, n_marks + 1, rng))
    partners.push_back(marks[pos]);
}

/// The partners particle i draws under the options (not yet deduplicated against others).
std::vector<std::int64_t> partners_of(std::int64_t i, const SamplingOptions& opt, std::int64_t n,
                                      const DistanceModel& model) {
  Rng rng(opt.seed, stream_pairs, static_cast<std::uint64_t>(i));
  const std::int64_t budget = std::min(opt.budget, n - 1);
  std::int64_t n_random = budget;
  if (opt.strategy == Strategy::knn) n_random = 0;
  if (opt.strategy == Strategy::mix) n_random = std::llround(opt.random_fraction * budget);
  std::vector<std::int64_t> partners = draw_partners(i, n_random, n, rng);
  const std::int64_t n_near = budget - static_cast<std::int64_t>(partners.size());
  if (n_near > 0) {
    const std::int64_t n_cand = opt.knn_candidates > 0 ? opt.knn_candidates : n - 1;
    const std::vector<std::int64_t> candidates = draw_partners(i, n_cand, n, rng);
    std::vector<std::int64_t> near = nearest_partners(i, n_near, candidates, partners, model);
    partners.insert(partners.end(), near.begin(), near.end());
  }
  landmark_partners_of(i, opt, rng, partners);
  return partners;
}

/// Every pair, each particle owning the ones the circulant rule gives it.
std::vector<Edge> all_edges(const Block& rows, std::int64_t n) {
  std::vector<Edge> edges;
  for (std::int64_t i = rows.begin; i < rows.end; ++i) {
    for (std::int64_t t = 1; 2 * t < n; ++t)
      edges.emplace_back(i, (i + t) % n);
    if (n % 2 == 0 && i < n / 2) edges.emplace_back(i, i + n / 2);
  }
  std::sort(edges.begin(), edges.end()); // partners wrap around N
  return edges;
}

/// Sends every edge to the rank owning its first index; returns the received edges.
std::vector<Edge> exchange_edges(const std::vector<Edge>& edges, std::int64_t n, MPI_Comm comm) {
  const int n_ranks = mpi::comm_size(comm);
  std::vector<int> dest(edges.size());
  std::vector<std::int64_t> counts(n_ranks, 0);
  for (std::size_t e = 0; e < edges.size(); ++e) {
    dest[e] = block_owner(edges[e].first, n, n_ranks);
    ++counts[dest[e]];
  }
  std::vector<int> send_counts(n_ranks), send_offsets(n_ranks + 1, 0);
  for (int r = 0; r < n_ranks; ++r) {
    PAIRPOSE_CHECK(counts[r] < INT_MAX && send_offsets[r] + counts[r] < INT_MAX,
                   "pair exchange: more than 2^31 pairs from one rank; use more ranks");
    send_counts[r] = static_cast<int>(counts[r]);
    send_offsets[r + 1] = send_offsets[r] + send_counts[r];
  }
  std::vector<Edge> send(edges.size());
  std::vector<int> fill(send_offsets.begin(), send_offsets.end() - 1);
  for (std::size_t e = 0; e < edges.size(); ++e)
    send[fill[dest[e]]++] = edges[e];
  std::vector<int> recv_counts(n_ranks), recv_offsets(n_ranks + 1, 0);
  MPI_Alltoall(send_counts.data(), 1, MPI_INT, recv_counts.data(), 1, MPI_INT, comm);
  for (int r = 0; r < n_ranks; ++r) {
    PAIRPOSE_CHECK(std::int64_t(recv_offsets[r]) + recv_counts[r] < INT_MAX,
                   "pair exchange: more than 2^31 pairs for one rank; use more ranks");
    recv_offsets[r + 1] = recv_offsets[r] + recv_counts[r];
  }
  std::vector<Edge> recv(static_cast<std::size_t>(recv_offsets[n_ranks]));
  MPI_Datatype edge_type;
  MPI_Type_contiguous(2, MPI_INT64_T, &edge_type);
  MPI_Type_commit(&edge_type);
  const int code =
      MPI_Alltoallv(send.data(), send_counts.data(), send_offsets.data(), edge_type, recv.data(),
                    recv_counts.data(), recv_offsets.data(), edge_type, comm);
  MPI_Type_free(&edge_type);
  mpi::check(code, "MPI_Alltoallv (pairs)");
  return recv;
}

/// Sets the euclidean scale so that the mean d̂ is the mean uniform angle. The sum is taken in
/// fixed point (2⁻²⁴ units) so that it is exact and independent of the rank count.
void auto_scale_model(const std::vector<Edge>& edges, DistanceModel& model, MPI_Comm comm) {
  std::int64_t sum = 0;
  for (const auto& e : edges)
    sum += std::llround(model.raw(e.first, e.second) * 16777216.0);
  const auto total_sum = mpi::all_sum(sum, comm);
  const auto count = mpi::all_sum(static_cast<std::int64_t>(edges.size()), comm);
  PAIRPOSE_CHECK(count > 0 && total_sum > 0,
                 "euclidean distances: every sampled pair of images is identical; cannot scale");
  model.set_scale(mean_uniform_angle / (double(total_sum) / 16777216.0 / double(count)));
}

} // namespace

PairSet sample_pairs(const SamplingOptions& opt, DistanceModel& model, MPI_Comm comm,
                     bool auto_scale) {
  const std::int64_t n = model.n_particles();
  PAIRPOSE_CHECK(n >= 2, "pairs: need at least 2 particles, got " << n);
  PAIRPOSE_CHECK(opt.budget >= 1 || opt.strategy == Strategy::all,
                 "pairs: budget must be ≥ 1, got " << opt.budget);
  PAIRPOSE_CHECK(
      std::is_sorted(opt.landmarks.begin(), opt.landmarks.end()) &&
          (opt.landmarks.empty() || (opt.landmarks.front() >= 0 && opt.landmarks.back() < n)),
      "pairs: landmark indices must be sorted and lie in [0, " << n << ")");
  PairSet out;
  out.n_particles = n;
  out.rows = split_block(n, comm);
  std::vector<Edge> edges;
  if (opt.strategy == Strategy::all) {
    edges = all_edges(out.rows, n);
  } else {
    std::vector<Edge> drawn;
    drawn.reserve(static_cast<std::size_t>(out.rows.size() * std::min(opt.budget, n - 1)));
    for (std::int64_t i = out.rows.begin; i < out.rows.end; ++i)
      for (std::int64_t j : partners_of(i, opt, n, model)) {
        const std::int64_t o = pair_owner(i, j, n);
        drawn.emplace_back(o, o == i ? j : i);
      }
    edges = exchange_edges(drawn, n, comm);
    std::vector<Edge>().swap(drawn);
    std::sort(edges.begin(), edges.end());
    edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
  }
  if (auto_scale && model.source() == DistanceSource::euclidean)
    auto_scale_model(edges, model, comm);
  const std::size_t m = edges.size();
  out.i.resize(m);
  out.j.resize(m);
  out.distance.resize(m);
  out.weight.assign(m, 1.0);
  for (std::size_t e = 0; e < m; ++e) {
    out.i[e] = edges[e].first;
    out.j[e] = edges[e].second;
    out.distance[e] = model(edges[e].first, edges[e].second);
  }
  return out;
}

std::uint64_t pair_set_hash(const PairSet& pairs, MPI_Comm comm) {
  std::uint64_t h = 0;
  for (std::int64_t e = 0; e < pairs.size(); ++e) {
    std::uint64_t bits;
    std::memcpy(&bits, &pairs.distance[e], sizeof bits);
    h += mix64(mix64(mix64(static_cast<std::uint64_t>(pairs.i[e])) ^
                     static_cast<std::uint64_t>(pairs.j[e])) ^
               bits);
  }
  return mpi::all_sum(h, comm) ^ mix64(static_cast<std::uint64_t>(pairs.n_particles));
}

std::int64_t total_pairs(const PairSet& pairs, MPI_Comm comm) {
  return mpi::all_sum(pairs.size(), comm);
}

} // namespace pairpose::pairs
