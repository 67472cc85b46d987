#include "pairpose/pairs/distance_model.hpp"

#include <algorithm>
#include <cmath>

#include "pairpose/core/error.hpp"
#include "pairpose/core/random.hpp"

namespace pairpose::pairs {

DistanceSource parse_distance_source(const std::string& text) {
  if (text == "exact") return DistanceSource::exact;
  if (text == "exact+noise") return DistanceSource::exact_noise;
  if (text == "euclidean") return DistanceSource::euclidean;
  if (text == "embedding") return DistanceSource::embedding;
  PAIRPOSE_FAIL("unknown distance source '" << text
                                            << "' (expected exact, exact+noise, euclidean or "
                                               "embedding)");
}

std::string to_string(DistanceSource source) {
  switch (source) {
  case DistanceSource::exact: return "exact";
  case DistanceSource::exact_noise: return "exact+noise";
  case DistanceSource::euclidean: return "euclidean";
  case DistanceSource::embedding: return "embedding";
  }
  return "?";
}

namespace {

/// The stable asin form of d_q for unit quaternions (method.md §3).
double quat_distance(const geometry::Quat& a, const geometry::Quat& b) {
  const double s = a.w * b.w + a.x * b.x + a.y * b.y + a.z * b.z < 0 ? -1.0 : 1.0;
  const double dw = a.w - s * b.w, dx = a.x - s * b.x, dy = a.y - s * b.y, dz = a.z - s * b.z;
  const double r = std::sqrt(dw * dw + dx * dx + dy * dy + dz * dz);
  return 4 * std::asin(std::min(r / 2, 1.0));
}

double clip_angle(double d) { return std::min(std::max(d, 0.0), M_PI); }

} // namespace

DistanceModel DistanceModel::exact(std::vector<geometry::Quat> truth) {
  DistanceModel m;
  m.source_ = DistanceSource::exact;
  m.n_ = static_cast<std::int64_t>(truth.size());
  for (std::int64_t a = 0; a < m.n_; ++a) {
    const auto& q = truth[a];
    const double nrm = std::sqrt(q.w * q.w + q.x * q.x + q.y * q.y + q.z * q.z);
    PAIRPOSE_CHECK(std::isfinite(nrm) && std::abs(nrm - 1) < 1e-6,
                   "true orientation of particle " << a << " is not a unit quaternion (norm " << nrm
                                                   << ")");
  }
  m.truth_ = std::move(truth);
  return m;
}

DistanceModel DistanceModel::exact_noise(std::vector<geometry::Quat> truth, double sigma,
                                         std::uint64_t seed) {
  PAIRPOSE_CHECK(sigma >= 0 && std::isfinite(sigma),
                 "exact+noise: noise sigma must be ≥ 0, got " << sigma);
  DistanceModel m = exact(std::move(truth));
  m.source_ = DistanceSource::exact_noise;
  m.sigma_ = sigma;
  m.seed_ = seed;
  return m;
}

DistanceModel DistanceModel::embedding(std::int64_t n, std::int64_t dim,
                                       std::vector<double> vectors) {
  PAIRPOSE_CHECK(dim > 0 && static_cast<std::int64_t>(vectors.size()) == n * dim,
                 "embedding: expected " << n << " × " << dim << " values, got " << vectors.size());
  for (std::int64_t a = 0; a < n; ++a) {
    double* f = vectors.data() + a * dim;
    double s = 0;
    for (std::int64_t k = 0; k < dim; ++k)
      s += f[k] * f[k];
    PAIRPOSE_CHECK(std::isfinite(s) && s > 0,
                   "embedding/vectors row " << a << " is zero or not finite");
    const double inv = 1 / std::sqrt(s);
    for (std::int64_t k = 0; k < dim; ++k)
      f[k] *= inv;
  }
  DistanceModel m;
  m.source_ = DistanceSource::embedding;
  m.n_ = n;
  m.dim_ = dim;
  m.vectors_ = std::move(vectors);
  return m;
}

DistanceModel DistanceModel::euclidean(std::int64_t n, std::int64_t n_pixels,
                                       std::vector<float> pixels) {
  PAIRPOSE_CHECK(n_pixels > 0 && static_cast<std::int64_t>(pixels.size()) == n * n_pixels,
                 "euclidean: expected " << n << " images of " << n_pixels << " pixels, got "
                                        << pixels.size() << " values");
  DistanceModel m;
  m.source_ = DistanceSource::euclidean;
  m.n_ = n;
  m.dim_ = n_pixels;
  m.pixels_ = std::move(pixels);
  return m;
}

double DistanceModel::raw(std::int64_t a, std::int64_t b) const {
  if (source_ != DistanceSource::euclidean) return (*this)(a, b);
  // Sum in a fixed order (lower index first) so that raw(a, b) == raw(b, a) bit for bit.
  const float* pa = pixels_.data() + std::min(a, b) * dim_;
  const float* pb = pixels_.data() + std::max(a, b) * dim_;
  double s = 0;
  for (std::int64_t k = 0; k < dim_; ++k) {
    const double d = double(pa[k]) - double(pb[k]);
    s += d * d;
  }
  return std::sqrt(s / static_cast<double>(dim_));
}

double DistanceModel::operator()(std::int64_t a, std::int64_t b) const {
  switch (source_) {
  case DistanceSource::exact: return quat_distance(truth_[a], truth_[b]);
  case DistanceSource::exact_noise: {
    const std::uint64_t lo = std::min(a, b), hi = std::max(a, b);
    Rng rng(seed_ + noise_seed_offset, stream_pairs, lo * std::uint64_t(n_) + hi);
    return clip_angle(quat_distance(truth_[a], truth_[b]) + sigma_ * rng.normal());
  }
  case DistanceSource::euclidean: return clip_angle(scale_ * raw(a, b));
  case DistanceSource::embedding: {
    const double* fa = vectors_.data() + std::min(a, b) * dim_;
    const double* fb = vectors_.data() + std::max(a, b) * dim_;
    double c = 0;
    for (std::int64_t k = 0; k < dim_; ++k)
      c += fa[k] * fb[k];
    return 2 * std::acos(std::min(std::max(c, 0.0), 1.0));
  }
  }
  return 0;
}

} // namespace pairpose::pairs
