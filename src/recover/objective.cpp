#include "pairpose/recover/objective.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <numeric>
#include <sstream>
#include <time.h>

#include "pairpose/core/error.hpp"
#include "pairpose/core/log.hpp"
#include "pairpose/core/mpi.hpp"

namespace pairpose::recover {

WeightOptions::Scheme parse_weight_scheme(const std::string& text) {
  if (text == "uniform") return WeightOptions::Scheme::uniform;
  if (text == "exp") return WeightOptions::Scheme::exponential;
  PAIRPOSE_FAIL("unknown pair weighting '" << text << "' (expected uniform or exp)");
}

namespace {

/// Whether pair e passes every check (the fast path of pair_problem).
bool pair_ok(const PairSet& p, std::int64_t e) {
  const std::int64_t i = p.i[e], j = p.j[e];
  const double d = p.distance[e];
  const double w = p.weight.empty() ? 1.0 : p.weight[e];
  return i >= 0 && i < p.n_particles && j >= 0 && j < p.n_particles && p.rows.contains(i) &&
         i != j && std::isfinite(d) && d >= 0 && d <= M_PI + 1e-12 && std::isfinite(w) && w >= 0;
}

/// The first problem with pair e, or "".
std::string pair_problem(const PairSet& p, std::int64_t e) {
  if (pair_ok(p, e)) return "";
  std::ostringstream os;
  const std::int64_t i = p.i[e], j = p.j[e];
  const double d = p.distance[e];
  const double w = p.weight.empty() ? 1.0 : p.weight[e];
  if (i < 0 || i >= p.n_particles || j < 0 || j >= p.n_particles)
    os << "names a particle outside [0, " << p.n_particles << ")";
  else if (!p.rows.contains(i))
    os << "has first index outside this rank's rows [" << p.rows.begin << ", " << p.rows.end << ")";
  else if (i == j)
    os << "pairs a particle with itself";
  else if (!std::isfinite(d))
    os << "has a distance that is not finite";
  else if (d < 0 || d > M_PI + 1e-12)
    os << "has a distance outside [0, π]";
  else
    os << "has a weight that is not finite and ≥ 0";
  std::ostringstream msg;
  msg << "pair " << e << " of this rank (i = " << i << ", j = " << j << ", distance = " << d
      << ", weight = " << w << ") " << os.str();
  return msg.str();
}

/// Throws on every rank when any rank has a bad pair.
void validate(const PairSet& pairs, MPI_Comm comm) {
  std::string problem;
  if (pairs.j.size() != pairs.i.size() || pairs.distance.size() != pairs.i.size() ||
      (!pairs.weight.empty() && pairs.weight.size() != pairs.i.size()))
    problem = "pair arrays i, j, distance, weight have different lengths";
  for (std::int64_t e = 0; e < pairs.size() && problem.empty(); ++e)
    problem = pair_problem(pairs, e);
  mpi::agree_or_throw(problem, comm);
}

template <class T> void free_vector(std::vector<T>& v) { std::vector<T>().swap(v); }

} // namespace

std::vector<std::int32_t> pair_degrees(const PairSet& pairs, MPI_Comm comm) {
  validate(pairs, comm);
  std::vector<std::int32_t> degree(static_cast<std::size_t>(pairs.n_particles), 0);
  for (std::int64_t e = 0; e < pairs.size(); ++e)
    ++degree[pairs.i[e]], ++degree[pairs.j[e]];
  mpi::all_sum_inplace(degree.data(), pairs.n_particles, comm);
  return degree;
}

PairCheck isolated_particles(const std::vector<std::int32_t>& degree) {
  PairCheck check;
  for (std::size_t a = 0; a < degree.size(); ++a)
    if (degree[a] == 0) {
      if (check.n_isolated == 0) check.first_isolated = static_cast<std::int64_t>(a);
      ++check.n_isolated;
    }
  return check;
}

PairObjective::PairObjective(PairSet&& pairs, const WeightOptions& weights, MPI_Comm comm,
                             const KernelLayout& layout)
    : comm_(comm), n_(pairs.n_particles) {
  PAIRPOSE_CHECK(n_ < (std::int64_t(1) << 32),
                 "recover: " << n_ << " particles; the pair kernel supports fewer than 2^32");
  const auto power_of_2 = [](std::int64_t x) { return x > 0 && (x & (x - 1)) == 0; };
  PAIRPOSE_CHECK(power_of_2(layout.tile_rows) && power_of_2(layout.tile_cols),
                 "recover: kernel tile sizes must be powers of 2 (" << layout.tile_rows << ", "
                                                                    << layout.tile_cols << ")");
  degree_ = pair_degrees(pairs, comm);
  check_ = isolated_particles(degree_);
  const std::int64_t m = pairs.size();
  // Weights: kept only when some differ from 1.
  bool uniform = weights.scheme == WeightOptions::Scheme::uniform;
  for (std::size_t e = 0; e < pairs.weight.size() && uniform; ++e)
    uniform = pairs.weight[e] == 1;
  std::vector<double> w;
  double w_sum = uniform ? double(m) : 0;
  if (!uniform) {
    w.resize(static_cast<std::size_t>(m));
    for (std::int64_t e = 0; e < m; ++e) {
      w[e] = pairs.weight.empty() ? 1.0 : pairs.weight[e];
      if (weights.scheme == WeightOptions::Scheme::exponential)
        w[e] *= std::exp(-pairs.distance[e] / weights.tau);
      w_sum += w[e];
    }
  }
  free_vector(pairs.weight);
  n_total_ = mpi::all_sum(m, comm);
  w_sum = mpi::all_sum(w_sum, comm);
  PAIRPOSE_CHECK(n_total_ > 0, "recover: the pair set is empty");
  PAIRPOSE_CHECK(w_sum > 0, "recover: every pair has weight 0");
  inv_weight_ = 1 / w_sum;
  fill_tiles(pairs, std::move(w), layout);
}

void PairObjective::fill_tiles(PairSet& pairs, std::vector<double>&& w,
                               const KernelLayout& layout) {
  const std::int64_t m = pairs.size(), row_begin = pairs.rows.begin;
  const int row_shift = __builtin_ctzll(std::uint64_t(layout.tile_rows));
  const int col_shift = __builtin_ctzll(std::uint64_t(layout.tile_cols));
  const std::int64_t n_col_tiles = ((n_ - 1) >> col_shift) + 1;
  const std::int64_t n_row_tiles =
      ((std::max<std::int64_t>(pairs.rows.size(), 1) - 1) >> row_shift) + 1;
  const auto tile = [&](std::int64_t e) {
    return ((pairs.i[e] - row_begin) >> row_shift) * n_col_tiles + (pairs.j[e] >> col_shift);
  };
  std::vector<std::int64_t> start(static_cast<std::size_t>(n_row_tiles * n_col_tiles + 1), 0);
  for (std::int64_t e = 0; e < m; ++e)
    ++start[tile(e) + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  // One array at a time, freeing each input as soon as it is placed (stable: input order kept
  // within a tile).
  const auto place = [&](auto&& put) {
    std::vector<std::int64_t> next(start);
    for (std::int64_t e = 0; e < m; ++e)
      put(next[tile(e)]++, e);
  };
  d_.resize(static_cast<std::size_t>(m));
  place([&](std::int64_t k, std::int64_t e) { d_[k] = pairs.distance[e]; });
  free_vector(pairs.distance);
  if (!w.empty()) {
    weight_.resize(static_cast<std::size_t>(m));
    place([&](std::int64_t k, std::int64_t e) { weight_[k] = w[e]; });
  }
  free_vector(w);
  i_.resize(static_cast<std::size_t>(m));
  j_.resize(static_cast<std::size_t>(m));
  place([&](std::int64_t k, std::int64_t e) {
    i_[k] = static_cast<std::uint32_t>(pairs.i[e]);
    j_[k] = static_cast<std::uint32_t>(pairs.j[e]);
  });
  free_vector(pairs.i);
  free_vector(pairs.j);
}

PairTerms PairObjective::terms() const {
  PairTerms t;
  t.i = i_.data(), t.j = j_.data(), t.d = d_.data();
  t.w = weight_.empty() ? nullptr : weight_.data();
  t.n = static_cast<std::int64_t>(d_.size());
  return t;
}

double PairObjective::local_value_and_gradient(const double* q, double* grad) const {
  return pair_kernel(terms(), q, grad);
}

double PairObjective::local_value(const double* q) const {
  return pair_kernel(terms(), q, nullptr);
}

namespace {
/// CPU seconds of the calling thread: a throughput figure that does not depend on how many other
/// jobs share the cores.
double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}
} // namespace

double PairObjective::timed_kernel(const double* q, double* grad) const {
  const double start = thread_cpu_seconds();
  const double loss = local_value_and_gradient(q, grad);
  kernel_seconds_ += thread_cpu_seconds() - start;
  kernel_terms_ += n_local_pairs();
  return loss;
}

double PairObjective::value_and_gradient(const double* q, double* grad) const {
  work_.assign(static_cast<std::size_t>(4 * n_ + 1), 0.0);
  work_[4 * n_] = timed_kernel(q, work_.data());
  mpi::all_sum_inplace(work_.data(), 4 * n_ + 1, comm_);
  for (std::int64_t c = 0; c < 4 * n_; ++c)
    grad[c] = work_[c] * inv_weight_;
  return work_[4 * n_] * inv_weight_;
}

double PairObjective::trial(const double* q) const {
  work_.assign(static_cast<std::size_t>(4 * n_ + 1), 0.0);
  const double local = timed_kernel(q, work_.data());
  return mpi::all_sum(local, comm_) * inv_weight_;
}

void PairObjective::finish_gradient(double* grad) const {
  PAIRPOSE_CHECK(work_.size() == static_cast<std::size_t>(4 * n_ + 1),
                 "PairObjective::finish_gradient called without trial()");
  mpi::all_sum_inplace(work_.data(), 4 * n_, comm_);
  for (std::int64_t c = 0; c < 4 * n_; ++c)
    grad[c] = work_[c] * inv_weight_;
}

void PairObjective::finish_gradient_block(double* grad_block) const {
  PAIRPOSE_CHECK(work_.size() == static_cast<std::size_t>(4 * n_ + 1),
                 "PairObjective::finish_gradient_block called without trial()");
  const int n_ranks = mpi::comm_size(comm_);
  std::vector<int> counts(n_ranks);
  for (int r = 0; r < n_ranks; ++r) {
    const std::int64_t c = 4 * split_block(n_, n_ranks, r).size();
    PAIRPOSE_CHECK(c < INT_MAX, "recover: more than 2^29 particles in one rank's block");
    counts[r] = static_cast<int>(c);
  }
  mpi::check(
      MPI_Reduce_scatter(work_.data(), grad_block, counts.data(), MPI_DOUBLE, MPI_SUM, comm_),
      "MPI_Reduce_scatter (gradient)");
  const int me = mpi::comm_rank(comm_);
  for (int c = 0; c < counts[me]; ++c)
    grad_block[c] *= inv_weight_;
}

double PairObjective::value(const double* q) const {
  return mpi::all_sum(local_value(q), comm_) * inv_weight_;
}

} // namespace pairpose::recover
