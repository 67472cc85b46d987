#define BOOST_TEST_MODULE io_atomic_model
#include "pairpose_test.hpp"

#include <fstream>
#include <functional>
#include <map>

#include "pairpose/core/error.hpp"
#include "pairpose/io/atomic_model.hpp"

using namespace pairpose;
using namespace pairpose::io;

namespace {

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

std::map<int, int> element_counts(const std::vector<Atom>& atoms) {
  std::map<int, int> n;
  for (const auto& a : atoms)
    ++n[a.atomic_number];
  return n;
}

/// mmCIF text of the atoms with the columns in an unusual order and quoted symbols.
std::string to_mmcif(const std::vector<Atom>& atoms) {
  std::string s = "data_test\n#\nloop_\n_atom_site.group_PDB\n_atom_site.id\n"
                  "_atom_site.Cartn_z\n_atom_site.label_atom_id\n_atom_site.type_symbol\n"
                  "_atom_site.Cartn_x\n_atom_site.Cartn_y\n_atom_site.pdbx_PDB_model_num\n";
  char buf[200];
  for (size_t i = 0; i < atoms.size(); ++i) {
    const auto& a = atoms[i];
    const std::string sym = element_symbol(a.atomic_number);
    std::snprintf(buf, sizeof buf, "ATOM %zu %.3f \"%s 'x\" '%s' %.3f %.3f 1\n", i + 1, a.z,
                  sym.c_str(), sym.c_str(), a.x, a.y);
    s += buf;
  }
  return s + "#\n";
}

} // namespace

BOOST_AUTO_TEST_CASE(elements) {
  BOOST_TEST(atomic_number("C") == 6);
  BOOST_TEST(atomic_number(" FE") == 26);
  BOOST_TEST(atomic_number("Zn") == 30);
  BOOST_TEST(atomic_number("d") == 1);
  BOOST_TEST(atomic_number("Xx") == 0);
  BOOST_TEST(atomic_number("") == 0);
  BOOST_TEST(element_symbol(26) == "Fe");
  BOOST_TEST(element_symbol(118) == "Og");
  BOOST_TEST(element_symbol(119) == "");
  for (int z = 1; z <= 118; ++z)
    BOOST_TEST(atomic_number(element_symbol(z)) == z);
}

BOOST_AUTO_TEST_CASE(shared_pdb_counts) {
  // ATOM + HETATM records counted with grep in each file (water and alternate locations kept).
  const std::map<std::string, size_t> expected = {
      {"1tii.pdb", 5684}, {"3o21.pdb", 12793}, {"3hsy.pdb", 6601}, {"1hpv.pdb", 1631}};
  int n_found = 0;
  for (const auto& [name, count] : expected) {
    const std::string path = testing::shared_data(name);
    if (path.empty()) continue;
    ++n_found;
    BOOST_TEST_CONTEXT(name) { BOOST_TEST(read_atomic_model(path).size() == count); }
  }
  if (n_found == 0) BOOST_TEST_MESSAGE("skipped: no PDB files in ../shared/data");
}

BOOST_AUTO_TEST_CASE(pdb_fields,
                     *boost::unit_test::precondition(testing::needs_shared_data{"1tii.pdb"})) {
  const auto atoms = read_pdb(testing::shared_data("1tii.pdb"));
  // First and last records of the file.
  BOOST_TEST(atoms.front().x == 42.053);
  BOOST_TEST(atoms.front().y == -9.336);
  BOOST_TEST(atoms.front().z == 17.867);
  BOOST_TEST(atoms.front().atomic_number == 7);
  BOOST_TEST(atoms.back().x == 78.146);
  BOOST_TEST(atoms.back().atomic_number == 8);
  // Element columns 77-78: 3405 C, 956 N, 1278 O, 45 S.
  auto n = element_counts(atoms);
  BOOST_TEST(n.size() == 4u);
  BOOST_TEST(n[6] == 3405);
  BOOST_TEST(n[7] == 956);
  BOOST_TEST(n[8] == 1278);
  BOOST_TEST(n[16] == 45);
}

BOOST_AUTO_TEST_CASE(pdb_elements_from_names,
                     *boost::unit_test::precondition(testing::needs_shared_data{"1hpv.pdb"})) {
  // 1hpv keeps serial numbers in columns 77-80: the element comes from the atom name (column 14:
  // 1003 C, 263 N, 356 O, 9 S).
  auto n = element_counts(read_pdb(testing::shared_data("1hpv.pdb")));
  BOOST_TEST(n.size() == 4u);
  BOOST_TEST(n[6] == 1003);
  BOOST_TEST(n[7] == 263);
  BOOST_TEST(n[8] == 356);
  BOOST_TEST(n[16] == 9);
}

BOOST_AUTO_TEST_CASE(name_rules_and_models) {
  const auto dir = testing::scratch_folder("atomic_names");
  const std::string path = dir + "/names.pdb";
  std::ofstream(path)
      << "MODEL        1\n"
         "ATOM      1  CA  ALA A   1       1.000   2.000   3.000  1.00  0.00\n"
         "ATOM      2 HG12 VAL A   2       1.000   2.000   3.000  1.00  0.00\n"
         "ATOM      3 1HB  ALA A   1       1.000   2.000   3.000  1.00  0.00\n"
         "HETATM    4 FE   HEM A   3      -1.500   0.250  10.000  1.00  0.00\n"
         "HETATM    5 CL   CL  A   4       0.000   0.000   0.000  1.00  0.00\n"
         "HETATM    6 CA   CA  A   5       0.000   0.000   0.000  1.00  0.00          CA\n"
         "HETATM    7 C1   LIG A   6       0.000   0.000   0.000  1.00  0.00\n"
         "ENDMDL\n"
         "MODEL        2\n"
         "ATOM      1  CA  ALA A   1       9.000   9.000   9.000  1.00  0.00\n"
         "ENDMDL\n";
  const auto atoms = read_atomic_model(path);
  BOOST_TEST_REQUIRE(atoms.size() == 7u);
  const int expected[] = {6, 1, 1, 26, 17, 20, 6};
  for (int i = 0; i < 7; ++i)
    BOOST_TEST(atoms[i].atomic_number == expected[i], "atom " << i);
  BOOST_TEST(atoms[3].x == -1.5);
  BOOST_TEST(atoms[3].y == 0.25);
  BOOST_TEST(atoms[3].z == 10.0);
}

