#define BOOST_TEST_MODULE io_dataset
#include "pairpose_test.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <hdf5.h>

#include "pairpose/core/error.hpp"
#include "pairpose/core/files.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/core/partition.hpp"
#include "pairpose/io/dataset.hpp"

using namespace pairpose;
using io::Dataset;
using io::DatasetInfo;

namespace {

MPI_Comm world() { return MPI_COMM_WORLD; }
int rank() { return mpi::comm_rank(MPI_COMM_WORLD); }

/// A scratch folder of its own for each rank count (ctest may run np1 and np2 at once).
std::string scratch(const std::string& name) {
  return testing::scratch_folder(name + "_np" + std::to_string(mpi::comm_size(MPI_COMM_WORLD)));
}

/// A pixel value that depends only on (particle, pixel).
float pixel(std::int64_t i, std::int64_t k) { return float(i) * 0.5f + float(k) * 1e-3f - 7.0f; }

Particle particle(std::int64_t i) {
  Particle p;
  const double a = 0.1 * double(i);
  p.orientation = {std::cos(a), std::sin(a) * 0.6, std::sin(a) * 0.8, 0.0};
  p.shift_x = 1.25 * double(i);
  p.shift_y = -0.5 * double(i);
  p.has_ctf = true;
  p.ctf = {10000.0 + double(i), 9000.0 + double(i), 12.5, 300, 2.7, 0.1, 5.0, 0.0};
  p.map_index = std::int32_t(i % 3);
  return p;
}

DatasetInfo sample_info(std::int64_t n, std::int64_t size) {
  DatasetInfo info;
  info.n_particles = n;
  info.image_size = size;
  info.pixel_size = 1.5;
  info.has_orientations = true;
  info.has_ctf = true;
  // Longer than HDF5's 64 KiB limit for compact attributes.
  info.provenance = "# pairpose test\n[simulate]\nseed = 7\n# " + std::string(100000, 'x');
  info.map_names = {"maps/a.mrc", "maps/b.mrc", "maps/c.mrc"};
  info.attributes = {{"source", "unit test"}, {"snr", "0.1"}};
  return info;
}

/// Writes the sample content of `n` particles of `size`² images through `comm`, in two batches
/// per rank (the second batch of the last rank may be empty).
void write_sample(const std::string& path, MPI_Comm comm, std::int64_t n, std::int64_t size) {
  Dataset ds = Dataset::create(path, comm, sample_info(n, size));
  const Block mine = ds.block();
  const std::int64_t half = mine.begin + mine.size() / 2;
  for (const Block b : {Block{mine.begin, half}, Block{half, mine.end}}) {
    std::vector<float> images(size_t(b.size() * size * size));
    std::vector<Particle> particles;
    for (std::int64_t i = b.begin; i < b.end; ++i) {
      for (std::int64_t k = 0; k < size * size; ++k)
        images[size_t((i - b.begin) * size * size + k)] = pixel(i, k);
      particles.push_back(particle(i));
    }
    ds.write_images(b, images.data());
    ds.write_particles(b, particles);
  }
  ds.commit();
}

void check_particle(const Particle& got, std::int64_t i) {
  const Particle want = particle(i);
  BOOST_TEST(got.orientation.w == want.orientation.w);
  BOOST_TEST(got.orientation.x == want.orientation.x);
  BOOST_TEST(got.orientation.y == want.orientation.y);
  BOOST_TEST(got.orientation.z == want.orientation.z);
  BOOST_TEST(got.shift_x == want.shift_x);
  BOOST_TEST(got.shift_y == want.shift_y);
  BOOST_TEST(got.has_ctf);
  BOOST_TEST(got.ctf.defocus_u == want.ctf.defocus_u);
  BOOST_TEST(got.ctf.defocus_v == want.ctf.defocus_v);
  BOOST_TEST(got.ctf.defocus_angle == want.ctf.defocus_angle);
  BOOST_TEST(got.ctf.voltage == want.ctf.voltage);
  BOOST_TEST(got.ctf.spherical_aberration == want.ctf.spherical_aberration);
  BOOST_TEST(got.ctf.amplitude_contrast == want.ctf.amplitude_contrast);
  BOOST_TEST(got.ctf.bfactor == want.ctf.bfactor);
  BOOST_TEST(got.ctf.phase_shift == want.ctf.phase_shift);
  BOOST_TEST(got.map_index == want.map_index);
}

/// The message of the pairpose::Error thrown by f ("" when none).
template <class F> std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_CASE(create_commit_reopen_round_trip) {
  const std::string path = scratch("dataset_round_trip") + "/run.h5";
  const std::int64_t n = 37, size = 12;
  write_sample(path, world(), n, size);
  BOOST_TEST(file_exists(path));
  BOOST_TEST(!file_exists(path + ".part"));

  Dataset ds = Dataset::open(path, world());
  const DatasetInfo& info = ds.info();
  BOOST_TEST(info.n_particles == n);
  BOOST_TEST(info.image_size == size);
  BOOST_TEST(info.pixel_size == 1.5);
  BOOST_TEST(info.provenance == sample_info(n, size).provenance);
  BOOST_TEST(info.map_names == sample_info(n, size).map_names);
  BOOST_TEST((info.attributes == sample_info(n, size).attributes));
  BOOST_TEST(ds.has_orientations());
  BOOST_TEST(ds.has_ctf());
  BOOST_TEST(ds.is_complete("particles"));

  // Read another rank's block than the one written, to be sure data crossed ranks.
  const int size_ranks = mpi::comm_size(world());
  const Block b = split_block(n, size_ranks, size_ranks - 1 - rank());
  const ImageStack images = ds.read_images(b);
  BOOST_TEST(images.n == b.size());
  BOOST_TEST(images.nx == size);
  BOOST_TEST(images.pixel_size == 1.5);
  std::int64_t n_wrong = 0;
  for (std::int64_t i = 0; i < b.size(); ++i)
    for (std::int64_t k = 0; k < size * size; ++k)
      n_wrong += images.image(i)[k] != pixel(b.begin + i, k);
  BOOST_TEST(n_wrong == 0);
  const auto particles = ds.read_particles(b);
  BOOST_TEST(std::int64_t(particles.size()) == b.size());
  for (std::int64_t i = 0; i < b.size(); ++i)
    check_particle(particles[size_t(i)], b.begin + i);
  ds.close();
  BOOST_TEST(!ds.is_open());
  BOOST_TEST(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) == 0);
}

