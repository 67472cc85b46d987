// E_OR (alignment over O(4)) and the physical orientation error (right factor and handedness).
#include "pairpose/evaluate/orientation_error.hpp"

#include "pairpose/core/error.hpp"
#include "pairpose/core/random.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <numeric>

namespace pairpose::evaluate {

using geometry::Quat;
using Quats = std::vector<Quat>;
using Indices = std::vector<std::size_t>;

namespace {

// --- common helpers ------------------------------------------------------------------------
Eigen::Vector4d vec(const Quat& q) { return {q.w, q.x, q.y, q.z}; }

/// Normalised copy; throws on a non-finite or zero quaternion.
Quats checked_unit(const Quats& q, const char* what) {
  Quats out(q.size());
  for (std::size_t i = 0; i < q.size(); ++i) {
    const double n = geometry::norm(q[i]);
    PAIRPOSE_CHECK(std::isfinite(n) && n > 0,
                   what << " orientation " << i << ": expected a finite non-zero quaternion, got ("
                        << q[i].w << ", " << q[i].x << ", " << q[i].y << ", " << q[i].z << ")");
    out[i] = geometry::normalized(q[i]);
  }
  return out;
}

void check_inputs(const Quats& truth, const Quats& estimate) {
  PAIRPOSE_CHECK(!truth.empty(), "orientation error: no orientations given");
  PAIRPOSE_CHECK(truth.size() == estimate.size(),
                 "orientation error: " << truth.size() << " true orientations but "
                                       << estimate.size() << " estimated ones");
}

/// Indices of the particles the transformation is fitted on: all, or a seeded random subset of
/// n_fit (partial Fisher–Yates), sorted.
Indices fit_subset(std::size_t n, const AlignmentOptions& options) {
  Indices idx(n);
  std::iota(idx.begin(), idx.end(), std::size_t{0});
  if (options.n_fit == 0 || n <= options.n_fit) return idx;
  Rng rng(options.seed, stream_evaluate, 0);
  for (std::size_t k = 0; k < options.n_fit; ++k)
    std::swap(idx[k], idx[k + rng.below(n - k)]);
  idx.resize(options.n_fit);
  std::sort(idx.begin(), idx.end());
  return idx;
}

/// Every k-th of `idx`, k chosen so that at most `n` remain.
Indices strided(const Indices& idx, std::size_t n) {
  const std::size_t k = (idx.size() + n - 1) / n;
  Indices out;
  for (std::size_t j = 0; j < idx.size(); j += k) out.push_back(idx[j]);
  return out;
}

struct Stats {
  double mean = 0, median = 0;
};

/// Per-particle errors error(i) over `idx`, their mean and median.
template <class Error> Stats stats_over(const Indices& idx, Error error) {
  std::vector<double> e(idx.size());
  for (std::size_t k = 0; k < idx.size(); ++k)
    e[k] = error(idx[k]);
  const double sum = std::accumulate(e.begin(), e.end(), 0.0);
  return {sum / double(e.size()), median(std::move(e))};
}

/// The particles of `idx` whose error is at most the median: the half a median cares about.
template <class Error> Indices lower_half(const Indices& idx, Error error) {
  std::vector<double> e(idx.size());
  for (std::size_t k = 0; k < idx.size(); ++k)
    e[k] = error(idx[k]);
  const double threshold = median(e);
  Indices out;
  for (std::size_t k = 0; k < idx.size(); ++k)
    if (e[k] <= threshold) out.push_back(idx[k]);
  return out;
}

// --- E_OR: alignment over O(4) -------------------------------------------------------------
using Mat4e = Eigen::Matrix4d;
using Vec10 = Eigen::Matrix<double, 10, 1>;
using Mat10 = Eigen::Matrix<double, 10, 10>;

/// The orthogonal matrix closest to m: U·Vᵀ of its SVD (det ±1 allowed).
Mat4e nearest_orthogonal(const Mat4e& m) {
  Eigen::JacobiSVD<Mat4e> svd(m, Eigen::ComputeFullU | Eigen::ComputeFullV);
  return svd.matrixU() * svd.matrixV().transpose();
}

double error_o4(const Quat& q, const Mat4e& t, const Quat& qh) {
  const Eigen::Vector4d p = t * vec(qh);
  return geometry::distance(q, Quat{p[0], p[1], p[2], p[3]});
}

/// What a weighted Procrustes iteration minimises: `squared` the chordal distances (plain
/// Procrustes, closed form up to the signs), `absolute` the angles themselves (the mean error,
/// by iteratively reweighted least squares with weights 1 / max(d, weight_floor)).
enum class Loss { squared, absolute };
constexpr double weight_floor = 1e-12;

double weight(Loss loss, double d) {
  return loss == Loss::squared ? 1.0 : 1 / std::max(d, weight_floor);
}

/// Repeats `step(t, objective)` — which returns the next estimate and sets the objective at t —
/// while the objective decreases; returns the best estimate evaluated.
template <class T, class Step> T descend(T t, int n_max, Step step) {
  double previous = INFINITY;
  T previous_t = t;
  for (int it = 0; it < n_max; ++it) {
    double objective = 0;
    const T next = step(t, objective);
    if (!(objective < previous)) return previous_t;
    const bool converged = objective > previous - 1e-10 * std::abs(previous);
    previous = objective;
    previous_t = t;
    if (converged) break;
    t = next;
  }
  return previous_t;
}

/// Fits T ∈ O(4) over `idx` from `t`: each step picks the signs s_i = sign⟨q_i, T·q̂_i⟩ and
/// solves the weighted Procrustes problem max Σ w_i·s_i·⟨q_i, T·q̂_i⟩.
Mat4e fit_o4(const Quats& q, const Quats& qh, const Indices& idx, const Mat4e& t, Loss loss,
             int n_max) {
  return descend(t, n_max, [&](const Mat4e& current, double& objective) {
    Mat4e m = Mat4e::Zero();
    for (std::size_t i : idx) {
      const Eigen::Vector4d a = vec(q[i]), b = vec(qh[i]), tb = current * b;
      const double c = a.dot(tb), s = c < 0 ? -1.0 : 1.0;
      if (loss == Loss::squared) {
        objective += 1 - std::abs(c);
        m.noalias() += s * a * b.transpose();
      } else {
        const double d = geometry::distance(q[i], Quat{tb[0], tb[1], tb[2], tb[3]});
        objective += d;
        m.noalias() += (s * weight(loss, d)) * a * b.transpose();
      }
    }
    return nearest_orthogonal(m);
  });
}

/// Symmetric 4×4 matrix ↔ R¹⁰, an isometry for the Frobenius inner product, so that
/// ⟨embed(a·aᵀ), embed(b·bᵀ)⟩ = ⟨a, b⟩²: it forgets the sign of a quaternion.
Vec10 embed(const Mat4e& y) {
  Vec10 v;
  int k = 0;
  for (int i = 0; i < 4; ++i)
    v[k++] = y(i, i);
  for (int i = 0; i < 4; ++i)
    for (int j = i + 1; j < 4; ++j)
      v[k++] = std::sqrt(2.0) * y(i, j);
  return v;
}

Mat4e unembed(const Vec10& v) {
  Mat4e y;
  int k = 0;
  for (int i = 0; i < 4; ++i)
    y(i, i) = v[k++];
  for (int i = 0; i < 4; ++i)
    for (int j = i + 1; j < 4; ++j)
      y(i, j) = y(j, i) = v[k++] / std::sqrt(2.0);
  return y;
}

/// Sign-free closed-form start: q·qᵀ = T·q̂·q̂ᵀ·Tᵀ is linear in q̂·q̂ᵀ, so an orthogonal map L of
/// R¹⁰ is fitted by Procrustes on the embeddings, and T is read off L column by column
/// (L(e_k·e_kᵀ) = t_k·t_kᵀ) with the relative signs from L of (e_0·e_lᵀ + e_l·e_0ᵀ)/2.
Mat4e sign_free_start(const Quats& q, const Quats& qh, const Indices& idx) {
  Mat10 m = Mat10::Zero();
  for (std::size_t i : idx) {
    const Eigen::Vector4d a = vec(q[i]), b = vec(qh[i]);
    m.noalias() += embed(a * a.transpose()) * embed(b * b.transpose()).transpose();
  }
  Eigen::JacobiSVD<Mat10> svd(m, Eigen::ComputeFullU | Eigen::ComputeFullV);
  const Mat10 l = svd.matrixU() * svd.matrixV().transpose();
  auto image = [&](int i, int j) {
    Mat4e e = Mat4e::Zero();
    e(i, j) += 0.5;
    e(j, i) += 0.5;
    return unembed(l * embed(e));
  };
  Mat4e t;
  for (int k = 0; k < 4; ++k) {
    Eigen::SelfAdjointEigenSolver<Mat4e> eig(image(k, k));
    t.col(k) = eig.eigenvectors().col(3);
  }
  for (int k = 1; k < 4; ++k)
    if (t.col(0).dot(image(0, k) * t.col(k)) < 0) t.col(k) *= -1;
  return nearest_orthogonal(t);
}

/// Left (a·q) and right (q·b) quaternion multiplication as 4×4 matrices.
Mat4e left_matrix(const Quat& a) {
  Mat4e m;
  m << a.w, -a.x, -a.y, -a.z, a.x, a.w, -a.z, a.y, a.y, a.z, a.w, -a.x, a.z, -a.y, a.x, a.w;
  return m;
}
Mat4e right_matrix(const Quat& b) {
  Mat4e m;
  m << b.w, -b.x, -b.y, -b.z, b.x, b.w, b.z, -b.y, b.y, -b.z, b.w, b.x, b.z, b.y, -b.x, b.w;
  return m;
}

/// The deterministic starts: the sign-free fit, the identity, conjugation, and n_restarts fixed
/// elements of SO(4) with as many reflections.
std::vector<Mat4e> o4_starts(const Quats& q, const Quats& qh, const Indices& idx,
                             const AlignmentOptions& options) {
  const Mat4e conj = Eigen::Vector4d(1, -1, -1, -1).asDiagonal();
  std::vector<Mat4e> starts = {sign_free_start(q, qh, idx), Mat4e::Identity(), conj};
  for (int k = 0; k < options.n_restarts; ++k) {
    Rng rng(options.seed, stream_evaluate, 1 + k);
    const Quat a = geometry::random_rotation(rng), b = geometry::random_rotation(rng);
    starts.push_back(left_matrix(a) * right_matrix(b));
    starts.push_back(left_matrix(a) * right_matrix(b) * conj);
  }
  return starts;
}

// --- the two tracks both metrics share -----------------------------------------------------
/// A fitted transformation (T ∈ O(4) or B ∈ SO(3)) with its statistics over the fit particles.
template <class T> struct Fit {
  T t;
  Stats stats;
};

/// Trimmed refinement for the median: refit (absolute loss) on the particles at or below the
/// median error while the median over `idx` decreases.
template <class T, class FitFn, class ErrorOf>
Fit<T> refine_median(Fit<T> f, const Indices& idx, FitFn fit, ErrorOf error_of, int n_max) {
  for (int it = 0; it < n_max; ++it) {
    const T t = fit(f.t, lower_half(idx, error_of(f.t)), Loss::absolute);
    const Stats s = stats_over(idx, error_of(t));
    const bool progress = s.median < f.stats.median * (1 - 1e-9);
    if (s.median < f.stats.median) f = {t, s};
    if (!progress) break;
  }
  return f;
}

/// From candidate transformations: the lowest mean (the best candidate refined by reweighting)
/// and the lowest median (the best candidates refined by trimming). Returns {mean, median}.
template <class T, class FitFn, class ErrorOf>
std::pair<Fit<T>, Fit<T>> best_mean_and_median(const std::vector<T>& candidates, const Indices& idx,
                                               FitFn fit, ErrorOf error_of, int n_max) {
  Fit<T> by_mean{candidates.front(), {INFINITY, INFINITY}}, by_median = by_mean;
  for (const T& t : candidates) {
    const Stats s = stats_over(idx, error_of(t));
    if (s.mean < by_mean.stats.mean) by_mean = {t, s};
    if (s.median < by_median.stats.median) by_median = {t, s};
  }
  const T refined = fit(by_mean.t, idx, Loss::absolute);
  const Stats s = stats_over(idx, error_of(refined));
  if (s.mean < by_mean.stats.mean) by_mean = {refined, s};
  by_median = refine_median(by_median, idx, fit, error_of, n_max);
  const Fit<T> from_mean = refine_median(by_mean, idx, fit, error_of, n_max);
  if (from_mean.stats.median < by_median.stats.median) by_median = from_mean;
  return {by_mean, by_median};
}

// --- physical error: right factor and handedness -------------------------------------------
Quat oriented(const Quat& q, bool mirrored) { return mirrored ? mirror(q) : q; }

/// Fits B over `idx` from `b` by weighted Procrustes in SO(3): B = argmax Σ w_i·tr(Bᵀ·Âᵢᵀ·Aᵢ),
/// Â already mirrored when needed. With the squared loss this is one closed-form step.
Quat fit_right(const Quats& q, const Quats& qh, const Indices& idx, const Quat& b, Loss loss,
               int n_max) {
  return descend(b, n_max, [&](const Quat& current, double& objective) {
    geometry::Mat3 m{};
    for (std::size_t i : idx) {
      const double d = geometry::distance(q[i], geometry::multiply(qh[i], current));
      objective += loss == Loss::squared ? 1 - std::cos(d) : d;
      const geometry::Mat3 r =
          geometry::to_matrix(geometry::multiply(geometry::conjugate(qh[i]), q[i]));
      const double w = weight(loss, d);
      for (int k = 0; k < 9; ++k)
        m[k] += w * r[k];
    }
    return geometry::to_quaternion(geometry::nearest_rotation(m));
  });
}

/// Candidates for B: the Procrustes fit on all of idx and the relative rotation Âⱼᵀ·Aⱼ of
/// n_restarts seeded particles j (each exact for its own particle: robust to many outliers).
std::vector<Quat> right_candidates(const Quats& q, const Quats& qh, const Indices& idx,
                                   const AlignmentOptions& options) {
  std::vector<Quat> out = {fit_right(q, qh, idx, Quat{}, Loss::squared, 2)};
  for (int k = 0; k < options.n_restarts; ++k) {
    Rng rng(options.seed, stream_evaluate, 1000 + k);
    const std::size_t j = idx[rng.below(idx.size())];
    out.push_back(geometry::multiply(geometry::conjugate(qh[j]), q[j]));
  }
  return out;
}

/// Both tracks for one handedness.
std::pair<Fit<Quat>, Fit<Quat>> fit_physical(const Quats& q, const Quats& qh, const Indices& idx,
                                             const AlignmentOptions& options) {
  const int n_max = options.max_iterations;
  auto fit = [&](const Quat& b, const Indices& sub, Loss loss) {
    return fit_right(q, qh, sub, b, loss, n_max);
  };
  auto error_of = [&](const Quat& b) {
    return [&, b](std::size_t i) { return geometry::distance(q[i], geometry::multiply(qh[i], b)); };
  };
  return best_mean_and_median(right_candidates(q, qh, idx, options), idx, fit, error_of, n_max);
}

} // namespace

// --- public ---------------------------------------------------------------------------------
double median(std::vector<double> v) {
  PAIRPOSE_CHECK(!v.empty(), "median of an empty list");
  const std::size_t h = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + h, v.end());
  if (v.size() % 2 == 1) return v[h];
  const double upper = v[h];
  return 0.5 * (upper + *std::max_element(v.begin(), v.begin() + h));
}

