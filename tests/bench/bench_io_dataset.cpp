// Throughput of the dataset file (io/dataset.hpp): metadata of many particles, result rows, and
// image stacks, written and read back by blocks with collective I/O. Run through
// jobs/bench-io.sh, or:
//   mpirun -n 2 bench_io_dataset <folder> [n_metadata=1000000] [n_images=100000] [image_size=128]
// Prints one line per operation (rank 0): seconds, MB/s, rows/s. The files are removed at the end.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mpi.h>
#include <string>
#include <vector>

#include "pairpose/core/error.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/io/dataset.hpp"

using namespace pairpose;
using io::Dataset;

namespace {

/// Runs `f` between barriers and prints its time and throughput on rank 0.
template <class F> void timed(const char* what, double bytes, double rows, MPI_Comm comm, F&& f) {
  MPI_Barrier(comm);
  const double t0 = MPI_Wtime();
  f();
  MPI_Barrier(comm);
  const double dt = MPI_Wtime() - t0;
  if (mpi::comm_rank(comm) == 0)
    std::printf("%-44s %8.2f s %9.1f MB/s %12.0f rows/s\n", what, dt, bytes / dt / 1e6, rows / dt);
}

io::DatasetInfo info_of(std::int64_t n, std::int64_t size) {
  io::DatasetInfo info;
  info.n_particles = n;
  info.image_size = size;
  info.has_orientations = true;
  info.has_ctf = true;
  info.provenance = "# bench_io_dataset";
  return info;
}

void bench_metadata(const std::string& path, std::int64_t n, MPI_Comm comm) {
  const Block b = split_block(n, comm);
  std::vector<Particle> particles(size_t(b.size()));
  for (std::int64_t i = 0; i < b.size(); ++i) {
    particles[size_t(i)].has_ctf = true;
    particles[size_t(i)].shift_x = double(b.begin + i);
  }
  const double bytes = double(n) * (4 + 2 + 8) * 8 + double(n) * 4;
  timed("metadata: create + write_particles + commit", bytes, double(n), comm, [&] {
    Dataset ds = Dataset::create(path, comm, info_of(n, 0));
    ds.write_particles(b, particles);
    ds.commit();
  });
  timed("metadata: open + read_particles", bytes, double(n), comm, [&] {
    Dataset ds = Dataset::open(path, comm);
    particles = ds.read_particles(b);
  });
  PAIRPOSE_CHECK(b.empty() || particles.back().shift_x == double(b.end - 1), "bad read back");
  std::vector<double> q(size_t(4 * b.size()), 0.5);
  timed("rows: write_rows N×4 float64 (update + commit)", double(n) * 32, double(n), comm, [&] {
    Dataset ds = Dataset::open(path, comm, Dataset::Mode::update);
    ds.write_rows("bench/quaternions", b.size(), 4, q.data());
    ds.commit();
  });
  timed("rows: read_all_rows N×4 float64 (every rank)", double(n) * 32, double(n), comm, [&] {
    Dataset ds = Dataset::open(path, comm);
    PAIRPOSE_CHECK(ds.read_all_rows("bench/quaternions").n_rows == n, "bad row count");
  });
}

void bench_images(const std::string& path, std::int64_t n, std::int64_t size, MPI_Comm comm) {
  const Block b = split_block(n, comm);
  const std::int64_t batch = 4096; // images per rank and call, as a simulator would write them
  const double bytes = double(n) * double(size * size) * 4;
  timed("images: create + write_images (batches) + commit", bytes, double(n), comm, [&] {
    Dataset ds = Dataset::create(path, comm, info_of(n, size));
    std::vector<float> images(size_t(batch * size * size), 1.0f);
    const std::int64_t n_batches = mpi::all_max((b.size() + batch - 1) / batch, comm);
    for (std::int64_t k = 0; k < n_batches; ++k) {
      const std::int64_t first = std::min(b.end, b.begin + k * batch);
      const Block part{first, std::min(b.end, first + batch)};
      images[0] = float(part.begin);
      ds.write_images(part, images.data());
    }
    ds.write_particles(b, std::vector<Particle>(size_t(b.size()), Particle{{}, 0, 0, true}));
    ds.commit();
  });
  timed("images: open + read_images (own block)", bytes, double(n), comm, [&] {
    Dataset ds = Dataset::open(path, comm);
    const ImageStack s = ds.read_images(b);
    PAIRPOSE_CHECK(b.empty() || s.data[0] == float(b.begin), "bad image read back");
  });
}

} // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm comm = MPI_COMM_WORLD;
  int status = 0;
  try {
    PAIRPOSE_CHECK(argc >= 2, "usage: bench_io_dataset <folder> [n_metadata] [n_images] [size]");
    const std::string folder = argv[1];
    const std::int64_t n_meta = argc > 2 ? std::atoll(argv[2]) : 1000000;
    const std::int64_t n_images = argc > 3 ? std::atoll(argv[3]) : 100000;
    const std::int64_t size = argc > 4 ? std::atoll(argv[4]) : 128;
    if (mpi::comm_rank(comm) == 0)
      std::printf("bench_io_dataset: %d ranks, %lld particles of metadata, %lld images of %lld²\n",
                  mpi::comm_size(comm), (long long)n_meta, (long long)n_images, (long long)size);
    bench_metadata(folder + "/bench_metadata.h5", n_meta, comm);
    if (n_images > 0) bench_images(folder + "/bench_images.h5", n_images, size, comm);
    MPI_Barrier(comm);
    if (mpi::comm_rank(comm) == 0) {
      std::filesystem::remove(folder + "/bench_metadata.h5");
      std::filesystem::remove(folder + "/bench_images.h5");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_io_dataset: %s\n", e.what());
    status = 1;
  }
  MPI_Finalize();
  return status;
}
