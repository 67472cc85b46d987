#pragma once
/// @file ctf.hpp
/// RELION's contrast transfer function (method.md §2), evaluated on the Fourier grids the
/// projector uses. For a spatial frequency (fx, fy) in 1/Å, u² = fx² + fy², α = atan2(fy, fx):
///
///     Δf(α) = (U + V)/2 + (U − V)/2 · cos(2(α − angle))          underfocus positive, Å
///     χ     = π λ Δf u² − (π/2) Cs λ³ u⁴ + phase_shift + asin-like amplitude term
///     CTF   = sin(χ) · exp(−B u² / 4)
///
/// with the amplitude term atan(Q / sqrt(1 − Q²)) (Q = amplitude contrast), Cs in Å (mm · 10⁷)
/// and the relativistic wavelength λ = 12.2643247 / sqrt(V (1 + 0.978466e-6 V)) Å, V in volts.
/// This equals RELION 3.1's −sin(K1 Δf_R u² + K2 u⁴ − K5 − K3) with its defocus sign
/// (Δf_R = −Δf): CTF(0) = +Q, the first lobe is positive. The sign and the axis convention
/// (fy along image rows, y up the stack) were checked against `relion_project --ctf`
/// (tests/regression/simulate_relion.sh).
#include <complex>
#include <cstdint>
#include <string>
#include <vector>

#include "pairpose/io/particle.hpp"

namespace pairpose::simulate {

/// Relativistic electron wavelength in Å for an accelerating voltage in kV.
double electron_wavelength(double voltage_kv);

/// Checks a parameter set: voltage > 0, Cs ≥ 0, 0 ≤ Q < 1, finite values. Throws
/// pairpose::Error naming `what` (e.g. the particle index or STAR row) and the field.
void check_ctf(const CtfParams& ctf, const std::string& what);

/// A CTF with its constants precomputed; cheap to evaluate at many frequencies.
class Ctf {
public:
  explicit Ctf(const CtfParams& params);
  /// CTF value at spatial frequency (fx, fy), in 1/Å.
  double operator()(double fx, double fy) const;
  /// Values along a row of a frequency grid: out[k] = CTF(k · df, fy) for k in [0, n). The same
  /// numbers as operator() (same formula, same sine), in a loop the compiler vectorises.
  void row(double fy, double df, std::int64_t n, float* out) const;
  const CtfParams& params() const { return params_; }

private:
  /// The phase χ(fx, fy) in radians (the formula above, without the sine).
  double chi(double fx, double fy) const;

  CtfParams params_;
  double k_defocus_ = 0; ///< π λ
  double k_cs_ = 0;      ///< (π/2) Cs λ³
  double k_phase_ = 0;   ///< phase shift + amplitude term, radians
  double k_bfactor_ = 0; ///< −B/4
  double mean_defocus_ = 0, half_astig_ = 0, angle_rad_ = 0, cos2_angle_ = 1, sin2_angle_ = 0;
};

/// The CTF on the half-plane FFTW r2c layout of an n × n image of pixel size `pixel_size` Å:
/// n rows × (n/2 + 1) columns, element (row, col) at col / (n p) horizontally and
/// (row < n/2 + 1 ? row : row − n) / (n p) vertically (RELION's getFftwImage layout).
std::vector<float> ctf_half_plane(const CtfParams& params, std::int64_t n, double pixel_size);

/// The CTF as a full n × n image with zero frequency at (n/2, n/2), x fastest (for viewing and
/// tests).
std::vector<float> ctf_centred_image(const CtfParams& params, std::int64_t n, double pixel_size);

} // namespace pairpose::simulate
