// Throughput of the recover pair kernel alone (recover/objective.hpp: loss + ambient gradient of
// this rank's pairs, no communication), on a random pair set shaped like one rank's share of the
// million-particle benchmark: `rows` particles own `per_row` pairs each, of which `landmark` go to
// one of 1,000 landmarks (evenly spaced indices) and the others to partners uniform in
// [0, particles). Run through jobs/bench-recover.sh, or:
//   bench_recover_kernel [particles=1000000] [rows=500000] [per_row=90] [landmark=40]
//                        [repeat=3] [tile_rows tile_cols]...  (several layouts: one line each)
// Prints the best pair terms per CPU second of the calling thread (load-independent), the loss
// and a gradient checksum (to compare kernel versions on the same input).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mpi.h>
#include <time.h>
#include <vector>

#include "pairpose/core/random.hpp"
#include "pairpose/recover/initial.hpp"
#include "pairpose/recover/objective.hpp"

using namespace pairpose;

namespace {

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

/// Pairs (i, j) with i in [0, rows), j a landmark for the first `landmark` pairs of a row and
/// uniform in [0, n) \ {i} for the others, sorted by (i, j); d̂ uniform in [0, π).
PairSet random_pairs(std::int64_t n, std::int64_t rows, std::int64_t per_row,
                     std::int64_t landmark) {
  const std::int64_t spacing = std::max<std::int64_t>(n / 1000, 1);
  PairSet p;
  p.n_particles = n;
  p.rows = {0, rows};
  const auto m = static_cast<std::size_t>(rows * per_row);
  p.i.reserve(m), p.j.reserve(m), p.distance.reserve(m);
  for (std::int64_t i = 0; i < rows; ++i) {
    Rng rng(7, stream_init, static_cast<std::uint64_t>(i));
    const auto first = p.j.size();
    for (std::int64_t k = 0; k < per_row; ++k) {
      std::int64_t j = static_cast<std::int64_t>(rng.uniform() * double(n - 1));
      if (k < landmark) j = static_cast<std::int64_t>(rng.uniform() * 1000) * spacing;
      j = std::min(j, n - 2);
      p.i.push_back(i);
      p.j.push_back(j >= i ? j + 1 : j);
      p.distance.push_back(M_PI * rng.uniform());
    }
    std::sort(p.j.begin() + static_cast<std::ptrdiff_t>(first), p.j.end());
  }
  return p;
}

} // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  const std::int64_t n = argc > 1 ? std::atoll(argv[1]) : 1000000;
  const std::int64_t rows = argc > 2 ? std::atoll(argv[2]) : n / 2;
  const std::int64_t per_row = argc > 3 ? std::atoll(argv[3]) : 90;
  const std::int64_t landmark = argc > 4 ? std::atoll(argv[4]) : 40;
  const int repeat = argc > 5 ? std::atoi(argv[5]) : 3;
  const PairSet pairs = random_pairs(n, rows, per_row, landmark);
  const std::vector<double> q = recover::random_quaternions(n, 3, 0);
  std::vector<double> grad(static_cast<std::size_t>(4 * n));
  for (int arg = 6; arg == 6 || arg + 1 < argc; arg += 2) {
    recover::KernelLayout layout;
    if (arg + 1 < argc) layout.tile_rows = std::atoll(argv[arg]);
    if (arg + 1 < argc) layout.tile_cols = std::atoll(argv[arg + 1]);
    const recover::PairObjective objective(pairs, {}, MPI_COMM_SELF, layout);
    double best = 1e300, loss = 0;
    for (int r = 0; r < repeat; ++r) {
      std::fill(grad.begin(), grad.end(), 0.0);
      const double t0 = cpu_seconds();
      loss = objective.local_value_and_gradient(q.data(), grad.data());
      best = std::min(best, cpu_seconds() - t0);
    }
    double checksum = 0;
    for (std::int64_t c = 0; c < 4 * n; ++c)
      checksum += std::abs(grad[c]) * double(1 + c % 7);
    const double terms = double(objective.n_local_pairs());
    std::printf("kernel %s, tiles %lld x %lld: %.0f pair terms in %.3f CPU s: %.4g pair terms/s "
                "(1 core); loss %.17g, gradient checksum %.17g\n",
                recover::pair_kernel_name(), (long long)layout.tile_rows,
                (long long)layout.tile_cols, terms, best, terms / best, loss, checksum);
    std::fflush(stdout);
  }
  MPI_Finalize();
  return 0;
}
