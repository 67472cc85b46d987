#include "pairpose/reconstruct/reconstructor.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <fftw3-mpi.h>
#include <fftw3.h>
#include <sys/mman.h>

#include "pairpose/core/error.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/core/random.hpp"
#include "pairpose/geometry/rotation.hpp"
#include "pairpose/simulate/ctf.hpp"

namespace pairpose::reconstruct {

using cfloat = std::complex<float>;

std::vector<int> random_half_sets(std::uint64_t seed, Block rows) {
  std::vector<int> out(static_cast<size_t>(std::max<std::int64_t>(rows.size(), 0)));
  for (std::int64_t i = rows.begin; i < rows.end; ++i)
    out[i - rows.begin] = 1 + static_cast<int>(Rng(seed, stream_split, i).below(2));
  return out;
}

namespace {
constexpr std::uintptr_t huge_page = std::uintptr_t(1) << 21;
std::size_t mapped_bytes(std::size_t n_cells) { return n_cells * sizeof(FourierCell); }
} // namespace

CellGrid::CellGrid(std::size_t n_cells) {
  if (n_cells == 0) return;
  // Mapped with a huge page of slack and trimmed, so that the grid starts on a 2 MiB boundary.
  const std::size_t bytes = mapped_bytes(n_cells), padded = bytes + huge_page;
  void* p = mmap(nullptr, padded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  PAIRPOSE_CHECK(p != MAP_FAILED, "reconstruct: cannot allocate a Fourier grid of "
                                      << bytes / 1e9 << " GB (mmap failed)");
  const auto start = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t aligned = (start + huge_page - 1) & ~(huge_page - 1);
  if (aligned > start) munmap(p, aligned - start);
  const std::uintptr_t end = aligned + bytes, mapped_end = start + padded;
  if (mapped_end > end) munmap(reinterpret_cast<void*>(end), mapped_end - end);
  // Huge pages: the insertion's scattered updates are bound by TLB misses otherwise.
  madvise(reinterpret_cast<void*>(aligned), bytes, MADV_HUGEPAGE);
  cells_ = reinterpret_cast<FourierCell*>(aligned);
  n_cells_ = n_cells;
}

void CellGrid::release() {
  if (cells_) munmap(cells_, mapped_bytes(n_cells_));
  cells_ = nullptr;
  n_cells_ = 0;
}

namespace {

/// The smallest even size ≥ n whose only prime factors are 2, 3, 5 and 7 (fast FFTs).
std::int64_t fft_friendly_size(std::int64_t n) {
  for (std::int64_t m = n + (n & 1);; m += 2) {
    std::int64_t rest = m;
    for (std::int64_t f : {2, 3, 5, 7})
      while (rest % f == 0)
        rest /= f;
    if (rest == 1) return m;
  }
}
} // namespace

/// The per-image 2D transform: padded real buffer, its half-plane spectrum, one float plan.
struct Reconstructor::Fft {
  std::int64_t n = 0;
  float* real = nullptr;
  fftwf_complex* spectrum = nullptr;
  fftwf_plan plan = nullptr;
  explicit Fft(std::int64_t n_padded) : n(n_padded) {
    real = fftwf_alloc_real(n * n);
    spectrum = fftwf_alloc_complex(n * (n / 2 + 1));
    plan = fftwf_plan_dft_r2c_2d(static_cast<int>(n), static_cast<int>(n), real, spectrum,
                                 FFTW_ESTIMATE);
  }
  ~Fft() {
    fftwf_destroy_plan(plan);
    fftwf_free(real);
    fftwf_free(spectrum);
  }
};

Reconstructor::Reconstructor(MPI_Comm comm, const ReconstructorOptions& options)
    : comm_(comm), options_(options) {
  const auto& o = options_;
  const std::string src = o.source.empty() ? "reconstruct" : o.source;
  PAIRPOSE_CHECK(o.image_size >= 4 && o.image_size % 2 == 0,
                 src << ": image size must be even and >= 4 pixels, got " << o.image_size);
  PAIRPOSE_CHECK(o.pixel_size > 0 && std::isfinite(o.pixel_size),
                 src << ": pixel size must be > 0 Å, got " << o.pixel_size);
  PAIRPOSE_CHECK(o.padding >= 1 && o.padding <= 4,
                 src << ": padding must be 1 ... 4, got " << o.padding);
  PAIRPOSE_CHECK(o.wiener_constant >= 0,
                 src << ": wiener_constant must be >= 0, got " << o.wiener_constant);
  fftw_mpi_init();
  n_padded_ = fft_friendly_size(o.padding * o.image_size);
  n_half_ = n_padded_ / 2 + 1;
  r_max_ = n_padded_ / 2 - 1;
  const size_t n_cells = static_cast<size_t>(n_padded_ * n_padded_ * n_half_);
  for (auto& g : grids_)
    g = CellGrid(n_cells);
  fft_ = std::make_unique<Fft>(o.pad_images ? n_padded_ : o.image_size);
}

Reconstructor::~Reconstructor() = default;

void Reconstructor::insert(const ImageStack& images, const std::vector<Particle>& particles,
                           const std::vector<int>& half_sets, std::int64_t first_index) {
  const std::string& src = options_.source;
  PAIRPOSE_CHECK(!finished_, src << ": insert() after finish()");
  PAIRPOSE_CHECK(images.nx == options_.image_size && images.ny == options_.image_size,
                 src << ": images are " << images.nx << " x " << images.ny
                     << " pixels, the reconstruction expects " << options_.image_size);
  PAIRPOSE_CHECK(static_cast<std::int64_t>(particles.size()) == images.n &&
                     static_cast<std::int64_t>(half_sets.size()) == images.n,
                 src << ": " << images.n << " images but " << particles.size() << " particles and "
                     << half_sets.size() << " half-set labels (from particle " << first_index
                     << ")");
  for (std::int64_t i = 0; i < images.n; ++i) {
    const int h = half_sets[i];
    PAIRPOSE_CHECK(h == 1 || h == 2, src << ": particle " << first_index + i
                                         << ": half-set must be 1 or 2, got " << h);
    insert_one(images.image(i), particles[i], grids_[h - 1], first_index + i);
    ++n_inserted_[h - 1];
  }
}

namespace {

/// exp(−2πi k s / N) for k = −r … r, stored at k + r.
std::vector<cfloat> phase_ramp(double shift, std::int64_t n_padded, std::int64_t r) {
  std::vector<cfloat> out(static_cast<size_t>(2 * r + 1));
  for (std::int64_t k = -r; k <= r; ++k) {
    const double angle = -2.0 * M_PI * k * shift / n_padded;
    out[k + r] = cfloat(static_cast<float>(std::cos(angle)), static_cast<float>(std::sin(angle)));
  }
  return out;
}

geometry::Quat checked_orientation(const Particle& p, const std::string& src, std::int64_t index) {
  const geometry::Quat& q = p.orientation;
  const double norm = std::sqrt(q.w * q.w + q.x * q.x + q.y * q.y + q.z * q.z);
  PAIRPOSE_CHECK(std::isfinite(norm) && norm > 1e-6,
                 src << ": particle " << index << ": orientation is missing (quaternion (" << q.w
                     << ", " << q.x << ", " << q.y << ", " << q.z << "))");
  return geometry::normalized(q);
}

} // namespace

void Reconstructor::insert_one(const float* image, const Particle& p, CellGrid& grid,
                               std::int64_t index) {
  // The 2D transform is m × m (m = N with padded images, else n); its frequency k lands at
  // step · k on the padded 3D grid, within radius r_max_.
  const std::int64_t n = options_.image_size, m = fft_->n, m_half = m / 2 + 1;
  const double step = double(n_padded_) / double(m);
  const auto r = static_cast<std::int64_t>(r_max_ / step);
  const std::string& src = options_.source;
  for (std::int64_t k = 0; k < n * n; ++k)
    PAIRPOSE_CHECK(std::isfinite(image[k]), src << ": particle " << index << ": pixel (" << k % n
                                                << ", " << k / n << ") of its image is not finite");
  PAIRPOSE_CHECK(std::isfinite(p.shift_x) && std::isfinite(p.shift_y),
                 src << ": particle " << index << ": shift is not finite");
  const geometry::Mat3 a = geometry::to_matrix(checked_orientation(p, src, index));

  // Zero-pad (when m > n) with the image centre (n/2, n/2) at the origin of the periodic box.
  if (m > n) std::fill(fft_->real, fft_->real + m * m, 0.0f);
  for (std::int64_t y = 0; y < n; ++y) {
    float* row = fft_->real + ((y - n / 2 + m) % m) * m;
    for (std::int64_t x = 0; x < n; ++x)
      row[(x - n / 2 + m) % m] = image[y * n + x];
  }
  fftwf_execute(fft_->plan);
  const auto* spectrum = reinterpret_cast<const cfloat*>(fft_->spectrum);

  const auto ramp_x = phase_ramp(p.shift_x / options_.pixel_size, m, r);
  const auto ramp_y = phase_ramp(p.shift_y / options_.pixel_size, m, r);
  const bool use_ctf = options_.apply_ctf && p.has_ctf;
  std::unique_ptr<simulate::Ctf> ctf;
  if (use_ctf) ctf = std::make_unique<simulate::Ctf>(p.ctf);
  const double df = 1.0 / (m * options_.pixel_size);

  auto row_end = [r](std::int64_t ky) {
    return static_cast<std::int64_t>(std::sqrt(double(r * r - ky * ky))) + 1;
  };
  // The grids are far larger than the caches and a plane crosses them along no axis: the cells
  // of a row are requested two rows ahead, so that their cache misses overlap.
  constexpr std::int64_t ahead = 2;
  for (std::int64_t ky = -r; ky < std::min(-r + ahead, r + 1); ++ky)
    prefetch_row(grid, a, step, ky, row_end(ky));
  std::vector<float> ctf_row(use_ctf ? static_cast<size_t>(r + 1) : 0);
  for (std::int64_t ky = -r; ky <= r; ++ky) {
    if (ky + ahead <= r) prefetch_row(grid, a, step, ky + ahead, row_end(ky + ahead));
    const cfloat* row = spectrum + ((ky + m) % m) * m_half;
    const std::int64_t kx_end = row_end(ky);
    if (use_ctf) ctf->row(ky * df, df, kx_end, ctf_row.data());
    for (std::int64_t kx = 0; kx < kx_end; ++kx) {
      cfloat c = row[kx] * ramp_x[kx + r] * ramp_y[ky + r];
      float w = 1.0f;
      if (use_ctf) {
        const float t = ctf_row[kx];
        c *= t;
        w = t * t;
      }
      const double sx = step * kx, sy = step * ky;
      const double px = sx * a[0] + sy * a[3], py = sx * a[1] + sy * a[4],
                   pz = sx * a[2] + sy * a[5];
      splat(grid, px, py, pz, c.real(), c.imag(), w);
      // The mirrored half of the 2D transform (−k holds the conjugate); the column kx = 0 holds
      // both k and −k already.
      if (kx > 0) splat(grid, -px, -py, -pz, c.real(), -c.imag(), w);
    }
  }
}

namespace {
/// floor() for values well inside the int range, without a libm call.
inline std::int64_t floor_int(double v) {
  const auto i = static_cast<std::int64_t>(v);
  return i - (v < static_cast<double>(i));
}
} // namespace

void Reconstructor::splat(CellGrid& grid, double px, double py, double pz, float re, float im,
                          float w) const {
  const std::int64_t x0 = floor_int(px);
  if (x0 < -1) return; // every neighbour has x < 0: stored as the mirrored point
  const std::int64_t y0 = floor_int(py), z0 = floor_int(pz);
  const auto fx = static_cast<float>(px - x0), fy = static_cast<float>(py - y0),
             fz = static_cast<float>(pz - z0);
  const std::int64_t N = n_padded_;
  // |p| < N/2 − 1, so each index wraps at most once.
  const std::int64_t ys[2] = {y0 < 0 ? y0 + N : y0, y0 + 1 < 0 ? y0 + 1 + N : y0 + 1};
  const std::int64_t zs[2] = {z0 < 0 ? z0 + N : z0, z0 + 1 < 0 ? z0 + 1 + N : z0 + 1};
  const float wys[2] = {1.0f - fy, fy}, wzs[2] = {1.0f - fz, fz};
  for (int dz = 0; dz < 2; ++dz)
    for (int dy = 0; dy < 2; ++dy) {
      const float wzy = wzs[dz] * wys[dy];
      Cell* line = grid.data() + (zs[dz] * N + ys[dy]) * n_half_ + x0;
      if (x0 >= 0) {
        const float k = wzy * (1.0f - fx);
        line[0].re += k * re;
        line[0].im += k * im;
        line[0].w += k * w;
      }
      const float k = wzy * fx;
      line[1].re += k * re;
      line[1].im += k * im;
      line[1].w += k * w;
    }
}

void Reconstructor::prefetch_row(const CellGrid& grid, const geometry::Mat3& a, double step,
                                 std::int64_t ky, std::int64_t kx_end) const {
  const std::int64_t N = n_padded_;
  for (std::int64_t kx = 0; kx < kx_end; kx += 2) {
    const double sx = step * kx, sy = step * ky;
    double px = sx * a[0] + sy * a[3], py = sx * a[1] + sy * a[4], pz = sx * a[2] + sy * a[5];
    if (px < 0) px = -px, py = -py, pz = -pz; // the point splat() stores (x >= 0)
    const std::int64_t x0 = floor_int(px), y0 = floor_int(py), z0 = floor_int(pz);
    for (const std::int64_t z : {z0, z0 + 1})
      for (const std::int64_t y : {y0, y0 + 1})
        __builtin_prefetch(grid.data() + ((z + N) % N * N + (y + N) % N) * n_half_ + x0, 1);
  }
}

} // namespace pairpose::reconstruct
