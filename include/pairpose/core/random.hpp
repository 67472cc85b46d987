#pragma once
/// @file random.hpp
/// Counter-based reproducible random numbers. A generator is made from (seed, stream, index), so
/// the draws for particle i depend on nothing but the seed and i: 1 rank and 100 ranks draw the
/// same numbers. Streams separate independent uses (orientations, noise, ...).
#include <cmath>
#include <cstdint>
#include <vector>

namespace pairpose {

/// SplitMix64 finaliser: a bijective 64-bit mix.
inline std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/// xoshiro256** seeded from (seed, stream, index) through SplitMix64. Not thread-safe; cheap to
/// construct, so make one per item.
class Rng {
public:
  Rng(std::uint64_t seed, std::uint64_t stream = 0, std::uint64_t index = 0) {
    std::uint64_t x = mix64(mix64(mix64(seed) ^ stream) ^ (index * 0xd1b54a32d192ed03ull));
    for (auto& s : s_)
      s = x = mix64(x);
  }
  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  /// Uniform in [0, 1), 53 random bits.
  double uniform() { return (next() >> 11) * 0x1.0p-53; }
  /// Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [0, n), n > 0 (Lemire's method without the rejection step's bias kept
  /// below 2^-64 · n).
  std::uint64_t below(std::uint64_t n) {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
  /// Standard normal (Box–Muller, both values used).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = uniform();
    while (u1 <= 0.0)
      u1 = uniform();
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2.0 * M_PI * u2);
    has_spare_ = true;
    return r * std::cos(2.0 * M_PI * u2);
  }

private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
  double spare_ = 0.0;
  bool has_spare_ = false;
};

namespace detail {
/// The ziggurat's 256 layers of equal area under exp(−x²/2) (src/core/random.cpp): layer i spans
/// [0, x[i]]; x[256] = 0; f[i] = exp(−x[i]²/2).
struct ZigguratTable {
  double x[257];
  double f[257];
};
extern const ZigguratTable ziggurat_table;
/// The rare cases of ziggurat_normal (~1 %): the base layer's tail, or a point of layer `layer`
/// beyond the next layer's width. Sets `z` and returns true when the point is accepted.
bool ziggurat_edge(Rng& rng, int layer, bool negative, double x, double& z);
} // namespace detail

/// A standard normal draw by the ziggurat method (Marsaglia & Tsang, J. Stat. Softw. 5(8),
/// 2000; 256 layers of equal area): in ~99 % of calls one 64-bit draw, a table lookup, a
/// multiplication and a comparison, several times cheaper than Box–Muller's log, sqrt and
/// sin/cos. For bulk draws such as pixel noise; Rng::normal() keeps its own (Box–Muller) sequence.
inline double ziggurat_normal(Rng& rng) {
  for (;;) {
    const std::uint64_t bits = rng.next();
    const int layer = static_cast<int>(bits & 0xff);
    const bool negative = (bits >> 8) & 1;
    const double x = static_cast<double>(bits >> 11) * 0x1.0p-53 * detail::ziggurat_table.x[layer];
    if (x < detail::ziggurat_table.x[layer + 1]) return negative ? -x : x;
    double z;
    if (detail::ziggurat_edge(rng, layer, negative, x, z)) return z;
  }
}

/// `n_samples` distinct indices in [0, n), ascending, drawn from `rng` (Floyd's algorithm:
/// O(n_samples log n_samples), whatever n). Throws unless 0 <= n_samples <= n.
std::vector<std::int64_t> sample_indices(std::int64_t n, std::int64_t n_samples, Rng& rng);

/// Named streams, so that adding a new use never shifts the draws of an old one.
enum RngStream : std::uint64_t {
  stream_orientation = 1,
  stream_shift = 2,
  stream_ctf = 3,
  stream_noise = 4,
  stream_map_choice = 5,
  stream_pairs = 6,
  stream_init = 7,
  stream_split = 8,
  stream_phantom = 9,
  stream_train = 10,
  stream_gauge = 11,
  stream_evaluate = 12,
  stream_assembly = 13,
  stream_train_group = 14,
};

} // namespace pairpose
