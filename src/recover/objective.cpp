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

/// The first problem with pair e, or "".
std::string pair_problem(const PairSet& p, std::int64_t e) {
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
  else if (!std::isfinite(w) || w < 0)
    os << "has a weight that is not finite and ≥ 0";
  if (os.str().empty()) return "";
  std::ostringstream msg;
  msg << "pair " << e << " of this rank (i = " << i << ", j = " << j << ", distance = " << d
      << ", weight = " << w << ") " << os.str();
  return msg.str();
}

} // namespace

PairObjective::PairObjective(const PairSet& pairs, const WeightOptions& weights, MPI_Comm comm)
    : comm_(comm), n_(pairs.n_particles), row_begin_(pairs.rows.begin) {
  const std::int64_t m = pairs.size();
  std::string problem;
  if (pairs.j.size() != pairs.i.size() || pairs.distance.size() != pairs.i.size() ||
      (!pairs.weight.empty() && pairs.weight.size() != pairs.i.size()))
    problem = "pair arrays i, j, distance, weight have different lengths";
  for (std::int64_t e = 0; e < m && problem.empty(); ++e)
    problem = pair_problem(pairs, e);
  mpi::agree_or_throw(problem, comm);

  // CSR rows sorted by (i, j).
  const auto less = [&](std::int64_t a, std::int64_t b) {
    return pairs.i[a] != pairs.i[b] ? pairs.i[a] < pairs.i[b] : pairs.j[a] < pairs.j[b];
  };
  bool sorted = true; // the usual case (pair_io, pair_sampler): no permutation array needed
  for (std::int64_t e = 1; e < m && sorted; ++e)
    sorted = !less(e, e - 1);
  std::vector<std::int64_t> order;
  if (!sorted) {
    order.resize(static_cast<std::size_t>(m));
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), less);
  }
  row_ptr_.assign(static_cast<std::size_t>(pairs.rows.size() + 1), 0);
  terms_.resize(static_cast<std::size_t>(m));
  degree_.assign(static_cast<std::size_t>(n_), 0);
  bool uniform = weights.scheme == WeightOptions::Scheme::uniform;
  for (std::size_t e = 0; e < pairs.weight.size() && uniform; ++e)
    uniform = pairs.weight[e] == 1;
  if (!uniform) weight_.resize(static_cast<std::size_t>(m));
  double w_sum = 0;
  for (std::int64_t k = 0; k < m; ++k) {
    const std::int64_t e = sorted ? k : order[k];
    double w = pairs.weight.empty() ? 1.0 : pairs.weight[e];
    if (weights.scheme == WeightOptions::Scheme::exponential)
      w *= std::exp(-pairs.distance[e] / weights.tau);
    terms_[k] = {pairs.j[e], pairs.distance[e]};
    if (!uniform) weight_[k] = w;
    w_sum += w;
    ++row_ptr_[pairs.i[e] - row_begin_ + 1];
    ++degree_[pairs.i[e]];
    ++degree_[pairs.j[e]];
  }
  std::partial_sum(row_ptr_.begin(), row_ptr_.end(), row_ptr_.begin());
  mpi::all_sum_inplace(degree_.data(), n_, comm);
  n_total_ = mpi::all_sum(m, comm);
  w_sum = mpi::all_sum(w_sum, comm);
  PAIRPOSE_CHECK(n_total_ > 0, "recover: the pair set is empty");
  PAIRPOSE_CHECK(w_sum > 0, "recover: every pair has weight 0");
  inv_weight_ = 1 / w_sum;
  for (std::int64_t a = 0; a < n_; ++a)
    if (degree_[a] == 0) {
      if (check_.n_isolated == 0) check_.first_isolated = a;
      ++check_.n_isolated;
    }
}

template <bool weighted> double PairObjective::kernel(const double* q, double* grad) const {
  constexpr std::int64_t prefetch_distance = 16;
  const auto n_terms = static_cast<std::int64_t>(terms_.size());
  double loss = 0;
  const std::int64_t n_rows = static_cast<std::int64_t>(row_ptr_.size()) - 1;
  for (std::int64_t r = 0; r < n_rows; ++r) {
    const std::int64_t i = row_begin_ + r;
    const double aw = q[4 * i], ax = q[4 * i + 1], ay = q[4 * i + 2], az = q[4 * i + 3];
    double gw = 0, gx = 0, gy = 0, gz = 0;
    for (std::int64_t k = row_ptr_[r]; k < row_ptr_[r + 1]; ++k) {
      // The partners j are random: fetch a later pair's quaternion and gradient early so that
      // the cache misses overlap (the term array itself is read in order).
      if (k + prefetch_distance < n_terms) {
        const std::int64_t jp = terms_[k + prefetch_distance].j;
        __builtin_prefetch(q + 4 * jp, 0, 0);
        __builtin_prefetch(grad + 4 * jp, 1, 0);
      }
      const Term& t = terms_[k];
      const double w = weighted ? weight_[k] : 1.0;
      const double* b = q + 4 * t.j;
      const double s = aw * b[0] + ax * b[1] + ay * b[2] + az * b[3] < 0 ? -1.0 : 1.0;
      const double uw = aw - s * b[0], ux = ax - s * b[1], uy = ay - s * b[2], uz = az - s * b[3];
      const double r2 = uw * uw + ux * ux + uy * uy + uz * uz;
      const double rr = std::sqrt(r2);
      const double h = std::min(0.5 * rr, 1.0);
      const double res = 4 * std::asin(h) - t.d;
      loss += w * res * res;
      if (rr == 0 || h >= 1.0) continue;
      // ∂/∂a of w·res² = 2·w·res · 2·u / (r·sqrt(1 − r²/4)); ∂/∂b = −s · that.
      const double f = 4 * w * res / (rr * std::sqrt(1 - h * h));
      gw += f * uw, gx += f * ux, gy += f * uy, gz += f * uz;
      double* gb = grad + 4 * t.j;
      const double sf = -s * f;
      gb[0] += sf * uw, gb[1] += sf * ux, gb[2] += sf * uy, gb[3] += sf * uz;
    }
    grad[4 * i] += gw, grad[4 * i + 1] += gx, grad[4 * i + 2] += gy, grad[4 * i + 3] += gz;
  }
  return loss;
}

double PairObjective::local_value_and_gradient(const double* q, double* grad) const {
  return weight_.empty() ? kernel<false>(q, grad) : kernel<true>(q, grad);
}

double PairObjective::local_value(const double* q) const {
  double loss = 0;
  const std::int64_t n_rows = static_cast<std::int64_t>(row_ptr_.size()) - 1;
  for (std::int64_t r = 0; r < n_rows; ++r) {
    const double* a = q + 4 * (row_begin_ + r);
    for (std::int64_t k = row_ptr_[r]; k < row_ptr_[r + 1]; ++k) {
      const Term& t = terms_[k];
      const double* b = q + 4 * t.j;
      const double s = a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3] < 0 ? -1.0 : 1.0;
      double r2 = 0;
      for (int c = 0; c < 4; ++c)
        r2 += (a[c] - s * b[c]) * (a[c] - s * b[c]);
      const double res = 4 * std::asin(std::min(0.5 * std::sqrt(r2), 1.0)) - t.d;
      loss += (weight_.empty() ? 1.0 : weight_[k]) * res * res;
    }
  }
  return loss;
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