Quat transform(const Mat4& t, const Quat& q) {
  const double v[4] = {q.w, q.x, q.y, q.z};
  double r[4];
  for (int i = 0; i < 4; ++i)
    r[i] = t[4 * i] * v[0] + t[4 * i + 1] * v[1] + t[4 * i + 2] * v[2] + t[4 * i + 3] * v[3];
  return {r[0], r[1], r[2], r[3]};
}

Quat mirror(const Quat& q) { return {q.w, -q.x, -q.y, q.z}; }

Quat align(const PhysicalError& fit, const Quat& estimate) {
  const Quat b = geometry::to_quaternion(fit.b);
  return geometry::canonical(geometry::multiply(oriented(estimate, fit.mirrored), b));
}

OrientationError orientation_error(const Quats& truth, const Quats& estimate,
                                   const AlignmentOptions& options) {
  check_inputs(truth, estimate);
  const Quats q = checked_unit(truth, "true"), qh = checked_unit(estimate, "estimated");
  const Indices idx = fit_subset(q.size(), options);
  const int n_max = options.max_iterations;
  auto fit = [&](const Mat4e& t, const Indices& sub, Loss loss) {
    return fit_o4(q, qh, sub, t, loss, n_max);
  };
  auto error_of = [&](const Mat4e& t) {
    return [&, t](std::size_t i) { return error_o4(q[i], t, qh[i]); };
  };
  // Each start converges first on a coarse subset, then on all fit particles (warm, fast).
  const Indices coarse = strided(idx, 2000);
  std::vector<Mat4e> candidates;
  for (const Mat4e& start : o4_starts(q, qh, coarse, options))
    candidates.push_back(fit(fit(start, coarse, Loss::squared), idx, Loss::squared));
  const auto [by_mean, by_median] = best_mean_and_median(candidates, idx, fit, error_of, n_max);

  OrientationError out;
  std::vector<double> at_median(q.size());
  out.errors.resize(q.size());
  for (std::size_t i = 0; i < q.size(); ++i) {
    out.errors[i] = error_o4(q[i], by_mean.t, qh[i]);
    at_median[i] = error_o4(q[i], by_median.t, qh[i]);
  }
  out.mean = std::accumulate(out.errors.begin(), out.errors.end(), 0.0) / double(q.size());
  out.median = median(std::move(at_median));
  Eigen::Map<Eigen::Matrix<double, 4, 4, Eigen::RowMajor>>(out.t.data()) = by_mean.t;
  Eigen::Map<Eigen::Matrix<double, 4, 4, Eigen::RowMajor>>(out.t_median.data()) = by_median.t;
  return out;
}

