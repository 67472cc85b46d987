#include "pairpose/simulate/molmap.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

#include "pairpose/config/provenance.hpp"
#include "pairpose/core/error.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/core/random.hpp"
#include "pairpose/io/mrc.hpp"

namespace pairpose::simulate {
namespace {

/// Normalised 1D Gaussian weights over the voxels within ±half_width of `centre` (voxel units),
/// clipped to [0, n). Returns the first voxel index; `w` holds the weights.
std::int64_t gaussian_window(double centre, double sigma, double half_width, std::int64_t n,
                             std::vector<double>& w) {
  std::int64_t lo = static_cast<std::int64_t>(std::ceil(centre - half_width));
  std::int64_t hi = static_cast<std::int64_t>(std::floor(centre + half_width));
  if (lo > hi) lo = hi = static_cast<std::int64_t>(std::lround(centre));
  w.assign(static_cast<size_t>(hi - lo + 1), 0.0);
  double sum = 0;
  for (std::int64_t i = lo; i <= hi; ++i) {
    const double d = (i - centre) / sigma;
    sum += w[i - lo] = std::exp(-0.5 * d * d);
  }
  for (auto& v : w)
    v /= sum;
  // Clip to the box (mass outside is lost, on purpose: the box decides what the map holds).
  const std::int64_t first = std::max<std::int64_t>(lo, 0), last = std::min(hi, n - 1);
  if (first > last) {
    w.clear();
    return 0;
  }
  w = std::vector<double>(w.begin() + (first - lo), w.begin() + (last - lo + 1));
  return first;
}

void check_options(const MolmapOptions& o) {
  PAIRPOSE_CHECK(o.resolution > 0, "molmap: resolution must be positive, got " << o.resolution);
  PAIRPOSE_CHECK(o.voxel_size > 0, "molmap: voxel size must be positive, got " << o.voxel_size);
  PAIRPOSE_CHECK(o.box >= 0, "molmap: box must be >= 0 (0 = automatic), got " << o.box);
  PAIRPOSE_CHECK(o.cutoff > 0, "molmap: cutoff must be positive, got " << o.cutoff);
}

/// Random unit quaternion (uniform on SO(3)) as a rotation matrix.
Eigen::Matrix3d random_rotation(Rng& rng) {
  Eigen::Quaterniond q(rng.normal(), rng.normal(), rng.normal(), rng.normal());
  q.normalize();
  return q.toRotationMatrix();
}

/// Adds amplitude · exp(−½ dᵀ P d) around `centre` (voxels) within ±half_width on each axis.
void add_blob(Volume& v, const Eigen::Vector3d& centre, const Eigen::Matrix3d& precision,
              double amplitude, double half_width) {
  std::int64_t lo[3], hi[3];
  const std::int64_t n[3] = {v.nx, v.ny, v.nz};
  for (int a = 0; a < 3; ++a) {
    lo[a] = std::max<std::int64_t>(0, std::ceil(centre[a] - half_width));
    hi[a] = std::min<std::int64_t>(n[a] - 1, std::floor(centre[a] + half_width));
  }
  for (std::int64_t z = lo[2]; z <= hi[2]; ++z)
    for (std::int64_t y = lo[1]; y <= hi[1]; ++y)
      for (std::int64_t x = lo[0]; x <= hi[0]; ++x) {
        const Eigen::Vector3d d = Eigen::Vector3d(x, y, z) - centre;
        v.at(x, y, z) += static_cast<float>(amplitude * std::exp(-0.5 * d.dot(precision * d)));
      }
}

/// A point uniform in the ball of radius r (rejection sampling).
Eigen::Vector3d random_in_ball(Rng& rng, double r) {
  for (;;) {
    Eigen::Vector3d p(rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(-1, 1));
    if (p.squaredNorm() <= 1) return r * p;
  }
}

/// Runs `work` on rank 0; every rank throws the same error if it fails.
template <class F> void on_root(MPI_Comm comm, F&& work) {
  std::string problem;
  if (mpi::comm_rank(comm) == 0) {
    try {
      work();
    } catch (const Error& e) {
      problem = e.what();
    }
  }
  mpi::agree_or_throw(problem, comm);
}

} // namespace

double molmap_sigma(double resolution) { return resolution / (M_PI * std::sqrt(2.0)); }

std::array<double, 3> centre_of_mass(const std::vector<io::Atom>& atoms) {
  std::array<double, 3> c{0, 0, 0};
  double total = 0;
  for (const auto& a : atoms) {
    c[0] += a.atomic_number * a.x;
    c[1] += a.atomic_number * a.y;
    c[2] += a.atomic_number * a.z;
    total += a.atomic_number;
  }
  PAIRPOSE_CHECK(total > 0, "centre_of_mass: no atoms");
  for (auto& v : c)
    v /= total;
  return c;
}

std::int64_t auto_box_size(const std::vector<io::Atom>& atoms, const MolmapOptions& o) {
  check_options(o);
  const auto com = centre_of_mass(atoms);
  double reach = 0;
  for (const auto& a : atoms)
    reach =
        std::max({reach, std::abs(a.x - com[0]), std::abs(a.y - com[1]), std::abs(a.z - com[2])});
  const double half = reach + o.cutoff * molmap_sigma(o.resolution) + o.margin;
  return 2 * static_cast<std::int64_t>(std::ceil(half / o.voxel_size));
}

Volume molmap(const std::vector<io::Atom>& atoms, const MolmapOptions& o) {
  check_options(o);
  const std::int64_t n = o.box > 0 ? o.box : auto_box_size(atoms, o);
  const auto com = centre_of_mass(atoms);
  const double a = o.voxel_size, sigma = molmap_sigma(o.resolution) / a;
  const double half_width = o.cutoff * sigma, scale = 1.0 / (a * a * a);
  Volume v(n, n, n, a);
  for (int k = 0; k < 3; ++k)
    v.origin[k] = com[k] - 0.5 * n * a;
  std::vector<double> wx, wy, wz;
  for (const auto& atom : atoms) {
    const std::int64_t x0 =
        gaussian_window((atom.x - com[0]) / a + 0.5 * n, sigma, half_width, n, wx);
    const std::int64_t y0 =
        gaussian_window((atom.y - com[1]) / a + 0.5 * n, sigma, half_width, n, wy);
    const std::int64_t z0 =
        gaussian_window((atom.z - com[2]) / a + 0.5 * n, sigma, half_width, n, wz);
    const double weight = atom.atomic_number * scale;
    for (size_t k = 0; k < wz.size(); ++k)
      for (size_t j = 0; j < wy.size(); ++j) {
        float* row = &v.at(x0, y0 + std::int64_t(j), z0 + std::int64_t(k));
        const double wjk = weight * wz[k] * wy[j];
        for (size_t i = 0; i < wx.size(); ++i)
          row[i] += static_cast<float>(wjk * wx[i]);
      }
  }
  return v;
}

Volume phantom(const PhantomOptions& o) {
  PAIRPOSE_CHECK(o.box >= 4, "phantom: box must be at least 4 voxels, got " << o.box);
  PAIRPOSE_CHECK(o.n_blobs >= 1, "phantom: n_blobs must be at least 1, got " << o.n_blobs);
  PAIRPOSE_CHECK(o.radius_fraction > 0 && o.radius_fraction <= 0.5,
                 "phantom: radius_fraction must be in (0, 0.5], got " << o.radius_fraction);
  PAIRPOSE_CHECK(o.voxel_size > 0, "phantom: voxel size must be positive, got " << o.voxel_size);
  Volume v(o.box, o.box, o.box, o.voxel_size);
  const double R = o.radius_fraction * o.box;
  const Eigen::Vector3d centre = Eigen::Vector3d::Constant(0.5 * o.box);
  Rng rng(o.seed, stream_phantom, 0);
  Eigen::Vector3d p = random_in_ball(rng, 0.3 * R);
  for (std::int64_t k = 0; k < o.n_blobs; ++k) {
    const double sigma = std::max(1.0, rng.uniform(R / 12, R / 5));
    const Eigen::Vector3d axes(sigma, sigma * rng.uniform(0.4, 1.0), sigma * rng.uniform(0.4, 1.0));
    const Eigen::Matrix3d rot = random_rotation(rng);
    const Eigen::Matrix3d precision =
        rot * axes.cwiseInverse().cwiseAbs2().asDiagonal() * rot.transpose();
    const double amplitude = rng.uniform(0.5, 1.0);
    // Step from the previous centre; pull back inside the allowed radius if needed.
    const double allowed = std::max(0.0, R - 2 * sigma);
    Eigen::Vector3d step(rng.normal(), rng.normal(), rng.normal());
    p += 1.6 * sigma * step.normalized();
    if (p.norm() > allowed) p *= allowed / p.norm();
    add_blob(v, centre + p, precision, amplitude, 3 * sigma);
  }
  const float peak = *std::max_element(v.data.begin(), v.data.end());
  for (auto& x : v.data)
    x /= peak;
  return v;
}

std::vector<io::Atom> fragment_assembly(const std::vector<std::vector<io::Atom>>& models,
                                        const AssemblyOptions& o) {
  PAIRPOSE_CHECK(o.radius > 0 && o.fragment_radius > 0 && o.n_fragments >= 1,
                 "fragment_assembly: radius, fragment_radius and n_fragments must be positive");
  std::vector<const std::vector<io::Atom>*> usable;
  for (const auto& m : models)
    if (!m.empty()) usable.push_back(&m);
  PAIRPOSE_CHECK(!usable.empty(), "fragment_assembly: no atoms in the models");
  Rng rng(o.seed, stream_assembly, 0);
  const double R = o.radius * rng.uniform(0.6, 1.0);
  const std::int64_t lo = (o.n_fragments + 1) / 2;
  const std::int64_t count = lo + std::int64_t(rng.below(std::uint64_t(o.n_fragments - lo + 1)));
  const double r2 = o.fragment_radius * o.fragment_radius;
  const double allowed = std::max(0.0, R - o.fragment_radius);
  std::vector<io::Atom> out;
  Eigen::Vector3d p = random_in_ball(rng, 0.3 * allowed);
  for (std::int64_t k = 0; k < count; ++k) {
    const auto& model = *usable[rng.below(usable.size())];
    const io::Atom& c = model[rng.below(model.size())];
    const Eigen::Matrix3d rot = random_rotation(rng);
    Eigen::Vector3d step(rng.normal(), rng.normal(), rng.normal());
    if (k > 0) p += 1.2 * o.fragment_radius * step.normalized();
    if (p.norm() > allowed) p *= allowed / p.norm();
    for (const auto& a : model) {
      const Eigen::Vector3d d(a.x - c.x, a.y - c.y, a.z - c.z);
      if (d.squaredNorm() > r2) continue;
      const Eigen::Vector3d x = rot * d + p;
      out.push_back(io::Atom{x[0], x[1], x[2], a.atomic_number});
    }
  }
  return out;
}

// --- stages ---------------------------------------------------------------------------------

void declare_molmap(config::Schema& s) {
  s.string("model", "", "Atomic model to convert: PDB or mmCIF (required).");
  s.string("output", "molmap.mrc", "Output map (MRC, mode 2); a .params.toml sidecar is written.");
  s.real("resolution", 8.0, 0.1, 1000.0,
         "Target resolution; Gaussian sigma = resolution / (pi sqrt 2) as Chimera's molmap.", "Å");
  s.real("voxel_size", 1.5, 0.01, 100.0, "Voxel size of the map.", "Å");
  s.integer("box", 0, 0, 4096, "Box edge in voxels; 0 = from the model's extent plus margin.",
            "voxels");
  s.real("margin", 10.0, 0.0, 10000.0,
         "Padding beyond the Gaussian tails on each side when box = 0.", "Å");
  s.real("cutoff", 3.0, 1.0, 10.0, "Each Gaussian is evaluated within +-cutoff sigma.", "sigma");
}

void run_molmap(StageContext& ctx) {
  const auto& p = ctx.params;
  const std::string model = p.string("model"), output = p.string("output");
  on_root(ctx.comm, [&] {
    PAIRPOSE_CHECK(!model.empty(), "[molmap] model: no atomic model given (set molmap.model)");
    PAIRPOSE_CHECK(!output.empty(), "[molmap] output: no output path given");
    MolmapOptions o;
    o.resolution = p.real("resolution");
    o.voxel_size = p.real("voxel_size");
    o.box = p.integer("box");
    o.margin = p.real("margin");
    o.cutoff = p.real("cutoff");
    std::vector<io::Atom> atoms;
    {
      auto t = ctx.timers.scope("read model");
      atoms = io::read_atomic_model(model);
    }
    double total_z = 0;
    for (const auto& a : atoms)
      total_z += a.atomic_number;
    ctx.log.info("{}: {} atoms, total atomic number {}", model, atoms.size(), total_z);
    Volume v;
    {
      auto t = ctx.timers.scope("molmap");
      v = molmap(atoms, o);
    }
    double sum = 0;
    for (float x : v.data)
      sum += x;
    const double inside = sum * std::pow(o.voxel_size, 3) / total_z;
    ctx.log.info("map {}³ voxels of {} Å, sigma {:.3f} Å, {:.2f}% of the mass inside the box", v.nx,
                 o.voxel_size, molmap_sigma(o.resolution), 100 * inside);
    if (inside < 0.999)
      ctx.log.warn("the box cuts off {:.2f}% of the model's density; increase box or margin",
                   100 * (1 - inside));
    auto t = ctx.timers.scope("write");
    io::write_mrc(output, v, "molmap of " + model);
    write_provenance_sidecar(output, ctx.provenance);
    ctx.log.info("wrote {}", output);
  });
}

void declare_phantom(config::Schema& s) {
  s.string("output", "phantom.mrc", "Output map (MRC, mode 2); a .params.toml sidecar is written.");
  s.integer("box", 64, 8, 2048, "Box edge.", "voxels");
  s.real("voxel_size", 2.0, 0.01, 100.0, "Voxel size written to the header.", "Å");
  s.integer("n_blobs", 40, 1, 100000, "Number of anisotropic Gaussian blobs.");
  s.real("radius_fraction", 1 / 3.0, 0.05, 0.5,
         "Radius of the sphere holding the blobs, as a fraction of the box edge.");
  s.integer("seed", 1, 0, 9.0e18, "Random seed: the same seed gives the same map.");
}

void run_phantom(StageContext& ctx) {
  const auto& p = ctx.params;
  const std::string output = p.string("output");
  on_root(ctx.comm, [&] {
    PAIRPOSE_CHECK(!output.empty(), "[phantom] output: no output path given");
    PhantomOptions o;
    o.box = p.integer("box");
    o.voxel_size = p.real("voxel_size");
    o.n_blobs = p.integer("n_blobs");
    o.radius_fraction = p.real("radius_fraction");
    o.seed = static_cast<std::uint64_t>(p.integer("seed"));
    Volume v;
    {
      auto t = ctx.timers.scope("phantom");
      v = phantom(o);
    }
    auto t = ctx.timers.scope("write");
    io::write_mrc(output, v, "phantom seed " + std::to_string(o.seed));
    write_provenance_sidecar(output, ctx.provenance);
    ctx.log.info("wrote {} ({}³ voxels of {} Å, {} blobs, seed {})", output, o.box, o.voxel_size,
                 o.n_blobs, o.seed);
  });
}

} // namespace pairpose::simulate
