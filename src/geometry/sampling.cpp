// Random orientations: uniform on SO(3) (Shoemake) or over a restricted range of views.
#include "pairpose/core/error.hpp"
#include "pairpose/core/random.hpp"
#include "pairpose/geometry/rotation.hpp"

#include <cmath>
#include <cstring>

namespace pairpose::geometry {

ViewRange parse_view_range(const char* text) {
  const char* t = text ? text : "";
  if (std::strcmp(t, "full") == 0) return ViewRange::full;
  if (std::strcmp(t, "half") == 0) return ViewRange::half;
  if (std::strcmp(t, "quarter") == 0) return ViewRange::quarter;
  PAIRPOSE_FAIL("view range: expected \"full\", \"half\" or \"quarter\", got \"" << t << "\"");
}

Quat random_rotation(Rng& rng) {
  // Shoemake (1992), "Uniform random rotations", Graphics Gems III.
  const double u1 = rng.uniform(), u2 = rng.uniform(), u3 = rng.uniform();
  const double a = std::sqrt(1 - u1), b = std::sqrt(u1);
  const Quat q{b * std::cos(2 * M_PI * u3), a * std::sin(2 * M_PI * u2),
               a * std::cos(2 * M_PI * u2), b * std::sin(2 * M_PI * u3)};
  return canonical(normalized(q));
}

Quat random_rotation(Rng& rng, ViewRange range) {
  if (range == ViewRange::full) return random_rotation(rng);
  // Haar measure in RELION's Euler angles: rot and psi uniform, cos(tilt) uniform. The beam
  // direction n = (cos rot·sin tilt, sin rot·sin tilt, cos tilt) is then uniform on the sphere;
  // n_z ≥ 0 ⇔ cos tilt ∈ [0, 1], and n_y ≥ 0 ⇔ rot ∈ [0°, 180°].
  const double rot_span = range == ViewRange::quarter ? 180.0 : 360.0;
  const double rot = rng.uniform(0.0, rot_span);
  const double tilt = std::acos(rng.uniform()) * 180.0 / M_PI;
  const double psi = rng.uniform(0.0, 360.0);
  return euler_to_quaternion(rot, tilt, psi);
}

} // namespace pairpose::geometry