BOOST_AUTO_TEST_CASE(two_ranks_write_the_same_content_as_one) {
  // The world writes one file, rank 0 alone (a single-rank communicator) another; both are then
  // read whole on the world and compared.
  const std::string folder = scratch("dataset_ranks");
  const std::int64_t n = 23, size = 9;
  write_sample(folder + "/world.h5", world(), n, size);
  MPI_Comm solo;
  MPI_Comm_split(world(), rank() == 0 ? 0 : MPI_UNDEFINED, 0, &solo);
  if (solo != MPI_COMM_NULL) {
    write_sample(folder + "/solo.h5", solo, n, size);
    MPI_Comm_free(&solo);
  }
  MPI_Barrier(world());
  Dataset a = Dataset::open(folder + "/world.h5", world());
  Dataset b = Dataset::open(folder + "/solo.h5", world());
  const Block all{0, n};
  BOOST_TEST(a.read_images(all).data == b.read_images(all).data);
  const auto pa = a.read_particles(all), pb = b.read_particles(all);
  for (std::int64_t i = 0; i < n; ++i)
    check_particle(pb[size_t(i)], i);
  for (std::int64_t i = 0; i < n; ++i)
    check_particle(pa[size_t(i)], i);
  BOOST_TEST((a.info().attributes == b.info().attributes));
}

BOOST_AUTO_TEST_CASE(pieces_taken_in_turns_write_the_same_file) {
  // Ranks take pieces of 4 particles from a shared counter and write each with write_local (a
  // different number of calls per rank); the file equals the collective one, and commit()
  // refuses a dataset with a piece missing.
  const std::string folder = scratch("dataset_local");
  const std::int64_t n = 23, size = 9, step = 4;
  write_sample(folder + "/collective.h5", world(), n, size);
  auto write_in_turns = [&](const std::string& path, std::int64_t skip) {
    Dataset ds = Dataset::create(path, world(), sample_info(n, size));
    mpi::SharedCounter next(world());
    for (std::int64_t first; (first = next.fetch_add(step)) < n;) {
      if (first == skip) continue;
      const Block b{first, std::min(n, first + step)};
      std::vector<float> images;
      std::vector<Particle> particles;
      for (std::int64_t i = b.begin; i < b.end; ++i) {
        for (std::int64_t k = 0; k < size * size; ++k)
          images.push_back(pixel(i, k));
        particles.push_back(particle(i));
      }
      ds.write_local(b, images.data(), particles);
    }
    ds.commit();
  };
  write_in_turns(folder + "/turns.h5", -1);
  Dataset a = Dataset::open(folder + "/collective.h5", world());
  Dataset b = Dataset::open(folder + "/turns.h5", world());
  const Block all{0, n};
  BOOST_TEST(a.read_images(all).data == b.read_images(all).data);
  const auto pb = b.read_particles(all);
  for (std::int64_t i = 0; i < n; ++i)
    check_particle(pb[size_t(i)], i);
  const std::string missing = error_of([&] { write_in_turns(folder + "/gap.h5", 8); });
  BOOST_TEST(contains(missing, "images written for 19 of 23 particles"), missing);
  BOOST_TEST(!file_exists(folder + "/gap.h5"));
  BOOST_TEST(!file_exists(folder + "/gap.h5.part"));
}

