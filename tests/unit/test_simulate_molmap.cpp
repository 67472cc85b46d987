#define BOOST_TEST_MODULE simulate_molmap
#include "pairpose_test.hpp"

#include <cmath>
#include <cstdlib>

#include "pairpose/core/error.hpp"
#include "pairpose/io/mrc.hpp"
#include "pairpose/simulate/molmap.hpp"

using namespace pairpose;
using namespace pairpose::simulate;
namespace tt = boost::test_tools;

namespace {

struct Moments {
  double mass = 0;                ///< Σ values · voxel³
  std::array<double, 3> centre{}; ///< density centroid, voxels
  double second = 0;              ///< mean squared distance from the centroid, voxels²
  float peak = 0;
};

Moments moments(const Volume& v) {
  Moments m;
  double sum = 0;
  for (std::int64_t z = 0; z < v.nz; ++z)
    for (std::int64_t y = 0; y < v.ny; ++y)
      for (std::int64_t x = 0; x < v.nx; ++x) {
        const double w = v.at(x, y, z);
        sum += w;
        m.centre[0] += w * x, m.centre[1] += w * y, m.centre[2] += w * z;
        m.peak = std::max(m.peak, v.at(x, y, z));
      }
  for (auto& c : m.centre)
    c /= sum;
  for (std::int64_t z = 0; z < v.nz; ++z)
    for (std::int64_t y = 0; y < v.ny; ++y)
      for (std::int64_t x = 0; x < v.nx; ++x) {
        const double dx = x - m.centre[0], dy = y - m.centre[1], dz = z - m.centre[2];
        m.second += v.at(x, y, z) * (dx * dx + dy * dy + dz * dz);
      }
  m.second /= sum;
  m.mass = sum * std::pow(v.voxel_size, 3);
  return m;
}

double total_z(const std::vector<io::Atom>& atoms) {
  double t = 0;
  for (const auto& a : atoms)
    t += a.atomic_number;
  return t;
}

} // namespace

BOOST_AUTO_TEST_CASE(sigma_formula) {
  BOOST_TEST(molmap_sigma(10.0) == 10.0 / (M_PI * std::sqrt(2.0)));
  BOOST_TEST(molmap_sigma(8.0) == 1.8006, tt::tolerance(1e-4));
}

