#pragma once
/// @file dataset.hpp
/// The project's own dataset file: one HDF5 file per dataset, read and written in parallel
/// (MPI-IO driver, collective transfers). The schema is documented in docs/data-format.md.
///
/// What a file holds:
///  - root attributes: `pairpose_format_version`, `n_particles`, `image_size`, `pixel_size`,
///    `provenance`, `map_names` and the free-form string attributes of DatasetInfo;
///  - `/particles`: the images (N × n × n float32) and per-particle metadata (true orientation
///    when simulated, shift, CTF, map index), written once when the dataset is created;
///  - result groups (`/recover`, `/embed`, ...): named 2D arrays of float64 or int64 rows that
///    later stages add to the file (`write_rows`).
///
/// Collective calls: create, open, commit, close, every write and every read of array contents
/// (read_images, read_particles, read_rows, read_all_rows) must be called by all ranks of the
/// dataset's communicator, in the same order, with the same names and attribute values (blocks
/// and row counts differ per rank). A rank with nothing to read or write passes an empty Block /
/// zero rows. The queries marked "Local" (info, has, n_rows, attribute, is_complete, ...) need no
/// communication.
///
/// Completeness (no half-written output under a final name):
///  - `Dataset::create` writes `<path>.part`; `commit()` closes and renames it to `<path>`.
///    Destroying a created dataset before `commit()` removes the temporary file.
///  - `Dataset::open(path, comm, Mode::update)` adds result groups to an existing file in place.
///    The first write into a top-level group in a session (`start_group`, or implicitly
///    `write_rows` / `set_attribute`) deletes any older group of that name and creates it empty;
///    `commit()` then writes the attribute `complete = 1` on every group written in the session,
///    last, and closes the file. Readers treat a result group without `complete = 1` as absent
///    (`has()` is false, reads throw saying the stage did not finish). Stages should compute
///    first and write their results at the end, in a few collective calls.
///
/// Typical use (all ranks):
///   auto ds = io::Dataset::create("run.h5", comm, info);          // simulate
///   const Block b = ds.block();                                    // this rank's particles
///   ds.write_images(b, images.data());                             // b.size() × n × n floats
///   ds.write_particles(b, particles);
///   ds.commit();
///   auto rs = io::Dataset::open("run.h5", comm, io::Dataset::Mode::update);   // recover
///   auto pairs = rs.read_rows<std::int64_t>("pairs/index", my_pair_block);
///   rs.write_rows("recover/quaternions", n_mine, 4, q.data());
///   rs.set_attribute("recover", "method", "spectral");
///   rs.commit();                                                   // /recover complete = 1
///
/// Errors (missing file, not HDF5, not a pairpose dataset, format version mismatch, missing
/// dataset, wrong shape or type) throw pairpose::Error naming the file and the HDF5 path, e.g.
/// "run.h5: no dataset /particles/images (was it written by pairpose simulate?)". HDF5's own error
/// printing is switched off. Checks that depend only on the file happen identically on every rank;
/// argument checks that may differ per rank are agreed (mpi::agree_or_throw), so all ranks throw
/// together.
///
/// Large transfers are split into rounds of at most 256 MiB per rank (all ranks take the same
/// number of rounds), so a rank's share may exceed 2 GiB.
#include <cstdint>
#include <map>
#include <memory>
#include <mpi.h>
#include <string>
#include <vector>

#include "pairpose/core/array.hpp"
#include "pairpose/core/partition.hpp"
#include "pairpose/io/particle.hpp"