BOOST_AUTO_TEST_CASE(variable_rows_and_result_groups) {
  const std::string path = scratch("dataset_rows") + "/run.h5";
  DatasetInfo info = sample_info(10, 0);
  info.has_ctf = false;
  {
    Dataset ds = Dataset::create(path, world(), info);
    const Block b = ds.block();
    std::vector<Particle> particles(size_t(b.size()));
    ds.write_particles(b, particles);
    ds.commit();
  }
  // Rank r contributes 3r rows (rank 0 none) of 4 columns: row k of rank r is (r, k, k², -1).
  const int me = rank(), n_ranks = mpi::comm_size(world());
  const std::int64_t n_local = 3 * me;
  std::vector<double> rows;
  std::vector<std::int64_t> pairs;
  for (std::int64_t k = 0; k < n_local; ++k) {
    rows.insert(rows.end(), {double(me), double(k), double(k * k), -1.0});
    pairs.insert(pairs.end(), {me * std::int64_t(5000000000), k});
  }
  std::int64_t n_total = 0;
  for (int r = 0; r < n_ranks; ++r)
    n_total += 3 * r;
  {
    Dataset ds = Dataset::open(path, world(), Dataset::Mode::update);
    ds.write_rows("recover/quaternions", n_local, 4, rows.data());
    ds.write_rows("/recover/pairs", n_local, 2, pairs.data());
    ds.set_attribute("recover", "method", "spectral");
    BOOST_TEST(ds.has("recover/quaternions")); // visible to its writer
    ds.close();                                // without commit: the group stays incomplete
  }
  {
    Dataset ds = Dataset::open(path, world());
    BOOST_TEST(!ds.has("recover/quaternions"));
    BOOST_TEST(!ds.is_complete("recover"));
    const std::string e = error_of([&] { ds.read_all_rows("recover/quaternions"); });
    BOOST_TEST(contains(e, "group /recover is incomplete"), e);
  }
  {
    Dataset ds = Dataset::open(path, world(), Dataset::Mode::update);
    ds.write_rows("recover/quaternions", n_local, 4, rows.data());
    ds.write_rows("recover/pairs", n_local, 2, pairs.data());
    ds.set_attribute("recover", "method", "spectral");
    BOOST_CHECK_THROW(ds.write_rows("recover/pairs", n_local, 2, pairs.data()), Error);
    BOOST_CHECK_THROW(ds.write_rows("particles/extra", n_local, 4, rows.data()), Error);
    ds.commit();
  }
  Dataset ds = Dataset::open(path, world());
  BOOST_TEST(ds.has("recover/quaternions"));
  BOOST_TEST(ds.is_complete("recover"));
  BOOST_TEST(ds.attribute("recover", "method") == "spectral");
  BOOST_TEST(ds.n_rows("recover/quaternions") == n_total);
  BOOST_TEST(ds.n_cols("recover/quaternions") == 4);
  const auto all = ds.read_all_rows("recover/quaternions");
  BOOST_TEST(all.n_rows == n_total);
  std::int64_t row = 0;
  for (int r = 0; r < n_ranks; ++r)
    for (std::int64_t k = 0; k < 3 * r; ++k, ++row) {
      BOOST_TEST(all.at(row, 0) == double(r));
      BOOST_TEST(all.at(row, 1) == double(k));
      BOOST_TEST(all.at(row, 2) == double(k * k));
    }
  const auto ints = ds.read_all_rows<std::int64_t>("recover/pairs");
  BOOST_TEST(ints.n_rows == n_total);
  if (n_total > 0) BOOST_TEST(ints.at(n_total - 1, 0) == (n_ranks - 1) * std::int64_t(5000000000));
  // A block of rows, and reading with the wrong element type.
  const Block b = split_block(n_total, world());
  const auto part = ds.read_rows("recover/quaternions", b);
  BOOST_TEST(part.first == b.begin);
  for (std::int64_t i = 0; i < b.size(); ++i)
    BOOST_TEST(part.at(i, 1) == all.at(b.begin + i, 1));
  const std::string e = error_of([&] { ds.read_all_rows<std::int64_t>("recover/quaternions"); });
  BOOST_TEST(contains(e, "holds floats, read as int64"), e);
  const std::string e2 = error_of([&] { ds.read_rows("recover/quaternions", {0, n_total + 1}); });
  BOOST_TEST(contains(e2, "outside"), e2);
}

