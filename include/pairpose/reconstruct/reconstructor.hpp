#pragma once
/// @file reconstructor.hpp
/// Direct Fourier inversion of particle images into a 3D map (method.md §8), distributed over an
/// MPI communicator, free of file I/O (the `reconstruct` stage and the gauge stage feed it).
///
///     ReconstructorOptions o;
///     o.image_size = 116; o.pixel_size = 1.5;         // padding 2, CTF weighting by default
///     Reconstructor rec(comm, o);
///     for (each batch of this rank's particles)
///       rec.insert(images, particles, half_sets(seed, batch), batch.begin);
///     Reconstruction maps = rec.finish();              // collective; maps on rank 0
///
/// What it computes, per image (n × n pixels, n even, pixel size p Å):
///  1. the image, with its centre (n/2, n/2) moved to the origin, is zero-padded to N × N,
///     N = padding · n rounded up to the next even size with prime factors 2, 3, 5, 7 only
///     (fast FFTs: 232 → 240 for n = 116), and transformed by a 2D r2c FFT (FFTW, float). With
///     pad_images = false it is transformed at its own size n and frequency k is placed at (N / n)
///     · k instead (RELION's way: 4× fewer points to insert at padding 2, the transform sampled
///     only at the image's own frequencies);
///  2. the particle's shift is undone by a phase ramp: the image is translated by
///     (+rlnOriginXAngst, +rlnOriginYAngst) / p pixels, which brings a particle whose centre sits
///     at (−origin_x, −origin_y) back to the centre (io/star.hpp; checked against
///     relion_reconstruct in tests/regression/reconstruct_relion.sh);
///  3. with CTF weighting, each Fourier value is multiplied by the particle's CTF
///     (simulate/ctf.hpp, RELION's model) and its weight is CTF²; otherwise the weight is 1;
///  4. the 2D transform value at (kx, ky) (padded-grid units, |k| ≤ N/2 − 1) is added at
///     Aᵀ(kx, ky, 0) into a 3D Fourier grid of N³ points (half of it stored, x ≥ 0, as FFTW's
///     r2c layout; the mirrored point −Aᵀk receives the conjugate), data and weight spread over
///     the 8 nearest grid points with trilinear weights. A is RELION's matrix of the particle's
///     orientation (geometry/rotation.hpp).
/// Every rank inserts its own particles into its own copy of two grids, one per half-set.
///
/// finish() then:
///  5. sums the grids over the ranks into FFTW-MPI's slab decomposition (each rank receives the
///     z-planes fftw_mpi_local_size_3d gives it, by one MPI_Reduce per owner rank);
///  6. divides data by weight with a Wiener-style term where the weights (Σ CTF²) vanish:
///     F(k) = D(k) / (W(k) + λ · W̄(|k|)), W̄ the mean weight of the shell |k| and λ the
///     `wiener_constant`;
///  7. inverse-transforms each map with a distributed c2r FFT (fftw_mpi_plan_dft_c2r_3d), crops
///     the central n³ voxels, divides by N³ and by the trilinear kernel's transform
///     sinc²(πx/N)·sinc²(πy/N)·sinc²(πz/N) (the gridding correction; x, y, z in padded voxels from
///     the centre), and gathers the maps on rank 0.
/// Three maps result: half-set 1, half-set 2 and the full map from both (data and weights summed).
///
/// Units: a map voxel holds density such that the image is its line integral in voxels (the
/// projection geometry of method.md §2), centred at (n/2, n/2, n/2), voxel size p.
///
/// Memory: 2 grids × N² (N/2 + 1) × 12 bytes on every rank (150 MB for n = 116, padding 2), plus
/// the slabs in finish() (N³/P complex doubles per rank).
///
/// Results are independent of the number of ranks up to float summation order.
#include <cstdint>
#include <memory>
#include <mpi.h>
#include <string>
#include <utility>
#include <vector>

#include "pairpose/core/array.hpp"
#include "pairpose/core/partition.hpp"
#include "pairpose/geometry/rotation.hpp"
#include "pairpose/io/particle.hpp"

