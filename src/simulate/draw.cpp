#include "pairpose/simulate/draw.hpp"

#include <cmath>

#include "pairpose/core/error.hpp"
#include "pairpose/core/random.hpp"
#include "pairpose/simulate/ctf.hpp"

namespace pairpose::simulate {

ShiftDistribution parse_shift_distribution(const std::string& text) {
  if (text == "uniform") return ShiftDistribution::uniform;
  if (text == "gaussian") return ShiftDistribution::gaussian;
  PAIRPOSE_FAIL("shift_distribution: expected \"uniform\" or \"gaussian\", got \"" << text << "\"");
}

void check_draw_options(const DrawOptions& o) {
  PAIRPOSE_CHECK(o.shift_max >= 0 && std::isfinite(o.shift_max),
                 "shift_max must be >= 0 Å, got " << o.shift_max);
  PAIRPOSE_CHECK(o.n_maps >= 1, "simulation needs at least one map");
  if (!o.ctf) return;
  PAIRPOSE_CHECK(o.defocus_min <= o.defocus_max,
                 "defocus range is empty: defocus_min = " << o.defocus_min << " Å > defocus_max = "
                                                          << o.defocus_max << " Å");
  PAIRPOSE_CHECK(o.defocus_min >= 0, "defocus_min must be >= 0 Å, got " << o.defocus_min);
  PAIRPOSE_CHECK(o.astigmatism_max >= 0,
                 "astigmatism_max must be >= 0 Å, got " << o.astigmatism_max);
  check_ctf(o.ctf_fixed, "CTF parameters");
}

namespace {
void draw_shift(const DrawOptions& o, Rng& rng, Particle& p) {
  if (o.shift_max <= 0) return;
  const double r2_max = o.shift_max * o.shift_max;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    double x, y;
    if (o.shift_distribution == ShiftDistribution::uniform) {
      x = rng.uniform(-o.shift_max, o.shift_max);
      y = rng.uniform(-o.shift_max, o.shift_max);
    } else {
      x = 0.5 * o.shift_max * rng.normal();
      y = 0.5 * o.shift_max * rng.normal();
    }
    if (x * x + y * y <= r2_max) {
      p.shift_x = x, p.shift_y = y;
      return;
    }
  }
}
} // namespace

Particle draw_particle(const DrawOptions& o, std::uint64_t seed, std::int64_t index) {
  Particle p;
  Rng orientation(seed, stream_orientation, index);
  p.orientation = geometry::random_rotation(orientation, o.views);
  Rng shift(seed, stream_shift, index);
  draw_shift(o, shift, p);
  if (o.ctf) {
    Rng ctf(seed, stream_ctf, index);
    p.has_ctf = true;
    p.ctf = o.ctf_fixed;
    const double mean = ctf.uniform(o.defocus_min, o.defocus_max);
    const double astig = ctf.uniform(0.0, o.astigmatism_max);
    p.ctf.defocus_u = mean + 0.5 * astig;
    p.ctf.defocus_v = mean - 0.5 * astig;
    p.ctf.defocus_angle = ctf.uniform(0.0, 180.0);
  }
  if (o.n_maps > 1) {
    Rng map(seed, stream_map_choice, index);
    p.map_index = static_cast<std::int32_t>(map.below(static_cast<std::uint64_t>(o.n_maps)));
  }
  return p;
}

} // namespace pairpose::simulate
