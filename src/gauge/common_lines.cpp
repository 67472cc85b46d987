#include "pairpose/gauge/common_lines.hpp"

#include <algorithm>
#include <cmath>
#include <fftw3.h>
#include <limits>

#include "pairpose/core/error.hpp"
#include "pairpose/simulate/ctf.hpp"

namespace pairpose::gauge {

using geometry::Mat3;
using geometry::Quat;
using cfloat = std::complex<float>;

CtfMode parse_ctf_mode(const std::string& text) {
  if (text == "none") return CtfMode::none;
  if (text == "flip") return CtfMode::flip;
  if (text == "multiply") return CtfMode::multiply;
  PAIRPOSE_FAIL("gauge: ctf mode: expected \"none\", \"flip\" or \"multiply\", got \"" << text
                                                                                       << "\"");
}

PolarTransforms::PolarTransforms(const PolarOptions& o) : options_(o) {
  PAIRPOSE_CHECK(o.image_size >= 4, "gauge: image size " << o.image_size << " is below 4 pixels");
  PAIRPOSE_CHECK(o.pixel_size > 0, "gauge: pixel size must be > 0, got " << o.pixel_size);
  PAIRPOSE_CHECK(o.n_angles >= 8 && o.n_angles % 2 == 0,
                 "gauge: n_angles must be even and ≥ 8, got " << o.n_angles);
  PAIRPOSE_CHECK(o.radial_step > 0 && o.r_min > 0, "gauge: r_min and radial_step must be > 0, got "
                                                       << o.r_min << ", " << o.radial_step);
  const double r_max =
      std::min(double(o.image_size) * o.pixel_size / o.resolution, double(o.image_size / 2) - 1.0);
  PAIRPOSE_CHECK(r_max >= o.r_min, "gauge: resolution " << o.resolution << " Å keeps no radius "
                                                        << "above r_min = " << o.r_min
                                                        << " (images of " << o.image_size << " px, "
                                                        << o.pixel_size << " Å/px)");
  n_radii_ = static_cast<int>(std::floor((r_max - o.r_min) / o.radial_step)) + 1;
}

void PolarTransforms::resize(std::int64_t n_images) {
  n_images_ = n_images;
  data_.assign(static_cast<size_t>(n_images * image_stride()), cfloat(0, 0));
}

namespace {

/// The r2c transform of an m × m real array, with Hermitian symmetry for negative kx.
struct Spectrum {
  std::int64_t m;
  std::vector<std::complex<double>> values; // m rows × (m/2 + 1)
  std::complex<double> at(std::int64_t kx, std::int64_t ky) const {
    const std::int64_t w = m / 2 + 1;
    if (kx < 0) return std::conj(at(-kx, -ky));
    const std::int64_t row = ((ky % m) + m) % m;
    return kx < w ? values[static_cast<size_t>(row * w + kx)] : std::complex<double>(0, 0);
  }
  std::complex<double> bilinear(double fx, double fy) const {
    const double x0 = std::floor(fx), y0 = std::floor(fy);
    const double u = fx - x0, v = fy - y0;
    const auto ix = static_cast<std::int64_t>(x0), iy = static_cast<std::int64_t>(y0);
    return (1 - u) * (1 - v) * at(ix, iy) + u * (1 - v) * at(ix + 1, iy) +
           (1 - u) * v * at(ix, iy + 1) + u * v * at(ix + 1, iy + 1);
  }
};

/// Mean-free image, zero-padded ×2 with its centre (n/2, n/2) moved to the origin, transformed.
Spectrum padded_spectrum(const float* image, std::int64_t n) {
  const std::int64_t m = 2 * n;
  double mean = 0;
  for (std::int64_t i = 0; i < n * n; ++i)
    mean += image[i];
  mean /= double(n * n);
  std::vector<double> padded(static_cast<size_t>(m * m), 0.0);
  for (std::int64_t y = 0; y < n; ++y)
    for (std::int64_t x = 0; x < n; ++x)
      padded[((y - n / 2 + m) % m) * m + (x - n / 2 + m) % m] = image[y * n + x] - mean;
  Spectrum s{m, std::vector<std::complex<double>>(static_cast<size_t>(m * (m / 2 + 1)))};
  fftw_plan plan =
      fftw_plan_dft_r2c_2d(static_cast<int>(m), static_cast<int>(m), padded.data(),
                           reinterpret_cast<fftw_complex*>(s.values.data()), FFTW_ESTIMATE);
  fftw_execute(plan);
  fftw_destroy_plan(plan);
  return s;
}

} // namespace

void PolarTransforms::compute(std::int64_t slot, const float* image, const Particle& particle) {
  PAIRPOSE_CHECK(slot >= 0 && slot < n_images_,
                 "gauge: polar slot " << slot << " outside [0, " << n_images_ << ")");
  const std::int64_t n = options_.image_size;
  const Spectrum s = padded_spectrum(image, n);
  const bool use_ctf = particle.has_ctf && options_.ctf != CtfMode::none;
  const simulate::Ctf ctf(particle.ctf);
  const int n_half = options_.n_angles / 2;
  cfloat* out = data_.data() + slot * image_stride();
  const double to_freq = 1.0 / (double(n) * options_.pixel_size); // 1/Å per Fourier pixel
  for (int t = 0; t < n_half; ++t) {
    const double theta = 2 * M_PI * t / options_.n_angles;
    const double c = std::cos(theta), sn = std::sin(theta);
    for (int k = 0; k < n_radii_; ++k) {
      const double r = options_.r_min + k * options_.radial_step;
      std::complex<double> value = s.bilinear(2 * r * c, 2 * r * sn);
      if (use_ctf) {
        const double h = ctf(r * c * to_freq, r * sn * to_freq);
        value *= options_.ctf == CtfMode::flip ? (h < 0 ? -1.0 : 1.0) : h;
      }
      out[t * n_radii_ + k] =
          cfloat(static_cast<float>(value.real()), static_cast<float>(value.imag()));
    }
  }
  if (!options_.whiten) return;
  for (int k = 0; k < n_radii_; ++k) {
    double power = 0;
    for (int t = 0; t < n_half; ++t)
      power += std::norm(out[t * n_radii_ + k]);
    const double rms = std::sqrt(power / n_half);
    if (rms > 0)
      for (int t = 0; t < n_half; ++t)
        out[t * n_radii_ + k] /= static_cast<float>(rms);
  }
}

void PolarTransforms::line(std::int64_t slot, double theta, cfloat* out) const {
  const int n_a = options_.n_angles, n_half = n_a / 2;
  double t = std::fmod(theta / (2 * M_PI) * n_a, double(n_a));
  if (t < 0) t += n_a;
  int t0 = static_cast<int>(t);
  const float f = static_cast<float>(t - t0);
  t0 %= n_a;
  const int t1 = (t0 + 1) % n_a;
  const cfloat* base = data_.data() + slot * image_stride();
  const cfloat* row0 = base + (t0 % n_half) * n_radii_;
  const cfloat* row1 = base + (t1 % n_half) * n_radii_;
  const bool conj0 = t0 >= n_half, conj1 = t1 >= n_half;
  for (int k = 0; k < n_radii_; ++k) {
    const cfloat v0 = conj0 ? std::conj(row0[k]) : row0[k];
    const cfloat v1 = conj1 ? std::conj(row1[k]) : row1[k];
    out[k] = (1 - f) * v0 + f * v1;
  }
}

Quat apply_gauge(const Quat& c, bool transposed, const Quat& q_hat) {
  const Quat q = transposed ? geometry::conjugate(q_hat) : q_hat;
  return geometry::canonical(geometry::normalized(geometry::multiply(c, q)));
}

CommonLineScore::CommonLineScore(const PolarTransforms& polar, std::vector<Quat> orientations,
                                 std::vector<std::pair<std::int64_t, std::int64_t>> pairs,
                                 double min_view_angle_deg)
    : polar_(polar), pairs_(std::move(pairs)),
      min_sin_(std::sin(min_view_angle_deg * M_PI / 180.0)) {
  PAIRPOSE_CHECK(std::int64_t(orientations.size()) == polar.n_images(),
                 "gauge: " << orientations.size() << " orientations for " << polar.n_images()
                           << " polar transforms");
  for (const auto& q : orientations) {
    a_.push_back(geometry::to_matrix(geometry::normalized(q)));
    at_.push_back(geometry::transpose(a_.back()));
  }
  for (const auto& [a, b] : pairs_)
    PAIRPOSE_CHECK(a >= 0 && b >= 0 && a < polar.n_images() && b < polar.n_images() && a != b,
                   "gauge: pair (" << a << ", " << b << ") is not two distinct slots of "
                                   << polar.n_images());
}

namespace {

geometry::Vec3 cross(const geometry::Vec3& a, const geometry::Vec3& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}

double row_dot(const Mat3& m, int row, const geometry::Vec3& v) {
  return m[3 * row] * v[0] + m[3 * row + 1] * v[1] + m[3 * row + 2] * v[2];
}

} // namespace

double CommonLineScore::pair_score(std::size_t e, const Mat3& c, bool transposed) const {
  const auto [a, b] = pairs_[e];
  const auto& ma = transposed ? at_[a] : a_[a];
  const auto& mb = transposed ? at_[b] : a_[b];
  const Mat3 ra = geometry::multiply(c, ma), rb = geometry::multiply(c, mb);
  geometry::Vec3 v = cross({ra[6], ra[7], ra[8]}, {rb[6], rb[7], rb[8]});
  const double s = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
  if (s < min_sin_) return std::numeric_limits<double>::quiet_NaN();
  for (auto& x : v)
    x /= s;
  const double theta_a = std::atan2(row_dot(ra, 1, v), row_dot(ra, 0, v));
  const double theta_b = std::atan2(row_dot(rb, 1, v), row_dot(rb, 0, v));
  const int n_r = polar_.n_radii();
  cfloat la[512], lb[512];
  std::vector<cfloat> big_a, big_b;
  cfloat *pa = la, *pb = lb;
  if (n_r > 512) {
    big_a.resize(n_r), big_b.resize(n_r);
    pa = big_a.data(), pb = big_b.data();
  }
  polar_.line(a, theta_a, pa);
  polar_.line(b, theta_b, pb);
  double cross_sum = 0, norm_a = 0, norm_b = 0;
  for (int k = 0; k < n_r; ++k) {
    cross_sum += double(pa[k].real()) * pb[k].real() + double(pa[k].imag()) * pb[k].imag();
    norm_a += std::norm(pa[k]);
    norm_b += std::norm(pb[k]);
  }
  if (norm_a <= 0 || norm_b <= 0) return std::numeric_limits<double>::quiet_NaN();
  return cross_sum / std::sqrt(norm_a * norm_b);
}

double CommonLineScore::score(const Mat3& c, bool transposed, std::size_t n_use) const {
  double sum = 0;
  std::int64_t n_used = 0;
  for (std::size_t e = 0; e < std::min(n_use, pairs_.size()); ++e) {
    const double s = pair_score(e, c, transposed);
    if (std::isnan(s)) continue;
    sum += s;
    ++n_used;
  }
  return n_used > 0 ? sum / double(n_used) : -2.0;
}

} // namespace pairpose::gauge
