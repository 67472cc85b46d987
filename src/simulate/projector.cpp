#include "pairpose/simulate/projector.hpp"

#include <algorithm>
#include <cmath>
#include <fftw3-mpi.h>
#include <thread>

#include "pairpose/core/error.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/simulate/ctf.hpp"

namespace pairpose::simulate {

namespace {

double sinc(double x) { return x == 0.0 ? 1.0 : std::sin(x) / x; }

/// Signed frequency of FFT index i on a grid of n (RELION's: index n/2 is +n/2 for even n).
std::int64_t signed_index(std::int64_t i, std::int64_t n) { return i <= n / 2 ? i : i - n; }

template <class T> struct FftwFree {
  void operator()(T* p) const { fftwf_free(p); }
};
template <class T> using FftwPtr = std::unique_ptr<T, FftwFree<T>>;

} // namespace

/// Side of the smallest cube centred on voxel (nx/2, ny/2, nz/2) that holds every non-zero voxel.
std::int64_t content_side(const Volume& map) {
  std::int64_t half = 0;
  for (std::int64_t z = 0; z < map.nz; ++z)
    for (std::int64_t y = 0; y < map.ny; ++y)
      for (std::int64_t x = 0; x < map.nx; ++x)
        if (map.at(x, y, z) != 0.0f)
          half = std::max(
              {half, std::abs(x - map.nx / 2), std::abs(y - map.ny / 2), std::abs(z - map.nz / 2)});
  return 2 * half + 2;
}

void check_map(const Volume& map, const std::string& name) {
  PAIRPOSE_CHECK(map.nx > 0 && map.ny > 0 && map.nz > 0 &&
                     static_cast<std::int64_t>(map.data.size()) == map.size(),
                 name << ": the map is empty or its data does not match its size");
  PAIRPOSE_CHECK(map.voxel_size > 0 && std::isfinite(map.voxel_size),
                 name << ": voxel size must be > 0, got " << map.voxel_size);
  bool any_nonzero = false;
  for (std::int64_t i = 0; i < map.size(); ++i) {
    const float v = map.data[i];
    PAIRPOSE_CHECK(std::isfinite(v), name << ": voxel " << i << " is not finite (" << v << ")");
    any_nonzero |= v != 0.0f;
  }
  PAIRPOSE_CHECK(any_nonzero, name << ": the map is zero everywhere");
}

Volume pad_to_cube(const Volume& map, std::int64_t size) {
  PAIRPOSE_CHECK(size >= map.nx && size >= map.ny && size >= map.nz,
                 "pad_to_cube: cube side " << size << " is smaller than the map (" << map.nx
                                           << " x " << map.ny << " x " << map.nz << ")");
  Volume out(size, size, size, map.voxel_size);
  out.origin = map.origin;
  const std::int64_t ox = size / 2 - map.nx / 2, oy = size / 2 - map.ny / 2,
                     oz = size / 2 - map.nz / 2;
  for (std::int64_t z = 0; z < map.nz; ++z)
    for (std::int64_t y = 0; y < map.ny; ++y)
      std::copy_n(&map.data[(z * map.ny + y) * map.nx], map.nx, &out.at(ox, y + oy, z + oz));
  return out;
}

// --- FourierProjector ------------------------------------------------------------------------

struct FourierProjector::Workspace {
  FftwPtr<fftwf_complex> spectrum;
  FftwPtr<float> image;
  std::vector<std::complex<float>> phase_x, phase_y;
  std::vector<float> ctf_row;
  explicit Workspace(std::int64_t n)
      : spectrum(fftwf_alloc_complex(n * (n / 2 + 1))), image(fftwf_alloc_real(n * n)),
        phase_x(n / 2 + 1), phase_y(n), ctf_row(n / 2 + 1) {}
};

FourierProjector::FourierProjector(const Volume& map, const ProjectorOptions& options,
                                   MPI_Comm comm) {
  check_map(map, "FourierProjector");
  const std::int64_t n_max = std::max({map.nx, map.ny, map.nz});
  n_ = options.image_size > 0 ? options.image_size : n_max;
  pixel_size_ = options.pixel_size > 0 ? options.pixel_size : map.voxel_size;
  PAIRPOSE_CHECK(n_ >= 2, "projector: image size must be >= 2 pixels, got " << n_);
  PAIRPOSE_CHECK(options.pixel_size >= 0, "projector: pixel size must be >= 0 Å");
  PAIRPOSE_CHECK(options.padding >= 1, "projector: padding must be >= 1, got " << options.padding);
  n_padded_ = options.padding * n_max;
  n_padded_ += n_padded_ % 2;
  const double field_image = n_ * pixel_size_, field_box = n_padded_ * map.voxel_size;
  PAIRPOSE_CHECK(field_image <= field_box * (1 + 1e-9),
                 "projector: the image ("
                     << n_ << " px of " << pixel_size_ << " Å = " << field_image
                     << " Å) is larger than the padded map (" << n_padded_ << " voxels of "
                     << map.voxel_size << " Å = " << field_box << " Å)");
  // The grid the 3D FFT runs on: padding × the centred cube holding the map's non-zero voxels
  // (a map padded with zeros, as RELION needs, costs nothing), at least the image's field of
  // view, never more than the padded map.
  const double fov_voxels = field_image / map.voxel_size;
  const std::int64_t n_limit = n_padded_;
  n_padded_ = std::max<std::int64_t>(options.padding * content_side(map),
                                     static_cast<std::int64_t>(std::ceil(fov_voxels * (1 - 1e-6))));
  n_padded_ = std::min(n_padded_ + n_padded_ % 2, n_limit);
  scale_ = n_padded_ * map.voxel_size / field_image;
  radius_ = std::min<std::int64_t>(std::ceil(scale_ * (n_ / 2)), n_padded_ / 2 - 2);
  side_x_ = radius_ + 2;
  side_yz_ = 2 * radius_ + 3;
  build_fourier_box(map, comm);

  Workspace ws(n_);
  inverse_plan_ = fftwf_plan_dft_c2r_2d(static_cast<int>(n_), static_cast<int>(n_),
                                        ws.spectrum.get(), ws.image.get(), FFTW_ESTIMATE);
  PAIRPOSE_CHECK(inverse_plan_,
                 "projector: FFTW could not plan a " << n_ << " x " << n_ << " inverse transform");
}

FourierProjector::~FourierProjector() {
  if (inverse_plan_) fftwf_destroy_plan(static_cast<fftwf_plan>(inverse_plan_));
}

std::int64_t FourierProjector::fourier_box_bytes() const {
  return static_cast<std::int64_t>(box_.size() * sizeof(std::complex<float>));
}

void FourierProjector::build_fourier_box(const Volume& map, MPI_Comm comm) {
  fftwf_mpi_init();
  const std::int64_t N = n_padded_, nh = N / 2 + 1;
  ptrdiff_t local_n0 = 0, local_0_start = 0;
  const ptrdiff_t n_alloc = fftwf_mpi_local_size_3d(N, N, nh, comm, &local_n0, &local_0_start);
  FftwPtr<float> data(fftwf_alloc_real(2 * std::max<ptrdiff_t>(n_alloc, 1)));
  fftwf_plan plan = fftwf_mpi_plan_dft_r2c_3d(
      N, N, N, data.get(), reinterpret_cast<fftwf_complex*>(data.get()), comm, FFTW_ESTIMATE);
  PAIRPOSE_CHECK(plan, "projector: FFTW-MPI could not plan the " << N << "^3 transform");

  // Centred placement and the trilinear gridding correction 1 / sinc²(πd/N) per axis.
  std::vector<double> grid(N);
  for (std::int64_t i = 0; i < N; ++i)
    grid[i] = 1.0 / std::pow(sinc(M_PI * (i - N / 2) / N), 2);
  std::fill_n(data.get(), 2 * std::max<ptrdiff_t>(n_alloc, 1), 0.0f);
  const std::int64_t ox = N / 2 - map.nx / 2, oy = N / 2 - map.ny / 2, oz = N / 2 - map.nz / 2;
  // The grid may be smaller than the map (zero margins): clip to it.
  const std::int64_t x_begin = std::max<std::int64_t>(0, -ox), x_end = std::min(map.nx, N - ox);
  const std::int64_t y_begin = std::max<std::int64_t>(0, -oy), y_end = std::min(map.ny, N - oy);
  for (std::int64_t zl = 0; zl < local_n0; ++zl) {
    const std::int64_t z = local_0_start + zl - oz;
    if (z < 0 || z >= map.nz) continue;
    for (std::int64_t y = y_begin; y < y_end; ++y) {
      float* row = data.get() + (zl * N + y + oy) * 2 * nh + ox;
      const double gzy = grid[z + oz] * grid[y + oy];
      for (std::int64_t x = x_begin; x < x_end; ++x)
        row[x] = static_cast<float>(map.at(x, y, z) * gzy * grid[x + ox]);
    }
  }
  fftwf_execute(plan);
  fftwf_destroy_plan(plan);

  // Copy the reachable part into the box (phase origin moved to N/2: factor (−1)^(kx+ky+kz)),
  // then sum the slabs' contributions (each element comes from exactly one rank).
  const std::int64_t R = radius_;
  box_.assign(static_cast<size_t>(side_x_ * side_yz_ * side_yz_), {0.0f, 0.0f});
  const auto* spectrum = reinterpret_cast<const std::complex<float>*>(data.get());
  for (std::int64_t zl = 0; zl < local_n0; ++zl) {
    const std::int64_t kz = signed_index(local_0_start + zl, N);
    if (std::abs(kz) > R + 1 || std::abs(kz) >= N / 2) continue;
    for (std::int64_t y = 0; y < N; ++y) {
      const std::int64_t ky = signed_index(y, N);
      if (std::abs(ky) > R + 1 || std::abs(ky) >= N / 2) continue;
      for (std::int64_t kx = 0; kx <= R + 1 && kx < N / 2; ++kx) {
        const float sign = ((kx + ky + kz) & 1) ? -1.0f : 1.0f;
        box_[((kz + R + 1) * side_yz_ + ky + R + 1) * side_x_ + kx] =
            sign * spectrum[(zl * N + y) * nh + kx];
      }
    }
  }
  mpi::all_sum_inplace(reinterpret_cast<float*>(box_.data()),
                       static_cast<std::int64_t>(2 * box_.size()), comm);
}

// Inlined into sample() and prefetch_row(): the call was a tenth of the projector's time.
__attribute__((always_inline)) inline FourierProjector::Stencil
FourierProjector::stencil(double x, double y, double z) const {
  bool conj = false;
  if (x < 0) {
    x = -x, y = -y, z = -z;
    conj = true;
  }
  // floor() by truncation of a positive number: x ≥ 0 here, y and z ≥ −(R + 2) when in range.
  const std::int64_t R = radius_, offset = R + 2;
  const std::int64_t x0 = static_cast<std::int64_t>(x);
  const std::int64_t y0 = static_cast<std::int64_t>(y + offset) - offset;
  const std::int64_t z0 = static_cast<std::int64_t>(z + offset) - offset;
  if (x0 > R || y0 < -R - 1 || y0 > R || z0 < -R - 1 || z0 > R) return {nullptr, 0, 0, 0, conj};
  return {&box_[((z0 + R + 1) * side_yz_ + y0 + R + 1) * side_x_ + x0], static_cast<float>(x - x0),
          static_cast<float>(y - y0), static_cast<float>(z - z0), conj};
}

// Inlined into slice(), its only caller.
__attribute__((always_inline)) inline std::complex<float>
FourierProjector::sample(double x, double y, double z) const {
  const Stencil st = stencil(x, y, z);
  if (!st.corner) return {0.0f, 0.0f};
  const std::complex<float>* p = st.corner;
  const float fx = st.fx, fy = st.fy, fz = st.fz;
  const std::int64_t sy = side_x_, sz = side_x_ * side_yz_;
  const std::complex<float> c00 = p[0] + fx * (p[1] - p[0]);
  const std::complex<float> c10 = p[sy] + fx * (p[sy + 1] - p[sy]);
  const std::complex<float> c01 = p[sz] + fx * (p[sz + 1] - p[sz]);
  const std::complex<float> c11 = p[sz + sy] + fx * (p[sz + sy + 1] - p[sz + sy]);
  const std::complex<float> c0 = c00 + fy * (c10 - c00), c1 = c01 + fy * (c11 - c01);
  const std::complex<float> v = c0 + fz * (c1 - c0);
  return st.conj ? std::conj(v) : v;
}

std::int64_t FourierProjector::row_extent(std::int64_t ky) const {
  const std::int64_t rest = (n_ / 2) * (n_ / 2) - ky * ky;
  if (rest < 0) return 0;
  auto k = static_cast<std::int64_t>(std::sqrt(static_cast<double>(rest)));
  while (k * k > rest)
    --k;
  while ((k + 1) * (k + 1) <= rest)
    ++k;
  return std::min(k + 1, n_ / 2 + 1);
}

void FourierProjector::prefetch_row(const geometry::Mat3& a, std::int64_t ky) const {
  const std::int64_t n_in = row_extent(ky);
  const double s = scale_, by0 = s * ky * a[3], by1 = s * ky * a[4], by2 = s * ky * a[5];
  const std::int64_t sy = side_x_, sz = side_x_ * side_yz_;
  for (std::int64_t kx = 0; kx < n_in; kx += 2) {
    const std::complex<float>* p =
        stencil(s * kx * a[0] + by0, s * kx * a[1] + by1, s * kx * a[2] + by2).corner;
    if (!p) continue;
    __builtin_prefetch(p);
    __builtin_prefetch(p + sy);
    __builtin_prefetch(p + sz);
    __builtin_prefetch(p + sz + sy);
  }
}

void FourierProjector::slice(const geometry::Mat3& a, std::complex<float>* out) const {
  const std::int64_t n = n_, n_cols = n / 2 + 1;
  const double s = scale_;
  // The box is far larger than the caches and a slice crosses it along no axis, so each row's
  // voxels are requested a couple of rows ahead: the misses then overlap instead of queueing.
  constexpr std::int64_t ahead = 2;
  for (std::int64_t row = 0; row < std::min(ahead, n); ++row)
    prefetch_row(a, signed_index(row, n));
  for (std::int64_t row = 0; row < n; ++row) {
    if (row + ahead < n) prefetch_row(a, signed_index(row + ahead, n));
    const std::int64_t ky = signed_index(row, n), n_in = row_extent(ky);
    std::complex<float>* line = out + row * n_cols;
    const double by0 = s * ky * a[3], by1 = s * ky * a[4], by2 = s * ky * a[5];
    for (std::int64_t kx = 0; kx < n_in; ++kx)
      line[kx] = sample(s * kx * a[0] + by0, s * kx * a[1] + by1, s * kx * a[2] + by2);
    std::fill(line + n_in, line + n_cols, std::complex<float>(0.0f, 0.0f));
  }
}

void FourierProjector::slice_at(const geometry::Mat3& a, const std::int32_t* kx,
                                const std::int32_t* ky, std::int64_t count,
                                std::complex<float>* out) const {
  const double s = scale_;
  for (std::int64_t j = 0; j < count; ++j) {
    const double x = s * kx[j], y = s * ky[j];
    out[j] = sample(x * a[0] + y * a[3], x * a[1] + y * a[4], x * a[2] + y * a[5]);
  }
}

void FourierProjector::project_into(const Particle& p, bool apply_ctf, Workspace& ws,
                                    float* out) const {
  const std::int64_t n = n_, n_cols = n / 2 + 1;
  auto* spectrum = reinterpret_cast<std::complex<float>*>(ws.spectrum.get());
  slice(geometry::to_matrix(p.orientation), spectrum);

  // Phase ramp placing the particle centre at t = n/2 − shift/p, and the normalisation:
  // (voxel/pixel)² for the sampling change, 1/n² for the unnormalised inverse DFT.
  const double voxel = pixel_size_ * scale_ * n_ / n_padded_;
  const double norm = std::pow(voxel / pixel_size_, 2) / double(n * n);
  const double tx = n / 2 - p.shift_x / pixel_size_, ty = n / 2 - p.shift_y / pixel_size_;
  for (std::int64_t kx = 0; kx < n_cols; ++kx)
    ws.phase_x[kx] = std::polar(norm, -2 * M_PI * kx * tx / n);
  for (std::int64_t row = 0; row < n; ++row)
    ws.phase_y[row] = std::polar(1.0, -2 * M_PI * signed_index(row, n) * ty / n);

  // Only the frequencies inside the circle |k| <= n/2 are non-zero (slice()).
  const bool with_ctf = apply_ctf && p.has_ctf;
  const Ctf ctf(p.ctf);
  const double df = 1.0 / (n * pixel_size_);
  for (std::int64_t row = 0; row < n; ++row) {
    std::complex<float>* line = spectrum + row * n_cols;
    const std::int64_t n_in = row_extent(signed_index(row, n));
    const std::complex<float> phase_y = ws.phase_y[row];
    if (with_ctf) {
      ctf.row(signed_index(row, n) * df, df, n_in, ws.ctf_row.data());
      for (std::int64_t kx = 0; kx < n_in; ++kx)
        line[kx] = line[kx] * ws.phase_x[kx] * phase_y * ws.ctf_row[kx];
    } else {
      for (std::int64_t kx = 0; kx < n_in; ++kx)
        line[kx] = line[kx] * ws.phase_x[kx] * phase_y;
    }
  }
  fftwf_execute_dft_c2r(static_cast<fftwf_plan>(inverse_plan_), ws.spectrum.get(), out);
}

void FourierProjector::project(const Particle& p, float* out, bool apply_ctf) const {
  Workspace ws(n_);
  project_into(p, apply_ctf, ws, ws.image.get());
  std::copy_n(ws.image.get(), n_ * n_, out);
}

ImageStack FourierProjector::project(const std::vector<Particle>& particles, bool apply_ctf,
                                     int n_threads) const {
  const std::int64_t n_images = static_cast<std::int64_t>(particles.size());
  ImageStack stack(n_images, n_, n_, pixel_size_);
  auto work = [&](std::int64_t begin, std::int64_t end) {
    Workspace ws(n_);
    for (std::int64_t i = begin; i < end; ++i) {
      project_into(particles[i], apply_ctf, ws, ws.image.get());
      std::copy_n(ws.image.get(), n_ * n_, stack.image(i));
    }
  };
  const int n_workers =
      static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(n_threads, n_images)));
  if (n_workers == 1) {
    work(0, n_images);
    return stack;
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < n_workers; ++t)
    threads.emplace_back(work, n_images * t / n_workers, n_images * (t + 1) / n_workers);
  for (auto& t : threads)
    t.join();
  return stack;
}

