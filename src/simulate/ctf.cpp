#include "pairpose/simulate/ctf.hpp"

#include <cmath>

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

double Ctf::operator()(double fx, double fy) const {
  // cos(2(α − angle)) without atan2: (cos 2α cos 2angle + sin 2α sin 2angle), with
  // cos 2α = (fx² − fy²)/u², sin 2α = 2 fx fy / u².
  const double u2 = fx * fx + fy * fy;
  const double cos2 = u2 > 0 ? ((fx * fx - fy * fy) * cos2_angle_ + 2 * fx * fy * sin2_angle_) / u2
                             : std::cos(2.0 * angle_rad_);
  const double defocus = mean_defocus_ + half_astig_ * cos2;
  const double chi = k_defocus_ * defocus * u2 - k_cs_ * u2 * u2 + k_phase_;
  double value = std::sin(chi);
  if (k_bfactor_ != 0.0) value *= std::exp(k_bfactor_ * u2);
  return value;
}

std::vector<float> ctf_half_plane(const CtfParams& params, std::int64_t n, double pixel_size) {
  const Ctf ctf(params);
  const std::int64_t n_cols = n / 2 + 1;
  const double df = 1.0 / (n * pixel_size);
  std::vector<float> out(static_cast<size_t>(n * n_cols));
  for (std::int64_t row = 0; row < n; ++row) {
    const std::int64_t ky = row < n / 2 + 1 ? row : row - n;
    for (std::int64_t col = 0; col < n_cols; ++col)
      out[row * n_cols + col] = static_cast<float>(ctf(col * df, ky * df));
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
