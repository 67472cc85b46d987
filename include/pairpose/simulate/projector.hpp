#pragma once
/// @file projector.hpp
/// Projections of a 3D map that match RELION's projector (method.md §2): a particle with RELION
/// matrix A gets the image
///
///     image(r) = ∫ map(Aᵀ (r, z)) dz        r, z in the map's voxels from the box centre (n/2),
///
/// then the CTF (if the particle has one) and its shift: the particle's centre lands at
/// (−rlnOriginXAngst, −rlnOriginYAngst) from the image centre (io/star.hpp, measured against
/// relion_project). Pixel values are line integrals in units of the map's voxel, whatever the
/// image's pixel size (a coarser image is the same integral, band-limited to its own Nyquist).
///
/// FourierProjector works by the Fourier-slice theorem, as RELION's Projector with padding 2 and
/// trilinear interpolation:
///  1. the map is placed, centred (voxel (nx/2, ny/2, nz/2) at N/2), in a cube of side
///     N = padding · (side of the centred cube holding its non-zero voxels), at least the image's
///     field of view, at most padding · max(nx, ny, nz), rounded up to even (so a map that RELION
///     needed padded with zeros to a large cube costs no more than the map itself), divided by the
///     trilinear gridding
///     kernel sinc²(πx/N)·sinc²(πy/N)·sinc²(πz/N), and transformed by a slab-distributed
///     FFTW-MPI r2c transform over the communicator;
///  2. the half of its transform the images can reach (|k| ≤ the image Nyquist, scaled to the
///     padded grid) is summed into a replicated Fourier box on every rank;
///  3. each image is the central slice at Aᵀ(kx, ky, 0) on the image's own n × (n/2 + 1) Fourier
///     grid (disk |k| ≤ n/2, like RELION), trilinearly interpolated, multiplied by the CTF and the
///     shift's phase ramp, and inverse-transformed at the image size (one FFTW float plan, reused).
///
/// Memory: the distributed r2c transform holds N³ floats over all ranks (N³/P per rank); the
/// replicated Fourier box holds (R + 2)(2R + 3)² complex floats on every rank, R = the image
/// Nyquist in padded-grid units (N/2 when the image samples the map at its own voxel size; for
/// 5j0n at 128 px that is 14 MB). Only the input map and this box are replicated.
///
/// After construction project() is rank-local, involves no communication and no file I/O, and
/// may be called from several threads at once (the training stage uses it for online
/// simulation). Results are bitwise independent of the number of ranks and threads.
///
/// project_real_space() is the independent check: the line integral sampled along z with
/// trilinear interpolation in real space (slow; for tests).
#include <complex>
#include <cstdint>
#include <memory>
#include <mpi.h>
#include <string>
#include <vector>

#include "pairpose/core/array.hpp"
#include "pairpose/geometry/rotation.hpp"
#include "pairpose/io/particle.hpp"

namespace pairpose::simulate {

/// Throws pairpose::Error naming `name` when the map is empty, holds a NaN or infinite value,
/// or is zero everywhere.
void check_map(const Volume& map, const std::string& name);

/// The map placed in a cube of side `size` ≥ each of its sides, centred: voxel (nx/2, ny/2,
/// nz/2) goes to (size/2, size/2, size/2); the rest is zero. Voxel size is kept. (RELION only
/// projects cubic maps: write this with io::write_mrc to give relion_project the same map.)
Volume pad_to_cube(const Volume& map, std::int64_t size);

/// Image geometry and projector settings.
struct ProjectorOptions {
  std::int64_t image_size = 0; ///< n, pixels; 0 = the map's largest side
  double pixel_size = 0;       ///< Å per pixel; 0 = the map's voxel size
  int padding = 2;             ///< oversampling of the 3D Fourier grid (≥ 1; RELION uses 2)
};

class FourierProjector {
public:
  /// Collective over `comm`: every rank passes the same map and options. Throws (on every rank)
  /// for a bad map (check_map), image size < 2, pixel size < 0, padding < 1, or an image whose
  /// field of view n·p exceeds the padded box N·voxel.
  FourierProjector(const Volume& map, const ProjectorOptions& options, MPI_Comm comm);
  ~FourierProjector();
  FourierProjector(const FourierProjector&) = delete;
  FourierProjector& operator=(const FourierProjector&) = delete;

