#define BOOST_TEST_MODULE simulate_ranks
#include "pairpose_test.hpp"

#include <cmath>

#include "pairpose/core/mpi.hpp"
#include "pairpose/geometry/rotation.hpp"
#include "pairpose/simulate/draw.hpp"
#include "pairpose/simulate/projector.hpp"

using namespace pairpose;
using namespace pairpose::simulate;

namespace {
/// A lumpy test map: a few Gaussian blobs in a non-cubic box.
Volume lumpy_map() {
  Volume v(30, 24, 27, 2.5);
  const double blobs[4][4] = {{3, -2, 4, 2.0}, {-5, 3, -1, 3.0}, {1, 6, -5, 1.5}, {-2, -6, 3, 2.5}};
  for (std::int64_t z = 0; z < v.nz; ++z)
    for (std::int64_t y = 0; y < v.ny; ++y)
      for (std::int64_t x = 0; x < v.nx; ++x) {
        double s = 0;
        for (const auto& b : blobs) {
          const double dx = x - v.nx / 2 - b[0], dy = y - v.ny / 2 - b[1], dz = z - v.nz / 2 - b[2];
          s += std::exp(-(dx * dx + dy * dy + dz * dz) / (2 * b[3] * b[3]));
        }
        v.at(x, y, z) = static_cast<float>(s);
      }
  return v;
}

ImageStack project_some(MPI_Comm comm) {
  ProjectorOptions options;
  options.image_size = 36;
  FourierProjector projector(lumpy_map(), options, comm);
  DrawOptions draw;
  draw.ctf = true;
  draw.shift_max = 6;
  draw.astigmatism_max = 800;
  std::vector<Particle> particles;
  for (int i = 0; i < 12; ++i)
    particles.push_back(draw_particle(draw, 42, i));
  return projector.project(particles, true, 2);
}
} // namespace

BOOST_AUTO_TEST_CASE(distributed_fft_gives_the_same_bits_as_one_rank) {
  // The 3D transform runs over all ranks of the communicator; the images must not depend on how
  // many there are (the simulate stage promises byte-identical files for any rank count).
  const ImageStack all = project_some(MPI_COMM_WORLD);
  const ImageStack alone = project_some(MPI_COMM_SELF);
  BOOST_TEST(all.data.size() == alone.data.size());
  BOOST_TEST((all.data == alone.data));
  double energy = 0;
  for (float v : all.data)
    energy += double(v) * v;
  BOOST_TEST(energy > 0);
}

BOOST_AUTO_TEST_CASE(sub_communicator) {
  // Ranks split in two groups (even/odd); each group builds its own projector.
  MPI_Comm half;
  const int rank = mpi::comm_rank(MPI_COMM_WORLD);
  MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &half);
  const ImageStack group = project_some(half);
  const ImageStack alone = project_some(MPI_COMM_SELF);
  BOOST_TEST((group.data == alone.data));
  MPI_Comm_free(&half);
}

BOOST_AUTO_TEST_CASE(bad_map_fails_on_every_rank) {
  Volume zeros(16, 16, 16, 1.0);
  BOOST_CHECK_THROW(FourierProjector(zeros, {}, MPI_COMM_WORLD), Error);
  // Every rank is still in step afterwards.
  BOOST_TEST(mpi::all_sum(1, MPI_COMM_WORLD) == mpi::comm_size(MPI_COMM_WORLD));
}
