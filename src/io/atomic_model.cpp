#include "pairpose/io/atomic_model.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "pairpose/core/error.hpp"
#include "pairpose/core/files.hpp"

namespace pairpose::io {
namespace {

const char* const symbols[] = {
    "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si", "P",
    "S",  "Cl", "Ar", "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn",
    "Ga", "Ge", "As", "Se", "Br", "Kr", "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru", "Rh",
    "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I",  "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd",
    "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W",  "Re",
    "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th",
    "Pa", "U",  "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr", "Rf", "Db",
    "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og"};
constexpr int n_elements = sizeof(symbols) / sizeof(symbols[0]);

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

bool is_letters(const std::string& s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isalpha(c) != 0; });
}

/// A finite number filling the whole (trimmed) text, or NaN.
double parse_number(const std::string& text) {
  const std::string t = trim(text);
  if (t.empty()) return NAN;
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  return end == t.c_str() + t.size() && std::isfinite(v) ? v : NAN;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

std::string location(const std::string& path, size_t line_index) {
  return path + ":" + std::to_string(line_index + 1);
}

// --- PDB ------------------------------------------------------------------------------------

/// Element of a PDB atom record (see the header for the rules); 0 when unknown.
std::string pdb_element(const std::string& line, bool hetatm) {
  const std::string cols77 = line.size() > 76 ? trim(line.substr(76, 2)) : "";
  if (is_letters(cols77)) return cols77;
  const std::string name = (line + "    ").substr(12, 4);
  if (name[0] == ' ' || std::isdigit(static_cast<unsigned char>(name[0])))
    return std::string(1, name[1]);
  if (!hetatm) return std::string(1, name[0]);
  const std::string two = name.substr(0, 2);
  return is_letters(two) && atomic_number(two) > 0 ? two : std::string(1, name[0]);
}

Atom pdb_atom(const std::string& line, const std::string& where) {
  PAIRPOSE_CHECK(line.size() >= 54, where << ": atom record too short for coordinates ("
                                          << line.size() << " characters, need 54)");
  Atom a;
  a.x = parse_number(line.substr(30, 8));
  a.y = parse_number(line.substr(38, 8));
  a.z = parse_number(line.substr(46, 8));
  PAIRPOSE_CHECK(std::isfinite(a.x) && std::isfinite(a.y) && std::isfinite(a.z),
                 where << ": malformed coordinates '" << line.substr(30, 24)
                       << "' (columns 31-54 must hold three numbers)");
  const std::string symbol = pdb_element(line, line.compare(0, 6, "HETATM") == 0);
  a.atomic_number = atomic_number(symbol);
  PAIRPOSE_CHECK(a.atomic_number > 0, where << ": unknown element '" << symbol << "'");
  return a;
}

// --- mmCIF ----------------------------------------------------------------------------------

/// Splits a CIF data line into values ('…' and "…" quotes end at a quote followed by a blank).
std::vector<std::string> cif_tokens(const std::string& line, const std::string& where) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    if (std::isspace(static_cast<unsigned char>(line[i]))) {
      ++i;
      continue;
    }
    if (line[i] == '#') break;
    if (line[i] == '\'' || line[i] == '"') {
      const char q = line[i];
      size_t j = i + 1;
      while (j < line.size() &&
             !(line[j] == q && (j + 1 == line.size() || std::isspace((unsigned char)line[j + 1]))))
        ++j;
      PAIRPOSE_CHECK(j < line.size(), where << ": unterminated quoted value");
      out.push_back(line.substr(i + 1, j - i - 1));
      i = j + 1;
    } else {
      size_t j = i;
      while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j])))
        ++j;
      out.push_back(line.substr(i, j - i));
      i = j;
    }
  }
  return out;
}

struct AtomSiteColumns {
  int x = -1, y = -1, z = -1, element = -1, atom_id = -1, model = -1;
  int n = 0;
};

AtomSiteColumns atom_site_columns(const std::vector<std::string>& names) {
  AtomSiteColumns c;
  c.n = static_cast<int>(names.size());
  for (int i = 0; i < c.n; ++i) {
    const std::string& f = names[i];
    if (f == "Cartn_x") c.x = i;
    if (f == "Cartn_y") c.y = i;
    if (f == "Cartn_z") c.z = i;
    if (f == "type_symbol") c.element = i;
    if (f == "label_atom_id" && c.atom_id < 0) c.atom_id = i;
    if (f == "auth_atom_id" && c.atom_id < 0) c.atom_id = i;
    if (f == "pdbx_PDB_model_num") c.model = i;
  }
  return c;
}

Atom cif_atom(const std::vector<std::string>& v, const AtomSiteColumns& c,
              const std::string& where) {
  Atom a;
  a.x = parse_number(v[c.x]);
  a.y = parse_number(v[c.y]);
  a.z = parse_number(v[c.z]);
  PAIRPOSE_CHECK(std::isfinite(a.x) && std::isfinite(a.y) && std::isfinite(a.z),
                 where << ": malformed coordinates '" << v[c.x] << " " << v[c.y] << " " << v[c.z]
                       << "'");
  std::string symbol = c.element >= 0 ? v[c.element] : v[c.atom_id].substr(0, 1);
  a.atomic_number = atomic_number(symbol);
  PAIRPOSE_CHECK(a.atomic_number > 0, where << ": unknown element '" << symbol << "'");
  return a;
}

