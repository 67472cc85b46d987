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

  const std::int64_t N = n_padded_, n = options_.image_size, plane = N * n_half_;
  const Slabs slabs = slab_decomposition(N, comm_);
  const std::int64_t n_local = slabs.count[slabs.rank], z_first = slabs.start[slabs.rank];

  // Step 5: each rank receives the sum of its planes of both half-set grids.
  std::vector<Cell> slab[2];
  for (int h = 0; h < 2; ++h) {
    slab[h].resize(static_cast<size_t>(n_local * plane));
    for (int r = 0; r < static_cast<int>(slabs.count.size()); ++r)
      reduce_to(reinterpret_cast<const float*>(grids_[h].data() + slabs.start[r] * plane),
                reinterpret_cast<float*>(slab[h].data()), 3 * slabs.count[r] * plane, r, comm_);
    std::vector<Cell>().swap(grids_[h]);
  }

  // Shell means of the weights (for the Wiener term), per map: half 1, half 2, full.
  const std::int64_t r_max = r_max_, n_shells = r_max + 1;
  std::vector<double> shell(4 * n_shells, 0.0); // sums of w1, w2, w1 + w2, voxel counts
  for (std::int64_t iz = 0; iz < n_local; ++iz)
    for (std::int64_t y = 0; y < N; ++y)
      for (std::int64_t x = 0; x < n_half_; ++x) {
        const std::int64_t kz = frequency(z_first + iz, N), ky = frequency(y, N);
        const double r = std::sqrt(double(x * x + ky * ky + kz * kz));
        if (r > r_max) continue;
        const auto s = static_cast<std::int64_t>(std::lround(r));
        const std::int64_t i = (iz * N + y) * n_half_ + x;
        shell[s] += slab[0][i].w;
        shell[n_shells + s] += slab[1][i].w;
        shell[2 * n_shells + s] += slab[0][i].w + slab[1][i].w;
        shell[3 * n_shells + s] += 1.0;
      }
  mpi::all_sum_inplace(shell.data(), static_cast<std::int64_t>(shell.size()), comm_);

  // Step 6–7 for each map, on one in-place FFTW-MPI buffer.
  double* buffer = fftw_alloc_real(2 * std::max<std::int64_t>(slabs.alloc_local, 1));
  auto* spectrum = reinterpret_cast<fftw_complex*>(buffer);
  fftw_plan plan = fftw_mpi_plan_dft_c2r_3d(N, N, N, spectrum, buffer, comm_, FFTW_ESTIMATE);
  PAIRPOSE_CHECK(plan != nullptr, options_.source << ": FFTW could not plan the " << N
                                                  << "^3 distributed inverse transform");

  // Output planes this rank holds: padded z = z_out + N/2 − n/2.
  const std::int64_t offset = N / 2 - n / 2;
  const std::int64_t out_first = std::clamp(z_first - offset, std::int64_t(0), n);
  const std::int64_t out_end = std::clamp(z_first + n_local - offset, std::int64_t(0), n);
  std::vector<double> correction(static_cast<size_t>(n)); // 1 / sinc² per axis
  for (std::int64_t i = 0; i < n; ++i) {
    const double s = sinc(M_PI * double(i - n / 2) / N);
    correction[i] = 1.0 / (s * s);
  }
  const double scale = 1.0 / (double(N) * double(N) * double(N));

  Volume* maps[3] = {&result.half1, &result.half2, &result.full};
  for (int m = 0; m < 3; ++m) {
    const double lambda = options_.wiener_constant;
    const double* sums = shell.data() + m * n_shells;
    const double* counts = shell.data() + 3 * n_shells;
    for (std::int64_t iz = 0; iz < n_local; ++iz)
      for (std::int64_t y = 0; y < N; ++y)
        for (std::int64_t x = 0; x < n_half_; ++x) {
          const std::int64_t z = z_first + iz, kz = frequency(z, N), ky = frequency(y, N);
          const std::int64_t i = (iz * N + y) * n_half_ + x;
          const double r = std::sqrt(double(x * x + ky * ky + kz * kz));
          double re = 0, im = 0;
          if (r <= r_max) {
            const auto s = static_cast<std::int64_t>(std::lround(r));
            const Cell a = slab[0][i], b = slab[1][i];
            const double d_re = m == 0 ? a.re : m == 1 ? b.re : a.re + b.re;
            const double d_im = m == 0 ? a.im : m == 1 ? b.im : a.im + b.im;
            const double w = m == 0 ? a.w : m == 1 ? b.w : a.w + b.w;
            const double denominator = w + lambda * sums[s] / std::max(counts[s], 1.0);
            if (denominator > 0) {
              // (−1)^(x+y+z) moves the real-space origin to the box centre N/2.
              const double sign = ((x + y + z) & 1) ? -1.0 : 1.0;
              re = sign * d_re / denominator;
              im = sign * d_im / denominator;
            }
          }
          spectrum[i][0] = re;
          spectrum[i][1] = im;
        }
    fftw_execute(plan);

    // Crop, scale, gridding correction, gather planes on rank 0.
    std::vector<float> mine(static_cast<size_t>((out_end - out_first) * n * n));
    for (std::int64_t zo = out_first; zo < out_end; ++zo)
      for (std::int64_t y = 0; y < n; ++y)
        for (std::int64_t x = 0; x < n; ++x) {
          const std::int64_t iz = zo + offset - z_first;
          const double v = buffer[(iz * N + y + offset) * 2 * n_half_ + x + offset];
          mine[((zo - out_first) * n + y) * n + x] =
              static_cast<float>(v * scale * correction[x] * correction[y] * correction[zo]);
        }
    if (slabs.rank == 0) *maps[m] = Volume(n, n, n, options_.pixel_size);
    MPI_Datatype plane_type;
    MPI_Type_contiguous(static_cast<int>(n * n), MPI_FLOAT, &plane_type);
    MPI_Type_commit(&plane_type);
    const int n_ranks = static_cast<int>(slabs.count.size());
    std::vector<int> counts_out(n_ranks), displs(n_ranks);
    for (int r = 0; r < n_ranks; ++r) {
      const std::int64_t b = std::clamp(slabs.start[r] - offset, std::int64_t(0), n);
      const std::int64_t e =
          std::clamp(slabs.start[r] + slabs.count[r] - offset, std::int64_t(0), n);
      counts_out[r] = static_cast<int>(e - b);
      displs[r] = static_cast<int>(b);
    }
    mpi::check(MPI_Gatherv(mine.data(), static_cast<int>(out_end - out_first), plane_type,
                           slabs.rank == 0 ? maps[m]->data.data() : nullptr, counts_out.data(),
                           displs.data(), plane_type, 0, comm_),
               "MPI_Gatherv");
    MPI_Type_free(&plane_type);
  }
  fftw_destroy_plan(plan);
  fftw_free(buffer);
  return result;
}

} // namespace pairpose::reconstruct
