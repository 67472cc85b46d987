#include "pairpose/io/dataset.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <exception>
#include <map>
#include <set>
#include <type_traits>

#include "hdf5_util.hpp"
#include "pairpose/core/error.hpp"
#include "pairpose/core/files.hpp"
#include "pairpose/core/mpi.hpp"

namespace pairpose::io {

using h5::Hid;

namespace {

const char* const reserved_root_keys[] = {"pairpose_format_version",
                                          "n_particles",
                                          "image_size",
                                          "pixel_size",
                                          "provenance",
                                          "map_names",
                                          "complete"};
constexpr int ctf_columns = 8;

bool is_reserved(const std::string& key) {
  return std::find(std::begin(reserved_root_keys), std::end(reserved_root_keys), key) !=
         std::end(reserved_root_keys);
}

/// "/a/b" from "a/b", "/a/b" or "a/b/"; throws on empty components.
std::string normalize(const std::string& name) {
  std::string out;
  std::size_t pos = 0;
  while (pos < name.size()) {
    const std::size_t next = std::min(name.find('/', pos), name.size());
    if (next > pos) out += "/" + name.substr(pos, next - pos);
    pos = next + 1;
  }
  return out;
}

/// The top-level group of a normalized path ("" for the root).
std::string top_group(const std::string& path) {
  if (path.empty()) return "";
  return path.substr(1, path.find('/', 1) == std::string::npos ? std::string::npos
                                                               : path.find('/', 1) - 1);
}

std::string block_text(Block b) {
  return "[" + std::to_string(b.begin) + ", " + std::to_string(b.end) + ")";
}

template <class T> hid_t native_type();
template <> hid_t native_type<double>() { return H5T_NATIVE_DOUBLE; }
template <> hid_t native_type<std::int64_t>() { return H5T_NATIVE_INT64; }
template <class T> hid_t file_type();
template <> hid_t file_type<double>() { return H5T_IEEE_F64LE; }
template <> hid_t file_type<std::int64_t>() { return H5T_STD_I64LE; }
template <class T> const char* type_name();
template <> const char* type_name<double>() { return "float64"; }
template <> const char* type_name<std::int64_t>() { return "int64"; }

} // namespace

struct Dataset::Impl {
  std::string path;      ///< final name
  std::string file_name; ///< the name opened (final or .part)
  MPI_Comm comm = MPI_COMM_NULL;
  Mode mode = Mode::read;
  bool created = false;
  DatasetInfo info;
  Hid file, dxpl;
  /// The /particles arrays, opened once by all ranks when the file is created or opened (the
  /// local reads and writes go through them: closing an array is collective in parallel HDF5,
  /// so it waits for close_file).
  std::map<std::string, Hid> held_arrays;
  std::unique_ptr<OutputFile> output;
  std::set<std::string> session_groups; ///< top-level groups written in this session
  std::int64_t n_images_written = 0, n_particles_written = 0; ///< by this rank
  int uncaught_at_start = std::uncaught_exceptions();

  ~Impl();
  void open_handles(bool create_file);
  void read_info();
  void check_particles_layout() const;
  void create_particles_layout();
  void close_file(bool mark_complete);
  /// Collective: closes the file and frees the communicator without committing.
  void abandon();
  void require_writable(const char* what) const;
  void agree_block(Block rows, std::int64_t n_total, const std::string& what) const;
  /// The same check for one rank's own (local) call: throws on this rank only.
  void check_local_block(Block rows, const char* what) const;
  Hid open_array(const std::string& name) const;
  Hid particles_array(const char* leaf) const;
  void start_group(const std::string& group);
  template <class T>
  void write_rows(const std::string& name, std::int64_t n_local, int n_cols, const T* data);
  template <class T> RowArray<T> read_rows(const std::string& name, Block rows) const;
  /// Collective: opens every /particles array into held_arrays.
  void hold_particle_arrays();
  /// Reads rows of /particles: collectively over `over` = comm, or by this rank alone when
  /// `over` = MPI_COMM_SELF.
  ImageStack get_images(Block rows, MPI_Comm over) const;
  std::vector<Particle> get_particles(Block rows, MPI_Comm over) const;
  /// The checks of a particles write that need no communication: "" when fine.
  std::string particles_problem(Block rows, const std::vector<Particle>& particles) const;
  /// Moves rows of /particles/<leaf>: collectively over `over` = comm, or by this rank alone
  /// when `over` = MPI_COMM_SELF (independent transfers either way).
  void put_images(Block rows, const float* images, MPI_Comm over);
  void put_particles(Block rows, const std::vector<Particle>& particles, MPI_Comm over);
};

Dataset::Impl::~Impl() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (std::uncaught_exceptions() > uncaught_at_start || finalized) {
    // Unwinding (possibly on this rank only): a collective close could block. Leave the handle
    // to HDF5's shutdown; the OutputFile still removes the temporary.
    for (auto& [leaf, id] : held_arrays)
      id.release();
    file.release();
    dxpl.release();
    return;
  }
  abandon();
}