namespace pairpose::io {

/// Version of the schema in docs/data-format.md, stored as the root attribute
/// `pairpose_format_version`. Files of another version are refused.
constexpr int dataset_format_version = 1;

/// What describes a dataset as a whole (root attributes and the shapes of /particles).
struct DatasetInfo {
  std::int64_t n_particles = 0; ///< N ≥ 1
  std::int64_t image_size = 0;  ///< n: images are n × n pixels; 0 = the file holds no images
  double pixel_size = 1.0;      ///< Å per pixel
  /// True orientations known (simulated data): /particles/orientation exists.
  bool has_orientations = false;
  /// Every particle has CTF parameters: /particles/ctf exists.
  bool has_ctf = false;
  std::string provenance;             ///< version + stage + parameters (config/provenance.hpp)
  std::vector<std::string> map_names; ///< source maps; Particle::map_index indexes this list
  /// Free-form string attributes stored on the root group. Keys must not collide with the
  /// reserved root attribute names listed in docs/data-format.md.
  std::map<std::string, std::string> attributes;
};

/// Rows [first, first + n_rows) of a named 2D array; row i (local) is
/// data[i * n_cols, (i + 1) * n_cols).
template <class T> struct RowArray {
  std::int64_t first = 0;
  std::int64_t n_rows = 0;
  int n_cols = 0;
  std::vector<T> data;
  T& at(std::int64_t i, int j) { return data[static_cast<size_t>(i * n_cols + j)]; }
  T at(std::int64_t i, int j) const { return data[static_cast<size_t>(i * n_cols + j)]; }
};

/// An open dataset file. Owns a duplicate of the communicator it was opened on. Move-only.
class Dataset {
public:
  enum class Mode {
    read,  ///< read-only
    update ///< read + add result groups (see the completeness rules above)
  };

  /// Collective. Creates `<path>.part` (parent folders as needed) with the root attributes and
  /// the /particles datasets sized from `info` (contents written later by write_images /
  /// write_particles). Throws on invalid info (N < 1, image_size < 0, pixel_size ≤ 0, reserved
  /// attribute key).
  static Dataset create(const std::string& path, MPI_Comm comm, const DatasetInfo& info);
  /// Collective. Opens an existing dataset and checks its version and the shapes of /particles.
  static Dataset open(const std::string& path, MPI_Comm comm, Mode mode = Mode::read);

  Dataset(Dataset&&) noexcept;
  Dataset& operator=(Dataset&&) noexcept;
  Dataset(const Dataset&) = delete;
  Dataset& operator=(const Dataset&) = delete;
  /// Closes the file (collective when not unwinding from an exception; during unwinding the
  /// handles are left to HDF5's shutdown so that no rank blocks in a collective close). An
  /// uncommitted created dataset's temporary file is removed.
  ~Dataset();

  /// Collective. Created dataset: checks that images and particles were written for all N
  /// particles, marks /particles and every group written complete, closes, renames
  /// `<path>.part` to `<path>`. Update: marks the groups written in this session complete and
  /// closes. Read: closes. Afterwards the object is closed (any further call throws).
  void commit();
  /// Collective. Closes without committing (a created dataset's temporary file is removed; groups
  /// written in an update session stay incomplete).
  void close();
  bool is_open() const;

  // --- description (local, same on every rank) ---------------------------------------------
  const std::string& path() const; ///< the final path (not the .part name)
  MPI_Comm comm() const;           ///< the dataset's own communicator
  Mode mode() const;               ///< Mode::update for a created dataset
  const DatasetInfo& info() const;
  std::int64_t n_particles() const { return info().n_particles; }
  /// This rank's block of particles, split_block(n_particles(), comm()).
  Block block() const;
  bool has_images() const { return info().image_size > 0; }
  bool has_orientations() const { return info().has_orientations; }
  bool has_ctf() const { return info().has_ctf; }

  // --- particles (written only on a created dataset) ----------------------------------------
  /// Collective. Writes images [rows.begin, rows.end): `images` holds rows.size() × n × n floats,
  /// x fastest. Blocks of different ranks must not overlap; calls may be repeated (batches)
  /// until every particle has been written exactly once.
  void write_images(Block rows, const float* images);
  void write_images(Block rows, const ImageStack& images);
  /// Collective. Images [rows.begin, rows.end) with pixel_size set.
  ImageStack read_images(Block rows) const;
  /// Local (not collective): the same, read by this rank alone, for ranks that take their work
  /// in turns (mpi::SharedCounter) and so make different numbers of calls.
  ImageStack read_images_local(Block rows) const;

