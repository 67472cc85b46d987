#pragma once
/// @file atomic_model.hpp
/// Atomic models (PDB and mmCIF) as a list of atoms: position in Å and atomic number. Used by
/// the `molmap` stage to make density maps from real structures.
///
/// What is read:
/// - PDB: ATOM and HETATM records of the first model (records after the first ENDMDL are
///   ignored). x, y, z from columns 31–54. The element comes from columns 77–78 when they hold
///   letters; otherwise (old files keep a serial number there, e.g. 1hpv) it is inferred from the
///   atom name in columns 13–16: a blank or digit in column 13 means a one-letter element in
///   column 14; an ATOM record's name starting in column 13 is a hydrogen-like 4-character name
///   whose first letter is the element; a HETATM name starting in column 13 is a two-letter
///   element when that is one (FE, ZN, CL), else the first letter.
/// - mmCIF: the `_atom_site` loop, columns found by name from the loop header (Cartn_x,
///   Cartn_y, Cartn_z, type_symbol; label_atom_id when type_symbol is absent), values may be
///   quoted ('…' or "…") and rows may span lines; only the first pdbx_PDB_model_num.
/// - Every record counts once: water and alternate locations are kept (occupancy is ignored).
///   Deuterium (D) counts as hydrogen.
///
/// Errors (pairpose::Error naming the file, and the line for a bad record): missing or
/// unreadable file, no atoms, a coordinate that is not a finite number, an element symbol that
/// is not in the periodic table (an unknown element is an error, not skipped, so a map never
/// silently loses atoms), an `_atom_site` loop without Cartn_x/y/z.
#include <string>
#include <vector>

namespace pairpose::io {

struct Atom {
  double x = 0, y = 0, z = 0; ///< Å
  int atomic_number = 0;      ///< 1 (H) … 118
};

/// Reads a PDB or mmCIF file: mmCIF when the name ends in .cif or .mmcif or the first
/// non-comment line starts with "data_", PDB otherwise.
std::vector<Atom> read_atomic_model(const std::string& path);
std::vector<Atom> read_pdb(const std::string& path);
std::vector<Atom> read_mmcif(const std::string& path);
/// The same from the file's text; `source` names it in error messages.
std::vector<Atom> parse_pdb(const std::string& text, const std::string& source);
std::vector<Atom> parse_mmcif(const std::string& text, const std::string& source);

/// Atomic number of an element symbol (case-insensitive, surrounding blanks ignored; "D" and
/// "T" are hydrogen); 0 when the symbol is not an element.
int atomic_number(const std::string& symbol);
/// Symbol of an atomic number 1…118 ("" otherwise), capitalised as "Fe".
std::string element_symbol(int atomic_number);

} // namespace pairpose::io