void Dataset::Impl::abandon() {
  held_arrays.clear();
  dxpl.reset();
  file.reset();
  if (comm != MPI_COMM_NULL) MPI_Comm_free(&comm);
}

void Dataset::Impl::open_handles(bool create_file) {
  h5::silence_errors();
  Hid fapl = h5::make(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, file_name);
  h5::check(H5Pset_fapl_mpio(fapl.get(), comm, MPI_INFO_NULL), file_name);
  // The 1.8 format stores large attributes (long provenance texts) densely.
  h5::check(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_LATEST), file_name);
  if (create_file)
    file = h5::make(H5Fcreate(file_name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose,
                    file_name + ": cannot create");
  else
    file = h5::make(H5Fopen(file_name.c_str(), mode == Mode::update ? H5F_ACC_RDWR : H5F_ACC_RDONLY,
                            fapl.get()),
                    H5Fclose, file_name + ": cannot open");
  // Each rank moves one contiguous block of rows: nothing for collective buffering to merge, and
  // independent transfers write ~1.5-2x faster here (docs/benchmarks.md, simulate). The file's
  // metadata operations stay collective.
  dxpl = h5::make(H5Pcreate(H5P_DATASET_XFER), H5Pclose, file_name);
  h5::check(H5Pset_dxpl_mpio(dxpl.get(), H5FD_MPIO_INDEPENDENT), file_name);
}

void Dataset::Impl::read_info() {
  const hid_t root = file.get();
  PAIRPOSE_CHECK(h5::has_attribute(root, "pairpose_format_version"),
                 path << ": not a pairpose dataset (no root attribute pairpose_format_version)");
  const auto version = h5::read_int_attribute(root, "pairpose_format_version", path);
  PAIRPOSE_CHECK(version == dataset_format_version, path << ": dataset format version " << version
                                                         << ", this pairpose reads version "
                                                         << dataset_format_version);
  info.n_particles = h5::read_int_attribute(root, "n_particles", path);
  info.image_size = h5::read_int_attribute(root, "image_size", path);
  info.pixel_size = h5::read_double_attribute(root, "pixel_size", path);
  info.provenance = h5::read_string_attribute(root, "provenance", path);
  info.map_names = h5::read_string_list_attribute(root, "map_names", path);
  for (const auto& key : h5::attribute_names(root))
    if (!is_reserved(key) && h5::is_string_attribute(root, key))
      info.attributes[key] = h5::read_string_attribute(root, key, path);
  info.has_orientations = h5::exists(root, "/particles/orientation");
  info.has_ctf = h5::exists(root, "/particles/ctf");
  check_particles_layout();
}

void Dataset::Impl::check_particles_layout() const {
  PAIRPOSE_CHECK(h5::exists(file.get(), "/particles"),
                 path << ": no group /particles (was it written by pairpose simulate?)");
  Hid group = h5::open_object(file.get(), "/particles", path);
  PAIRPOSE_CHECK(h5::has_attribute(group.get(), "complete"),
                 path << ": group /particles is incomplete (the file was not committed)");
  const std::int64_t n = info.n_particles, s = info.image_size;
  auto expect = [&](const char* leaf, std::vector<std::int64_t> shape) {
    const std::string p = std::string("/particles/") + leaf;
    PAIRPOSE_CHECK(h5::exists(file.get(), p),
                   path << ": no dataset " << p << " (was it written by pairpose simulate?)");
    Hid d = h5::open_object(file.get(), p, path + ": " + p);
    const auto got = h5::dims(d.get());
    std::string g, e;
    for (auto v : got)
      g += (g.empty() ? "" : "×") + std::to_string(v);
    for (auto v : shape)
      e += (e.empty() ? "" : "×") + std::to_string(v);
    PAIRPOSE_CHECK(got == shape, path << ": " << p << " has shape " << g << ", expected " << e);
  };
  if (s > 0) expect("images", {n, s, s});
  if (info.has_orientations) expect("orientation", {n, 4});
  expect("shift", {n, 2});
  if (info.has_ctf) expect("ctf", {n, ctf_columns});
  expect("map_index", {n});
}