BOOST_AUTO_TEST_CASE(mmcif_matches_pdb,
                     *boost::unit_test::precondition(testing::needs_shared_data{"1tii.pdb"})) {
  const auto dir = testing::scratch_folder("atomic_mmcif");
  const auto pdb = read_pdb(testing::shared_data("1tii.pdb"));
  std::ofstream(dir + "/1tii.cif") << to_mmcif(pdb);
  const auto cif = read_atomic_model(dir + "/1tii.cif");
  BOOST_TEST_REQUIRE(cif.size() == pdb.size());
  size_t n_diff = 0;
  for (size_t i = 0; i < pdb.size(); ++i)
    n_diff += cif[i].x != pdb[i].x || cif[i].y != pdb[i].y || cif[i].z != pdb[i].z ||
              cif[i].atomic_number != pdb[i].atomic_number;
  BOOST_TEST(n_diff == 0u);
}

BOOST_AUTO_TEST_CASE(mmcif_layout) {
  const auto dir = testing::scratch_folder("atomic_mmcif_layout");
  // Another category first, a row split over two lines, a quoted value with a blank, a second
  // model that is ignored, and a name without .cif recognised by its content.
  const std::string path = dir + "/model.txt";
  std::ofstream(path) << "data_x\n_cell.length_a 10\n#\nloop_\n_atom_type.symbol\nC\nN\n#\n"
                         "loop_\n_atom_site.type_symbol\n_atom_site.label_comp_id\n"
                         "_atom_site.Cartn_x\n_atom_site.Cartn_y\n_atom_site.Cartn_z\n"
                         "_atom_site.pdbx_PDB_model_num\n"
                         "N 'A B' 1.5 2.5 3.5 1\n"
                         "Se MSE\n -1 -2 -3 1\n"
                         "FE \"HEM\" 0 0 0 1\n"
                         "C ALA 7 7 7 2\n"
                         "#\n";
  const auto atoms = read_atomic_model(path);
  BOOST_TEST_REQUIRE(atoms.size() == 3u);
  BOOST_TEST(atoms[0].atomic_number == 7);
  BOOST_TEST(atoms[0].y == 2.5);
  BOOST_TEST(atoms[1].atomic_number == 34);
  BOOST_TEST(atoms[1].z == -3.0);
  BOOST_TEST(atoms[2].atomic_number == 26);
}

BOOST_AUTO_TEST_CASE(bad_models_name_file_and_line) {
  const auto dir = testing::scratch_folder("atomic_bad");
  auto expect = [](const std::string& path, const std::string& what) {
    const auto m = message_of([&] { read_atomic_model(path); });
    BOOST_TEST(contains(m, path), "message does not name " << path << ": " << m);
    BOOST_TEST(contains(m, what), "expected '" << what << "' in: " << m);
  };
  expect(dir + "/missing.pdb", "does not exist");
  std::ofstream(dir + "/empty.pdb") << "HEADER    NOTHING\nREMARK   1\nEND\n";
  expect(dir + "/empty.pdb", "no atoms");
  std::ofstream(dir + "/coords.pdb")
      << "REMARK\nATOM      1  CA  ALA A   1       1.000   2.000   3.000  1.00  0.00\n"
         "ATOM      2  CA  ALA A   2       1.000   abc     3.000  1.00  0.00\n";
  expect(dir + "/coords.pdb", "coords.pdb:3: malformed coordinates");
  std::ofstream(dir + "/short.pdb") << "ATOM      1  CA  ALA A   1       1.000   2.000\n";
  expect(dir + "/short.pdb", "short.pdb:1: atom record too short");
  std::ofstream(dir + "/element.pdb")
      << "ATOM      1  CA  ALA A   1       1.000   2.000   3.000  1.00  0.00          Xx\n";
  expect(dir + "/element.pdb", "element.pdb:1: unknown element 'Xx'");
  std::ofstream(dir + "/nocoords.cif") << "data_x\nloop_\n_atom_site.type_symbol\n"
                                          "_atom_site.Cartn_x\nC 1\n";
  expect(dir + "/nocoords.cif", "no Cartn_x, Cartn_y, Cartn_z");
  std::ofstream(dir + "/count.cif") << "data_x\nloop_\n_atom_site.type_symbol\n"
                                       "_atom_site.Cartn_x\n_atom_site.Cartn_y\n"
                                       "_atom_site.Cartn_z\nC 1 2 3\nC 1 2\n#\n";
  expect(dir + "/count.cif", "count.cif:8: incomplete _atom_site row");
  std::ofstream(dir + "/badnum.cif") << "data_x\nloop_\n_atom_site.type_symbol\n"
                                        "_atom_site.Cartn_x\n_atom_site.Cartn_y\n"
                                        "_atom_site.Cartn_z\nC 1 2 3\nC 1 2 ?\n";
  expect(dir + "/badnum.cif", "badnum.cif:8: malformed coordinates");
  std::ofstream(dir + "/none.cif") << "data_x\n_cell.length_a 10\n";
  expect(dir + "/none.cif", "no atoms");
}
