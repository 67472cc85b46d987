#define BOOST_TEST_MODULE recover_solver
#include "pairpose_test.hpp"
#include "recover_support.hpp"

#include <cmath>
#include <cstdio>

#include "pairpose/core/error.hpp"
#include "pairpose/evaluate/orientation_error.hpp"
#include "pairpose/pairs/pair_sampler.hpp"
#include "pairpose/recover/initial.hpp"
#include "pairpose/recover/solver.hpp"
#include "pairpose/recover/spectral.hpp"

using namespace pairpose;
using namespace pairpose::recover;

namespace {

using testing::as_quats;

struct Problem {
  std::vector<double> truth;
  PairSet pairs;
};

Problem make_problem(std::int64_t n, double sigma, std::int64_t budget, std::uint64_t seed) {
  Problem p;
  p.truth = random_quaternions(n, seed, 100);
  auto model = pairs::DistanceModel::exact_noise(as_quats(p.truth), sigma, seed);
  pairs::SamplingOptions opt;
  opt.budget = budget;
  opt.seed = seed;
  p.pairs = pairs::sample_pairs(opt, model, MPI_COMM_SELF);
  return p;
}

Initializer random_init(std::int64_t n, std::uint64_t seed) {
  return [=](std::int64_t r) { return random_quaternions(n, seed, r); };
}

SolverResult run(const Problem& p, SolverOptions opt, std::int64_t stop_after = 0,
                 bool resume = false) {
  const PairObjective obj(p.pairs, {}, MPI_COMM_SELF);
  opt.stop_after = stop_after;
  RefinementSolver solver(obj, opt);
  solver.set_dataset_identity(p.pairs.n_particles, pairs::pair_set_hash(p.pairs, MPI_COMM_SELF));
  const auto init = random_init(p.pairs.n_particles, 7);
  return resume ? solver.resume(init) : solver.solve(init);
}

bool same_bits(const SolverResult& a, const SolverResult& b) {
  if (a.q != b.q || a.loss != b.loss || a.history.size() != b.history.size()) return false;
  for (size_t k = 0; k < a.history.size(); ++k)
    if (a.history[k].loss != b.history[k].loss || a.history[k].step != b.history[k].step)
      return false;
  return true;
}

} // namespace

BOOST_AUTO_TEST_CASE(every_method_decreases_the_loss_and_fits_exact_distances) {
  const Problem p = make_problem(150, 0.0, 12, 3);
  for (Method m : {Method::lbfgs, Method::gd, Method::adam}) {
    SolverOptions opt;
    opt.method = m;
    opt.max_iterations = m == Method::lbfgs ? 500 : 1500;
    opt.n_restarts = 3;
    const SolverResult r = run(p, opt);
    BOOST_TEST_CONTEXT(to_string(m)) {
      BOOST_TEST(r.loss < r.history.front().loss);
      BOOST_TEST(r.interrupted == false);
      // The kept restart is the one of lowest final loss.
      std::vector<double> finals(3, 0.0);
      for (const auto& h : r.history)
        finals[h.restart] = h.loss;
      BOOST_TEST(r.loss == *std::min_element(finals.begin(), finals.end()));
      BOOST_TEST(r.loss == finals[r.best_restart]);
      for (size_t i = 0; i < r.q.size(); i += 4)
        BOOST_TEST_REQUIRE(r.q[i] >= 0.0); // canonical
    }
  }
}

BOOST_AUTO_TEST_CASE(lbfgs_from_spectral_init_fits_exact_sparse_distances) {
  const Problem p = make_problem(300, 0.0, 60, 3);
  const PairObjective obj(p.pairs, {}, MPI_COMM_SELF);
  const auto init = spectral_initialise(p.pairs, MPI_COMM_SELF, SpectralOptions{});
  SolverOptions opt;
  opt.max_iterations = 2000;
  opt.loss_tol = 0;
  opt.grad_tol = 1e-12;
  RefinementSolver solver(obj, opt);
  const auto r = solver.solve([&](std::int64_t) {
    std::vector<double> q;
    for (const auto& x : init)
      q.insert(q.end(), {x.w, x.x, x.y, x.z});
    return q;
  });
  const auto start = evaluate::orientation_error(as_quats(p.truth), init);
  const auto e = evaluate::orientation_error(as_quats(p.truth), as_quats(r.q));
  BOOST_TEST_MESSAGE("sparse exact: spectral " << start.median << " rad, refined " << e.median
                                               << " rad, loss " << r.loss);
  BOOST_TEST(e.median < 1e-6);
  BOOST_TEST(e.median <= start.median);
}

BOOST_AUTO_TEST_CASE(resume_gives_the_bit_identical_result) {
  const Problem p = make_problem(200, 0.2, 10, 5);
  const std::string folder = pairpose::testing::scratch_folder("recover_resume");
  for (Method m : {Method::lbfgs, Method::gd, Method::adam}) {
    SolverOptions opt;
    opt.method = m;
    opt.max_iterations = 60;
    opt.n_restarts = 2;
    opt.checkpoint_every = 5;
    opt.checkpoint_path = folder + "/ck_" + to_string(m);
    BOOST_TEST_CONTEXT(to_string(m)) {
      const SolverResult whole = run(p, opt);
      std::remove(opt.checkpoint_path.c_str());
      const SolverResult part = run(p, opt, 67); // second restart, between two checkpoints
      BOOST_TEST(part.interrupted);
      const SolverResult resumed = run(p, opt, 0, true);
      BOOST_TEST(resumed.interrupted == false);
      BOOST_TEST(same_bits(whole, resumed));
      const SolverResult twice = run(p, opt); // and a rerun equals itself
      BOOST_TEST(same_bits(whole, twice));
    }
  }
}

BOOST_AUTO_TEST_CASE(checkpoint_of_another_dataset_or_settings_is_refused) {
  const Problem p = make_problem(100, 0.1, 8, 6);
  const Problem other = make_problem(100, 0.1, 8, 9);
  const std::string folder = pairpose::testing::scratch_folder("recover_refuse");
  SolverOptions opt;
  opt.max_iterations = 20;
  opt.checkpoint_path = folder + "/ck";
  BOOST_TEST(run(p, opt, 10).interrupted);
  try {
    run(other, opt, 0, true);
    BOOST_FAIL("a checkpoint of another pair set was accepted");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("another dataset") != std::string::npos);
  }
  opt.method = Method::gd;
  BOOST_CHECK_THROW(run(p, opt, 0, true), Error);
  opt.checkpoint_path = folder + "/absent";
  BOOST_CHECK_THROW(run(p, opt, 0, true), Error);
  {
    std::FILE* f = std::fopen((folder + "/garbage").c_str(), "w");
    std::fputs("not a checkpoint", f);
    std::fclose(f);
  }
  opt.checkpoint_path = folder + "/garbage";
  BOOST_CHECK_THROW(run(p, opt, 0, true), Error);
}
