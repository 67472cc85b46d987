#pragma once
/// @file rotation.hpp
/// Orientations (method.md §2–3). A particle's orientation is RELION's projection matrix A: a
/// point p of the map (voxels from the box centre) lands in the image at (A·p)_x,y. It is stored
/// as the unit quaternion of A, scalar first, in canonical sign (w ≥ 0, ties broken on the first
/// non-zero component). Euler angles are RELION's ZYZ (rot, tilt, psi) in degrees, with
/// A = (Rz(rot)·Ry(tilt)·Rz(psi))ᵀ.
#include <array>
#include <cstdint>

namespace pairpose {
class Rng;
}

namespace pairpose::geometry {

/// Quaternion (w, x, y, z), scalar first.
struct Quat {
  double w = 1, x = 0, y = 0, z = 0;
};

/// 3×3 matrix, row-major: m[3 * row + col].
using Mat3 = std::array<double, 9>;
using Vec3 = std::array<double, 3>;

// --- quaternions ---------------------------------------------------------------------------
double dot(const Quat& a, const Quat& b);
double norm(const Quat& q);
Quat normalized(const Quat& q);
/// The same rotation with w ≥ 0 (ties broken on the first non-zero component).
Quat canonical(const Quat& q);
Quat conjugate(const Quat& q);
/// Hamilton product a·b (the rotation b, then a).
Quat multiply(const Quat& a, const Quat& b);

// --- matrices ------------------------------------------------------------------------------
Mat3 identity3();
Mat3 multiply(const Mat3& a, const Mat3& b);
Mat3 transpose(const Mat3& a);
Vec3 apply(const Mat3& a, const Vec3& v);
double determinant(const Mat3& a);
/// The rotation closest to `m` in the Frobenius norm (SVD, determinant +1).
Mat3 nearest_rotation(const Mat3& m);
/// Rotation matrix of a unit quaternion (the active rotation it represents).
Mat3 to_matrix(const Quat& q);
/// Canonical unit quaternion of a rotation matrix (robust: Shepperd's method).
Quat to_quaternion(const Mat3& r);
/// Rotation by `angle_rad` about the z axis (active).
Mat3 rotation_z(double angle_rad);

// --- RELION Euler angles (degrees) ---------------------------------------------------------
/// RELION's A for (rot, tilt, psi) in degrees.
Mat3 euler_to_matrix(double rot, double tilt, double psi);
/// (rot, tilt, psi) in degrees of a rotation matrix, as RELION's Euler_matrix2angles: tilt in
/// [0, 180]; at gimbal lock (tilt 0 or 180) rot is set to 0 and psi carries the whole in-plane
/// angle.
Vec3 matrix_to_euler(const Mat3& a);
Quat euler_to_quaternion(double rot, double tilt, double psi);
Vec3 quaternion_to_euler(const Quat& q);

// --- distances (method.md §3) --------------------------------------------------------------
/// d_q = 2·arccos|⟨a, b⟩| ∈ [0, π], computed as 4·asin(‖a − s·b‖ / 2), s = sign⟨a, b⟩, which stays
/// accurate (and has a bounded gradient) near d = 0. a and b must be unit quaternions.
double distance(const Quat& a, const Quat& b);
/// d_q and its gradient with respect to a and b (ambient R⁴ components, not yet projected to the
/// tangent space). At d = 0 exactly the gradient is set to zero.
double distance_gradient(const Quat& a, const Quat& b, Quat& grad_a, Quat& grad_b);
/// Angle in radians of the rotation aᵀ·b (0 … π) for rotation matrices.
double rotation_angle(const Mat3& a, const Mat3& b);

// --- sampling ------------------------------------------------------------------------------
/// Viewing directions allowed when sampling: the whole sphere, or the half (n_z ≥ 0) or quarter
/// (n_z ≥ 0 and n_y ≥ 0) sphere, n being the beam direction in the map's frame (third row of A).
/// The in-plane angle is always uniform.
enum class ViewRange { full, half, quarter };
/// Parses "full" | "half" | "quarter"; throws naming the text otherwise.
ViewRange parse_view_range(const char* text);
/// Uniform random rotation (Haar measure on SO(3)), as a canonical quaternion.
Quat random_rotation(Rng& rng);
/// Uniform over the allowed viewing directions and in-plane angles.
Quat random_rotation(Rng& rng, ViewRange range);

} // namespace pairpose::geometry