// --- real-space check ------------------------------------------------------------------------

namespace {
double trilinear(const Volume& m, double x, double y, double z) {
  const std::int64_t x0 = std::floor(x), y0 = std::floor(y), z0 = std::floor(z);
  const double fx = x - x0, fy = y - y0, fz = z - z0;
  double sum = 0;
  for (int dz = 0; dz < 2; ++dz)
    for (int dy = 0; dy < 2; ++dy)
      for (int dx = 0; dx < 2; ++dx) {
        const std::int64_t xi = x0 + dx, yi = y0 + dy, zi = z0 + dz;
        if (xi < 0 || yi < 0 || zi < 0 || xi >= m.nx || yi >= m.ny || zi >= m.nz) continue;
        const double w = (dx ? fx : 1 - fx) * (dy ? fy : 1 - fy) * (dz ? fz : 1 - fz);
        sum += w * m.at(xi, yi, zi);
      }
  return sum;
}
} // namespace

void project_real_space(const Volume& map, const geometry::Mat3& a, std::int64_t n,
                        double pixel_size, double step, float* out) {
  const double p = pixel_size > 0 ? pixel_size / map.voxel_size : 1.0;
  const double half =
      0.5 * std::sqrt(double(map.nx * map.nx + map.ny * map.ny + map.nz * map.nz)) + 2.0;
  const std::int64_t n_steps = static_cast<std::int64_t>(std::ceil(half / step));
  const double cx = map.nx / 2, cy = map.ny / 2, cz = map.nz / 2;
  for (std::int64_t py = 0; py < n; ++py)
    for (std::int64_t px = 0; px < n; ++px) {
      const double rx = (px - n / 2) * p, ry = (py - n / 2) * p;
      double sum = 0;
      for (std::int64_t k = -n_steps; k <= n_steps; ++k) {
        const double z = k * step;
        // Aᵀ (rx, ry, z): column j of Aᵀ is row j of A.
        sum +=
            trilinear(map, cx + a[0] * rx + a[3] * ry + a[6] * z,
                      cy + a[1] * rx + a[4] * ry + a[7] * z, cz + a[2] * rx + a[5] * ry + a[8] * z);
      }
      out[py * n + px] = static_cast<float>(sum * step);
    }
}

double correlation(const float* a, const float* b, std::int64_t n) {
  double ma = 0, mb = 0;
  for (std::int64_t i = 0; i < n; ++i)
    ma += a[i], mb += b[i];
  ma /= n, mb /= n;
  double sab = 0, saa = 0, sbb = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double da = a[i] - ma, db = b[i] - mb;
    sab += da * db, saa += da * da, sbb += db * db;
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0.0;
}

} // namespace pairpose::simulate
