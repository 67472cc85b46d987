#include "pairpose/recover/pair_kernel.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>

#if defined(__x86_64__)
#include <immintrin.h>
#define PAIRPOSE_KERNEL_AVX2 1
#endif

namespace pairpose::recover {

namespace {

// π/2 split into a double and the remainder; rational approximation of (asin(x) − x)/x³·x² on
// [0, 1/2] in z = x² (coefficients of fdlibm e_asin.c, Sun Microsystems 1993).
constexpr double pio2_hi = 1.57079632679489655800e+00, pio2_lo = 6.12323399573676603587e-17;
constexpr double p0 = 1.66666666666666657415e-01, p1 = -3.25565818622400915405e-01,
                 p2 = 2.01212532134862925881e-01, p3 = -4.00555345006794114027e-02,
                 p4 = 7.91534994289814532176e-04, p5 = 3.47933107596021167570e-05;
constexpr double q1 = -2.40339491173441421878e+00, q2 = 2.02094576023350569471e+00,
                 q3 = -6.88283971605453293030e-01, q4 = 7.70381505559019352791e-02;

inline double asin_ratio(double z) {
  const double p = z * (p0 + z * (p1 + z * (p2 + z * (p3 + z * (p4 + z * p5)))));
  return p / (1 + z * (q1 + z * (q2 + z * (q3 + z * q4))));
}

/// One pair: returns w·res², writes f·u (the gradient of q_i) to ga and −s to sb.
inline double pair_term(const double* a, const double* b, double d, double w, double* ga,
                        double& sb) {
  const double s = a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3] < 0 ? -1.0 : 1.0;
  const double u[4] = {a[0] - s * b[0], a[1] - s * b[1], a[2] - s * b[2], a[3] - s * b[3]};
  const double rr = std::sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2] + u[3] * u[3]);
  const double h = std::min(0.5 * rr, 1.0);
  const double res = 4 * asin_kernel(h) - d;
  const double f = rr > 0 && h < 1 ? 4 * w * res / (rr * std::sqrt(1 - h * h)) : 0.0;
  for (int c = 0; c < 4; ++c)
    ga[c] = f * u[c];
  sb = -s;
  return w * res * res;
}

#ifdef PAIRPOSE_KERNEL_AVX2
#define AVX2 __attribute__((target("avx2,fma")))

/// In-place transpose of a 4 × 4 block held as 4 rows (its own inverse).
AVX2 inline void transpose4(__m256d& r0, __m256d& r1, __m256d& r2, __m256d& r3) {
  const __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
  const __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
  r0 = _mm256_permute2f128_pd(t0, t2, 0x20);
  r1 = _mm256_permute2f128_pd(t1, t3, 0x20);
  r2 = _mm256_permute2f128_pd(t0, t2, 0x31);
  r3 = _mm256_permute2f128_pd(t1, t3, 0x31);
}

/// Quaternions of 4 particles as component vectors (w, x, y, z of pairs 0..3).
AVX2 inline void load4(const double* q, const std::uint32_t* idx, __m256d v[4]) {
  for (int l = 0; l < 4; ++l)
    v[l] = _mm256_loadu_pd(q + 4 * std::size_t(idx[l]));
  transpose4(v[0], v[1], v[2], v[3]);
}

AVX2 inline __m256d asin4(__m256d h) {
  const __m256d half = _mm256_set1_pd(0.5), one = _mm256_set1_pd(1.0);
  const __m256d small = _mm256_cmp_pd(h, half, _CMP_LE_OQ);
  const __m256d z =
      _mm256_blendv_pd(_mm256_mul_pd(half, _mm256_sub_pd(one, h)), _mm256_mul_pd(h, h), small);
  const __m256d t = _mm256_blendv_pd(_mm256_sqrt_pd(z), h, small);
  __m256d p = _mm256_set1_pd(p5);
  for (double c : {p4, p3, p2, p1, p0})
    p = _mm256_fmadd_pd(p, z, _mm256_set1_pd(c));
  p = _mm256_mul_pd(p, z);
  __m256d qq = _mm256_set1_pd(q4);
  for (double c : {q3, q2, q1, 1.0})
    qq = _mm256_fmadd_pd(qq, z, _mm256_set1_pd(c));
  const __m256d v = _mm256_fmadd_pd(t, _mm256_div_pd(p, qq), t);
  const __m256d big = _mm256_sub_pd(
      _mm256_set1_pd(pio2_hi), _mm256_fmsub_pd(_mm256_set1_pd(2.0), v, _mm256_set1_pd(pio2_lo)));
  return _mm256_blendv_pd(big, v, small);
}

/// Adds the 4 pairs' gradient vectors (component vectors g, −s·g) to grad.
AVX2 inline void scatter4(const std::uint32_t* ii, const std::uint32_t* jj, __m256d ga[4],
                          __m256d gb[4], double* grad) {
  transpose4(ga[0], ga[1], ga[2], ga[3]);
  transpose4(gb[0], gb[1], gb[2], gb[3]);
  for (int l = 0; l < 4; ++l) {
    double* gi = grad + 4 * std::size_t(ii[l]);
    _mm256_storeu_pd(gi, _mm256_add_pd(_mm256_loadu_pd(gi), ga[l]));
    double* gj = grad + 4 * std::size_t(jj[l]);
    _mm256_storeu_pd(gj, _mm256_add_pd(_mm256_loadu_pd(gj), gb[l]));
  }
}

