#include "pairpose/pairs/aligned.hpp"

#include <algorithm>
#include <cmath>
#include <fftw3.h>

#include "pairpose/core/error.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/core/partition.hpp"
#include "pairpose/simulate/ctf.hpp"

namespace pairpose::pairs {

namespace {

using cfloat = std::complex<float>;

void check_options(const AlignedOptions& opt) {
  PAIRPOSE_CHECK(opt.pixel_size > 0 && std::isfinite(opt.pixel_size),
                 "aligned pairs: pixel size must be > 0, got " << opt.pixel_size);
  PAIRPOSE_CHECK(opt.resolution >= 0 && std::isfinite(opt.resolution),
                 "aligned pairs: resolution must be ≥ 0 Å, got " << opt.resolution);
  PAIRPOSE_CHECK(opt.n_angles >= 8 && opt.n_angles % 2 == 0,
                 "aligned pairs: n_angles must be even and ≥ 8, got " << opt.n_angles);
  PAIRPOSE_CHECK(opt.n_radii >= 2, "aligned pairs: n_radii must be ≥ 2, got " << opt.n_radii);
  PAIRPOSE_CHECK(opt.max_radius > 0 && opt.max_radius <= 0.5,
                 "aligned pairs: max_radius must lie in (0, 0.5], got " << opt.max_radius);
  PAIRPOSE_CHECK(opt.neighbours >= 1, "aligned pairs: neighbours must be ≥ 1");
  PAIRPOSE_CHECK(opt.min_shared >= 0, "aligned pairs: min_shared must be ≥ 0");
  PAIRPOSE_CHECK(opt.tilt >= 0 && opt.tilt <= M_PI,
                 "aligned pairs: tilt must lie in [0, π], got " << opt.tilt);
}

/// Correlation of two feature rows over every in-plane rotation (one inverse real FFT).
class RotationalCorrelator {
public:
  explicit RotationalCorrelator(const PolarFeatures& f, int n_angles)
      : f_(f), n_angles_(n_angles), spectrum_(f.n_coefficients), values_(n_angles) {
    PAIRPOSE_CHECK(f.n_coefficients == n_angles / 2 + 1, "aligned pairs: features of "
                                                             << f.n_coefficients
                                                             << " angular coefficients, expected "
                                                             << n_angles / 2 + 1);
    plan_ = fftw_plan_dft_c2r_1d(n_angles, reinterpret_cast<fftw_complex*>(spectrum_.data()),
                                 values_.data(), FFTW_ESTIMATE);
  }
  ~RotationalCorrelator() { fftw_destroy_plan(plan_); }
  RotationalCorrelator(const RotationalCorrelator&) = delete;
  RotationalCorrelator& operator=(const RotationalCorrelator&) = delete;