/// Creates the contiguous dataset `p` of `shape`, allocated at once, never filled.
static void create_array(hid_t file, const std::string& p, hid_t type,
                         std::vector<std::int64_t> shape, const std::string& context) {
  std::vector<hsize_t> d(shape.begin(), shape.end());
  Hid space =
      h5::make(H5Screate_simple(static_cast<int>(d.size()), d.data(), nullptr), H5Sclose, context);
  Hid dcpl = h5::make(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, context);
  h5::check(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), context);
  h5::check(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY), context);
  Hid lcpl = h5::make(H5Pcreate(H5P_LINK_CREATE), H5Pclose, context);
  h5::check(H5Pset_create_intermediate_group(lcpl.get(), 1), context);
  Hid dset =
      h5::make(H5Dcreate2(file, p.c_str(), type, space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT),
               H5Dclose, context + ": cannot create " + p);
}

void Dataset::Impl::create_particles_layout() {
  const hid_t root = file.get();
  h5::write_int_attribute(root, "pairpose_format_version", dataset_format_version);
  h5::write_int_attribute(root, "n_particles", info.n_particles);
  h5::write_int_attribute(root, "image_size", info.image_size);
  h5::write_double_attribute(root, "pixel_size", info.pixel_size);
  h5::write_string_attribute(root, "provenance", info.provenance);
  h5::write_string_list_attribute(root, "map_names", info.map_names);
  for (const auto& [key, value] : info.attributes)
    h5::write_string_attribute(root, key, value);
  const std::int64_t n = info.n_particles, s = info.image_size;
  // Contiguous images: with MPI-IO, chunked layouts (16 images of 128² per chunk) measured 3×
  // slower to write and 12× slower to read here (jobs/bench-io.sh), and nothing needs chunks.
  if (s > 0) create_array(root, "/particles/images", H5T_IEEE_F32LE, {n, s, s}, path);
  if (info.has_orientations)
    create_array(root, "/particles/orientation", H5T_IEEE_F64LE, {n, 4}, path);
  create_array(root, "/particles/shift", H5T_IEEE_F64LE, {n, 2}, path);
  if (info.has_ctf) create_array(root, "/particles/ctf", H5T_IEEE_F64LE, {n, ctf_columns}, path);
  create_array(root, "/particles/map_index", H5T_STD_I32LE, {n}, path);
  session_groups.insert("particles");
  hold_particle_arrays();
}

void Dataset::Impl::close_file(bool mark_complete) {
  if (mark_complete)
    for (const auto& g : session_groups) {
      Hid group = h5::open_object(file.get(), "/" + g, path);
      h5::write_int_attribute(group.get(), "complete", 1);
    }
  if (mode == Mode::update)
    h5::check(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), path + ": flush failed");
  held_arrays.clear();
  dxpl.reset();
  Hid f = std::move(file);
  h5::check(H5Fclose(f.release()), path + ": close failed");
}

void Dataset::Impl::require_writable(const char* what) const {
  PAIRPOSE_CHECK(file.valid(), path << ": dataset is closed");
  PAIRPOSE_CHECK(mode == Mode::update,
                 path << ": " << what
                      << " on a dataset opened for reading (open it in update mode)");
}

void Dataset::Impl::agree_block(Block rows, std::int64_t n_total, const std::string& what) const {
  std::string msg;
  if (rows.begin < 0 || rows.end < rows.begin || rows.end > n_total)
    msg = path + ": " + what + ": block " + block_text(rows) + " outside [0, " +
          std::to_string(n_total) + ")";
  mpi::agree_or_throw(msg, comm);
}

void Dataset::Impl::check_local_block(Block rows, const char* what) const {
  PAIRPOSE_CHECK(file.valid(), path << ": dataset is closed");
  PAIRPOSE_CHECK(rows.begin >= 0 && rows.begin <= rows.end && rows.end <= info.n_particles,
                 path << ": " << what << ": block " << block_text(rows) << " outside [0, "
                      << info.n_particles << ")");
}

Hid Dataset::Impl::particles_array(const char* leaf) const {
  PAIRPOSE_CHECK(file.valid(), path << ": dataset is closed");
  const std::string p = std::string("/particles/") + leaf;
  PAIRPOSE_CHECK(h5::exists(file.get(), p),
                 path << ": no dataset " << p << " (was it written by pairpose simulate?)");
  return h5::open_object(file.get(), p, path + ": " + p);
}

