#pragma once
/// @file star.hpp
/// RELION STAR files (method.md §2): a generic reader/writer of data blocks, and the particle
/// level on top of it (image names, orientations, shifts, CTF, optics groups).
///
/// Generic level. A file is a sequence of data blocks (`data_<name>`). A block is either one loop
/// (`loop_`, then `_label [#n]` header lines, then one row per line) or key-value lines
/// (`_label value`). `#` starts a comment outside quotes; values may be quoted with '…' or "…"
/// (the quotes are not part of the value). Multi-line `;` text fields, `save_` frames and nested
/// loops are not STAR features RELION uses and are rejected. Values are kept as text; the typed
/// accessors parse on demand and throw pairpose::Error naming the file, the 1-based line, the
/// block, the column and the row when a value is not a (finite) number.
///
/// Particle level. `read_particles_star` accepts RELION 3.1 files (a `data_optics` table joined
/// by rlnOpticsGroup to a `data_particles` table) and the older single-table form (`data_`,
/// `data_images`, or any single loop block) with per-particle optics columns. Image names
/// `N@stack` are resolved relative to the STAR file's folder by default. Note: RELION itself
/// resolves them relative to its working directory (the project folder), so for STAR files inside
/// a RELION project pass the project folder as `ParticleStarOptions::image_root`.
///
/// Shift convention (measured with relion_project, docs/conventions.md): rlnOriginXAngst/YAngst
/// is the translation that brings the particle to the image centre, i.e. the particle's centre
/// sits at (−origin_x, −origin_y) from the image centre (n/2).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pairpose/io/particle.hpp"

namespace pairpose::io {

/// One data block: a loop (rows × columns) or key-value pairs (stored as a single row whose
/// columns are the keys). Labels are stored without the leading underscore ("rlnAngleRot").
/// Cells are kept in one text buffer (8 bytes of index per cell) so that tables of millions of
/// particles stay compact.
class StarTable {
public:
  StarTable() = default;
  /// `name` without "data_"; `source` is the file path used in error messages.
  StarTable(std::string name, bool is_loop, std::string source = "");

  const std::string& name() const { return name_; }
  bool is_loop() const { return is_loop_; }
  const std::string& source() const { return source_; }
  std::int64_t n_rows() const { return static_cast<std::int64_t>(row_lines_.size()); }
  int n_columns() const { return static_cast<int>(columns_.size()); }
  const std::vector<std::string>& columns() const { return columns_; }

  /// Index of `label` (without '_'), or −1 when absent.
  int find_column(const std::string& label) const;
  bool has_column(const std::string& label) const { return find_column(label) >= 0; }
  /// Index of `label`; throws naming the file, the block and the column when absent.
  int require_column(const std::string& label) const;

  /// The text of a cell (without quotes). row 0-based, column from find/require_column.
  std::string text(std::int64_t row, int column) const { return std::string(view(row, column)); }
  /// The same without a copy; valid while the table lives and is not modified.
  std::string_view view(std::int64_t row, int column) const;
  /// A finite real number; throws naming file, line, block, column and row otherwise.
  double real(std::int64_t row, int column) const;
  /// An integer (also accepts an integral real such as "3.000000"); throws like real().
  std::int64_t integer(std::int64_t row, int column) const;
  /// Key-value access for non-loop blocks (row 0): the value text, or throws naming the key.
  std::string value(const std::string& key) const;

  /// 1-based line in the source file of a cell (0 for tables built in memory).
  std::int64_t line_of(std::int64_t row, int column) const;
  /// "file:line: block 'name', column rlnX, row r" — the prefix of every cell error message.
  std::string where(std::int64_t row, int column) const;

  // --- building (the reader and the writers use these) ------------------------------------
  /// Loops: adds a column (all columns before any row). Throws on a duplicate label.
  int add_column(const std::string& label, std::int64_t line = 0);
  /// Appends a row of exactly n_columns() values; `line` is its source line (0 in memory).
  void add_row(const std::vector<std::string>& values, std::int64_t line = 0);
  /// Appends one value cell by cell: begin_row(line), then n_columns() × push_value(text).
  void begin_row(std::int64_t line = 0);
  void push_value(const char* text, std::size_t length);
  /// Checks the last row is complete; throws naming file, line and the counts otherwise.
  void end_row();
  /// Key-value blocks: adds `key` with its value (the only way to fill such a block).
  void add_key(const std::string& key, std::string_view value, std::int64_t line = 0);

private:
  std::string name_;
  bool is_loop_ = true;
  std::string source_;
  std::vector<std::string> columns_;
  std::vector<std::int64_t> column_lines_; ///< line of each key (key-value blocks)
  std::vector<std::int64_t> row_lines_;    ///< line of each row (loops)
  std::string buffer_;                     ///< all cell values, back to back
  std::vector<std::uint64_t> cell_end_;    ///< end offset of each cell in buffer_
};

/// All blocks of a file, in file order.
struct StarFile {
  std::string path;
  std::vector<StarTable> tables;