  /// Collective. Writes the metadata of particles [rows.begin, rows.end) (particles.size() ==
  /// rows.size()): orientation (if has_orientations()), shift, CTF (if has_ctf(); each particle
  /// must then have has_ctf), map index. Same batching rule as write_images.
  void write_particles(Block rows, const std::vector<Particle>& particles);
  /// Local (not collective): writes the images (when the dataset has images; else `images` is
  /// ignored) and the metadata of particles [rows.begin, rows.end) from this rank alone, for
  /// ranks that take their work in turns (mpi::SharedCounter) and so make different numbers of
  /// calls. Same layout and rules as write_images + write_particles; a bad block or particle
  /// list throws on this rank only. commit() checks the total over all ranks.
  void write_local(Block rows, const float* images, const std::vector<Particle>& particles);
  /// Collective. Metadata of particles [rows.begin, rows.end). Orientation is the identity when
  /// the file has none; has_ctf follows has_ctf().
  std::vector<Particle> read_particles(Block rows) const;
  /// Local (not collective): as read_particles, by this rank alone (see read_images_local).
  std::vector<Particle> read_particles_local(Block rows) const;

  // --- result groups: named 2D arrays -----------------------------------------------------
  // `name` is an HDF5 path below a top-level group, "group/array" or "group/sub/array"
  // (a leading "/" is optional); "particles" is reserved for the dataset itself.

  /// Collective. Starts (or restarts) top-level group `group` in this session: deletes any older
  /// group of that name and creates it empty, without the complete marker.
  void start_group(const std::string& group);
  /// Collective. Writes a new n_total × n_cols array where each rank contributes `n_local_rows`
  /// rows (its rows follow those of lower ranks: offsets by MPI_Exscan); n_cols must agree on all
  /// ranks. Starts the top-level group if it was not started in this session. Throws if `name`
  /// was already written in this session.
  void write_rows(const std::string& name, std::int64_t n_local_rows, int n_cols,
                  const double* data);
  void write_rows(const std::string& name, std::int64_t n_local_rows, int n_cols,
                  const std::int64_t* data);

  /// True when array `name` exists and its top-level group is complete (or was written in this
  /// session). Local, no communication.
  bool has(const std::string& name) const;
  /// Number of rows / columns of array `name`; throws as read_rows when it is absent.
  std::int64_t n_rows(const std::string& name) const;
  int n_cols(const std::string& name) const;
  /// Collective. Rows [rows.begin, rows.end) of array `name`, T = double or std::int64_t (must
  /// match the stored type). Throws naming the file and array when it is absent, incomplete, or
  /// the block exceeds its rows.
  template <class T = double> RowArray<T> read_rows(const std::string& name, Block rows) const;
  /// Collective. Every row of array `name` on every rank (replicated quantities, e.g. the
  /// recovered quaternions).
  template <class T = double> RowArray<T> read_all_rows(const std::string& name) const;

  // --- string attributes on groups and arrays -----------------------------------------------
  /// Collective. Sets string attribute `key` of `object` (a group or array path; "" or "/" is
  /// the root; root attributes only on a created dataset). In update mode the object must lie in
  /// a group written in this session (a top-level group that does not exist yet is started).
  void set_attribute(const std::string& object, const std::string& key, const std::string& value);
  /// Local. The string attribute `key` of `object`; throws naming file, object and key if absent.
  std::string attribute(const std::string& object, const std::string& key) const;
  bool has_attribute(const std::string& object, const std::string& key) const;
  /// Local. True when top-level group `group` exists and carries `complete = 1`.
  bool is_complete(const std::string& group) const;

private:
  struct Impl;
  explicit Dataset(std::unique_ptr<Impl> impl);
  Impl& impl() const;
  std::unique_ptr<Impl> impl_;
};

/// Collective. The N × 4 array `array` (e.g. "gauge/quaternions") as N unit quaternions, on every
/// rank. Throws naming the file and array when it is absent or incomplete (the stage that writes
/// it did not finish), not N × 4, or holds a row that is zero or not finite (naming the row).
std::vector<geometry::Quat> read_orientation_array(const Dataset& ds, const std::string& array);

} // namespace pairpose::io