// --- Dataset: construction, lifetime ----------------------------------------------------------

Dataset::Dataset(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Dataset::Dataset(Dataset&&) noexcept = default;
Dataset& Dataset::operator=(Dataset&&) noexcept = default;
Dataset::~Dataset() = default;

Dataset::Impl& Dataset::impl() const {
  PAIRPOSE_CHECK(impl_, "use of a moved-from pairpose::io::Dataset");
  return *impl_;
}

Dataset Dataset::create(const std::string& path, MPI_Comm comm, const DatasetInfo& info) {
  std::string msg;
  if (info.n_particles < 1)
    msg = path + ": n_particles must be ≥ 1";
  else if (info.image_size < 0)
    msg = path + ": image_size must be ≥ 0";
  else if (!(info.pixel_size > 0))
    msg = path + ": pixel_size must be > 0 Å";
  for (const auto& kv : info.attributes)
    if (msg.empty() && (is_reserved(kv.first) || kv.first.empty()))
      msg = path + ": attribute name '" + kv.first + "' is reserved";
  mpi::agree_or_throw(msg, comm);
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->info = info;
  impl->mode = Mode::update;
  impl->created = true;
  mpi::check(MPI_Comm_dup(comm, &impl->comm), "MPI_Comm_dup");
  impl->output = std::make_unique<OutputFile>(path);
  impl->file_name = impl->output->temporary();
  impl->open_handles(true);
  impl->create_particles_layout();
  return Dataset(std::move(impl));
}

Dataset Dataset::open(const std::string& path, MPI_Comm comm, Mode mode) {
  h5::silence_errors();
  std::string msg;
  if (!file_exists(path))
    msg = path + ": no such file";
  else if (H5Fis_hdf5(path.c_str()) <= 0)
    msg = path + ": not an HDF5 file";
  mpi::agree_or_throw(msg, comm);
  auto impl = std::make_unique<Impl>();
  impl->path = impl->file_name = path;
  impl->mode = mode;
  mpi::check(MPI_Comm_dup(comm, &impl->comm), "MPI_Comm_dup");
  impl->open_handles(false);
  try {
    impl->read_info();
    impl->hold_particle_arrays();
  } catch (const Error&) {
    impl->abandon(); // every rank read the same file and fails the same way: close collectively
    throw;
  }
  return Dataset(std::move(impl));
}

void Dataset::commit() {
  Impl& d = impl();
  PAIRPOSE_CHECK(d.file.valid(), d.path << ": dataset is closed");
  if (d.created) {
    const std::int64_t n = d.info.n_particles;
    const std::int64_t images = mpi::all_sum(d.n_images_written, d.comm);
    const std::int64_t metadata = mpi::all_sum(d.n_particles_written, d.comm);
    PAIRPOSE_CHECK(!has_images() || images == n,
                   d.path << ": images written for " << images << " of " << n << " particles");
    PAIRPOSE_CHECK(metadata == n,
                   d.path << ": metadata written for " << metadata << " of " << n << " particles");
  }
  d.close_file(d.mode == Mode::update);
  if (d.output) d.output->commit(d.comm);
  d.session_groups.clear();
}

void Dataset::close() {
  Impl& d = impl();
  if (!d.file.valid()) return;
  d.close_file(false);
  d.output.reset(); // removes an uncommitted temporary
}

bool Dataset::is_open() const { return impl_ && impl_->file.valid(); }
const std::string& Dataset::path() const { return impl().path; }
MPI_Comm Dataset::comm() const { return impl().comm; }
Dataset::Mode Dataset::mode() const { return impl().mode; }
const DatasetInfo& Dataset::info() const { return impl().info; }
Block Dataset::block() const { return split_block(n_particles(), impl().comm); }

// --- particles ------------------------------------------------------------------------------

void Dataset::Impl::put_images(Block rows, const float* images, MPI_Comm over) {
  h5::transfer_rows(held_arrays.at("images").get(), H5T_NATIVE_FLOAT, rows.begin, rows.size(),
                    const_cast<float*>(images), h5::Direction::write, dxpl.get(), over,
                    path + ": /particles/images");
  n_images_written += rows.size();
}

void Dataset::write_images(Block rows, const float* images) {
  Impl& d = impl();
  d.require_writable("write_images");
  PAIRPOSE_CHECK(d.created, d.path << ": images are written only when the dataset is created");
  d.agree_block(rows, n_particles(), "write_images");
  d.put_images(rows, images, d.comm);
}

void Dataset::write_images(Block rows, const ImageStack& images) {
  const std::int64_t s = info().image_size;
  std::string msg;
  if (images.n != rows.size() || images.nx != s || images.ny != s)
    msg = path() + ": write_images: stack of " + std::to_string(images.n) + " images of " +
          std::to_string(images.ny) + "×" + std::to_string(images.nx) + " for block " +
          block_text(rows) + " of " + std::to_string(s) + "×" + std::to_string(s) + " images";
  mpi::agree_or_throw(msg, comm());
  write_images(rows, images.data.data());
}

void Dataset::write_local(Block rows, const float* images, const std::vector<Particle>& particles) {
  Impl& d = impl();
  d.require_writable("write_local");
  PAIRPOSE_CHECK(d.created, d.path << ": particles are written only when the dataset is created");
  d.check_local_block(rows, "write_local");
  const std::string problem = d.particles_problem(rows, particles);
  PAIRPOSE_CHECK(problem.empty(), problem);
  if (has_images()) d.put_images(rows, images, MPI_COMM_SELF);
  d.put_particles(rows, particles, MPI_COMM_SELF);
}

void Dataset::Impl::hold_particle_arrays() {
  for (const char* leaf : {"images", "orientation", "shift", "ctf", "map_index"})
    if (h5::exists(file.get(), std::string("/particles/") + leaf))
      held_arrays[leaf] = particles_array(leaf);
}

ImageStack Dataset::Impl::get_images(Block rows, MPI_Comm over) const {
  PAIRPOSE_CHECK(held_arrays.count("images"),
                 path << ": no dataset /particles/images (was it written by pairpose simulate?)");
  const std::int64_t s = info.image_size;
  ImageStack out(rows.size(), s, s, info.pixel_size);
  h5::transfer_rows(held_arrays.at("images").get(), H5T_NATIVE_FLOAT, rows.begin, rows.size(),
                    out.data.data(), h5::Direction::read, dxpl.get(), over,
                    path + ": /particles/images");
  return out;
}

ImageStack Dataset::read_images(Block rows) const {
  Impl& d = impl();
  d.agree_block(rows, n_particles(), "read_images");
  return d.get_images(rows, d.comm);
}

ImageStack Dataset::read_images_local(Block rows) const {
  Impl& d = impl();
  d.check_local_block(rows, "read_images_local");
  return d.get_images(rows, MPI_COMM_SELF);
}

std::string Dataset::Impl::particles_problem(Block rows,
                                             const std::vector<Particle>& particles) const {
  if (static_cast<std::int64_t>(particles.size()) != rows.size())
    return path + ": write_particles: " + std::to_string(particles.size()) +
           " particles for block " + block_text(rows);
  for (std::size_t i = 0; i < particles.size(); ++i)
    if (particles[i].has_ctf != info.has_ctf)
      return path + ": write_particles: particle " + std::to_string(rows.begin + i) +
             (info.has_ctf ? " has no CTF" : " has a CTF but the dataset has none");
  return "";
}

void Dataset::write_particles(Block rows, const std::vector<Particle>& particles) {
  Impl& d = impl();
  d.require_writable("write_particles");
  PAIRPOSE_CHECK(d.created, d.path << ": particles are written only when the dataset is created");
  d.agree_block(rows, n_particles(), "write_particles");
  mpi::agree_or_throw(d.particles_problem(rows, particles), d.comm);
  d.put_particles(rows, particles, d.comm);
}

void Dataset::Impl::put_particles(Block rows, const std::vector<Particle>& particles,
                                  MPI_Comm over) {
  const std::size_t n = particles.size();
  std::vector<double> quat(4 * n), shift(2 * n), ctf(ctf_columns * n);
  std::vector<std::int32_t> map_index(n);
  for (std::size_t i = 0; i < n; ++i) {
    const Particle& p = particles[i];
    const auto& q = p.orientation;
    std::copy_n(std::array<double, 4>{q.w, q.x, q.y, q.z}.data(), 4, &quat[4 * i]);
    shift[2 * i] = p.shift_x;
    shift[2 * i + 1] = p.shift_y;
    const CtfParams& c = p.ctf;
    const double row[ctf_columns] = {
        c.defocus_u,          c.defocus_v, c.defocus_angle, c.voltage, c.spherical_aberration,
        c.amplitude_contrast, c.bfactor,   c.phase_shift};
    std::copy_n(row, ctf_columns, &ctf[ctf_columns * i]);
    map_index[i] = p.map_index;
  }
  auto put = [&](const char* leaf, hid_t type, void* data) {
    h5::transfer_rows(held_arrays.at(leaf).get(), type, rows.begin, rows.size(), data,
                      h5::Direction::write, dxpl.get(), over, path + ": /particles/" + leaf);
  };
  if (info.has_orientations) put("orientation", H5T_NATIVE_DOUBLE, quat.data());
  put("shift", H5T_NATIVE_DOUBLE, shift.data());
  if (info.has_ctf) put("ctf", H5T_NATIVE_DOUBLE, ctf.data());
  put("map_index", H5T_NATIVE_INT32, map_index.data());
  n_particles_written += rows.size();
}

std::vector<Particle> Dataset::Impl::get_particles(Block rows, MPI_Comm over) const {
  const Impl& d = *this;
  const auto n = static_cast<std::size_t>(rows.size());
  std::vector<double> quat(4 * n), shift(2 * n), ctf(ctf_columns * n);
  std::vector<std::int32_t> map_index(n);
  auto get = [&](const char* leaf, hid_t type, void* data) {
    h5::transfer_rows(d.held_arrays.at(leaf).get(), type, rows.begin, rows.size(), data,
                      h5::Direction::read, d.dxpl.get(), over, d.path + ": /particles/" + leaf);
  };
  if (d.info.has_orientations) get("orientation", H5T_NATIVE_DOUBLE, quat.data());
  get("shift", H5T_NATIVE_DOUBLE, shift.data());
  if (d.info.has_ctf) get("ctf", H5T_NATIVE_DOUBLE, ctf.data());
  get("map_index", H5T_NATIVE_INT32, map_index.data());
  std::vector<Particle> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    Particle& p = out[i];
    if (d.info.has_orientations)
      p.orientation = {quat[4 * i], quat[4 * i + 1], quat[4 * i + 2], quat[4 * i + 3]};
    p.shift_x = shift[2 * i];
    p.shift_y = shift[2 * i + 1];
    p.has_ctf = d.info.has_ctf;
    if (p.has_ctf) {
      const double* c = &ctf[ctf_columns * i];
      p.ctf = {c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]};
    }
    p.map_index = map_index[i];
  }
  return out;
}

