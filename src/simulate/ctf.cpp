#include "pairpose/simulate/ctf.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "pairpose/core/error.hpp"

namespace pairpose::simulate {

double electron_wavelength(double voltage_kv) {
  const double v = voltage_kv * 1e3;
  return 12.2643247 / std::sqrt(v * (1.0 + 0.978466e-6 * v));
}

void check_ctf(const CtfParams& c, const std::string& what) {
  const double values[] = {
      c.defocus_u,          c.defocus_v, c.defocus_angle, c.voltage, c.spherical_aberration,
      c.amplitude_contrast, c.bfactor,   c.phase_shift};
  for (double v : values)
    PAIRPOSE_CHECK(std::isfinite(v), what << ": CTF value is not finite");
  PAIRPOSE_CHECK(c.voltage > 0, what << ": voltage must be > 0 kV, got " << c.voltage);
  PAIRPOSE_CHECK(c.spherical_aberration >= 0,
                 what << ": spherical aberration must be >= 0 mm, got " << c.spherical_aberration);
  PAIRPOSE_CHECK(c.amplitude_contrast >= 0 && c.amplitude_contrast < 1,
                 what << ": amplitude contrast must be in [0, 1), got " << c.amplitude_contrast);
}

Ctf::Ctf(const CtfParams& p) : params_(p) {
  const double lambda = electron_wavelength(p.voltage);
  const double cs = p.spherical_aberration * 1e7; // mm -> Å
  const double q = p.amplitude_contrast;
  k_defocus_ = M_PI * lambda;
  k_cs_ = 0.5 * M_PI * cs * lambda * lambda * lambda;
  k_phase_ = p.phase_shift * M_PI / 180.0 + std::atan(q / std::sqrt(1.0 - q * q));
  k_bfactor_ = -p.bfactor / 4.0;
  mean_defocus_ = 0.5 * (p.defocus_u + p.defocus_v);
  half_astig_ = 0.5 * (p.defocus_u - p.defocus_v);
  angle_rad_ = p.defocus_angle * M_PI / 180.0;
  cos2_angle_ = std::cos(2 * angle_rad_);
  sin2_angle_ = std::sin(2 * angle_rad_);
}

namespace {

/// sin(x) for |x| < 2^30, to about 1e-15: x is reduced by the nearest multiple q of π/2 (π/2 in
/// two parts, fdlibm's pio2_1 + pio2_1t, so q · pio2_1 is exact), then the Taylor series of sin or
/// cos on [−π/4, π/4] (last terms r¹⁵/15! and r¹⁶/16!: below 2e-14 there) picked by q mod 4.
/// Branch-free, so a loop over it vectorises; std::sin is a library call per frequency, which
/// was a sixth of simulate's time (docs/benchmarks.md).
inline double sine(double x) {
  constexpr double two_over_pi = 0.636619772367581343076;
  constexpr double pio2_hi = 1.57079632673412561417e+00;
  constexpr double pio2_lo = 6.07710050650619224932e-11;
  constexpr double round_magic = 6755399441055744.0; // 1.5 · 2^52: adding it rounds to integer
  const double shifted = x * two_over_pi + round_magic;
  std::uint64_t bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  const double q = shifted - round_magic;
  const double r = (x - q * pio2_hi) - q * pio2_lo, r2 = r * r;
  const double s =
      r * (1.0 + r2 * (-1.0 / 6 +
                       r2 * (1.0 / 120 + r2 * (-1.0 / 5040 +
                                               r2 * (1.0 / 362880 +
                                                     r2 * (-1.0 / 39916800 +
                                                           r2 * (1.0 / 6227020800 +
                                                                 r2 * (-1.0 / 1307674368000))))))));
  const double c =
      1.0 +
      r2 * (-0.5 +
            r2 * (1.0 / 24 +
                  r2 * (-1.0 / 720 +
                        r2 * (1.0 / 40320 +
                              r2 * (-1.0 / 3628800 + r2 * (1.0 / 479001600 +
                                                           r2 * (-1.0 / 87178291200 +
                                                                 r2 * (1.0 / 20922789888000))))))));
  // q mod 4 is in the low bits of the rounded mantissa: odd q takes cos, q mod 4 >= 2 flips the
  // sign. Selected with bit masks rather than branches, so that the loop vectorises.
  std::uint64_t s_bits, c_bits;
  std::memcpy(&s_bits, &s, sizeof s);
  std::memcpy(&c_bits, &c, sizeof c);
  const std::uint64_t odd = std::uint64_t{0} - (bits & 1);
  const std::uint64_t v_bits = ((c_bits & odd) | (s_bits & ~odd)) ^ ((bits & 2) << 62);
  double v;
  std::memcpy(&v, &v_bits, sizeof v);
  return v;
}

} // namespace

double Ctf::chi(double fx, double fy) const {
  // cos(2(α − angle)) without atan2: (cos 2α cos 2angle + sin 2α sin 2angle), with
  // cos 2α = (fx² − fy²)/u², sin 2α = 2 fx fy / u².
  const double u2 = fx * fx + fy * fy;
  const double cos2 =
      u2 > 0 ? ((fx * fx - fy * fy) * cos2_angle_ + 2 * fx * fy * sin2_angle_) / u2 : cos2_angle_;
  const double defocus = mean_defocus_ + half_astig_ * cos2;
  return k_defocus_ * defocus * u2 - k_cs_ * u2 * u2 + k_phase_;
}

double Ctf::operator()(double fx, double fy) const {
  double value = sine(chi(fx, fy));
  if (k_bfactor_ != 0.0) value *= std::exp(k_bfactor_ * (fx * fx + fy * fy));
  return value;
}

// Two builds of the loop, chosen at load time for the CPU (GCC function multi-versioning): with
// AVX2 it runs 4 frequencies at a time. No FMA, so both give the same numbers as operator().
__attribute__((target_clones("avx2", "default"))) void Ctf::row(double fy, double df,
                                                                std::int64_t n, float* out) const {
  if (k_bfactor_ != 0.0) { // rare: exp() per frequency anyway
    for (std::int64_t k = 0; k < n; ++k)
      out[k] = static_cast<float>((*this)(k * df, fy));
    return;
  }
  std::int64_t k0 = 0;
  if (fy == 0.0 && n > 0) out[0] = static_cast<float>((*this)(0.0, 0.0)), k0 = 1;
  const double fy2 = fy * fy, ca = cos2_angle_, sa = sin2_angle_, mean = mean_defocus_,
               half = half_astig_, kd = k_defocus_, kc = k_cs_, kp = k_phase_;
  // chi() written out with u² > 0 (k > 0 or fy != 0), so that the loop has no branch; a 32-bit
  // counter converts to double in vector registers (64-bit ones do not before AVX-512).
  const auto n32 = static_cast<std::int32_t>(n);
  for (std::int32_t k = static_cast<std::int32_t>(k0); k < n32; ++k) {
    const double fx = k * df, u2 = fx * fx + fy2;
    const double cos2 = ((fx * fx - fy2) * ca + 2 * fx * fy * sa) / u2;
    const double chi = kd * (mean + half * cos2) * u2 - kc * u2 * u2 + kp;
    out[k] = static_cast<float>(sine(chi));
  }
}

std::vector<float> ctf_half_plane(const CtfParams& params, std::int64_t n, double pixel_size) {
  const Ctf ctf(params);
  const std::int64_t n_cols = n / 2 + 1;
  const double df = 1.0 / (n * pixel_size);
  std::vector<float> out(static_cast<size_t>(n * n_cols));
  for (std::int64_t row = 0; row < n; ++row) {
    const std::int64_t ky = row < n / 2 + 1 ? row : row - n;
    ctf.row(ky * df, df, n_cols, out.data() + row * n_cols);
  }
  return out;
}

std::vector<float> ctf_centred_image(const CtfParams& params, std::int64_t n, double pixel_size) {
  const Ctf ctf(params);
  const double df = 1.0 / (n * pixel_size);
  std::vector<float> out(static_cast<size_t>(n * n));
  for (std::int64_t y = 0; y < n; ++y)
    for (std::int64_t x = 0; x < n; ++x)
      out[y * n + x] = static_cast<float>(ctf((x - n / 2) * df, (y - n / 2) * df));
  return out;
}

} // namespace pairpose::simulate
