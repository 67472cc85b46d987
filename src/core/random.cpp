#include "pairpose/core/random.hpp"

#include <array>
#include <cmath>
#include <set>

#include "pairpose/core/error.hpp"

namespace pairpose {
namespace detail {
namespace {

// Constants r (the base layer's width) and v (each layer's area) for 256 layers, from Marsaglia
// & Tsang (2000). The base layer is the rectangle [0, r] × [0, f(r)] plus the tail beyond r, so
// its virtual width is v / f(r); layer i + 1 starts where layer i's rectangle of area v ends.
constexpr int n_layers = 256;
constexpr double r = 3.6541528853610088, v = 0.00492867323399;

ZigguratTable make_table() {
  ZigguratTable t{};
  t.x[0] = v / std::exp(-0.5 * r * r);
  t.x[1] = r;
  for (int i = 1; i + 1 < n_layers; ++i)
    t.x[i + 1] = std::sqrt(-2.0 * std::log(v / t.x[i] + std::exp(-0.5 * t.x[i] * t.x[i])));
  t.x[n_layers] = 0.0;
  for (int i = 0; i <= n_layers; ++i)
    t.f[i] = std::exp(-0.5 * t.x[i] * t.x[i]);
  return t;
}

} // namespace

const ZigguratTable ziggurat_table = make_table();

bool ziggurat_edge(Rng& rng, int layer, bool negative, double x, double& z) {
  if (layer == 0) { // the tail beyond r: Marsaglia's exponential rejection
    double a, b;
    do {
      a = -std::log1p(-rng.uniform()) / r;
      b = -std::log1p(-rng.uniform());
    } while (b + b < a * a);
    z = negative ? -(r + a) : r + a;
    return true;
  }
  // The wedge between the layer's rectangle and the curve.
  const double y = ziggurat_table.f[layer] +
                   rng.uniform() * (ziggurat_table.f[layer + 1] - ziggurat_table.f[layer]);
  if (y >= std::exp(-0.5 * x * x)) return false;
  z = negative ? -x : x;
  return true;
}

} // namespace detail

std::vector<std::int64_t> sample_indices(std::int64_t n, std::int64_t n_samples, Rng& rng) {
  PAIRPOSE_CHECK(n_samples >= 0 && n_samples <= n,
                 "sample_indices: cannot draw " << n_samples << " distinct indices from " << n);
  // Floyd: for j = n − m … n − 1 draw t in [0, j]; take t, or j if t was taken.
  std::set<std::int64_t> chosen;
  for (std::int64_t j = n - n_samples; j < n; ++j) {
    const auto t = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(j + 1)));
    if (!chosen.insert(t).second) chosen.insert(j);
  }
  return {chosen.begin(), chosen.end()};
}

} // namespace pairpose
