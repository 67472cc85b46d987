#include "pairpose/recover/solver.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "pairpose/core/error.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/core/random.hpp"

namespace pairpose::recover {

Method parse_method(const std::string& text) {
  if (text == "gd") return Method::gd;
  if (text == "lbfgs") return Method::lbfgs;
  if (text == "adam") return Method::adam;
  PAIRPOSE_FAIL("unknown refinement method '" << text << "' (expected gd, lbfgs or adam)");
}

std::string to_string(Method method) {
  switch (method) {
  case Method::gd: return "gd";
  case Method::lbfgs: return "lbfgs";
  case Method::adam: return "adam";
  }
  return "?";
}

// --- vector helpers (every rank runs the same loops in the same order: identical results) ---

void project_tangent(const double* q, double* g, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const double* a = q + 4 * i;
    double* b = g + 4 * i;
    const double c = a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3];
    for (int k = 0; k < 4; ++k)
      b[k] -= c * a[k];
  }
}

namespace {
double local_dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t k = 0; k < a.size(); ++k)
    s += a[k] * b[k];
  return s;
}
void axpy(double alpha, const std::vector<double>& x, std::vector<double>& y) {
  for (std::size_t k = 0; k < x.size(); ++k)
    y[k] += alpha * x[k];
}
std::uint64_t bits_of(double x) {
  std::uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}
} // namespace

double norm(const std::vector<double>& v) { return std::sqrt(local_dot(v, v)); }

void retract(const std::vector<double>& q, const std::vector<double>& d, double t,
             std::vector<double>& out) {
  out.resize(q.size());
  for (std::size_t i = 0; i < q.size(); i += 4) {
    double x[4], s = 0;
    for (int k = 0; k < 4; ++k) {
      x[k] = q[i + k] + t * d[i + k];
      s += x[k] * x[k];
    }
    const double inv = 1 / std::sqrt(s);
    for (int k = 0; k < 4; ++k)
      out[i + k] = x[k] * inv;
  }
}

void canonicalize(std::vector<double>& q) {
  for (std::size_t i = 0; i < q.size(); i += 4) {
    int first = 0;
    while (first < 3 && q[i + first] == 0)
      ++first;
    if (q[i + first] < 0)
      for (int k = 0; k < 4; ++k)
        q[i + k] = -q[i + k];
  }
}

// --- the solver ------------------------------------------------------------------------------

RefinementSolver::RefinementSolver(const PairObjective& objective, SolverOptions options)
    : obj_(objective), opt_(std::move(options)), n_(objective.n_particles()) {
  PAIRPOSE_CHECK(opt_.n_restarts >= 1, "recover: restarts must be ≥ 1");
  PAIRPOSE_CHECK(opt_.lbfgs_memory >= 1, "recover: lbfgs memory must be ≥ 1");
  identity_n_ = n_;
  rows_ = split_block(n_, objective.comm());
  const int n_ranks = mpi::comm_size(objective.comm());
  counts_.resize(n_ranks);
  offsets_.assign(n_ranks + 1, 0);
  for (int r = 0; r < n_ranks; ++r) {
    counts_[r] = static_cast<int>(4 * split_block(n_, n_ranks, r).size());
    offsets_[r + 1] = offsets_[r] + counts_[r];
  }
}

void RefinementSolver::set_dataset_identity(std::int64_t n_particles, std::uint64_t pair_hash,
                                            std::uint64_t settings_hash) {
  identity_n_ = n_particles;
  identity_hash_ = pair_hash;
  settings_hash_ = settings_hash;
}

std::uint64_t RefinementSolver::fingerprint() const {
  std::uint64_t h = mix64(static_cast<std::uint64_t>(opt_.method) + 1);
  const double reals[] = {opt_.grad_tol,  opt_.loss_tol,   opt_.initial_step, opt_.armijo,
                          opt_.adam_rate, opt_.adam_beta1, opt_.adam_beta2,   opt_.adam_epsilon};
  for (double x : reals)
    h = mix64(h ^ bits_of(x));
  const std::int64_t ints[] = {opt_.max_iterations, opt_.n_restarts, opt_.lbfgs_memory,
                               opt_.max_backtracks};
  for (auto x : ints)
    h = mix64(h ^ static_cast<std::uint64_t>(x));
  return mix64(h ^ settings_hash_);
}

double RefinementSolver::dot(const std::vector<double>& a, const std::vector<double>& b) const {
  return mpi::all_sum(local_dot(a, b), obj_.comm());
}

void RefinementSolver::gather(const std::vector<double>& block, std::vector<double>& full) const {
  full.resize(static_cast<std::size_t>(4 * n_));
  mpi::check(MPI_Allgatherv(block.data(), static_cast<int>(block.size()), MPI_DOUBLE, full.data(),
                            counts_.data(), offsets_.data(), MPI_DOUBLE, obj_.comm()),
             "MPI_Allgatherv (direction)");
}

double RefinementSolver::evaluate(const SolverState& st, std::vector<double>& grad) const {
  const double loss = obj_.trial(st.q.data());
  obj_.finish_gradient_block(grad.data());
  project_tangent(st.q.data() + 4 * rows_.begin, grad.data(), rows_.size());
  return loss;
}