  std::int64_t image_size() const { return n_; }
  double pixel_size() const { return pixel_size_; }
  /// Side N of the padded cube the 3D transform ran on (see step 1 above).
  std::int64_t padded_size() const { return n_padded_; }
  /// Bytes of the replicated Fourier box (per rank).
  std::int64_t fourier_box_bytes() const;

  /// The image's 2D DFT on the half-plane r2c layout (n rows × (n/2 + 1) columns, row ky in FFTW
  /// order), with the image centre n/2 as the phase origin, without CTF or shift. Thread-safe.
  void slice(const geometry::Mat3& a, std::complex<float>* out) const;

  /// The slice at A at the `count` frequencies (kx[j], ky[j]) (image Fourier indices, kx ≥ 0,
  /// |k| ≤ n/2): the values slice() gives there, for matching a band of frequencies only.
  /// Thread-safe.
  void slice_at(const geometry::Mat3& a, const std::int32_t* kx, const std::int32_t* ky,
                std::int64_t count, std::complex<float>* out) const;
  /// One n × n image (x fastest) for particle `p`: orientation, shift (Å), and the CTF when
  /// p.has_ctf and `apply_ctf`. Thread-safe; allocates its own workspace.
  void project(const Particle& p, float* out, bool apply_ctf = true) const;

  /// Images for a batch of particles (image i for particles[i]) using `n_threads` threads.
  ImageStack project(const std::vector<Particle>& particles, bool apply_ctf = true,
                     int n_threads = 1) const;

  struct Workspace; ///< per-thread FFT buffers (opaque)

private:
  void project_into(const Particle& p, bool apply_ctf, Workspace& ws, float* out) const;
  void build_fourier_box(const Volume& map, MPI_Comm comm);
  /// The trilinear stencil of point (x, y, z) of the padded Fourier grid: the box element at its
  /// lower corner (nullptr when the point lies outside the box), the fractions along each axis,
  /// and whether the point was mirrored to x >= 0 (its value is then the conjugate).
  struct Stencil {
    const std::complex<float>* corner;
    float fx, fy, fz;
    bool conj;
  };
  Stencil stencil(double x, double y, double z) const;
  std::complex<float> sample(double x, double y, double z) const;
  /// Columns kx in [0, result) of Fourier row ky lie inside the circle |k| <= n/2.
  std::int64_t row_extent(std::int64_t ky) const;
  /// Asks the cache for the box voxels that row ky of a slice at A will read.
  void prefetch_row(const geometry::Mat3& a, std::int64_t ky) const;

  std::int64_t n_ = 0;
  double pixel_size_ = 0;
  std::int64_t n_padded_ = 0;
  double scale_ = 1;        ///< padded-grid Fourier index per image Fourier index
  std::int64_t radius_ = 0; ///< R: box holds kx ∈ [0, R+1], ky, kz ∈ [−R−1, R+1]
  std::int64_t side_x_ = 0, side_yz_ = 0;
  std::vector<std::complex<float>> box_;
  void* inverse_plan_ = nullptr; ///< fftwf_plan, c2r n × n
};

/// Real-space line-integral projection of `map` at A onto an n × n image of pixel size
/// `pixel_size` Å (0 = voxel size): sum over z of trilinear samples of the map, `step` voxels
/// apart, times step. No CTF, no shift. Slow: for tests.
void project_real_space(const Volume& map, const geometry::Mat3& a, std::int64_t n,
                        double pixel_size, double step, float* out);

/// Pearson correlation of two arrays of `n` floats (0 when either is constant).
double correlation(const float* a, const float* b, std::int64_t n);

} // namespace pairpose::simulate