BOOST_AUTO_TEST_CASE(single_atom_is_a_centred_gaussian) {
  // One carbon at an arbitrary position: the peak sits at the box centre, the map sums to Z, and
  // the second moment matches 3σ² (in voxels) of the sampled Gaussian.
  MolmapOptions o;
  o.resolution = 6.0;
  o.voxel_size = 1.0;
  o.box = 40;
  o.cutoff = 5.0;
  const Volume v = molmap({{12.3, -4.0, 7.7, 6}}, o);
  BOOST_TEST(v.nx == 40);
  BOOST_TEST(v.is_cube());
  BOOST_TEST(v.at(20, 20, 20) == moments(v).peak);
  const Moments m = moments(v);
  BOOST_TEST(m.mass == 6.0, tt::tolerance(1e-5));
  const double s = molmap_sigma(6.0);
  BOOST_TEST(m.second == 3 * s * s, tt::tolerance(1e-3));
  BOOST_TEST(v.origin[0] == 12.3 - 20.0, tt::tolerance(1e-12));
  BOOST_TEST(v.origin[2] == 7.7 - 20.0, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(centre_of_mass_at_box_centre,
                     *boost::unit_test::precondition(testing::needs_shared_data{"1tii.pdb"})) {
  const auto atoms = io::read_atomic_model(testing::shared_data("1tii.pdb"));
  MolmapOptions o;
  o.resolution = 10.0;
  o.voxel_size = 2.0;
  const Volume v = molmap(atoms, o);
  BOOST_TEST(v.is_cube());
  BOOST_TEST(v.nx % 2 == 0);
  BOOST_TEST(v.nx == auto_box_size(atoms, o));
  const Moments m = moments(v);
  for (int k = 0; k < 3; ++k)
    BOOST_TEST(m.centre[k] == 0.5 * v.nx, tt::tolerance(0.05 / 30));
  // The origin puts the model's centre of mass at the box centre in Å.
  const auto com = centre_of_mass(atoms);
  for (int k = 0; k < 3; ++k)
    BOOST_TEST(v.origin[k] + 0.5 * v.nx * v.voxel_size == com[k], tt::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(integral_proportional_to_atomic_number,
                     *boost::unit_test::precondition(testing::needs_shared_data{"1tii.pdb"}) *
                         boost::unit_test::precondition(testing::needs_shared_data{"1hpv.pdb"})) {
  const auto big = io::read_atomic_model(testing::shared_data("1tii.pdb"));
  const auto small = io::read_atomic_model(testing::shared_data("1hpv.pdb"));
  MolmapOptions o;
  o.resolution = 8.0;
  o.voxel_size = 2.5;
  const double r1 = moments(molmap(big, o)).mass / total_z(big);
  o.voxel_size = 1.7;
  const double r2 = moments(molmap(small, o)).mass / total_z(small);
  BOOST_TEST(r1 == 1.0, tt::tolerance(1e-5));
  BOOST_TEST(r2 == 1.0, tt::tolerance(1e-5));
  // A box too small for the model loses mass.
  o.box = 16;
  BOOST_TEST(moments(molmap(small, o)).mass / total_z(small) < 0.9);
}

BOOST_AUTO_TEST_CASE(sharper_at_higher_resolution,
                     *boost::unit_test::precondition(testing::needs_shared_data{"1hpv.pdb"})) {
  const auto atoms = io::read_atomic_model(testing::shared_data("1hpv.pdb"));
  MolmapOptions o;
  o.voxel_size = 1.5;
  o.box = 64;
  Moments previous;
  for (double resolution : {20.0, 12.0, 6.0, 3.0}) {
    o.resolution = resolution;
    const Moments m = moments(molmap(atoms, o));
    BOOST_TEST_CONTEXT("resolution " << resolution) {
      BOOST_TEST(m.mass == total_z(atoms), tt::tolerance(1e-4));
      if (previous.mass > 0) {
        BOOST_TEST(m.peak > previous.peak);
        BOOST_TEST(m.second < previous.second);
      }
    }
    previous = m;
  }
}

BOOST_AUTO_TEST_CASE(bad_options) {
  MolmapOptions o;
  o.resolution = 0;
  try {
    molmap({{0, 0, 0, 6}}, o);
    BOOST_FAIL("no error");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("resolution must be positive") != std::string::npos);
  }
  BOOST_CHECK_THROW(molmap({}, MolmapOptions{}), Error);
}

BOOST_AUTO_TEST_CASE(phantom_is_deterministic_and_non_trivial) {
  PhantomOptions o;
  o.box = 48;
  o.seed = 7;
  const Volume a = phantom(o), b = phantom(o);
  BOOST_TEST(a.data == b.data, tt::per_element());
  o.seed = 8;
  const Volume c = phantom(o);
  double diff = 0;
  for (size_t i = 0; i < a.data.size(); ++i)
    diff += std::abs(a.data[i] - c.data[i]);
  BOOST_TEST(diff > 1.0);

  const Moments m = moments(a);
  BOOST_TEST(m.peak == 1.0f);
  // Inside the sphere of radius box/3 (plus tails), and not a single blob: a sizeable fraction of
  // voxels is above 10 % of the peak, the shape is not spherical.
  std::int64_t n_above = 0, n_outside = 0;
  double inertia[3][3] = {};
  for (std::int64_t z = 0; z < a.nz; ++z)
    for (std::int64_t y = 0; y < a.ny; ++y)
      for (std::int64_t x = 0; x < a.nx; ++x) {
        const double w = a.at(x, y, z);
        const double d[3] = {x - 24.0, y - 24.0, z - 24.0};
        if (w > 0.1) ++n_above;
        if (w > 0.01 && std::sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]) > 16.0 + 2) ++n_outside;
        const double dc[3] = {x - m.centre[0], y - m.centre[1], z - m.centre[2]};
        for (int i = 0; i < 3; ++i)
          for (int j = 0; j < 3; ++j)
            inertia[i][j] += w * dc[i] * dc[j];
      }
  BOOST_TEST(n_outside == 0);
  BOOST_TEST(n_above > 1000);
  BOOST_TEST(n_above < 48 * 48 * 48 / 4);
  // Asymmetric: the centroid is off the box centre, or the second moments differ between axes.
  const double tr = inertia[0][0] + inertia[1][1] + inertia[2][2];
  double off_diag = std::abs(inertia[0][1]) + std::abs(inertia[0][2]) + std::abs(inertia[1][2]);
  double spread = std::max({inertia[0][0], inertia[1][1], inertia[2][2]}) -
                  std::min({inertia[0][0], inertia[1][1], inertia[2][2]});
  BOOST_TEST((off_diag + spread) / tr > 0.05);
  BOOST_TEST(a.voxel_size == 2.0);
}

BOOST_AUTO_TEST_CASE(fragment_assemblies,
                     *boost::unit_test::precondition(testing::needs_shared_data{"1tii.pdb"}) *
                         boost::unit_test::precondition(testing::needs_shared_data{"3o21.pdb"})) {
  const std::vector<std::vector<io::Atom>> models = {
      io::read_atomic_model(testing::shared_data("1tii.pdb")),
      io::read_atomic_model(testing::shared_data("3o21.pdb"))};
  AssemblyOptions o;
  o.radius = 60;
  o.fragment_radius = 15;
  o.n_fragments = 12;
  o.seed = 3;
  const auto a = fragment_assembly(models, o), b = fragment_assembly(models, o);
  BOOST_TEST_REQUIRE(a.size() == b.size());
  for (size_t k = 0; k < a.size(); ++k)
    BOOST_TEST((a[k].x == b[k].x && a[k].y == b[k].y && a[k].z == b[k].z));
  // Within the sphere: fragment centres stay R - r from the origin, atoms r from their centre.
  double reach = 0;
  for (const auto& atom : a)
    reach = std::max(reach, std::sqrt(atom.x * atom.x + atom.y * atom.y + atom.z * atom.z));
  BOOST_TEST(reach <= o.radius + 1e-9);
  BOOST_TEST(reach > 0.3 * o.radius);
  // At least n/2 fragments of a few hundred atoms each (a 15 Å ball of protein), at most n.
  BOOST_TEST(a.size() > 6 * 100);
  BOOST_TEST(a.size() < 12 * 2000);
  o.seed = 4;
  const auto c = fragment_assembly(models, o);
  BOOST_TEST((c.size() != a.size() || c[0].x != a[0].x));
  // A map of it: mass where the atoms are, and not spherically symmetric.
  MolmapOptions mo;
  mo.voxel_size = 3.0;
  mo.box = 48;
  const Volume v = molmap(a, mo);
  const Moments m = moments(v);
  BOOST_TEST(m.mass == total_z(a), tt::tolerance(0.01));
  if (const char* dump = std::getenv("PAIRPOSE_DUMP_ASSEMBLY")) io::write_mrc(dump, v, "assembly");

  o.n_fragments = 0;
  BOOST_CHECK_THROW(fragment_assembly(models, o), Error);
  o.n_fragments = 4;
  BOOST_CHECK_THROW(fragment_assembly({{}, {}}, o), Error);
}