void RefinementSolver::start_restart(SolverState& st, const Initializer& init,
                                     std::vector<double>& grad, double& loss) {
  st.q = init(st.restart);
  PAIRPOSE_CHECK(static_cast<std::int64_t>(st.q.size()) == 4 * n_,
                 "recover: initialisation returned " << st.q.size() << " values for " << n_
                                                     << " particles");
  st.iteration = 0;
  st.converged = false;
  st.n_small_changes = 0;
  st.step = 0;
  st.s.clear(), st.y.clear(), st.rho.clear();
  st.m.assign(grad.size(), 0.0);
  st.v.assign(grad.size(), 0.0);
  loss = evaluate(st, grad);
  st.grad0_norm = std::sqrt(dot(grad, grad));
  st.last_loss = loss;
  st.started = true;
  st.converged = opt_.max_iterations <= 0; // 0 iterations: the start is the result
  st.history.push_back({st.restart, 0, loss, st.grad0_norm, 0.0});
  log_iteration(st);
}

bool RefinementSolver::line_search(SolverState& st, const std::vector<double>& d, double slope,
                                   std::vector<double>& grad, double& loss, double t0,
                                   double& t_out) {
  std::vector<double> dir, trial_q;
  gather(d, dir);
  double t = t0;
  for (int k = 0; k <= opt_.max_backtracks; ++k, t *= 0.5) {
    retract(st.q, dir, t, trial_q);
    const double trial_loss = obj_.trial(trial_q.data());
    if (std::isfinite(trial_loss) && trial_loss <= loss + opt_.armijo * t * slope) {
      st.q.swap(trial_q);
      loss = trial_loss;
      obj_.finish_gradient_block(grad.data());
      project_tangent(st.q.data() + 4 * rows_.begin, grad.data(), rows_.size());
      t_out = t;
      return true;
    }
  }
  return false;
}

void RefinementSolver::lbfgs_direction(SolverState& st, const std::vector<double>& grad,
                                       std::vector<double>& d) const {
  // Two-loop recursion on this rank's blocks, oldest pair first in st.s.
  for (std::size_t c = 0; c < grad.size(); ++c)
    d[c] = -grad[c];
  const std::size_t m = st.s.size();
  std::vector<double> alpha(m);
  for (std::size_t k = m; k-- > 0;) {
    alpha[k] = st.rho[k] * dot(st.s[k], d);
    axpy(-alpha[k], st.y[k], d);
  }
  const double gamma = 1 / (st.rho[m - 1] * dot(st.y[m - 1], st.y[m - 1]));
  for (double& x : d)
    x *= gamma;
  for (std::size_t k = 0; k < m; ++k)
    axpy(alpha[k] - st.rho[k] * dot(st.y[k], d), st.s[k], d);
  project_tangent(st.q.data() + 4 * rows_.begin, d.data(), rows_.size());
}

bool RefinementSolver::iterate(SolverState& st, std::vector<double>& grad, double& loss) {
  std::vector<double> d(grad.size()); // this rank's block of the direction
  double t = 0;
  if (opt_.method == Method::adam) {
    const double k = static_cast<double>(st.iteration + 1);
    const double c1 = 1 - std::pow(opt_.adam_beta1, k), c2 = 1 - std::pow(opt_.adam_beta2, k);
    for (std::size_t c = 0; c < grad.size(); ++c) {
      st.m[c] = opt_.adam_beta1 * st.m[c] + (1 - opt_.adam_beta1) * grad[c];
      st.v[c] = opt_.adam_beta2 * st.v[c] + (1 - opt_.adam_beta2) * grad[c] * grad[c];
      d[c] = -opt_.adam_rate * (st.m[c] / c1) / (std::sqrt(st.v[c] / c2) + opt_.adam_epsilon);
    }
    const double* q_block = st.q.data() + 4 * rows_.begin;
    project_tangent(q_block, d.data(), rows_.size());
    std::vector<double> dir, next;
    gather(d, dir);
    retract(st.q, dir, 1.0, next);
    st.q.swap(next);
    loss = evaluate(st, grad);
    project_tangent(st.q.data() + 4 * rows_.begin, st.m.data(), rows_.size());
    t = opt_.adam_rate;
  } else {
    const bool quasi_newton = opt_.method == Method::lbfgs && !st.s.empty();
    if (quasi_newton) lbfgs_direction(st, grad, d);
    double slope = quasi_newton ? dot(d, grad) : 0;
    if (!quasi_newton || slope >= 0) {
      st.s.clear(), st.y.clear(), st.rho.clear();
      for (std::size_t c = 0; c < grad.size(); ++c)
        d[c] = -grad[c];
      slope = -dot(grad, grad);
    }
    const bool use_unit = opt_.method == Method::lbfgs && !st.s.empty();
    const double t0 = use_unit ? 1.0 : (st.step > 0 ? 2 * st.step : opt_.initial_step);
    const std::vector<double> old_grad =
        opt_.method == Method::lbfgs ? grad : std::vector<double>();
    if (!line_search(st, d, slope, grad, loss, t0, t)) {
      if (!st.s.empty()) { // retry from the gradient next time
        st.s.clear(), st.y.clear(), st.rho.clear();
        return true;
      }
      st.converged = true;
      return false;
    }
    st.step = t;
    if (opt_.method == Method::lbfgs) remember_step(st, d, t, old_grad, grad);
  }
  ++st.iteration, ++st.total_iterations;
  const double gnorm = std::sqrt(dot(grad, grad));
  st.history.push_back({st.restart, st.iteration, loss, gnorm, t});
  log_iteration(st);
  if (std::abs(st.last_loss - loss) <= opt_.loss_tol * std::abs(loss))
    ++st.n_small_changes;
  else
    st.n_small_changes = 0;
  st.last_loss = loss;
  if (st.iteration >= opt_.max_iterations || gnorm <= opt_.grad_tol * st.grad0_norm ||
      st.n_small_changes >= 3 || !std::isfinite(loss))
    st.converged = true;
  return !st.converged;
}