BOOST_AUTO_TEST_CASE(rerunning_a_stage_replaces_its_group) {
  const std::string path = scratch("dataset_rerun") + "/run.h5";
  DatasetInfo info = sample_info(4, 0);
  info.has_ctf = false;
  {
    Dataset ds = Dataset::create(path, world(), info);
    const Block b = ds.block();
    ds.write_particles(b, std::vector<Particle>(size_t(b.size())));
    ds.commit();
  }
  for (double value : {1.0, 2.0}) {
    Dataset ds = Dataset::open(path, world(), Dataset::Mode::update);
    const std::vector<double> v(rank() == 0 ? 3 : 0, value);
    ds.write_rows("embed/x", std::int64_t(v.size()), 1, v.data());
    if (value == 1.0) ds.write_rows("embed/only_first", std::int64_t(v.size()), 1, v.data());
    ds.commit();
  }
  Dataset ds = Dataset::open(path, world());
  const auto x = ds.read_all_rows("embed/x");
  BOOST_TEST(x.n_rows == 3);
  BOOST_TEST(x.at(2, 0) == 2.0);
  BOOST_TEST(!ds.has("embed/only_first"));
}

BOOST_AUTO_TEST_CASE(uncommitted_dataset_leaves_no_file) {
  const std::string path = scratch("dataset_uncommitted") + "/run.h5";
  {
    Dataset ds = Dataset::create(path, world(), sample_info(5, 4));
    BOOST_TEST(file_exists(path + ".part"));
    const Block b = ds.block();
    ds.write_images(b, std::vector<float>(size_t(b.size() * 16), 1.0f).data());
  }
  MPI_Barrier(world());
  BOOST_TEST(!file_exists(path));
  BOOST_TEST(!file_exists(path + ".part"));
  // commit() refuses a dataset whose particles were not all written, and removes nothing final.
  Dataset ds = Dataset::create(path, world(), sample_info(5, 4));
  const std::string e = error_of([&] { ds.commit(); });
  BOOST_TEST(contains(e, "images written for 0 of 5 particles"), e);
  ds.close();
  MPI_Barrier(world());
  BOOST_TEST(!file_exists(path));
  BOOST_TEST(!file_exists(path + ".part"));
}

BOOST_AUTO_TEST_CASE(an_exception_while_writing_leaves_no_file) {
  // A stage that fails after create(): unwinding must not block, and no file may remain.
  const std::string path = scratch("dataset_exception") + "/run.h5";
  const std::string e = error_of([&] {
    Dataset ds = Dataset::create(path, world(), sample_info(5, 4));
    mpi::agree_or_throw(rank() == 0 ? "simulated failure" : "", world());
    ds.commit();
  });
  BOOST_TEST(contains(e, "simulated failure"), e);
  MPI_Barrier(world());
  BOOST_TEST(!file_exists(path));
  BOOST_TEST(!file_exists(path + ".part"));
}