/// Loss of 4 pairs (k .. k+3) added to `loss`; gradient added to grad when not null.
AVX2 inline void pairs4(const PairTerms& p, std::int64_t k, const double* q, double* grad,
                        __m256d& loss) {
  const __m256d zero = _mm256_setzero_pd(), one = _mm256_set1_pd(1.0), four = _mm256_set1_pd(4.0),
                sign = _mm256_set1_pd(-0.0);
  __m256d a[4], b[4], u[4];
  load4(q, p.i + k, a);
  load4(q, p.j + k, b);
  __m256d dot = _mm256_mul_pd(a[3], b[3]);
  for (int c = 2; c >= 0; --c)
    dot = _mm256_fmadd_pd(a[c], b[c], dot);
  const __m256d sbit = _mm256_and_pd(_mm256_cmp_pd(dot, zero, _CMP_LT_OQ), sign); // s = −1
  for (int c = 0; c < 4; ++c)
    u[c] = _mm256_sub_pd(a[c], _mm256_xor_pd(b[c], sbit));
  __m256d r2 = _mm256_mul_pd(u[3], u[3]);
  for (int c = 2; c >= 0; --c)
    r2 = _mm256_fmadd_pd(u[c], u[c], r2);
  const __m256d rr = _mm256_sqrt_pd(r2);
  const __m256d h = _mm256_min_pd(_mm256_mul_pd(_mm256_set1_pd(0.5), rr), one);
  const __m256d res = _mm256_fmsub_pd(four, asin4(h), _mm256_loadu_pd(p.d + k));
  const __m256d wres = p.w ? _mm256_mul_pd(_mm256_loadu_pd(p.w + k), res) : res;
  loss = _mm256_fmadd_pd(wres, res, loss);
  if (!grad) return;
  const __m256d ok =
      _mm256_and_pd(_mm256_cmp_pd(rr, zero, _CMP_GT_OQ), _mm256_cmp_pd(h, one, _CMP_LT_OQ));
  const __m256d c = _mm256_sqrt_pd(_mm256_fnmadd_pd(h, h, one));
  const __m256d den = _mm256_blendv_pd(one, _mm256_mul_pd(rr, c), ok);
  const __m256d f = _mm256_and_pd(_mm256_div_pd(_mm256_mul_pd(four, wres), den), ok);
  const __m256d sf = _mm256_xor_pd(f, _mm256_xor_pd(sbit, sign)); // −s·f
  __m256d ga[4], gb[4];
  for (int c4 = 0; c4 < 4; ++c4)
    ga[c4] = _mm256_mul_pd(f, u[c4]), gb[c4] = _mm256_mul_pd(sf, u[c4]);
  scatter4(p.i + k, p.j + k, ga, gb, grad);
}

AVX2 double pair_kernel_avx2(const PairTerms& p, const double* q, double* grad) {
  __m256d loss = _mm256_setzero_pd();
  const std::int64_t n4 = p.n - p.n % 4;
  for (std::int64_t k = 0; k < n4; k += 4)
    pairs4(p, k, q, grad, loss);
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, loss);
  PairTerms rest = p;
  rest.i += n4, rest.j += n4, rest.d += n4, rest.w = p.w ? p.w + n4 : nullptr, rest.n -= n4;
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + pair_kernel_generic(rest, q, grad);
}
#endif

using Kernel = double (*)(const PairTerms&, const double*, double*);

Kernel selected_kernel() {
#ifdef PAIRPOSE_KERNEL_AVX2
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return pair_kernel_avx2;
#endif
  return pair_kernel_generic;
}

Kernel active_kernel() {
  static const Kernel k = selected_kernel();
  return k;
}

} // namespace

double asin_kernel(double x) {
  const bool small = x <= 0.5;
  const double z = small ? x * x : 0.5 * (1 - x);
  const double t = small ? x : std::sqrt(z);
  const double v = t + t * asin_ratio(z);
  return small ? v : pio2_hi - (2 * v - pio2_lo);
}

double pair_kernel_generic(const PairTerms& p, const double* q, double* grad) {
  double loss = 0;
  for (std::int64_t k = 0; k < p.n; ++k) {
    double ga[4], sb;
    const double* a = q + 4 * std::size_t(p.i[k]);
    const double* b = q + 4 * std::size_t(p.j[k]);
    loss += pair_term(a, b, p.d[k], p.w ? p.w[k] : 1.0, ga, sb);
    if (!grad) continue;
    double* gi = grad + 4 * std::size_t(p.i[k]);
    double* gj = grad + 4 * std::size_t(p.j[k]);
    for (int c = 0; c < 4; ++c)
      gi[c] += ga[c], gj[c] += sb * ga[c];
  }
  return loss;
}

double pair_kernel(const PairTerms& pairs, const double* q, double* grad) {
  return active_kernel()(pairs, q, grad);
}

const char* pair_kernel_name() {
  return active_kernel() == pair_kernel_generic ? "generic" : "avx2";
}

} // namespace pairpose::recover
