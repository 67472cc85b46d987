#pragma once
/// @file matcher.hpp
/// Local refinement of one particle's orientation against a reference map by projection
/// matching in Fourier space (the step that follows an ab-initio orientation estimate in every
/// cryo-EM pipeline). Rank-local, free of file I/O and of MPI; the `refine` stage drives it.
///
/// The image x (n × n, pixel size p) is compared with the reference's central slice S_A at a
/// candidate orientation A (simulate::FourierProjector) on a band of frequencies
/// k_min ≤ |k| ≤ k_max of the half-plane r2c layout:
///
///     X(k)  = DFT(x)(k) · (−1)^(kx+ky) · exp(−2πi k·t / (n p))      centre to the origin, the
///                                                                     particle's shift t undone
///     score(A) = Σ_k Re(conj(X(k)) · c(k) · S_A(k)) / sqrt(Σ_k c(k)² |S_A(k)|²)
///
/// with c the particle's CTF (1 without one) times the reference filter f(|k|) (MatchOptions::
/// shell_filter): the correlation of the image with the predicted projection c·S_A, each
/// optimally scaled (white noise assumed). The search is a local pattern
/// search on rotations A' = exp([ω]×) · A: from the current A, the 26 neighbours ω ∈ δ{−1,0,1}³
/// are scored and the best taken while it improves (at most `max_moves` times per step size),
/// then δ is halved, from `step` down to `min_step`.
#include <complex>
#include <cstdint>
#include <vector>

#include "pairpose/geometry/rotation.hpp"
#include "pairpose/io/particle.hpp"
#include "pairpose/simulate/projector.hpp"

namespace pairpose::refine {

struct MatchOptions {
  double k_min = 1;           ///< lowest frequency used, image Fourier index
  double k_max = 0;           ///< highest frequency used, image Fourier index (≤ n/2)
  double step_deg = 4;        ///< first step δ of the pattern search
  double min_step_deg = 0.25; ///< the search stops after the step below this
  int max_moves = 4;          ///< moves per step size
  bool apply_ctf = true;      ///< use the particle's CTF (when it has one)
  /// Filter f(s) of the reference per shell s = round(|k|) (S_A becomes f·S_A), e.g. RELION's
  /// sqrt(2 FSC / (1 + FSC)) from the half-map FSC, so that shells the reference knows poorly
  /// weigh less; empty = 1 everywhere. Values outside [0, 1] are clipped.
  std::vector<double> shell_filter;
};

struct MatchResult {
  geometry::Quat orientation; ///< the best orientation found (canonical)
  double score = 0;           ///< its score
  double start_score = 0;     ///< the score of the starting orientation
  std::int64_t n_scored = 0;  ///< orientations scored
};

/// Matches images of size n, pixel size p, against one reference projector. Not thread-safe
/// (holds FFT workspaces); use one per thread.
class Matcher {
public:
  Matcher(std::int64_t image_size, double pixel_size, const MatchOptions& options);
  ~Matcher();
  Matcher(const Matcher&) = delete;
  Matcher& operator=(const Matcher&) = delete;
  /// Frequencies in the band.
  std::int64_t band_size() const { return static_cast<std::int64_t>(kx_.size()); }
  /// Refines `particle`'s orientation (its shift and CTF are used as they are) for `image`
  /// (n × n floats, x fastest) against `reference`, whose image size and pixel size must be the
  /// matcher's.
  MatchResult match(const simulate::FourierProjector& reference, const float* image,
                    const Particle& particle);

private:
  double score(const simulate::FourierProjector& reference, const geometry::Mat3& a);
  std::int64_t n_ = 0;
  double pixel_size_ = 0;
  MatchOptions options_;
  std::vector<std::int32_t> kx_, ky_;         ///< the band, in the r2c half-plane
  std::vector<std::int64_t> offset_;          ///< index of each band frequency in the r2c layout
  std::vector<float> filter_;                 ///< f(|k|) on the band
  std::vector<std::complex<float>> target_;   ///< conj(X) · c on the band
  std::vector<float> ctf2_;                   ///< c² on the band
  std::vector<std::complex<float>> slice_;    ///< S_A on the band (workspace)
  std::vector<float> real_;                   ///< FFT input (n × n)
  std::vector<std::complex<float>> spectrum_; ///< FFT output (n × (n/2 + 1))
  void* plan_ = nullptr;                      ///< fftwf_plan, r2c n × n
};

/// exp([ω]×): the rotation by |ω| radians about ω.
geometry::Mat3 rotation_exp(const geometry::Vec3& omega);

} // namespace pairpose::refine
