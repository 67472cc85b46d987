// Reconstructor::finish(): sum the grids into FFTW-MPI slabs, divide, invert, gather.
#include <algorithm>
#include <cmath>
#include <fftw3-mpi.h>

#include "pairpose/core/error.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/reconstruct/reconstructor.hpp"

namespace pairpose::reconstruct {

namespace {

/// This rank's z-planes of the padded grid (FFTW-MPI slab) and every rank's.
struct Slabs {
  std::int64_t alloc_local = 0;           ///< complex values FFTW needs on this rank
  std::vector<std::int64_t> start, count; ///< per rank: first plane, number of planes
  int rank = 0;
};

Slabs slab_decomposition(std::int64_t n_padded, MPI_Comm comm) {
  ptrdiff_t local_n0 = 0, local_0_start = 0;
  const ptrdiff_t n_half = n_padded / 2 + 1;
  Slabs s;
  s.alloc_local =
      fftw_mpi_local_size_3d(n_padded, n_padded, n_half, comm, &local_n0, &local_0_start);
  const int n_ranks = mpi::comm_size(comm);
  s.rank = mpi::comm_rank(comm);
  s.start.resize(n_ranks);
  s.count.resize(n_ranks);
  std::int64_t mine[2] = {local_0_start, local_n0};
  std::vector<std::int64_t> all(2 * n_ranks);
  mpi::check(MPI_Allgather(mine, 2, MPI_INT64_T, all.data(), 2, MPI_INT64_T, comm),
             "MPI_Allgather");
  for (int r = 0; r < n_ranks; ++r) {
    s.start[r] = all[2 * r];
    s.count[r] = all[2 * r + 1];
  }
  return s;
}

/// Sums `n` floats of every rank's `send` into `recv` on rank `root`, in chunks that fit int.
void reduce_to(const float* send, float* recv, std::int64_t n, int root, MPI_Comm comm) {
  constexpr std::int64_t chunk = std::int64_t(1) << 27;
  const bool is_root = mpi::comm_rank(comm) == root;
  for (std::int64_t off = 0; off < n; off += chunk) {
    const int count = static_cast<int>(std::min(chunk, n - off));
    mpi::check(MPI_Reduce(send + off, is_root ? recv + off : nullptr, count, MPI_FLOAT, MPI_SUM,
                          root, comm),
               "MPI_Reduce");
  }
}

/// Signed frequency of FFT index i on a grid of n.
inline std::int64_t frequency(std::int64_t i, std::int64_t n) { return i <= n / 2 ? i : i - n; }

inline double sinc(double x) { return x == 0.0 ? 1.0 : std::sin(x) / x; }

/// This rank's part of the padded half-grid (z-planes [z_first, z_first + n_local) of N × N ×
/// n_half cells) and the sizes of the problem.
struct SlabGeometry {
  std::int64_t N = 0, n_half = 0, r_max = 0, n = 0, z_first = 0, n_local = 0;
  template <class F> void for_each_inside(F&& f) const; ///< f(i, x, y, z, shell) for |k| ≤ r_max
};

template <class F> void SlabGeometry::for_each_inside(F&& f) const {
  for (std::int64_t iz = 0; iz < n_local; ++iz)
    for (std::int64_t y = 0; y < N; ++y)
      for (std::int64_t x = 0; x < n_half; ++x) {
        const std::int64_t z = z_first + iz, kz = frequency(z, N), ky = frequency(y, N);
        const double r = std::sqrt(double(x * x + ky * ky + kz * kz));
        if (r <= r_max) f((iz * N + y) * n_half + x, x, y, z, std::lround(r));
      }
}

using Slab = std::vector<FourierCell>;

/// The weight of map m (0: half 1, 1: half 2, 2: both) at cell i, and its data.
inline FourierCell cell_of(int m, const Slab slab[2], std::int64_t i) {
  const FourierCell a = slab[0][i], b = slab[1][i];
  if (m < 2) return m == 0 ? a : b;
  return {a.re + b.re, a.im + b.im, a.w + b.w};
}

/// Mean weight per shell of each map, over every rank's slab: means[m * n_shells + s].
std::vector<double> shell_mean_weights(const Slab slab[2], const SlabGeometry& g, MPI_Comm comm) {
  const std::int64_t n_shells = g.r_max + 1;
  std::vector<double> sums(4 * n_shells, 0.0); // w1, w2, w1 + w2, voxel counts
  g.for_each_inside([&](std::int64_t i, std::int64_t, std::int64_t, std::int64_t, long s) {
    for (int m = 0; m < 3; ++m)
      sums[m * n_shells + s] += cell_of(m, slab, i).w;
    sums[3 * n_shells + s] += 1.0;
  });
  mpi::all_sum_inplace(sums.data(), static_cast<std::int64_t>(sums.size()), comm);
  for (int m = 0; m < 3; ++m)
    for (std::int64_t s = 0; s < n_shells; ++s)
      sums[m * n_shells + s] /= std::max(sums[3 * n_shells + s], 1.0);
  return sums;
}

/// Step 6: F = D / (W + λ W̄(shell)) of map m into the FFTW-MPI spectrum, times (−1)^(x+y+z),
/// which moves the real-space origin to the box centre N/2; zero outside r_max.
void fill_spectrum(int m, const Slab slab[2], const SlabGeometry& g, double lambda,
                   const std::vector<double>& means, fftw_complex* out) {
  std::fill(out[0], out[0] + 2 * g.n_local * g.N * g.n_half, 0.0);
  const double* mean = means.data() + m * (g.r_max + 1);
  g.for_each_inside([&](std::int64_t i, std::int64_t x, std::int64_t y, std::int64_t z, long s) {
    const FourierCell c = cell_of(m, slab, i);
    const double denominator = c.w + lambda * mean[s];
    if (!(denominator > 0)) return;
    const double factor = (((x + y + z) & 1) ? -1.0 : 1.0) / denominator;
    out[i][0] = factor * c.re;
    out[i][1] = factor * c.im;
  });
}

/// Step 7 after the inverse FFT: the central n³ voxels of every rank's slab, divided by N³ and by
/// the trilinear kernel's transform, gathered on rank 0 (an empty Volume elsewhere).
Volume crop_and_gather(const double* real, const SlabGeometry& g, const Slabs& slabs, double voxel,
                       MPI_Comm comm) {
  const std::int64_t N = g.N, n = g.n, offset = N / 2 - n / 2; // padded = output + offset
  auto out_range = [&](std::int64_t first, std::int64_t count) {
    return std::pair<std::int64_t, std::int64_t>{
        std::clamp(first - offset, std::int64_t(0), n),
        std::clamp(first + count - offset, std::int64_t(0), n)};
  };
  std::vector<double> correction(static_cast<size_t>(n)); // 1 / sinc² per axis
  for (std::int64_t i = 0; i < n; ++i) {
    const double s = sinc(M_PI * double(i - n / 2) / N);
    correction[i] = 1.0 / (s * s);
  }
  const double scale = 1.0 / (double(N) * double(N) * double(N));
  const auto [first, end] = out_range(g.z_first, g.n_local);
  std::vector<float> mine(static_cast<size_t>((end - first) * n * n));
  for (std::int64_t zo = first; zo < end; ++zo)
    for (std::int64_t y = 0; y < n; ++y)
      for (std::int64_t x = 0; x < n; ++x) {
        const double v =
            real[((zo + offset - g.z_first) * N + y + offset) * 2 * g.n_half + x + offset];
        mine[((zo - first) * n + y) * n + x] =
            static_cast<float>(v * scale * correction[x] * correction[y] * correction[zo]);
      }
  const int n_ranks = static_cast<int>(slabs.count.size());
  std::vector<int> counts(n_ranks), displs(n_ranks);
  for (int r = 0; r < n_ranks; ++r) {
    const auto [b, e] = out_range(slabs.start[r], slabs.count[r]);
    counts[r] = static_cast<int>(e - b);
    displs[r] = static_cast<int>(b);
  }
  Volume volume;
  if (slabs.rank == 0) volume = Volume(n, n, n, voxel);
  MPI_Datatype plane;
  MPI_Type_contiguous(static_cast<int>(n * n), MPI_FLOAT, &plane);
  MPI_Type_commit(&plane);
  const int status = MPI_Gatherv(mine.data(), static_cast<int>(end - first), plane,
                                 volume.data.data(), counts.data(), displs.data(), plane, 0, comm);
  MPI_Type_free(&plane);
  mpi::check(status, "MPI_Gatherv");
  return volume;
}

/// The in-place buffer and plan of the distributed c2r transform.
struct InverseFft {
  double* buffer = nullptr;
  fftw_plan plan = nullptr;
  InverseFft(std::int64_t N, std::int64_t alloc_local, MPI_Comm comm, const std::string& source) {
    buffer = fftw_alloc_real(2 * std::max<std::int64_t>(alloc_local, 1));
    plan = fftw_mpi_plan_dft_c2r_3d(N, N, N, spectrum(), buffer, comm, FFTW_ESTIMATE);
    PAIRPOSE_CHECK(plan != nullptr,
                   source << ": FFTW could not plan the " << N << "^3 distributed inverse FFT");
  }
  ~InverseFft() {
    if (plan) fftw_destroy_plan(plan);
    fftw_free(buffer);
  }
  fftw_complex* spectrum() { return reinterpret_cast<fftw_complex*>(buffer); }
};

} // namespace

Reconstruction Reconstructor::finish() {
  PAIRPOSE_CHECK(!finished_, options_.source << ": finish() called twice");
  finished_ = true;
  Reconstruction result;
  for (int h = 0; h < 2; ++h)
    result.n_particles[h] = mpi::all_sum(n_inserted_[h], comm_);
  for (int h = 0; h < 2; ++h)
    if (result.n_particles[h] == 0)
      throw CollectiveError(options_.source + ": half-set " + std::to_string(h + 1) +
                            " is empty (" + std::to_string(result.n_particles[1 - h]) +
                            " particles in the other half-set); both half-maps need particles");

  const Slabs slabs = slab_decomposition(n_padded_, comm_);
  const SlabGeometry g{n_padded_,
                       n_half_,
                       r_max_,
                       options_.image_size,
                       slabs.start[slabs.rank],
                       slabs.count[slabs.rank]};
  const std::int64_t plane = g.N * g.n_half;

  // Step 5: each rank receives the sum of its planes of both half-set grids.
  Slab slab[2];
  for (int h = 0; h < 2; ++h) {
    slab[h].resize(static_cast<size_t>(g.n_local * plane));
    for (int r = 0; r < static_cast<int>(slabs.count.size()); ++r)
      reduce_to(reinterpret_cast<const float*>(grids_[h].data() + slabs.start[r] * plane),
                reinterpret_cast<float*>(slab[h].data()), 3 * slabs.count[r] * plane, r, comm_);
    grids_[h].release();
  }

  // Steps 6–7 for each map on one in-place FFTW-MPI buffer.
  const std::vector<double> means = shell_mean_weights(slab, g, comm_);
  InverseFft fft(g.N, slabs.alloc_local, comm_, options_.source);
  Volume* maps[3] = {&result.half1, &result.half2, &result.full};
  for (int m = 0; m < 3; ++m) {
    fill_spectrum(m, slab, g, options_.wiener_constant, means, fft.spectrum());
    fftw_execute(fft.plan);
    *maps[m] = crop_and_gather(fft.buffer, g, slabs, options_.pixel_size, comm_);
  }
  return result;
}

} // namespace pairpose::reconstruct
