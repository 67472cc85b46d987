#pragma once
/// @file pair_kernel.hpp
/// The inner loop of the recover objective (objective.hpp): for a list of pairs (i, j, d̂, w),
///
///     Σ w (d̂ − d_q(q_i, q_j))²,   d_q = 4·asin(‖q_i − s·q_j‖/2), s = sign⟨q_i, q_j⟩,
///
/// and, optionally, its ambient gradient in R⁴ added to `grad` (∂/∂q_i = 4·w·res·u / (r·c),
/// ∂/∂q_j = −s·∂/∂q_i, u = q_i − s·q_j, r = ‖u‖, c = sqrt(1 − r²/4); pairs with r = 0 or
/// r ≥ 2 add no gradient). No communication; quaternions are a flat array (w, x, y, z per
/// particle), indices 32-bit.
///
/// Two implementations give the same terms to a few ulp: a portable one and, on x86-64 CPUs with
/// AVX2 and FMA, one processing 4 pairs per vector (chosen once per process; pair_kernel_name()
/// tells which). Both use asin_kernel() below instead of std::asin (same accuracy, vectorisable).
/// The result depends only on the pair order and the implementation: deterministic.
#include <cstdint>

namespace pairpose::recover {

/// A list of pair terms, read in order. `w` may be null (every weight 1).
struct PairTerms {
  const std::uint32_t* i = nullptr;
  const std::uint32_t* j = nullptr;
  const double* d = nullptr; ///< d̂, radians
  const double* w = nullptr;
  std::int64_t n = 0;
};

/// Σ w·(d̂ − d_q)² of the pairs; when `grad` is not null the gradient is ADDED to it (4N doubles).
double pair_kernel(const PairTerms& pairs, const double* q, double* grad);
/// The portable implementation (what pair_kernel uses without AVX2/FMA); for tests.
double pair_kernel_generic(const PairTerms& pairs, const double* q, double* grad);
/// "avx2" or "generic": the implementation pair_kernel uses on this CPU.
const char* pair_kernel_name();

/// asin(x) for x in [0, 1] within ~2 ulp of the correctly rounded value (a rational
/// approximation on [0, 1/2] and asin(x) = π/2 − 2·asin(sqrt((1 − x)/2)) above; the rational
/// function's coefficients are those of fdlibm's e_asin.c, Sun Microsystems 1993).
double asin_kernel(double x);

} // namespace pairpose::recover
