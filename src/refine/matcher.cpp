#include "pairpose/refine/matcher.hpp"

#include <algorithm>
#include <cmath>
#include <fftw3.h>

#include "pairpose/core/error.hpp"
#include "pairpose/simulate/ctf.hpp"

namespace pairpose::refine {

using geometry::Mat3;
using geometry::Vec3;

Mat3 rotation_exp(const Vec3& w) {
  const double angle = std::sqrt(w[0] * w[0] + w[1] * w[1] + w[2] * w[2]);
  if (angle == 0) return geometry::identity3();
  const double x = w[0] / angle, y = w[1] / angle, z = w[2] / angle;
  const double c = std::cos(angle), s = std::sin(angle), t = 1 - c;
  return {t * x * x + c,     t * x * y - s * z, t * x * z + s * y, t * x * y + s * z, t * y * y + c,
          t * y * z - s * x, t * x * z - s * y, t * y * z + s * x, t * z * z + c};
}

Matcher::Matcher(std::int64_t n, double pixel_size, const MatchOptions& o)
    : n_(n), pixel_size_(pixel_size), options_(o) {
  PAIRPOSE_CHECK(n >= 4 && n % 2 == 0, "refine: image size " << n << ", expected even and >= 4");
  PAIRPOSE_CHECK(pixel_size > 0, "refine: pixel size " << pixel_size << ", expected > 0");
  PAIRPOSE_CHECK(o.k_min >= 0 && o.k_max > o.k_min && o.k_max <= n / 2,
                 "refine: frequency band [" << o.k_min << ", " << o.k_max
                                            << "], expected 0 <= k_min < k_max <= " << n / 2);
  PAIRPOSE_CHECK(o.step_deg > 0 && o.min_step_deg > 0 && o.max_moves >= 1,
                 "refine: search steps " << o.step_deg << "° / " << o.min_step_deg << "° and moves "
                                         << o.max_moves << ", expected positive");
  const std::int64_t n_cols = n / 2 + 1;
  for (std::int64_t row = 0; row < n; ++row) {
    const std::int64_t ky = row <= n / 2 ? row : row - n;
    for (std::int64_t kx = 0; kx < n_cols; ++kx) {
      const double r = std::sqrt(double(kx * kx + ky * ky));
      // Column kx = 0 holds ky and −ky as conjugates: keep one of each pair.
      if (r < o.k_min || r > o.k_max || (kx == 0 && ky < 0)) continue;
      const auto shell = static_cast<std::size_t>(std::lround(r));
      const double f = shell < o.shell_filter.size() ? o.shell_filter[shell]
                       : o.shell_filter.empty()      ? 1.0
                                                     : o.shell_filter.back();
      filter_.push_back(static_cast<float>(std::clamp(f, 0.0, 1.0)));
      kx_.push_back(static_cast<std::int32_t>(kx));
      ky_.push_back(static_cast<std::int32_t>(ky));
      offset_.push_back(row * n_cols + kx);
    }
  }
  PAIRPOSE_CHECK(!kx_.empty(),
                 "refine: no frequency in the band [" << o.k_min << ", " << o.k_max << "]");
  target_.resize(kx_.size());
  ctf2_.resize(kx_.size());
  slice_.resize(kx_.size());
  real_.resize(static_cast<size_t>(n * n));
  spectrum_.resize(static_cast<size_t>(n * n_cols));
  plan_ = fftwf_plan_dft_r2c_2d(static_cast<int>(n), static_cast<int>(n), real_.data(),
                                reinterpret_cast<fftwf_complex*>(spectrum_.data()), FFTW_ESTIMATE);
  PAIRPOSE_CHECK(plan_, "refine: FFTW could not plan a " << n << " x " << n << " transform");
}

Matcher::~Matcher() {
  if (plan_) fftwf_destroy_plan(static_cast<fftwf_plan>(plan_));
}

double Matcher::score(const simulate::FourierProjector& reference, const Mat3& a) {
  const std::int64_t m = band_size();
  reference.slice_at(a, kx_.data(), ky_.data(), m, slice_.data());
  double cross = 0, power = 0;
  for (std::int64_t j = 0; j < m; ++j) {
    const std::complex<float> s = slice_[j], t = target_[j];
    cross += double(t.real() * s.real() - t.imag() * s.imag());
    power += double(ctf2_[j] * (s.real() * s.real() + s.imag() * s.imag()));
  }
  return power > 0 ? cross / std::sqrt(power) : 0.0;
}

MatchResult Matcher::match(const simulate::FourierProjector& reference, const float* image,
                           const Particle& particle) {
  PAIRPOSE_CHECK(reference.image_size() == n_ &&
                     std::abs(reference.pixel_size() - pixel_size_) <= 1e-6 * pixel_size_,
                 "refine: reference projects " << reference.image_size() << " px images at "
                                               << reference.pixel_size() << " Å, the images are "
                                               << n_ << " px at " << pixel_size_ << " Å");
  const std::int64_t n = n_;
  // X = DFT(image) with the centre n/2 as the phase origin (the factor (−1)^(kx+ky)) and the
  // particle's shift undone; then conj(X) · c, the target of the correlation.
  std::copy_n(image, n * n, real_.data());
  fftwf_execute(static_cast<fftwf_plan>(plan_));
  const bool with_ctf = options_.apply_ctf && particle.has_ctf;
  const simulate::Ctf ctf(particle.ctf);
  const double df = 1.0 / (n * pixel_size_);
  const double tx = particle.shift_x / pixel_size_, ty = particle.shift_y / pixel_size_;
  for (std::size_t j = 0; j < kx_.size(); ++j) {
    const double c = (with_ctf ? ctf(kx_[j] * df, ky_[j] * df) : 1.0) * filter_[j];
    const std::complex<double> ramp = std::polar(1.0, -2 * M_PI * (kx_[j] * tx + ky_[j] * ty) / n);
    const double sign = ((kx_[j] + ky_[j]) & 1) ? -1.0 : 1.0;
    const std::complex<double> x = std::complex<double>(spectrum_[offset_[j]]) * ramp * sign;
    target_[j] = std::complex<float>(std::conj(x) * c);
    ctf2_[j] = static_cast<float>(c * c);
  }

  MatchResult r;
  Mat3 best = geometry::to_matrix(particle.orientation);
  r.start_score = r.score = score(reference, best);
  r.n_scored = 1;
  const double degree = M_PI / 180;
  for (double step = options_.step_deg; step >= options_.min_step_deg * (1 - 1e-9); step /= 2) {
    for (int move = 0; move < options_.max_moves; ++move) {
      Mat3 next = best;
      double next_score = r.score;
      for (int i = -1; i <= 1; ++i)
        for (int j = -1; j <= 1; ++j)
          for (int k = -1; k <= 1; ++k) {
            if (i == 0 && j == 0 && k == 0) continue;
            const Mat3 a = geometry::multiply(
                rotation_exp({i * step * degree, j * step * degree, k * step * degree}), best);
            const double s = score(reference, a);
            ++r.n_scored;
            if (s > next_score) {
              next_score = s;
              next = a;
            }
          }
      if (next_score <= r.score) break;
      best = next;
      r.score = next_score;
    }
  }
  r.orientation = geometry::to_quaternion(best);
  return r;
}

} // namespace pairpose::refine
