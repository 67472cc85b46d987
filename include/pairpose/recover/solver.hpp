#pragma once
/// @file solver.hpp
/// Distributed Riemannian refinement of the orientations (method.md §4) on the product of
/// spheres S³ (one unit quaternion per particle).
///
/// The quaternions (4N doubles) are replicated on every rank. Per iteration each rank evaluates
/// the loss and gradient of its pairs (PairObjective); the gradient is summed over the ranks by a
/// reduce-scatter onto the particle blocks (split_block(N, comm)); each rank projects its block
/// on the tangent spaces (g − ⟨g, q⟩q per particle), computes its block of the search direction
/// (the optimiser's vectors — L-BFGS pairs, Adam moments — are kept per block; their dot
/// products are block sums plus a scalar all-reduce), and one all-gather makes the direction
/// replicated again; every rank then applies the same retraction (renormalise each quaternion).
/// Together that is the traffic of ONE all-reduce of 4N doubles per iteration, plus scalar
/// all-reduces (line-search losses, dot products). Methods:
/// - `gd`: steepest descent with Armijo backtracking; the trial step starts at twice the last
///   accepted one.
/// - `lbfgs`: Riemannian L-BFGS (two-loop recursion on the last `memory` pairs; vectors carried
///   to the new point by projection on its tangent space; s = P(t·p), y = g⁺ − P(g)), trial step
///   1 with Armijo backtracking; falls back to the gradient when the direction is not a descent
///   one.
/// - `adam`: Adam on the Riemannian gradient (the paper's optimiser, full batch), first moment
///   carried by projection; no line search.
/// Line searches use PairObjective::trial (one scalar all-reduce per trial); a rejected trial
/// costs no large collective.
///
/// Stopping: ‖grad‖ ≤ grad_tol·‖grad at the start of the restart‖, or |ΔL| ≤ loss_tol·L on 3
/// consecutive iterations, or max_iterations, or a line search that cannot decrease L.
/// Restarts: `n_restarts` runs from the initialisations init(r), r = 0 … n_restarts − 1; the one
/// of lowest final loss is kept.
///
/// Determinism: the same inputs on the same number of ranks give bit-identical results on every
/// rank. Across rank counts, sums are split differently, so results agree to round-off growth
/// only (the E_OR agrees; tests/mpi/test_recover_ranks.cpp).
///
/// Checkpoints (optional): every `checkpoint_every` iterations the whole state (current restart,
/// quaternions, optimiser memory gathered from all blocks, loss history, best result so far) is
/// written by rank 0 through a temporary name and a rename, with the dataset identity (N,
/// pair-set hash) and a fingerprint of the options; resume() refuses a checkpoint of another
/// dataset or other options. A resumed run continues to the bit-identical result of an
/// uninterrupted one on the same rank count (the checkpoint file can be read on any rank count).
#include <cstdint>
#include <functional>
#include <mpi.h>
#include <string>
#include <vector>

#include "pairpose/core/log.hpp"
#include "pairpose/recover/objective.hpp"

namespace pairpose::recover {

enum class Method { gd, lbfgs, adam };
/// "gd" | "lbfgs" | "adam"; throws naming the text otherwise.
Method parse_method(const std::string& text);
std::string to_string(Method method);

struct SolverOptions {
  Method method = Method::lbfgs;
  std::int64_t max_iterations = 1000; ///< per restart
  double grad_tol = 1e-8;             ///< relative to the restart's first gradient norm
  double loss_tol = 1e-12;            ///< relative loss change (3 iterations in a row)
  std::int64_t n_restarts = 1;
  int lbfgs_memory = 8;
  double initial_step = 1.0; ///< gd: first trial step (radians per unit gradient)
  double armijo = 1e-4;      ///< sufficient-decrease constant
  int max_backtracks = 40;
  double adam_rate = 0.01;
  double adam_beta1 = 0.9, adam_beta2 = 0.999, adam_epsilon = 1e-8;
  std::int64_t checkpoint_every = 0; ///< iterations; 0 = never
  std::string checkpoint_path;
  /// For tests of resume: stop (as if interrupted) after this many iterations in total over all
  /// restarts, right after writing a checkpoint; 0 = never.
  std::int64_t stop_after = 0;
};

/// One line of the loss history.
struct HistoryEntry {
  std::int64_t restart = 0, iteration = 0;
  double loss = 0, grad_norm = 0, step = 0;
};

/// The full replicated state (what a checkpoint stores).
struct SolverState {
  std::int64_t restart = 0;          ///< current restart
  std::int64_t iteration = 0;        ///< iterations done in the current restart
  std::int64_t total_iterations = 0; ///< over all restarts
  bool started = false;              ///< the current restart's initialisation has been made
  bool converged = false;            ///< the current restart has stopped
  std::vector<double> q;             ///< 4N
  double grad0_norm = 0;
  double last_loss = 0;
  int n_small_changes = 0;
  double step = 0;                       ///< gd/lbfgs: last accepted step
  std::vector<std::vector<double>> s, y; ///< lbfgs memory, oldest first
  std::vector<double> rho;
  std::vector<double> m, v; ///< adam moments
  double best_loss = 0;
  std::int64_t best_restart = -1;
  std::vector<double> best_q;
  std::vector<HistoryEntry> history;
};

/// What solve() returns (identical on every rank).
struct SolverResult {
  std::vector<double> q; ///< 4N, canonical signs (w ≥ 0)
  double loss = 0;
  std::int64_t best_restart = 0;
  std::int64_t n_iterations = 0; ///< over all restarts
  bool interrupted = false;      ///< stopped by stop_after (the result is not final)
  std::vector<HistoryEntry> history;
};

/// Quaternions of restart r: 4N doubles, unit norm per particle, identical on every rank.
using Initializer = std::function<std::vector<double>(std::int64_t restart)>;

class RefinementSolver {
public:
  RefinementSolver(const PairObjective& objective, SolverOptions options);
  /// Identity recorded in checkpoints: N, the pair-set hash, and a hash of the caller's other
  /// settings that change the result (initialisation, weights); a checkpoint with other values
  /// is refused.
  void set_dataset_identity(std::int64_t n_particles, std::uint64_t pair_hash,
                            std::uint64_t settings_hash = 0);
  /// Log one line every `every` iterations (0 = quiet).
  void set_logger(const Logger* log, std::int64_t every) {
    log_ = log;
    log_every_ = every;
  }