PhysicalError physical_error(const Quats& truth, const Quats& estimate,
                             const AlignmentOptions& options) {
  check_inputs(truth, estimate);
  const Quats q = checked_unit(truth, "true"), qh = checked_unit(estimate, "estimated");
  Quats qh_mirrored(qh.size());
  std::transform(qh.begin(), qh.end(), qh_mirrored.begin(), mirror);
  const Indices idx = fit_subset(q.size(), options);
  const auto [plain_mean, plain_median] = fit_physical(q, qh, idx, options);
  const auto [mirror_mean, mirror_median] = fit_physical(q, qh_mirrored, idx, options);

  PhysicalError out;
  out.mirrored = mirror_mean.stats.mean < plain_mean.stats.mean;
  out.mirrored_median = mirror_median.stats.median < plain_median.stats.median;
  const Quat b = out.mirrored ? mirror_mean.t : plain_mean.t;
  const Quat b_median = out.mirrored_median ? mirror_median.t : plain_median.t;
  out.b = geometry::to_matrix(b);
  out.b_median = geometry::to_matrix(b_median);
  const Quats& e_mean = out.mirrored ? qh_mirrored : qh;
  const Quats& e_median = out.mirrored_median ? qh_mirrored : qh;
  std::vector<double> at_median(q.size());
  out.errors.resize(q.size());
  for (std::size_t i = 0; i < q.size(); ++i) {
    out.errors[i] = geometry::distance(q[i], geometry::multiply(e_mean[i], b));
    at_median[i] = geometry::distance(q[i], geometry::multiply(e_median[i], b_median));
  }
  out.mean_rad = std::accumulate(out.errors.begin(), out.errors.end(), 0.0) / double(q.size());
  out.median_rad = median(std::move(at_median));
  out.mean_deg = out.mean_rad * 180 / M_PI;
  out.median_deg = out.median_rad * 180 / M_PI;
  return out;
}

} // namespace pairpose::evaluate