BOOST_AUTO_TEST_CASE(errors_name_the_file_and_dataset) {
  const std::string folder = scratch("dataset_errors");
  const std::string path = folder + "/run.h5";
  DatasetInfo info = sample_info(6, 0);
  info.has_orientations = false;
  info.has_ctf = false;
  {
    Dataset ds = Dataset::create(path, world(), info);
    const Block b = ds.block();
    ds.write_particles(b, std::vector<Particle>(size_t(b.size())));
    ds.commit();
  }
  Dataset ds = Dataset::open(path, world());
  BOOST_TEST(!ds.has_orientations());
  BOOST_TEST(!ds.has_images());
  std::string e = error_of([&] { ds.read_images(ds.block()); });
  BOOST_TEST(e == path + ": no dataset /particles/images (was it written by pairpose simulate?)");
  e = error_of([&] { ds.read_all_rows("recover/quaternions"); });
  BOOST_TEST(contains(e, path + ": no dataset /recover/quaternions"), e);
  BOOST_TEST(!ds.has("recover/quaternions"));
  e = error_of([&] { ds.write_rows("recover/q", 0, 4, static_cast<const double*>(nullptr)); });
  BOOST_TEST(contains(e, "opened for reading"), e);
  ds.close();

  e = error_of([&] { Dataset::open(folder + "/absent.h5", world()); });
  BOOST_TEST(contains(e, folder + "/absent.h5: no such file"), e);
  if (rank() == 0) std::ofstream(folder + "/text.h5") << "not an HDF5 file\n";
  MPI_Barrier(world());
  e = error_of([&] { Dataset::open(folder + "/text.h5", world()); });
  BOOST_TEST(contains(e, folder + "/text.h5: not an HDF5 file"), e);
  e = error_of([&] { Dataset::create(folder + "/bad.h5", world(), DatasetInfo{}); });
  BOOST_TEST(contains(e, "n_particles must be"), e);
  DatasetInfo reserved = info;
  reserved.attributes["provenance"] = "x";
  e = error_of([&] { Dataset::create(folder + "/bad.h5", world(), reserved); });
  BOOST_TEST(contains(e, "reserved"), e);
}