void RefinementSolver::remember_step(SolverState& st, const std::vector<double>& d, double t,
                                     const std::vector<double>& old_grad,
                                     const std::vector<double>& grad) const {
  const double* q_block = st.q.data() + 4 * rows_.begin;
  std::vector<double> s(d.size()), y(old_grad);
  for (std::size_t c = 0; c < d.size(); ++c)
    s[c] = t * d[c];
  project_tangent(q_block, s.data(), rows_.size());
  project_tangent(q_block, y.data(), rows_.size());
  for (std::size_t c = 0; c < y.size(); ++c)
    y[c] = grad[c] - y[c];
  double sums[3] = {local_dot(s, y), local_dot(s, s), local_dot(y, y)};
  mpi::all_sum_inplace(sums, 3, obj_.comm());
  if (sums[0] > 1e-12 * std::sqrt(sums[1] * sums[2])) {
    st.s.push_back(std::move(s)), st.y.push_back(std::move(y)), st.rho.push_back(1 / sums[0]);
    if (static_cast<int>(st.s.size()) > opt_.lbfgs_memory)
      st.s.erase(st.s.begin()), st.y.erase(st.y.begin()), st.rho.erase(st.rho.begin());
  }
}

void RefinementSolver::log_iteration(const SolverState& st) const {
  if (!log_ || log_every_ <= 0 || st.iteration % log_every_ != 0) return;
  const auto& h = st.history.back();
  log_->info("recover: restart {} iteration {}: loss {:.6e} rad², |grad| {:.3e}, step {:.3e}",
             h.restart, h.iteration, h.loss, h.grad_norm, h.step);
}

void RefinementSolver::finish_restart(SolverState& st, double loss) {
  if (st.best_restart < 0 || loss < st.best_loss) {
    st.best_loss = loss;
    st.best_restart = st.restart;
    st.best_q = st.q;
  }
  if (log_)
    log_->info("recover: restart {} finished after {} iterations, loss {:.6e} rad²", st.restart,
               st.iteration, loss);
  ++st.restart;
  st.started = false;
  st.converged = false;
}

SolverResult RefinementSolver::run(const Initializer& init, SolverState st) {
  std::vector<double> grad(static_cast<std::size_t>(4 * rows_.size()));
  double loss = st.last_loss;
  const CheckpointIdentity id{fingerprint(), identity_n_, identity_hash_};
  SolverResult result;
  if (st.started && !st.converged) loss = evaluate(st, grad); // exactly as computed before
  const double start = wall_seconds();
  const std::int64_t start_iterations = st.total_iterations;
  while (st.restart < opt_.n_restarts) {
    if (!st.started) start_restart(st, init, grad, loss);
    while (!st.converged) {
      iterate(st, grad, loss);
      const bool stop = opt_.stop_after > 0 && st.total_iterations >= opt_.stop_after;
      const bool due =
          opt_.checkpoint_every > 0 && st.total_iterations % opt_.checkpoint_every == 0;
      if (!opt_.checkpoint_path.empty() && (due || stop))
        write_checkpoint(opt_.checkpoint_path, id, st, obj_.comm());
      if (stop) {
        result.interrupted = true;
        result.q = st.q;
        result.loss = loss;
        result.n_iterations = st.total_iterations;
        result.history = st.history;
        return result;
      }
    }
    finish_restart(st, loss);
  }
  seconds_ += wall_seconds() - start;
  n_iter_run_ += st.total_iterations - start_iterations;
  result.q = st.best_q;
  canonicalize(result.q);
  result.loss = st.best_loss;
  result.best_restart = st.best_restart;
  result.n_iterations = st.total_iterations;
  result.history = std::move(st.history);
  return result;
}

SolverResult RefinementSolver::solve(const Initializer& init) { return run(init, SolverState{}); }

SolverResult RefinementSolver::resume(const Initializer& init) {
  PAIRPOSE_CHECK(!opt_.checkpoint_path.empty(), "recover: resume needs a checkpoint path");
  const CheckpointIdentity id{fingerprint(), identity_n_, identity_hash_};
  return run(init, read_checkpoint(opt_.checkpoint_path, id, obj_.comm()));
}

} // namespace pairpose::recover