  /// The block named `name`, or nullptr.
  const StarTable* find(const std::string& name) const;
  /// The block named `name`; throws naming the file and the blocks present otherwise.
  const StarTable& require(const std::string& name) const;
};

/// Parses a STAR file. Throws pairpose::Error naming the file (and line) when it cannot be read,
/// is empty (no data block), or is malformed (a row with the wrong number of values, an
/// unterminated quote, a value outside a block, a duplicate label).
StarFile read_star(const std::string& path);
/// Parses STAR text; `source` names it in error messages.
StarFile parse_star(const std::string& text, const std::string& source);

/// The text of a STAR file: `header_comment` first (each line prefixed with "# " unless it
/// already starts with '#'), then each block. Values containing blanks, quotes or starting with
/// '#', '_', ';' or "data_"/"loop_" are quoted.
std::string format_star(const std::vector<StarTable>& tables, const std::string& header_comment);
/// Writes format_star(...) through a temporary name and a rename.
void write_star(const std::string& path, const std::vector<StarTable>& tables,
                const std::string& header_comment = "");

// --- particle level --------------------------------------------------------------------------

/// Where a particle's image is: image `index` (1-based, as in RELION) of the MRC stack `stack`.
struct ImageRef {
  std::string stack; ///< path of the .mrcs file (resolved on reading; see image_root)
  std::int64_t index = 1;
};

/// A user-defined extra particle column for the writer (e.g. rlnRandomSubset), one value per
/// particle, written as given.
struct StarColumn {
  std::string label; ///< without '_', e.g. "rlnRandomSubset"
  std::vector<std::string> values;
};

/// The particles of a STAR file (reading) or to write.
struct ParticleStar {
  std::vector<Particle> particles; ///< orientation (canonical quaternion of RELION's A), shifts
                                   ///< in Å, CTF (has_ctf when rlnDefocusU is present)
  std::vector<ImageRef> images;    ///< one per particle
  std::vector<int> optics_groups;  ///< rlnOpticsGroup per particle (1 for pre-3.1 files)
  double pixel_size = 0;           ///< Å; one value shared by all particles
  std::int64_t image_size = 0;     ///< box size in pixels (0 when the file does not say and
                                   ///< the first stack could not be read)
  bool has_angles = false;         ///< rlnAngleRot/Tilt/Psi were present
  bool relion31 = false;           ///< the file had a data_optics table
  std::vector<StarColumn> extra;   ///< writer only: additional particle columns
};

struct ParticleStarOptions {
  /// Folder image names are resolved against; "" = the STAR file's folder.
  std::string image_root;
  /// Å; > 0 overrides (and is needed for pre-3.1 files without rlnDetectorPixelSize and
  /// rlnMagnification or rlnImagePixelSize that carry shifts in pixels).
  double pixel_size = 0;
  /// When true (default) missing rlnAngleRot/Tilt/Psi is an error; otherwise orientations are
  /// the identity and has_angles is false.
  bool require_angles = true;
};

/// Reads a RELION 3.1 or older particle STAR file. Required: rlnImageName; the angles (see
/// options); a pixel size when shifts are in pixels or an optics table is present. CTF columns
/// are read when rlnDefocusU is present (then DefocusV, DefocusAngle, Voltage,
/// SphericalAberration, AmplitudeContrast are required, from the particle row or its optics
/// group; CtfBfactor and PhaseShift are optional). Throws pairpose::Error naming the file, block,
/// column and line of any missing column, malformed number, image name without "N@", index < 1,
/// unknown optics group, or particles whose optics groups disagree on pixel or image size.
ParticleStar read_particles_star(const std::string& path, const ParticleStarOptions& options = {});
/// The same from a parsed file (`file.path` names it in messages and is the folder image names are
/// resolved against unless options.image_root is set).
ParticleStar particles_from_star(const StarFile& file, const ParticleStarOptions& options = {});

/// Writes a RELION 3.1 particle STAR file through a temporary name and a rename: `data_optics`
/// with one group (voltage, Cs and amplitude contrast of the particles, which must agree, or
/// RELION's defaults 300 kV, 2.7 mm, 0.1 without CTF; pixel and image size; dimensionality 2) and
/// `data_particles` with rlnImageName (`N@stack`, the stack relative to the STAR file's folder
/// when it lies below it), rlnAngleRot/Tilt/Psi, rlnOriginXAngst/YAngst, the defocus columns when
/// particles carry a CTF (plus rlnCtfBfactor/rlnPhaseShift when any is non-zero),
/// rlnOpticsGroup and the `extra` columns. `provenance` is written as a comment block at the top.
/// Throws naming the particle when sizes disagree or a value is missing.
void write_particles_star(const std::string& path, const ParticleStar& star,
                          const std::string& provenance = "");

/// Checks, before any heavy work, that every image a particle STAR file names can be read: its
/// stack exists and has a valid MRC header, holds the index, and (when star.image_size > 0) has
/// that image size. Reads each distinct stack's header once. Throws pairpose::Error naming
/// `source` with the counts (particles affected, stacks missing, indices past the end, wrong
/// sizes) and the first problem, e.g. "run.star: 1000000 of 1000000 particles name images that
/// cannot be read (1000000 in 2000 of 2000 stacks that are missing or unreadable, …); the first:
/// particle 1: stack Extract/mic1.mrcs: does not exist". Local (no communication): call it on
/// one rank and share the outcome (mpi::agree_or_throw).
void check_particle_images(const ParticleStar& star, const std::string& source);

} // namespace pairpose::io
