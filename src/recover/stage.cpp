#include "pairpose/recover/stage.hpp"

#include <cmath>
#include <cstdio>
#include <fmt/format.h>
#include <functional>
#include <malloc.h>
#include <memory>

#include "pairpose/config/provenance.hpp"
#include "pairpose/core/error.hpp"
#include "pairpose/core/files.hpp"
#include "pairpose/core/memory.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/core/parse.hpp"
#include "pairpose/core/random.hpp"
#include "pairpose/evaluate/orientation_error.hpp"
#include "pairpose/io/dataset.hpp"
#include "pairpose/io/orientation_star.hpp"
#include "pairpose/io/star.hpp"
#include "pairpose/pairs/pair_io.hpp"
#include "pairpose/pairs/pair_sampler.hpp"
#include "pairpose/recover/initial.hpp"
#include "pairpose/recover/solver.hpp"
#include "pairpose/recover/spectral.hpp"

namespace pairpose::recover {

void declare_recover(config::Schema& s) {
  s.string("dataset", "", "Dataset (HDF5) holding the pair set /pairs; /recover is added to it.");
  s.choice("init", "auto", {"auto", "random", "spectral", "landmark", "laplacian", "vdm"},
           "Initialisation of restart 0: random rotations, spectral (all pairs of /pairs), "
           "landmark spectral (needs pairs written with landmarks > 0), laplacian (Laplacian "
           "eigenmap: for pair sets of short distances only, such as pairs.strategy = \"knn\"), "
           "vdm (viewing directions from the pair graph, then in-plane angles by synchronisation: "
           "needs the in-plane angles of pairs.source = \"aligned\"), or auto (landmark when "
           "/pairs has landmarks, vdm when it has in-plane angles, laplacian when it was written "
           "by the knn strategy, else spectral). Further restarts start from random rotations.");
  s.real("laplacian_tau", 0.5, 1e-3, 10,
         "init = laplacian: width tau of the pair affinity exp(-(d/tau)^2).", "rad");
  s.integer("vdm_smoothing", 10, 0, 10000,
            "init = vdm: rounds of neighbour averaging after the in-plane synchronisation.");
  s.integer("eigen_iterations", 0, 0, 1000000,
            "Iteration limit of the eigensolver of the spectral, landmark, Laplacian and vdm starts (0 = "
            "500 for spectral, 5000 for the others, whose eigenvalues lie closer together).");
  s.choice("method", "lbfgs", {"lbfgs", "gd", "adam"},
           "Refinement: Riemannian L-BFGS or gradient descent (Armijo line search), or Adam.");
  s.integer("max_iterations", -1, -1, 1e9,
            "Iteration limit per restart (-1 = 1000, or 0 after the vdm start: the distances of "
            "aligned pairs assume a typical tilt, and refining on them moves the orientations "
            "away from the truth; the refine stage is the next step there).");
  s.real("grad_tol", 1e-8, 0, 1, "Stop when |grad| falls below this fraction of its start value.");
  s.real("loss_tol", 1e-12, 0, 1,
         "Stop when the relative loss change stays below this for 3 iterations.");
  s.integer("restarts", 1, 1, 1000, "Runs from different initialisations; the lowest loss wins.");
  s.integer("lbfgs_memory", 8, 1, 100, "Step pairs kept by L-BFGS.");
  s.real("initial_step", 1.0, 1e-12, 1e6, "gd (and L-BFGS's first step): first trial step.");
  s.real("adam_rate", 0.01, 1e-9, 10, "adam: learning rate.", "rad");
  s.choice("weighting", "uniform", {"uniform", "exp"},
           "Pair weights: uniform, or exp(-d/tau) to trust small distances more.");
  s.real("weight_tau", 0.5, 1e-6, 100, "exp weighting: tau.", "rad");
  s.choice("isolated", "error", {"error", "skip"},
           "Particles in no pair: refuse (error), or solve the others and mark them unsolved "
           "(/recover/solved = 0; not with init = spectral).");
  s.string("checkpoint", "", "Checkpoint file; empty = <dataset>.recover.ckpt.");
  s.integer("checkpoint_every", 50, 0, 1e9,
            "Write a checkpoint every this many iterations "
            "(0 = never).");
  s.boolean("resume", false,
            "Continue from the checkpoint (to the same result as an uninterrupted run); starts "
            "afresh when there is none.");
  s.integer("stop_after", 0, 0, 1e9,
            "Testing: stop after this many iterations in total, leaving only the checkpoint.");
  s.integer("seed", 1, 0, 9.2e18, "Seed of the random initialisation and the spectral rounding.");
  s.integer("spectral_restarts", 0, 0, 1000,
            "Random starts of the rounding of the spectral and Laplacian starts (0 = 48 for "
            "spectral, screened and stopped early once two agree: one start finds the right "
            "rotation about one time in four; 200 for laplacian, all screened: its residual has "
            "more local minima).");
  s.integer("log_every", 10, 0, 1e9, "Log the loss every this many iterations (0 = never).");
  s.integer("eval_fit", 20000, 0, 1e9,
            "E_OR at the end (datasets with true orientations): fit the O(4) alignment on at "
            "most this many particles (0 = all).");
  s.string("star", "", "Also export the orientations as a RELION STAR file (empty = no).");
  s.string("star_stack", "particles.mrcs",
           "STAR export: the image stack the rlnImageName entries point to (N@stack).");
}

namespace {

std::vector<geometry::Quat> to_quats(const std::vector<double>& q) {
  std::vector<geometry::Quat> out(q.size() / 4);
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = {q[4 * i], q[4 * i + 1], q[4 * i + 2], q[4 * i + 3]};
  return out;
}

std::vector<double> from_quats(const std::vector<geometry::Quat>& q) {
  std::vector<double> out(4 * q.size());
  for (std::size_t i = 0; i < q.size(); ++i) {
    out[4 * i] = q[i].w, out[4 * i + 1] = q[i].x, out[4 * i + 2] = q[i].y, out[4 * i + 3] = q[i].z;
  }
  return out;
}

std::string pairs_attribute(const io::Dataset& ds, const std::string& key, std::string fallback) {
  return ds.has_attribute("pairs", key) ? ds.attribute("pairs", key) : fallback;
}

SolverOptions solver_options(const config::Params& p, const std::string& dataset) {
  SolverOptions o;
  o.method = parse_method(p.string("method"));
  o.max_iterations = p.integer("max_iterations");
  o.grad_tol = p.real("grad_tol");
  o.loss_tol = p.real("loss_tol");
  o.n_restarts = p.integer("restarts");
  o.lbfgs_memory = static_cast<int>(p.integer("lbfgs_memory"));
  o.initial_step = p.real("initial_step");
  o.adam_rate = p.real("adam_rate");
  o.checkpoint_every = p.integer("checkpoint_every");
  o.checkpoint_path =
      p.string("checkpoint").empty() ? dataset + ".recover.ckpt" : p.string("checkpoint");
  o.stop_after = p.integer("stop_after");
  return o;
}

/// The initialisation of restart 0 (the chosen method); later restarts are random.
std::vector<double> initial_orientations(const StageContext& ctx, const io::Dataset& ds,
                                         const PairSet& pairs, const std::string& init) {
  const auto& p = ctx.params;
  const auto seed = static_cast<std::uint64_t>(p.integer("seed"));
  if (init == "random") return random_quaternions(pairs.n_particles, seed, 0);
  SpectralOptions so;
  so.seed = seed;
  // The Laplacian and vdm eigenvalues lie closer together than the Gram matrix's.
  if (p.integer("eigen_iterations") > 0)
    so.max_eigen_iterations = static_cast<int>(p.integer("eigen_iterations"));
  else if (init == "laplacian" || init == "vdm")
    so.max_eigen_iterations = 5000;
  so.n_restarts = p.integer("spectral_restarts") > 0
                      ? static_cast<int>(p.integer("spectral_restarts"))
                      : (init == "laplacian" ? 200 : 48);
  SpectralReport report;
  std::vector<geometry::Quat> q;
  if (init == "landmark") {
    so.n_landmarks =
        parse_int64(pairs_attribute(ds, "landmarks", "0"), ds.path() + ": /pairs landmarks");
    so.seed = parse_uint64(pairs_attribute(ds, "landmark_seed", "1"),
                           ds.path() + ": /pairs landmark_seed");
    PAIRPOSE_CHECK(so.n_landmarks > 0, ds.path() << ": init = \"landmark\" needs a pair set "
                                                    "written with pairs.landmarks > 0");
    q = landmark_initialise(pairs, ctx.comm, so, &report);
    if (!report.unplaced.empty())
      ctx.log.warn("recover: {} particles could not be placed from landmarks (first: {}); they "
                   "start from random orientations",
                   report.unplaced.size(), report.unplaced.front());
  } else if (init == "vdm") {
    so.vdm_smoothing = static_cast<int>(p.integer("vdm_smoothing"));
    q = vdm_initialise(pairs, ctx.comm, so, &report);
  } else if (init == "laplacian") {
    so.laplacian_tau = p.real("laplacian_tau");
    q = laplacian_initialise(pairs, ctx.comm, so, &report);
  } else {
    q = spectral_initialise(pairs, ctx.comm, so, &report);
  }
  ctx.log.info("recover: {} initialisation in {:.1f} s (rounding residual {:.3g}, eigensolver "
               "{} iterations{})",
               init, report.seconds, report.residual, report.n_eigen_iterations,
               report.eigen_converged ? "" : ", NOT converged");
  {
    std::string v;
    for (double e : report.eigenvalues)
      v += fmt::format(" {:.5f}", e);
    ctx.log.info("recover: leading eigenvalues of the initialisation's matrix:{}", v);
  }
  return from_quats(q);
}

void log_error(const StageContext& ctx, const io::Dataset& ds, const std::vector<double>& q,
               double& median, double& mean) {
  const auto particles = ds.read_particles({0, ds.n_particles()});
  std::vector<geometry::Quat> truth(particles.size());
  for (std::size_t i = 0; i < truth.size(); ++i)
    truth[i] = particles[i].orientation;
  double values[2] = {0, 0};
  if (mpi::comm_rank(ctx.comm) == 0) {
    evaluate::AlignmentOptions ao;
    ao.n_fit = static_cast<std::size_t>(ctx.params.integer("eval_fit"));
    const auto e = evaluate::orientation_error(truth, to_quats(q), ao);
    values[0] = e.median, values[1] = e.mean;
  }
  mpi::broadcast(values, 2, 0, ctx.comm);
  median = values[0], mean = values[1];
  ctx.log.info("recover: E_OR (O(4)-aligned to the true orientations): median {:.6g} rad, mean "
               "{:.6g} rad",
               median, mean);
}

void write_results(const StageContext& ctx, io::Dataset& ds, const SolverResult& result,
                   const std::vector<std::int64_t>& solved_flags, const std::string& init,
                   std::uint64_t pair_hash) {
  const Block rows = ds.block();
  const bool root = mpi::comm_rank(ctx.comm) == 0;
  std::vector<double> history;
  if (root)
    for (const auto& h : result.history)
      history.insert(history.end(),
                     {h.loss, h.grad_norm, h.step, double(h.restart), double(h.iteration)});
  ds.start_group("recover");
  ds.write_rows("recover/quaternions", rows.size(), 4, result.q.data() + 4 * rows.begin);
  ds.write_rows("recover/loss_history", root ? std::int64_t(result.history.size()) : 0, 5,
                history.data());
  ds.write_rows("recover/solved", rows.size(), 1, solved_flags.data() + rows.begin);
  ds.set_attribute("recover", "method", ctx.params.string("method"));
  ds.set_attribute("recover", "init", init);
  ds.set_attribute("recover", "loss", fmt::format("{:.17g}", result.loss));
  ds.set_attribute("recover", "n_iterations", std::to_string(result.n_iterations));
  ds.set_attribute("recover", "best_restart", std::to_string(result.best_restart));
  ds.set_attribute("recover", "pair_hash", fmt::format("{:016x}", pair_hash));
  ds.set_attribute("recover", "loss_history_columns", "loss,grad_norm,step,restart,iteration");
  ds.set_attribute("recover", "provenance", ctx.provenance);
}

/// Refuses (on every rank) a run whose pair set and optimiser cannot fit this rank's memory
/// budget: the rank's share of /pairs (attribute n_pairs) read at 32 bytes a pair plus the
/// objective's compact copy (32 more), a few full N × 4 double vectors (iterate, gathered copies,
/// gradient, best) and the L-BFGS memory (2m vectors of the rank's block).
void require_memory(const config::Params& p, const io::Dataset& ds, MPI_Comm comm) {
  const std::int64_t n = ds.n_particles(), P = mpi::comm_size(comm);
  const std::int64_t n_pairs =
      std::strtoll(pairs_attribute(ds, "n_pairs", "0").c_str(), nullptr, 10);
  const std::int64_t bytes = memory::checked_sum(
      {memory::checked_product({(n_pairs + P - 1) / P, 64}), memory::checked_product({n, 4 * 32}),
       memory::checked_product({2 * p.integer("lbfgs_memory"), (n + P - 1) / P, 32})});
  memory::require(bytes,
                  fmt::format("recover: {} particles and {} pairs (L-BFGS memory {})", n, n_pairs,
                              p.integer("lbfgs_memory")),
                  comm);
}

} // namespace

void run_recover(StageContext& ctx) {
  const auto& p = ctx.params;
  const std::string path = p.string("dataset");
  PAIRPOSE_CHECK(!path.empty(), "recover: set recover.dataset");
  io::Dataset ds = io::Dataset::open(path, ctx.comm, io::Dataset::Mode::update);
  const std::int64_t n = ds.n_particles();
  require_memory(p, ds, ctx.comm);
  PairSet pairs = [&] {
    auto timer = ctx.timers.scope("read pairs");
    return pairs::read_pairs(ds);
  }();
  const std::uint64_t pair_hash = pairs::pair_set_hash(pairs, ctx.comm);
  WeightOptions weights;
  weights.scheme = parse_weight_scheme(p.string("weighting"));
  weights.tau = p.real("weight_tau");
  // Validated and counted now, so that isolated particles are refused before the initialisation.
  const std::vector<std::int32_t> degree = pair_degrees(pairs, ctx.comm);
  const PairCheck check = isolated_particles(degree);
  const std::int64_t n_pairs = mpi::all_sum(pairs.size(), ctx.comm);
  ctx.log.info("recover: {} particles, {} pairs ({:.1f} a particle)", n, n_pairs,
               2.0 * double(n_pairs) / double(n));
  if (check.n_isolated > 0) {
    PAIRPOSE_CHECK(p.string("isolated") == "skip",
                   path << ": " << check.n_isolated
                        << " particle(s) are in no pair (first: " << check.first_isolated
                        << "); their orientation cannot be recovered. Sample more pairs, or set "
                           "recover.isolated = \"skip\" to solve for the others");
    ctx.log.warn("recover: {} particle(s) are in no pair (first: {}); they are skipped and "
                 "marked /recover/solved = 0",
                 check.n_isolated, check.first_isolated);
  }
  std::vector<std::int64_t> solved(static_cast<std::size_t>(n));
  for (std::int64_t a = 0; a < n; ++a)
    solved[a] = degree[a] > 0 ? 1 : 0;
  // The weights used by the initialisation and the objective alike.
  if (weights.scheme == WeightOptions::Scheme::exponential)
    for (std::int64_t e = 0; e < pairs.size(); ++e)
      pairs.weight[e] *= std::exp(-pairs.distance[e] / weights.tau);

  std::string init = p.string("init");
  if (init == "auto") {
    if (parse_int64(pairs_attribute(ds, "landmarks", "0"), ds.path() + ": /pairs landmarks") > 0)
      init = "landmark";
    else if (ds.has("pairs/inplane"))
      init = "vdm";
    else
      init = pairs_attribute(ds, "strategy", "") == "knn" ? "laplacian" : "spectral";
  }
  SolverOptions options = solver_options(p, path);
  if (p.integer("max_iterations") < 0) options.max_iterations = init == "vdm" ? 0 : 1000;
  const auto seed = static_cast<std::uint64_t>(p.integer("seed"));
  const bool resume = p.boolean("resume") && file_exists(options.checkpoint_path);
  if (p.boolean("resume") && !resume)
    ctx.log.info("recover: no checkpoint {} to resume from; starting afresh",
                 options.checkpoint_path);
  // Restart 0's initialisation is made first; the objective is then built from the pair set,
  // consuming it (peak memory is a documented limit: the pair set, the initialisation's work
  // arrays and the objective's arrays never coexist).
  std::vector<double> first_init;
  if (!resume) {
    auto timer = ctx.timers.scope("initialise");
    first_init = initial_orientations(ctx, ds, pairs, init);
  }
  malloc_trim(0);
  auto objective = std::make_unique<PairObjective>(std::move(pairs), WeightOptions{}, ctx.comm);
  malloc_trim(0); // give the freed pages back
  RefinementSolver solver(*objective, options);
  solver.set_logger(&ctx.log, p.integer("log_every"));
  const std::uint64_t settings = mix64(
      std::hash<std::string>{}(init + "|" + p.string("weighting") + "|" +
                               fmt::format("{}|{}|{}", p.real("weight_tau"), p.integer("seed"),
                                           p.integer("spectral_restarts"))));
  solver.set_dataset_identity(n, pair_hash, settings);
  const Initializer initializer = [&](std::int64_t restart) {
    if (restart > 0) return random_quaternions(n, seed, restart);
    PAIRPOSE_CHECK(!first_init.empty(), "recover: internal error: no initialisation for restart 0");
    return first_init;
  };
  SolverResult result;
  {
    auto timer = ctx.timers.scope("refine");
    result = resume ? solver.resume(initializer) : solver.solve(initializer);
  }
  if (result.interrupted) {
    ctx.log.info("recover: stopped after {} iterations (stop_after); checkpoint {}",
                 result.n_iterations, options.checkpoint_path);
    ds.close();
    return;
  }
  ctx.log.info("recover: loss {:.6e} rad² after {} iterations (best restart {}), {:.3f} s an "
               "iteration",
               result.loss, result.n_iterations, result.best_restart,
               solver.seconds_per_iteration());
  if (objective->kernel_seconds() > 0)
    ctx.log.info("recover: kernel throughput on rank 0: {} pair terms (objective + gradient) in "
                 "{:.2f} CPU s: {:.4g} pair terms/s per core ({} kernel)",
                 objective->kernel_terms(), objective->kernel_seconds(),
                 double(objective->kernel_terms()) / objective->kernel_seconds(),
                 pair_kernel_name());
  objective.reset();
  {
    auto timer = ctx.timers.scope("write");
    write_results(ctx, ds, result, solved, init, pair_hash);
    if (ds.has_orientations()) {
      double median = 0, mean = 0;
      log_error(ctx, ds, result.q, median, mean);
      ds.set_attribute("recover", "e_or_median", fmt::format("{:.10g}", median));
      ds.set_attribute("recover", "e_or_mean", fmt::format("{:.10g}", mean));
    }
    ds.commit();
  }
  if (!p.string("star").empty())
    io::write_orientations_star(p.string("star"), p.string("star_stack"),
                                io::Dataset::open(path, ctx.comm), to_quats(result.q),
                                ctx.provenance, ctx.comm);
  if (mpi::comm_rank(ctx.comm) == 0) std::remove(options.checkpoint_path.c_str());
  ctx.log.info("recover: wrote /recover to {}", path);
}

} // namespace pairpose::recover
