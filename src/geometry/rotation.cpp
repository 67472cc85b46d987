// Quaternions, rotation matrices, RELION Euler angles and the quaternion distance d_q.
#include "pairpose/geometry/rotation.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

namespace pairpose::geometry {

namespace {
constexpr double deg = M_PI / 180.0;

/// Wraps an angle in degrees to (-180, 180].
double wrap_degrees(double a) {
  a = std::remainder(a, 360.0);
  return a <= -180.0 ? a + 360.0 : a;
}
} // namespace

// --- quaternions ---------------------------------------------------------------------------
double dot(const Quat& a, const Quat& b) { return a.w * b.w + a.x * b.x + a.y * b.y + a.z * b.z; }

double norm(const Quat& q) { return std::sqrt(dot(q, q)); }

Quat normalized(const Quat& q) {
  const double n = norm(q);
  return {q.w / n, q.x / n, q.y / n, q.z / n};
}

Quat canonical(const Quat& q) {
  const double first = q.w != 0 ? q.w : q.x != 0 ? q.x : q.y != 0 ? q.y : q.z;
  return first < 0 ? Quat{-q.w, -q.x, -q.y, -q.z} : q;
}

Quat conjugate(const Quat& q) { return {q.w, -q.x, -q.y, -q.z}; }

Quat multiply(const Quat& a, const Quat& b) {
  return {
      a.w * b.w - a.x * b.x - a.y * b.y - a.z * b.z, a.w * b.x + a.x * b.w + a.y * b.z - a.z * b.y,
      a.w * b.y - a.x * b.z + a.y * b.w + a.z * b.x, a.w * b.z + a.x * b.y - a.y * b.x + a.z * b.w};
}

// --- matrices ------------------------------------------------------------------------------
Mat3 identity3() { return {1, 0, 0, 0, 1, 0, 0, 0, 1}; }

Mat3 multiply(const Mat3& a, const Mat3& b) {
  Mat3 c{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      c[3 * i + j] = a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j];
  return c;
}

Mat3 transpose(const Mat3& a) { return {a[0], a[3], a[6], a[1], a[4], a[7], a[2], a[5], a[8]}; }

Vec3 apply(const Mat3& a, const Vec3& v) {
  return {a[0] * v[0] + a[1] * v[1] + a[2] * v[2], a[3] * v[0] + a[4] * v[1] + a[5] * v[2],
          a[6] * v[0] + a[7] * v[1] + a[8] * v[2]};
}

double determinant(const Mat3& a) {
  return a[0] * (a[4] * a[8] - a[5] * a[7]) - a[1] * (a[3] * a[8] - a[5] * a[6]) +
         a[2] * (a[3] * a[7] - a[4] * a[6]);
}

Mat3 nearest_rotation(const Mat3& m) {
  const Eigen::Matrix3d e =
      Eigen::Map<const Eigen::Matrix<double, 3, 3, Eigen::RowMajor>>(m.data());
  Eigen::JacobiSVD<Eigen::Matrix3d> svd(e, Eigen::ComputeFullU | Eigen::ComputeFullV);
  Eigen::Matrix3d u = svd.matrixU();
  if ((u * svd.matrixV().transpose()).determinant() < 0) u.col(2) *= -1;
  const Eigen::Matrix3d r = u * svd.matrixV().transpose();
  Mat3 out;
  Eigen::Map<Eigen::Matrix<double, 3, 3, Eigen::RowMajor>>(out.data()) = r;
  return out;
}

Mat3 to_matrix(const Quat& q) {
  const double w = q.w, x = q.x, y = q.y, z = q.z;
  return {1 - 2 * (y * y + z * z), 2 * (x * y - w * z),     2 * (x * z + w * y),
          2 * (x * y + w * z),     1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
          2 * (x * z - w * y),     2 * (y * z + w * x),     1 - 2 * (x * x + y * y)};
}

Quat to_quaternion(const Mat3& r) {
  // Shepperd: take the square root of the largest of 4w², 4x², 4y², 4z².
  const double t = r[0] + r[4] + r[8];
  const double d[4] = {t, r[0], r[4], r[8]};
  const int k = static_cast<int>(std::max_element(d, d + 4) - d);
  Quat q;
  if (k == 0) {
    const double s = 2 * std::sqrt(1 + t);
    q = {s / 4, (r[7] - r[5]) / s, (r[2] - r[6]) / s, (r[3] - r[1]) / s};
  } else if (k == 1) {
    const double s = 2 * std::sqrt(1 + r[0] - r[4] - r[8]);
    q = {(r[7] - r[5]) / s, s / 4, (r[1] + r[3]) / s, (r[2] + r[6]) / s};
  } else if (k == 2) {
    const double s = 2 * std::sqrt(1 - r[0] + r[4] - r[8]);
    q = {(r[2] - r[6]) / s, (r[1] + r[3]) / s, s / 4, (r[5] + r[7]) / s};
  } else {
    const double s = 2 * std::sqrt(1 - r[0] - r[4] + r[8]);
    q = {(r[3] - r[1]) / s, (r[2] + r[6]) / s, (r[5] + r[7]) / s, s / 4};
  }
  return canonical(normalized(q));
}

Mat3 rotation_z(double angle_rad) {
  const double c = std::cos(angle_rad), s = std::sin(angle_rad);
  return {c, -s, 0, s, c, 0, 0, 0, 1};
}

// --- RELION Euler angles -------------------------------------------------------------------
Mat3 euler_to_matrix(double rot, double tilt, double psi) {
  const double ca = std::cos(rot * deg), sa = std::sin(rot * deg);
  const double cb = std::cos(tilt * deg), sb = std::sin(tilt * deg);
  const double cg = std::cos(psi * deg), sg = std::sin(psi * deg);
  // M = Rz(rot)·Ry(tilt)·Rz(psi); A = Mᵀ.
  const Mat3 m = {ca * cb * cg - sa * sg,
                  -ca * cb * sg - sa * cg,
                  ca * sb,
                  sa * cb * cg + ca * sg,
                  -sa * cb * sg + ca * cg,
                  sa * sb,
                  -sb * cg,
                  sb * sg,
                  cb};
  return transpose(m);
}

Vec3 matrix_to_euler(const Mat3& a) {
  const Mat3 m = transpose(a); // M = Rz(rot)·Ry(tilt)·Rz(psi)
  const double sb = 0.5 * (std::hypot(m[2], m[5]) + std::hypot(m[6], m[7]));
  const double tilt = std::atan2(sb, m[8]);
  // rot ± psi from the upper 2×2 block, where they are well conditioned:
  // M00 + M11 = (1 + cos tilt)·cos(rot + psi), M10 − M01 = (1 + cos tilt)·sin(rot + psi),
  // M00 − M11 = (cos tilt − 1)·cos(rot − psi), M10 + M01 = (cos tilt − 1)·sin(rot − psi).
  // rot alone from the third column, whose entries carry sin tilt: an error there moves the
  // matrix by no more than the rounding of those entries.
  const bool upper = m[8] >= 0;
  const double sum = std::atan2(m[3] - m[1], m[0] + m[4]);
  const double diff = std::atan2(-(m[3] + m[1]), -(m[0] - m[4]));
  const bool locked = sb < 1e-12; // rot is undetermined: RELION sets it to 0
  const double rot = locked ? 0.0 : std::atan2(m[5], m[2]);
  const double psi = upper ? sum - rot : rot - diff;
  return {wrap_degrees(rot / deg), tilt / deg, wrap_degrees(psi / deg)};
}

Quat euler_to_quaternion(double rot, double tilt, double psi) {
  return to_quaternion(euler_to_matrix(rot, tilt, psi));
}

Vec3 quaternion_to_euler(const Quat& q) { return matrix_to_euler(to_matrix(q)); }

// --- distances -----------------------------------------------------------------------------
double distance(const Quat& a, const Quat& b) {
  const double s = dot(a, b) < 0 ? -1.0 : 1.0;
  const double dw = a.w - s * b.w, dx = a.x - s * b.x, dy = a.y - s * b.y, dz = a.z - s * b.z;
  const double r = std::sqrt(dw * dw + dx * dx + dy * dy + dz * dz);
  return 4 * std::asin(std::min(r / 2, 1.0));
}

double distance_gradient(const Quat& a, const Quat& b, Quat& grad_a, Quat& grad_b) {
  const double s = dot(a, b) < 0 ? -1.0 : 1.0;
  const Quat u{a.w - s * b.w, a.x - s * b.x, a.y - s * b.y, a.z - s * b.z};
  const double r = norm(u);
  const double h = std::min(r / 2, 1.0);
  if (r == 0 || h >= 1.0) {
    grad_a = grad_b = Quat{0, 0, 0, 0};
    return 4 * std::asin(h);
  }
  // d = 4·asin(r/2): ∂d/∂a = 2·u / (r·sqrt(1 − r²/4)), ∂d/∂b = −s·∂d/∂a.
  const double f = 2 / (r * std::sqrt(1 - h * h));
  grad_a = {f * u.w, f * u.x, f * u.y, f * u.z};
  grad_b = {-s * grad_a.w, -s * grad_a.x, -s * grad_a.y, -s * grad_a.z};
  return 4 * std::asin(h);
}

double rotation_angle(const Mat3& a, const Mat3& b) {
  const Mat3 m = multiply(transpose(a), b);
  // cos θ = (tr − 1)/2 and sin θ = ‖axial vector‖: atan2 is accurate over the whole of [0, π].
  const double c = (m[0] + m[4] + m[8] - 1) / 2;
  const double s = std::sqrt((m[7] - m[5]) * (m[7] - m[5]) + (m[2] - m[6]) * (m[2] - m[6]) +
                             (m[3] - m[1]) * (m[3] - m[1])) /
                   2;
  return std::atan2(s, c);
}

} // namespace pairpose::geometry