/// Edits a committed file with serial HDF5 on rank 0 (to fake other writers' files).
template <class F> void edit_on_rank0(const std::string& path, F&& edit) {
  if (rank() == 0) {
    const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    BOOST_REQUIRE(f >= 0);
    edit(f);
    H5Fclose(f);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

BOOST_AUTO_TEST_CASE(foreign_versions_and_shapes_are_refused) {
  const std::string folder = scratch("dataset_foreign");
  DatasetInfo info = sample_info(6, 0);
  info.has_ctf = false;
  for (const char* name : {"version.h5", "shape.h5"}) {
    Dataset ds = Dataset::create(folder + "/" + name, world(), info);
    const Block b = ds.block();
    ds.write_particles(b, std::vector<Particle>(size_t(b.size())));
    ds.commit();
  }
  edit_on_rank0(folder + "/version.h5", [](hid_t f) {
    const hid_t a = H5Aopen(f, "pairpose_format_version", H5P_DEFAULT);
    const std::int64_t v = 99;
    H5Awrite(a, H5T_NATIVE_INT64, &v);
    H5Aclose(a);
  });
  const ssize_t n_open_before = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
  std::string e = error_of([&] { Dataset::open(folder + "/version.h5", world()); });
  BOOST_TEST(contains(e, "format version 99, this pairpose reads version 1"), e);
  edit_on_rank0(folder + "/shape.h5", [](hid_t f) {
    H5Ldelete(f, "/particles/shift", H5P_DEFAULT);
    const hsize_t dims[2] = {6, 3};
    const hid_t s = H5Screate_simple(2, dims, nullptr);
    H5Dclose(H5Dcreate2(f, "/particles/shift", H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT,
                        H5P_DEFAULT));
    H5Sclose(s);
  });
  e = error_of([&] { Dataset::open(folder + "/shape.h5", world()); });
  BOOST_TEST(contains(e, "/particles/shift has shape 6×3, expected 6×2"), e);
  if (rank() == 0) {
    const hid_t f =
        H5Fcreate((folder + "/plain.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(f);
  }
  MPI_Barrier(world());
  e = error_of([&] { Dataset::open(folder + "/plain.h5", world()); });
  BOOST_TEST(contains(e, "not a pairpose dataset"), e);
  // Failed opens closed their files: nothing more is open in the HDF5 library than before.
  BOOST_TEST(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) == n_open_before);
}

BOOST_AUTO_TEST_CASE(datasets_on_single_rank_communicators) {
  // Each rank writes and reads its own file on its own communicator, at the same time.
  const std::string folder = scratch("dataset_subcomm");
  MPI_Comm self_comm;
  MPI_Comm_split(world(), rank(), 0, &self_comm);
  const std::string path = folder + "/rank" + std::to_string(rank()) + ".h5";
  const std::int64_t n = 5 + rank();
  write_sample(path, self_comm, n, 6);
  {
    Dataset ds = Dataset::open(path, self_comm, Dataset::Mode::update);
    BOOST_TEST(mpi::comm_size(ds.comm()) == 1);
    BOOST_TEST(ds.n_particles() == n);
    BOOST_TEST((ds.block() == Block{0, n}));
    const std::vector<std::int64_t> v{rank(), n};
    ds.write_rows("check/v", 1, 2, v.data());
    ds.commit();
  }
  Dataset ds = Dataset::open(path, self_comm);
  const auto v = ds.read_all_rows<std::int64_t>("check/v");
  BOOST_TEST(v.at(0, 0) == rank());
  BOOST_TEST(v.at(0, 1) == n);
  const auto images = ds.read_images(ds.block());
  BOOST_TEST(images.image(n - 1)[35] == pixel(n - 1, 35));
  ds.close();
  MPI_Comm_free(&self_comm);
}

namespace {

const char* const python = "/usr/bin/python3";

/// Boost.Test precondition: Debian's python3 with h5py is available (checked on rank 0).
struct needs_h5py {
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
    int ok = 0;
    if (rank() == 0)
      ok = std::system((std::string(python) + " -c 'import h5py' 2>/dev/null").c_str()) == 0;
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    boost::test_tools::assertion_result r(ok == 1);
    if (!r) r.message() << "skipped: " << python << " with h5py is absent";
    return r;
  }
};

/// The layout of docs/data-format.md, checked from the outside with h5py.
const char* const layout_check = R"(
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
n, s = 11, 8
a = f.attrs
assert a["pairpose_format_version"] == 1 and a["pairpose_format_version"].dtype == np.int64
assert a["n_particles"] == n and a["image_size"] == s and a["pixel_size"] == 1.5
assert a["pixel_size"].dtype == np.float64
assert isinstance(a["provenance"], str) and a["provenance"].startswith("# pairpose test")
assert list(a["map_names"]) == ["maps/a.mrc", "maps/b.mrc", "maps/c.mrc"], a["map_names"]
assert a["source"] == "unit test"
p = f["particles"]
assert p.attrs["complete"] == 1
expect = {"images": ((n, s, s), "<f4"), "orientation": ((n, 4), "<f8"), "shift": ((n, 2), "<f8"),
          "ctf": ((n, 8), "<f8"), "map_index": ((n,), "<i4")}
assert sorted(p.keys()) == sorted(expect), list(p.keys())
for name, (shape, dtype) in expect.items():
    assert p[name].shape == shape and p[name].dtype == np.dtype(dtype), (name, p[name])
assert p["images"].chunks is None  # contiguous
i, k = 7, 13
assert p["images"][i].ravel()[k] == np.float32(i * 0.5 + k * 1e-3 - 7.0)
assert np.allclose(p["orientation"][i], [np.cos(0.7), 0.6 * np.sin(0.7), 0.8 * np.sin(0.7), 0])
assert np.allclose(p["shift"][i], [1.25 * i, -0.5 * i])
assert np.allclose(p["ctf"][i], [10000 + i, 9000 + i, 12.5, 300, 2.7, 0.1, 5.0, 0.0])
assert p["map_index"][i] == i % 3
r = f["recover"]
assert r.attrs["complete"] == 1 and r.attrs["method"] == "test"
assert r["quaternions"].dtype == np.float64 and r["quaternions"].shape[1] == 4
assert r["pairs"].dtype == np.int64 and r["pairs"].shape[1] == 2
print("layout ok")
)";

} // namespace

BOOST_AUTO_TEST_CASE(layout_matches_the_documentation,
                     *boost::unit_test::precondition(needs_h5py{})) {
  const std::string folder = scratch("dataset_layout");
  const std::string path = folder + "/run.h5";
  write_sample(path, world(), 11, 8);
  {
    Dataset ds = Dataset::open(path, world(), Dataset::Mode::update);
    const std::int64_t n_local = rank() + 1;
    const std::vector<double> q(size_t(4 * n_local), 0.5);
    const std::vector<std::int64_t> pairs(size_t(2 * n_local), 3);
    ds.write_rows("recover/quaternions", n_local, 4, q.data());
    ds.write_rows("recover/pairs", n_local, 2, pairs.data());
    ds.set_attribute("recover", "method", "test");
    ds.commit();
  }
  int status = 0;
  if (rank() == 0) {
    std::ofstream(folder + "/check.py") << layout_check;
    status = std::system((std::string(python) + " " + folder + "/check.py " + path).c_str());
  }
  MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
  BOOST_TEST(status == 0);
}