  /// Collective. Runs all restarts from the start.
  SolverResult solve(const Initializer& init);
  /// Collective. Continues from the checkpoint at options.checkpoint_path (throws when absent,
  /// unreadable, or from another dataset / other options).
  SolverResult resume(const Initializer& init);

  double seconds_per_iteration() const { return n_iter_run_ ? seconds_ / n_iter_run_ : 0; }

private:
  SolverResult run(const Initializer& init, SolverState state);
  /// One iteration of the current restart; returns false when the restart has converged.
  bool iterate(SolverState& st, std::vector<double>& grad, double& loss);
  void lbfgs_direction(SolverState& st, const std::vector<double>& grad,
                       std::vector<double>& d) const;
  void remember_step(SolverState& st, const std::vector<double>& d, double t,
                     const std::vector<double>& old_grad, const std::vector<double>& grad) const;
  bool line_search(SolverState& st, const std::vector<double>& d, double slope,
                   std::vector<double>& grad, double& loss, double t0, double& t_out);
  void start_restart(SolverState& st, const Initializer& init, std::vector<double>& grad,
                     double& loss);
  /// Loss and this rank's block of the projected gradient at st.q.
  double evaluate(const SolverState& st, std::vector<double>& grad) const;
  /// Σ a·b over all blocks (a, b: this rank's blocks). One scalar all-reduce.
  double dot(const std::vector<double>& a, const std::vector<double>& b) const;
  /// The replicated 4N vector whose blocks are each rank's `block`.
  void gather(const std::vector<double>& block, std::vector<double>& full) const;
  void finish_restart(SolverState& st, double loss);
  void log_iteration(const SolverState& st) const;
  std::uint64_t fingerprint() const;

  const PairObjective& obj_;
  SolverOptions opt_;
  std::int64_t n_ = 0;
  Block rows_;                        ///< this rank's particles
  std::vector<int> counts_, offsets_; ///< 4·block sizes and offsets of every rank
  std::int64_t identity_n_ = 0;
  std::uint64_t identity_hash_ = 0, settings_hash_ = 0;
  const Logger* log_ = nullptr;
  std::int64_t log_every_ = 0;
  double seconds_ = 0;
  std::int64_t n_iter_run_ = 0;
};

/// What a checkpoint file records besides the state.
struct CheckpointIdentity {
  std::uint64_t options = 0; ///< fingerprint of the solver options and caller settings
  std::int64_t n_particles = 0;
  std::uint64_t pair_hash = 0;
};
/// Collective. Rank 0 writes `state` to `path` (temporary name + rename); the per-block vectors
/// are gathered from every rank (blocks = split_block(n_particles, comm)) and stored whole.
void write_checkpoint(const std::string& path, const CheckpointIdentity& id,
                      const SolverState& state, MPI_Comm comm);
/// Collective. Every rank reads the checkpoint and keeps its block of the per-block vectors.
/// Throws (on every rank) naming the file when it is absent, truncated, not a pairpose
/// checkpoint, or when its identity differs from `expected` (saying which part).
SolverState read_checkpoint(const std::string& path, const CheckpointIdentity& expected,
                            MPI_Comm comm);

/// Riemannian gradient: g_i − ⟨g_i, q_i⟩q_i for n particles, in place (q and g point at the
/// same particle).
void project_tangent(const double* q, double* g, std::int64_t n);
/// Euclidean norm of a 4N vector.
double norm(const std::vector<double>& v);
/// q ← normalise(q + t·d) per particle.
void retract(const std::vector<double>& q, const std::vector<double>& d, double t,
             std::vector<double>& out);
/// Canonical sign per particle (w ≥ 0, ties on the first non-zero component).
void canonicalize(std::vector<double>& q);

} // namespace pairpose::recover