  /// cc(m) = Σ over rings and angles of P_a(r, θ)·P_b(r, θ − 2πm/n_angles), m = 0 … n−1.
  const std::vector<double>& operator()(std::int64_t a, std::int64_t b) {
    const int k_max = f_.n_coefficients;
    std::fill(spectrum_.begin(), spectrum_.end(), std::complex<double>(0, 0));
    const float* pa = reinterpret_cast<const float*>(f_.image(a));
    const float* pb = reinterpret_cast<const float*>(f_.image(b));
    for (int r = 0; r < f_.n_radii; ++r) {
      const float* ra = pa + 2 * std::int64_t(r) * k_max;
      const float* rb = pb + 2 * std::int64_t(r) * k_max;
      for (int k = 0; k < k_max; ++k) {
        const float ar = ra[2 * k], ai = ra[2 * k + 1], br = rb[2 * k], bi = rb[2 * k + 1];
        // a · conj(b)
        spectrum_[k] += std::complex<double>(ar * br + ai * bi, ai * br - ar * bi);
      }
    }
    // The real transform of n samples has n/2 + 1 coefficients, of which 1 … n/2 − 1 stand
    // for two (k and n − k): the inverse transform sums them once, so the middle ones carry a
    // factor 2 in Parseval. FFTW's c2r applies exactly that; dividing by n gives Σ P_a·P_b.
    fftw_execute(plan_);
    for (double& v : values_)
      v /= n_angles_;
    return values_;
  }

private:
  const PolarFeatures& f_;
  int n_angles_;
  std::vector<std::complex<double>> spectrum_;
  std::vector<double> values_;
  fftw_plan plan_;
};

AlignmentPeak peak_of(const std::vector<double>& cc) {
  const int n = static_cast<int>(cc.size());
  const int m = static_cast<int>(std::max_element(cc.begin(), cc.end()) - cc.begin());
  const double y0 = cc[m], ym = cc[(m + n - 1) % n], yp = cc[(m + 1) % n];
  const double curvature = ym - 2 * y0 + yp;
  double delta = curvature < 0 ? 0.5 * (ym - yp) / curvature : 0.0;
  delta = std::clamp(delta, -0.5, 0.5);
  double angle = (m + delta) * 2 * M_PI / n;
  angle = std::remainder(angle, 2 * M_PI);
  if (angle <= -M_PI) angle += 2 * M_PI;
  return {y0, angle};
}

} // namespace

PolarFeatures polar_features(const ImageStack& images, const std::vector<Particle>& particles,
                             const AlignedOptions& opt) {
  check_options(opt);
  PAIRPOSE_CHECK(images.nx == images.ny && images.nx >= 8,
                 "aligned pairs: images must be square and ≥ 8 px, got " << images.nx << " × "
                                                                         << images.ny);
  PAIRPOSE_CHECK(static_cast<std::int64_t>(particles.size()) == images.n,
                 "aligned pairs: " << particles.size() << " particles for " << images.n
                                   << " images");
  const std::int64_t n = images.nx, half = n / 2 + 1;
  const int n_angles = opt.n_angles, n_coef = opt.n_angles / 2 + 1;
  PolarFeatures out;
  out.n = images.n;
  out.n_radii = opt.n_radii;
  out.n_coefficients = n_coef;
  out.values.assign(static_cast<std::size_t>(out.n * out.stride()), cfloat(0, 0));

  std::vector<double> pixels(static_cast<std::size_t>(n * n));
  std::vector<std::complex<double>> spectrum(static_cast<std::size_t>(n * half));
  fftw_plan forward =
      fftw_plan_dft_r2c_2d(int(n), int(n), pixels.data(),
                           reinterpret_cast<fftw_complex*>(spectrum.data()), FFTW_ESTIMATE);
  fftw_plan backward =
      fftw_plan_dft_c2r_2d(int(n), int(n), reinterpret_cast<fftw_complex*>(spectrum.data()),
                           pixels.data(), FFTW_ESTIMATE);
  std::vector<double> ring(static_cast<std::size_t>(n_angles));
  std::vector<std::complex<double>> ring_coef(static_cast<std::size_t>(n_coef));
  fftw_plan angular = fftw_plan_dft_r2c_1d(
      n_angles, ring.data(), reinterpret_cast<fftw_complex*>(ring_coef.data()), FFTW_ESTIMATE);

  // The low-pass, the same for every image.
  std::vector<double> lowpass(static_cast<std::size_t>(n * half));
  const double to_freq = 1.0 / (double(n) * opt.pixel_size);
  for (std::int64_t row = 0; row < n; ++row)
    for (std::int64_t col = 0; col < half; ++col) {
      const double fy = (row < half ? row : row - n) * to_freq, fx = col * to_freq;
      const double s2 = (fx * fx + fy * fy) * opt.resolution * opt.resolution;
      lowpass[row * half + col] = std::exp(-0.5 * s2);
    }
  const double outer = opt.max_radius * double(n);
  std::vector<double> samples(static_cast<std::size_t>(opt.n_radii) * n_angles);

  for (std::int64_t k = 0; k < images.n; ++k) {
    const float* image = images.image(k);
    for (std::int64_t p = 0; p < n * n; ++p) {
      PAIRPOSE_CHECK(std::isfinite(image[p]),
                     "aligned pairs: image " << k << " has a non-finite pixel (" << p << ")");
      pixels[p] = image[p];
    }
    fftw_execute(forward);
    const Particle& particle = particles[k];
    const bool flip = opt.ctf_flip && particle.has_ctf;
    const std::vector<float> ctf =
        flip ? simulate::ctf_half_plane(particle.ctf, n, opt.pixel_size) : std::vector<float>();
    for (std::int64_t e = 0; e < n * half; ++e)
      spectrum[e] *= lowpass[e] * (flip && ctf[e] < 0 ? -1.0 : 1.0);
    fftw_execute(backward);

    // Polar samples about the centre (n/2, n/2), bilinear.
    double mean = 0;
    for (int r = 0; r < opt.n_radii; ++r) {
      const double radius = 1.0 + r * (outer - 1.0) / (opt.n_radii - 1);
      for (int a = 0; a < n_angles; ++a) {
        const double t = 2 * M_PI * a / n_angles;
        const double x = double(n / 2) + radius * std::cos(t);
        const double y = double(n / 2) + radius * std::sin(t);
        const auto x0 = static_cast<std::int64_t>(std::floor(x));
        const auto y0 = static_cast<std::int64_t>(std::floor(y));
        const double u = x - double(x0), v = y - double(y0);
        auto at = [&](std::int64_t yy, std::int64_t xx) {
          return (xx < 0 || yy < 0 || xx >= n || yy >= n) ? 0.0 : pixels[yy * n + xx];
        };
        const double value = (1 - u) * (1 - v) * at(y0, x0) + u * (1 - v) * at(y0, x0 + 1) +
                             (1 - u) * v * at(y0 + 1, x0) + u * v * at(y0 + 1, x0 + 1);
        samples[std::size_t(r) * n_angles + a] = value;
        mean += value;
      }
    }
    mean /= double(samples.size());
    double norm = 0;
    for (int r = 0; r < opt.n_radii; ++r) {
      const double radius = 1.0 + r * (outer - 1.0) / (opt.n_radii - 1);
      for (int a = 0; a < n_angles; ++a) {
        double& s = samples[std::size_t(r) * n_angles + a];
        s = (s - mean) * std::sqrt(radius);
        norm += s * s;
      }
    }
    PAIRPOSE_CHECK(norm > 0 && std::isfinite(norm),
                   "aligned pairs: image " << k << " is constant after filtering");
    const double scale = 1.0 / std::sqrt(norm);
    cfloat* dest = out.values.data() + k * out.stride();
    for (int r = 0; r < opt.n_radii; ++r) {
      for (int a = 0; a < n_angles; ++a)
        ring[a] = samples[std::size_t(r) * n_angles + a] * scale;
      fftw_execute(angular);
      for (int c = 0; c < n_coef; ++c)
        dest[std::int64_t(r) * n_coef + c] = cfloat(ring_coef[c]);
    }
  }
  fftw_destroy_plan(forward);
  fftw_destroy_plan(backward);
  fftw_destroy_plan(angular);
  return out;
}

AlignmentPeak align(const PolarFeatures& f, std::int64_t a, std::int64_t b, int n_angles) {
  PAIRPOSE_CHECK(a >= 0 && a < f.n && b >= 0 && b < f.n,
                 "aligned pairs: images " << a << ", " << b << " outside [0, " << f.n << ")");
  RotationalCorrelator correlate(f, n_angles);
  return peak_of(correlate(a, b));
}

PairSet aligned_pairs(const PolarFeatures& all, const Block& rows, const AlignedOptions& opt,
                      MPI_Comm comm) {
  check_options(opt);
  const std::int64_t n = all.n;
  PAIRPOSE_CHECK(n >= 2, "aligned pairs: needs at least 2 images, got " << n);
  PAIRPOSE_CHECK(rows == split_block(n, comm),
                 "aligned pairs: the rows are not this rank's block of " << n);
  const std::int64_t k = std::min<std::int64_t>(opt.neighbours, n - 1);
  RotationalCorrelator correlate(all, opt.n_angles);

  // 1. Each row's k best-correlated images (ties broken by index), sorted by index.
  std::vector<std::int64_t> mine(static_cast<std::size_t>(rows.size() * k));
  std::vector<std::pair<double, std::int64_t>> scores(static_cast<std::size_t>(n - 1));
  for (std::int64_t i = rows.begin; i < rows.end; ++i) {
    std::size_t c = 0;
    for (std::int64_t j = 0; j < n; ++j)
      if (j != i) {
        const auto& cc = correlate(i, j);
        scores[c++] = {-*std::max_element(cc.begin(), cc.end()), j};
      }
    std::partial_sort(scores.begin(), scores.begin() + k, scores.end());
    std::int64_t* dest = mine.data() + (i - rows.begin) * k;
    for (std::int64_t c2 = 0; c2 < k; ++c2)
      dest[c2] = scores[c2].second;
    std::sort(dest, dest + k);
  }

  // 2. Every row's list on every rank.
  std::vector<std::int64_t> lists(static_cast<std::size_t>(n * k));
  mpi::allgather_blocks(mine.data(), n, k, lists.data(), comm, "aligned pairs: neighbour lists");

  // 3. Symmetrised neighbour sets: j ∈ S(i) when i lists j or j lists i.
  std::vector<std::vector<std::int64_t>> sym(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t c = 0; c < k; ++c) {
      const std::int64_t j = lists[i * k + c];
      sym[i].push_back(j);
      sym[j].push_back(i);
    }
  for (auto& s : sym) {
    std::sort(s.begin(), s.end());
    s.erase(std::unique(s.begin(), s.end()), s.end());
  }

  // 4. Pairs (i < j) of this rank's rows that share enough neighbours.
  PairSet out;
  out.n_particles = n;
  out.rows = rows;
  std::vector<std::int64_t> shared;
  const double cos_half_tilt = std::cos(0.5 * opt.tilt);
  for (std::int64_t i = rows.begin; i < rows.end; ++i)
    for (const std::int64_t j : sym[i]) {
      if (j <= i) continue;
      shared.clear();
      std::set_intersection(sym[i].begin(), sym[i].end(), sym[j].begin(), sym[j].end(),
                            std::back_inserter(shared));
      if (static_cast<std::int64_t>(shared.size()) < opt.min_shared) continue;
      const AlignmentPeak peak = peak_of(correlate(i, j));
      const double c = std::clamp(cos_half_tilt * std::abs(std::cos(0.5 * peak.angle)), 0.0, 1.0);
      out.i.push_back(i);
      out.j.push_back(j);
      out.distance.push_back(2 * std::acos(c));
      out.weight.push_back(1.0);
      out.inplane.push_back(peak.angle);
    }
  return out;
}

} // namespace pairpose::pairs