namespace pairpose::reconstruct {

struct ReconstructorOptions {
  std::int64_t image_size = 0;   ///< n: images are n × n pixels; even, ≥ 4
  double pixel_size = 1.0;       ///< Å per pixel (converts shifts and CTF frequencies)
  int padding = 2;               ///< N ≈ padding · n (see step 1); 1 … 4 (RELION uses 2)
  bool pad_images = true;        ///< zero-pad each image to N before its 2D FFT (step 1)
  bool apply_ctf = true;         ///< CTF-weight particles whose has_ctf is true
  double wiener_constant = 1e-3; ///< λ in F = D / (W + λ W̄(shell)); ≥ 0
  std::string source;            ///< input name used in error messages (e.g. "run.h5")
};

/// The maps, on rank 0 (empty Volumes on other ranks).
struct Reconstruction {
  Volume full;                          ///< from every particle
  Volume half1, half2;                  ///< from half-set 1 / 2
  std::int64_t n_particles[2] = {0, 0}; ///< particles per half-set (on every rank)
};

/// One point of a 3D Fourier grid: the summed data (real, imaginary) and weight.
struct FourierCell {
  float re = 0, im = 0, w = 0;
};

/// A zero-filled array of FourierCell in anonymous memory (mmap, transparent huge pages
/// advised). The kernel hands out zeroed pages on first touch, so allocating writes nothing and
/// the pages the insertion never reaches (about a fifth of a grid: the corners beyond the sphere
/// |k| < N/2 − 1) are never backed. Throws pairpose::Error when the memory cannot be mapped.
class CellGrid {
public:
  CellGrid() = default;
  explicit CellGrid(std::size_t n_cells);
  ~CellGrid() { release(); }
  CellGrid(const CellGrid&) = delete;
  CellGrid& operator=(const CellGrid&) = delete;
  CellGrid(CellGrid&& other) noexcept { swap(other); }
  CellGrid& operator=(CellGrid&& other) noexcept {
    CellGrid(std::move(other)).swap(*this);
    return *this;
  }
  void swap(CellGrid& other) noexcept {
    std::swap(cells_, other.cells_);
    std::swap(n_cells_, other.n_cells_);
  }
  FourierCell* data() { return cells_; }
  const FourierCell* data() const { return cells_; }
  std::size_t size() const { return n_cells_; }
  /// Returns the memory to the system; the grid is empty afterwards.
  void release();

private:
  FourierCell* cells_ = nullptr;
  std::size_t n_cells_ = 0;
};

/// The half-set (1 or 2) of particle i: a fair coin drawn with Rng(seed, stream_split, i), so the
/// split depends only on (seed, i) and never on the rank count. One value per particle of `rows`.
std::vector<int> random_half_sets(std::uint64_t seed, Block rows);

class Reconstructor {
public:
  /// Collective (plans the distributed FFT in finish(), not here). Throws (on every rank) for an
  /// odd or too small image size, pixel size ≤ 0, padding outside 1 … 4, λ < 0.
  Reconstructor(MPI_Comm comm, const ReconstructorOptions& options);
  ~Reconstructor();
  Reconstructor(const Reconstructor&) = delete;
  Reconstructor& operator=(const Reconstructor&) = delete;

  const ReconstructorOptions& options() const { return options_; }
  /// N, the side of the padded Fourier grid.
  std::int64_t padded_size() const { return n_padded_; }

  /// Rank-local (no communication). Inserts images.n images: image i belongs to particles[i]
  /// (orientation, shift, CTF) and to half-set half_sets[i] (1 or 2). `first_index` is the
  /// global index of image 0, used only in error messages. Throws naming the source and the
  /// particle index for an image of the wrong size, a non-finite pixel, a non-finite or zero
  /// orientation quaternion, a half-set other than 1 or 2, or mismatched counts.
  void insert(const ImageStack& images, const std::vector<Particle>& particles,
              const std::vector<int>& half_sets, std::int64_t first_index = 0);

  /// Particles inserted so far on this rank, per half-set.
  std::int64_t n_inserted(int half_set) const { return n_inserted_[half_set - 1]; }

  /// Collective. Sums, inverts and gathers (steps 5–7 above). Throws (on every rank) when a
  /// half-set received no particle. The Reconstructor cannot be used afterwards.
  Reconstruction finish();

private:
  using Cell = FourierCell;
  void insert_one(const float* image, const Particle& particle, CellGrid& grid, std::int64_t index);
  /// Asks the cache for the cells that row ky (columns [0, kx_end)) of an image's plane will
  /// update.
  void prefetch_row(const CellGrid& grid, const geometry::Mat3& a, double step, std::int64_t ky,
                    std::int64_t kx_end) const;
  void splat(CellGrid& grid, double px, double py, double pz, float re, float im, float w) const;

  MPI_Comm comm_;
  ReconstructorOptions options_;
  std::int64_t n_padded_ = 0, n_half_ = 0, r_max_ = 0;
  CellGrid grids_[2];
  std::int64_t n_inserted_[2] = {0, 0};
  struct Fft;
  std::unique_ptr<Fft> fft_;
  bool finished_ = false;
};

} // namespace pairpose::reconstruct
