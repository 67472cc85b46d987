#include "pairpose/io/orientation_star.hpp"

#include "pairpose/config/provenance.hpp"
#include "pairpose/core/error.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/io/star.hpp"

namespace pairpose::io {

void write_orientations_star(const std::string& star_path, const std::string& stack_path,
                             const Dataset& dataset,
                             const std::vector<geometry::Quat>& orientations,
                             const std::string& provenance, MPI_Comm comm) {
  const auto n = dataset.n_particles();
  PAIRPOSE_CHECK(static_cast<std::int64_t>(orientations.size()) == n,
                 star_path << ": " << orientations.size() << " orientations for " << n
                           << " particles");
  const auto particles = dataset.read_particles({0, n});
  if (mpi::comm_rank(comm) != 0) return;
  ParticleStar star;
  star.particles = particles;
  for (std::size_t i = 0; i < orientations.size(); ++i) {
    star.particles[i].orientation = orientations[i];
    star.images.push_back({stack_path, static_cast<std::int64_t>(i) + 1});
  }
  star.optics_groups.assign(orientations.size(), 1);
  star.pixel_size = dataset.info().pixel_size;
  star.image_size = dataset.info().image_size;
  star.has_angles = true;
  star.relion31 = true;
  write_particles_star(star_path, star, provenance);
  write_provenance_sidecar(star_path, provenance);
}

} // namespace pairpose::io