/// Reads the rows of the _atom_site loop whose header ends just before line `first`.
std::vector<Atom> cif_rows(const std::vector<std::string>& lines, size_t first,
                           const AtomSiteColumns& c, const std::string& path) {
  std::vector<Atom> atoms;
  std::vector<std::string> row;
  std::string first_model;
  size_t row_line = first;
  for (size_t i = first; i < lines.size(); ++i) {
    const std::string t = trim(lines[i]);
    if (row.empty() && (t.rfind("loop_", 0) == 0 || t.rfind("_", 0) == 0 ||
                        t.rfind("data_", 0) == 0 || t.rfind("#", 0) == 0))
      break;
    PAIRPOSE_CHECK(t.empty() || t[0] != ';',
                   location(path, i) << ": multi-line text values are not supported in _atom_site");
    if (row.empty()) row_line = i;
    for (auto& v : cif_tokens(lines[i], location(path, i)))
      row.push_back(std::move(v));
    if (static_cast<int>(row.size()) < c.n) continue;
    PAIRPOSE_CHECK(static_cast<int>(row.size()) == c.n,
                   location(path, row_line) << ": _atom_site row has " << row.size()
                                            << " values, the loop declares " << c.n);
    if (c.model >= 0) {
      if (first_model.empty()) first_model = row[c.model];
      if (row[c.model] != first_model) {
        row.clear();
        break;
      }
    }
    atoms.push_back(cif_atom(row, c, location(path, row_line)));
    row.clear();
  }
  PAIRPOSE_CHECK(row.empty(), location(path, row_line) << ": incomplete _atom_site row");
  return atoms;
}

} // namespace

int atomic_number(const std::string& symbol) {
  std::string s = trim(symbol);
  if (s.empty() || s.size() > 2) return 0;
  s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  if (s.size() == 2) s[1] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[1])));
  if (s == "D" || s == "T") return 1;
  for (int z = 0; z < n_elements; ++z)
    if (s == symbols[z]) return z + 1;
  return 0;
}

std::string element_symbol(int z) { return z >= 1 && z <= n_elements ? symbols[z - 1] : ""; }

std::vector<Atom> read_pdb(const std::string& path) {
  PAIRPOSE_CHECK(file_exists(path), path << ": atomic model file does not exist");
  return parse_pdb(read_file(path), path);
}

std::vector<Atom> parse_pdb(const std::string& text, const std::string& path) {
  const auto lines = split_lines(text);
  std::vector<Atom> atoms;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (line.compare(0, 6, "ENDMDL") == 0 && !atoms.empty()) break;
    if (line.compare(0, 6, "ATOM  ") == 0 || line.compare(0, 6, "HETATM") == 0)
      atoms.push_back(pdb_atom(line, location(path, i)));
  }
  PAIRPOSE_CHECK(!atoms.empty(), path << ": no atoms (no ATOM or HETATM records) in the PDB file");
  return atoms;
}

std::vector<Atom> read_mmcif(const std::string& path) {
  PAIRPOSE_CHECK(file_exists(path), path << ": atomic model file does not exist");
  return parse_mmcif(read_file(path), path);
}

std::vector<Atom> parse_mmcif(const std::string& text, const std::string& path) {
  const auto lines = split_lines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (trim(lines[i]) != "loop_") continue;
    std::vector<std::string> names;
    size_t j = i + 1;
    for (; j < lines.size() && trim(lines[j]).rfind("_atom_site.", 0) == 0; ++j)
      names.push_back(trim(trim(lines[j]).substr(11)));
    if (names.empty()) continue;
    const AtomSiteColumns c = atom_site_columns(names);
    PAIRPOSE_CHECK(c.x >= 0 && c.y >= 0 && c.z >= 0,
                   location(path, i) << ": the _atom_site loop has no Cartn_x, Cartn_y, Cartn_z");
    PAIRPOSE_CHECK(c.element >= 0 || c.atom_id >= 0,
                   location(path, i) << ": the _atom_site loop has neither type_symbol nor an "
                                        "atom name");
    auto atoms = cif_rows(lines, j, c, path);
    PAIRPOSE_CHECK(!atoms.empty(), path << ": no atoms in the _atom_site loop");
    return atoms;
  }
  PAIRPOSE_FAIL(path << ": no atoms (no _atom_site loop) in the mmCIF file");
}

std::vector<Atom> read_atomic_model(const std::string& path) {
  PAIRPOSE_CHECK(file_exists(path), path << ": atomic model file does not exist");
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".cif" || ext == ".mmcif" || ext == ".CIF") return read_mmcif(path);
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    if (t.rfind("data_", 0) == 0) return read_mmcif(path);
    break;
  }
  return read_pdb(path);
}

} // namespace pairpose::io