std::vector<Particle> Dataset::read_particles(Block rows) const {
  Impl& d = impl();
  d.agree_block(rows, n_particles(), "read_particles");
  return d.get_particles(rows, d.comm);
}

std::vector<Particle> Dataset::read_particles_local(Block rows) const {
  Impl& d = impl();
  d.check_local_block(rows, "read_particles_local");
  return d.get_particles(rows, MPI_COMM_SELF);
}

// --- result groups --------------------------------------------------------------------------

void Dataset::Impl::start_group(const std::string& group) {
  require_writable("start_group");
  PAIRPOSE_CHECK(!group.empty() && group.find('/') == std::string::npos,
                 path << ": '" << group << "' is not a top-level group name");
  PAIRPOSE_CHECK(group != "particles",
                 path << ": group /particles is reserved for the particles themselves");
  const std::string p = "/" + group;
  if (h5::exists(file.get(), p))
    h5::check(H5Ldelete(file.get(), p.c_str(), H5P_DEFAULT), path + ": cannot delete " + p);
  Hid g = h5::make(H5Gcreate2(file.get(), p.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                   H5Gclose, path + ": cannot create group " + p);
  session_groups.insert(group);
}

void Dataset::start_group(const std::string& group) { impl().start_group(group); }

template <class T>
void Dataset::Impl::write_rows(const std::string& name, std::int64_t n_local, int n_cols,
                               const T* data) {
  require_writable("write_rows");
  const std::string p = normalize(name);
  const std::string group = top_group(p);
  PAIRPOSE_CHECK(p.size() > group.size() + 1,
                 path << ": array name '" << name << "' must be 'group/array'");
  PAIRPOSE_CHECK(group != "particles",
                 path << ": group /particles is reserved for the particles themselves");
  std::string msg;
  if (n_local < 0 || n_cols < 1)
    msg = path + ": write_rows " + p + ": " + std::to_string(n_local) + " rows of " +
          std::to_string(n_cols) + " columns";
  mpi::agree_or_throw(msg, comm);
  PAIRPOSE_CHECK(mpi::all_min(n_cols, comm) == mpi::all_max(n_cols, comm),
                 path << ": write_rows " << p << ": ranks disagree on the number of columns");
  if (!session_groups.count(group)) start_group(group);
  PAIRPOSE_CHECK(!h5::exists(file.get(), p), path << ": " << p << " was already written");
  std::int64_t offset = 0;
  mpi::check(MPI_Exscan(&n_local, &offset, 1, MPI_INT64_T, MPI_SUM, comm), "MPI_Exscan");
  if (mpi::comm_rank(comm) == 0) offset = 0;
  const std::int64_t n_total = mpi::all_sum(n_local, comm);
  create_array(file.get(), p, file_type<T>(), {n_total, n_cols}, path);
  Hid dset = h5::open_object(file.get(), p, path + ": " + p);
  h5::transfer_rows(dset.get(), native_type<T>(), offset, n_local, const_cast<T*>(data),
                    h5::Direction::write, dxpl.get(), comm, path + ": " + p);
}

void Dataset::write_rows(const std::string& name, std::int64_t n_local_rows, int n_cols,
                         const double* data) {
  impl().write_rows(name, n_local_rows, n_cols, data);
}
void Dataset::write_rows(const std::string& name, std::int64_t n_local_rows, int n_cols,
                         const std::int64_t* data) {
  impl().write_rows(name, n_local_rows, n_cols, data);
}

bool Dataset::is_complete(const std::string& group) const {
  const Impl& d = impl();
  const std::string p = normalize(group);
  if (p.empty() || !h5::exists(d.file.get(), p)) return false;
  Hid g = h5::open_object(d.file.get(), p, d.path + ": " + p);
  return h5::has_attribute(g.get(), "complete") &&
         h5::read_int_attribute(g.get(), "complete", d.path + ": " + p) == 1;
}

bool Dataset::has(const std::string& name) const {
  const Impl& d = impl();
  PAIRPOSE_CHECK(d.file.valid(), d.path << ": dataset is closed");
  const std::string p = normalize(name);
  const std::string group = top_group(p);
  if (group.empty() || !h5::exists(d.file.get(), p)) return false;
  return d.session_groups.count(group) > 0 || is_complete(group);
}

Hid Dataset::Impl::open_array(const std::string& name) const {
  PAIRPOSE_CHECK(file.valid(), path << ": dataset is closed");
  const std::string p = normalize(name);
  const std::string group = top_group(p);
  PAIRPOSE_CHECK(!group.empty() && h5::exists(file.get(), p),
                 path << ": no dataset " << p
                      << " (the stage that writes it has not run on this file)");
  Hid g = h5::open_object(file.get(), "/" + group, path);
  const bool complete = h5::has_attribute(g.get(), "complete") &&
                        h5::read_int_attribute(g.get(), "complete", path) == 1;
  PAIRPOSE_CHECK(complete || session_groups.count(group),
                 path << ": group /" << group
                      << " is incomplete (the stage that writes it did not finish); rerun it");
  return h5::open_object(file.get(), p, path + ": " + p);
}

std::int64_t Dataset::n_rows(const std::string& name) const {
  Hid dset = impl().open_array(name);
  return h5::dims(dset.get()).at(0);
}

int Dataset::n_cols(const std::string& name) const {
  Hid dset = impl().open_array(name);
  const auto shape = h5::dims(dset.get());
  std::int64_t n = 1;
  for (std::size_t a = 1; a < shape.size(); ++a)
    n *= shape[a];
  return static_cast<int>(n);
}

template <class T> RowArray<T> Dataset::Impl::read_rows(const std::string& name, Block rows) const {
  Hid dset = open_array(name);
  const std::string p = normalize(name);
  const auto shape = h5::dims(dset.get());
  PAIRPOSE_CHECK(shape.size() == 2,
                 path << ": " << p << " has " << shape.size() << " dimensions, expected 2");
  Hid type = h5::make(H5Dget_type(dset.get()), H5Tclose, path + ": " + p);
  const bool is_float = H5Tget_class(type.get()) == H5T_FLOAT;
  const bool is_int = H5Tget_class(type.get()) == H5T_INTEGER;
  PAIRPOSE_CHECK((std::is_floating_point<T>::value ? is_float : is_int),
                 path << ": " << p << " holds " << (is_float ? "floats" : "integers")
                      << ", read as " << type_name<T>());
  agree_block(rows, shape[0], "read_rows " + p);
  RowArray<T> out;
  out.first = rows.begin;
  out.n_rows = rows.size();
  out.n_cols = static_cast<int>(shape[1]);
  out.data.resize(static_cast<std::size_t>(rows.size() * shape[1]));
  h5::transfer_rows(dset.get(), native_type<T>(), rows.begin, rows.size(), out.data.data(),
                    h5::Direction::read, dxpl.get(), comm, path + ": " + p);
  return out;
}

template <class T> RowArray<T> Dataset::read_rows(const std::string& name, Block rows) const {
  return impl().read_rows<T>(name, rows);
}

template <class T> RowArray<T> Dataset::read_all_rows(const std::string& name) const {
  return impl().read_rows<T>(name, Block{0, n_rows(name)});
}

template RowArray<double> Dataset::read_rows<double>(const std::string&, Block) const;
template RowArray<std::int64_t> Dataset::read_rows<std::int64_t>(const std::string&, Block) const;
template RowArray<double> Dataset::read_all_rows<double>(const std::string&) const;
template RowArray<std::int64_t> Dataset::read_all_rows<std::int64_t>(const std::string&) const;

// --- attributes -----------------------------------------------------------------------------

void Dataset::set_attribute(const std::string& object, const std::string& key,
                            const std::string& value) {
  Impl& d = impl();
  d.require_writable("set_attribute");
  const std::string p = normalize(object);
  const std::string group = top_group(p);
  PAIRPOSE_CHECK(!key.empty() && key != "complete",
                 d.path << ": attribute name '" << key << "' is reserved");
  if (group.empty()) {
    PAIRPOSE_CHECK(d.created,
                   d.path << ": root attributes are set only when the dataset is created");
    PAIRPOSE_CHECK(!is_reserved(key), d.path << ": root attribute '" << key << "' is reserved");
  } else if (!d.created && !d.session_groups.count(group)) {
    PAIRPOSE_CHECK(!h5::exists(d.file.get(), "/" + group),
                   d.path << ": cannot set attribute " << key << " on " << p << ": group /" << group
                          << " was not written in this session");
    d.start_group(group);
  }
  PAIRPOSE_CHECK(p.empty() || h5::exists(d.file.get(), p), d.path << ": no object " << p);
  Hid obj = h5::open_object(d.file.get(), p.empty() ? "/" : p, d.path);
  h5::write_string_attribute(obj.get(), key, value);
}

bool Dataset::has_attribute(const std::string& object, const std::string& key) const {
  const Impl& d = impl();
  const std::string p = normalize(object);
  if (!p.empty() && !h5::exists(d.file.get(), p)) return false;
  Hid obj = h5::open_object(d.file.get(), p.empty() ? "/" : p, d.path);
  return h5::has_attribute(obj.get(), key);
}

std::string Dataset::attribute(const std::string& object, const std::string& key) const {
  const Impl& d = impl();
  const std::string p = normalize(object);
  PAIRPOSE_CHECK(p.empty() || h5::exists(d.file.get(), p), d.path << ": no object " << p);
  Hid obj = h5::open_object(d.file.get(), p.empty() ? "/" : p, d.path);
  return h5::read_string_attribute(obj.get(), key, d.path + ": " + (p.empty() ? "/" : p));
}

std::vector<geometry::Quat> read_orientation_array(const Dataset& ds, const std::string& array) {
  const std::string& path = ds.path();
  PAIRPOSE_CHECK(ds.has(array), path << ": no complete array /" << array
                                     << " (did the stage that writes it, e.g. pairpose recover, "
                                        "finish on this dataset?)");
  PAIRPOSE_CHECK(ds.n_rows(array) == ds.n_particles() && ds.n_cols(array) == 4,
                 path << ": /" << array << " is " << ds.n_rows(array) << " x " << ds.n_cols(array)
                      << ", expected " << ds.n_particles()
                      << " x 4 (one quaternion w, x, y, z per particle)");
  const auto rows = ds.read_all_rows<double>(array);
  std::vector<geometry::Quat> q(static_cast<size_t>(rows.n_rows));
  for (std::int64_t i = 0; i < rows.n_rows; ++i) {
    q[i] = {rows.at(i, 0), rows.at(i, 1), rows.at(i, 2), rows.at(i, 3)};
    const double norm = geometry::norm(q[i]);
    PAIRPOSE_CHECK(std::isfinite(norm) && norm > 1e-12,
                   path << ": /" << array << " row " << i
                        << " is not a usable quaternion (zero or not finite)");
    q[i] = geometry::normalized(q[i]);
  }
  return q;
}

} // namespace pairpose::io
