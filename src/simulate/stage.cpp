#include "pairpose/simulate/stage.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <memory>

#include "pairpose/config/provenance.hpp"
#include "pairpose/core/error.hpp"
#include "pairpose/core/files.hpp"
#include "pairpose/core/memory.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/core/partition.hpp"
#include "pairpose/io/dataset.hpp"
#include "pairpose/io/mrc.hpp"
#include "pairpose/io/star.hpp"
#include "pairpose/simulate/ctf.hpp"
#include "pairpose/simulate/draw.hpp"
#include "pairpose/simulate/noise.hpp"
#include "pairpose/simulate/projector.hpp"

namespace pairpose::simulate {

void declare_simulate(config::Schema& s) {
  s.string_list("maps", {},
                "Input maps (MRC), one or more; non-cubic maps are padded to a "
                "cube, centred. With several, each particle's map is drawn "
                "uniformly and recorded.");
  s.string("star", "",
           "Optional RELION STAR file: orientations, shifts and CTFs (when present "
           "and ctf = true) are read from it, one particle per row, instead of drawn.");
  s.string("output", "simulated.h5", "Output dataset (HDF5).");
  s.string("export_star", "",
           "Optional RELION 3.1 STAR file to write as well, with the images "
           "in MRC stacks beside it (<stem>.mrcs).");
  s.integer("n_particles", 1000, 1, 1e10, "Number of particles (ignored with star: one per row).");
  s.integer("image_size", 0, 0, 8192,
            "Image side n in pixels; 0 = the first map's largest side "
            "(or the STAR file's image size).",
            "px");
  s.real("pixel_size", 0, 0, 1e4,
         "Image pixel size; 0 = the first map's voxel size (or the STAR "
         "file's). Coarser than the map = down-sampled in Fourier space.",
         "Å");
  s.choice("views", "full", {"full", "half", "quarter"},
           "Viewing directions: the whole sphere, or the half (n_z >= 0) or quarter "
           "(n_z, n_y >= 0); in-plane angle uniform.");
  s.real("shift_max", 0, 0, 1e4, "Largest shift (radius); 0 = no shifts.", "Å");
  s.choice("shift_distribution", "uniform", {"uniform", "gaussian"},
           "Shifts uniform on the disk of radius shift_max, or Gaussian with sigma = shift_max/2 "
           "per axis, redrawn beyond shift_max.");
  s.boolean("ctf", false, "Apply a CTF (RELION's model) to every particle.");
  s.real("defocus_min", 10000, 0, 1e6, "Smallest mean defocus (underfocus positive).", "Å");
  s.real("defocus_max", 25000, 0, 1e6, "Largest mean defocus.", "Å");
  s.real("astigmatism_max", 0, 0, 1e5,
         "Largest DefocusU - DefocusV (uniform in [0, max]; "
         "astigmatism angle uniform in [0, 180) degrees).",
         "Å");
  s.real("voltage", 300, 1, 5000, "Accelerating voltage.", "kV");
  s.real("cs", 2.7, 0, 100, "Spherical aberration.", "mm");
  s.real("amplitude_contrast", 0.1, 0, 0.999, "Amplitude contrast (fraction).");
  s.real("bfactor", 0, 0, 1e4, "CTF B-factor envelope exp(-B k^2/4).", "Å²");
  s.real("phase_shift", 0, -360, 360, "Phase plate phase shift.", "degrees");
  s.real("snr", 0, 0, 1e9,
         "Signal-to-noise ratio of white Gaussian noise (variance of the clean "
         "images / variance of the noise); 0 = no noise.");
  s.real("noise_sigma2", 0, 0, 1e9,
         "Alternative to snr: the paper's noise variance on globally "
         "standardised clean images (16 = SNR 1/16); 0 = unset.");
  s.integer("seed", 1, 0, 9.0e18, "Random seed: particle i depends only on (seed, i).");
  s.integer("pad", 2, 1, 4, "Padding factor of the 3D Fourier grid (RELION uses 2).");
  s.integer("threads", 1, 1, 256, "Threads per rank for projecting.");
  s.integer("batch_size", 1024, 1, 1e7,
            "Most particles a rank projects and writes at a time; pieces are also at most "
            "1/16 of a rank's share, dealt out in turns so that ranks finish together.");
}

namespace {

/// Everything the run needs, read and checked before any output is made.
struct Setup {
  std::vector<std::string> map_paths;
  std::vector<Volume> maps;
  bool from_star = false;
  io::ParticleStar star;
  DrawOptions draw;
  std::int64_t n_particles = 0, image_size = 0, batch = 0;
  double pixel_size = 0, snr = 0, noise_sigma2 = 0;
  std::uint64_t seed = 1;
  int padding = 2, threads = 1;
  std::string output, export_star;
  bool noise() const { return snr > 0 || noise_sigma2 > 0; }
};

Setup read_setup(const config::Params& p) {
  Setup s;
  s.map_paths = p.string_list("maps");
  PAIRPOSE_CHECK(!s.map_paths.empty(), "simulate.maps: give at least one map");
  for (const auto& path : s.map_paths) {
    s.maps.push_back(io::read_mrc_volume(path));
    check_map(s.maps.back(), path);
  }
  s.output = p.string("output");
  PAIRPOSE_CHECK(!s.output.empty(), "simulate.output: give the dataset path");
  s.export_star = p.string("export_star");
  s.seed = static_cast<std::uint64_t>(p.integer("seed"));
  s.padding = static_cast<int>(p.integer("pad"));
  s.threads = static_cast<int>(p.integer("threads"));
  s.batch = p.integer("batch_size");
  s.snr = p.real("snr");
  s.noise_sigma2 = p.real("noise_sigma2");
  PAIRPOSE_CHECK(!(s.snr > 0 && s.noise_sigma2 > 0),
                 "simulate: set either snr or noise_sigma2, not both");

  DrawOptions& d = s.draw;
  d.views = geometry::parse_view_range(p.string("views").c_str());
  d.shift_max = p.real("shift_max");
  d.shift_distribution = parse_shift_distribution(p.string("shift_distribution"));
  d.ctf = p.boolean("ctf");
  d.defocus_min = p.real("defocus_min");
  d.defocus_max = p.real("defocus_max");
  d.astigmatism_max = p.real("astigmatism_max");
  d.ctf_fixed.voltage = p.real("voltage");
  d.ctf_fixed.spherical_aberration = p.real("cs");
  d.ctf_fixed.amplitude_contrast = p.real("amplitude_contrast");
  d.ctf_fixed.bfactor = p.real("bfactor");
  d.ctf_fixed.phase_shift = p.real("phase_shift");
  d.n_maps = static_cast<std::int32_t>(s.maps.size());
  check_draw_options(d);

  s.n_particles = p.integer("n_particles");
  s.image_size = p.integer("image_size");
  s.pixel_size = p.real("pixel_size");
  if (!p.string("star").empty()) {
    io::ParticleStarOptions options;
    options.require_angles = true;
    s.star = io::read_particles_star(p.string("star"), options);
    s.from_star = true;
    s.n_particles = static_cast<std::int64_t>(s.star.particles.size());
    PAIRPOSE_CHECK(s.n_particles > 0, p.string("star") << ": no particles");
    if (s.image_size == 0) s.image_size = s.star.image_size;
    if (s.pixel_size == 0) s.pixel_size = s.star.pixel_size;
    for (std::int64_t i = 0; i < s.n_particles; ++i)
      if (s.star.particles[i].has_ctf)
        check_ctf(s.star.particles[i].ctf,
                  p.string("star") + ", particle " + std::to_string(i + 1));
  }
  const Volume& first = s.maps.front();
  if (s.image_size == 0) s.image_size = std::max({first.nx, first.ny, first.nz});
  if (s.pixel_size == 0) s.pixel_size = first.voxel_size;
  return s;
}

/// Particle i: from the STAR file or drawn from (seed, i).
Particle particle_at(const Setup& s, std::int64_t i) {
  if (!s.from_star) return draw_particle(s.draw, s.seed, i);
  Particle p = s.star.particles[static_cast<size_t>(i)];
  p.has_ctf = p.has_ctf && s.draw.ctf;
  if (s.maps.size() > 1) p.map_index = draw_particle(s.draw, s.seed, i).map_index;
  return p;
}

/// Clean images of particles [rows.begin, rows.end), each from its own map's projector.
ImageStack project_rows(const Setup& s, const std::vector<std::unique_ptr<FourierProjector>>& proj,
                        Block rows, std::vector<Particle>& particles) {
  particles.clear();
  for (std::int64_t i = rows.begin; i < rows.end; ++i)
    particles.push_back(particle_at(s, i));
  ImageStack stack(rows.size(), s.image_size, s.image_size, s.pixel_size);
  for (size_t m = 0; m < proj.size(); ++m) {
    std::vector<Particle> subset;
    std::vector<std::int64_t> where;
    for (size_t k = 0; k < particles.size(); ++k)
      if (static_cast<size_t>(particles[k].map_index) == m)
        subset.push_back(particles[k]), where.push_back(k);
    if (subset.empty()) continue;
    const ImageStack images = proj[m]->project(subset, true, s.threads);
    for (size_t j = 0; j < where.size(); ++j)
      std::copy_n(images.image(j), stack.image_size(), stack.image(where[j]));
  }
  return stack;
}

/// The noise σ (0 without noise): pooled variance of the clean images of up to 256 particles
/// spread over the set, split across ranks, summed in particle order on every rank.
double noise_sigma(const Setup& s, const std::vector<std::unique_ptr<FourierProjector>>& proj,
                   MPI_Comm comm) {
  if (!s.noise()) return 0.0;
  const std::int64_t n_ref = std::min<std::int64_t>(s.n_particles, 256);
  const Block mine = split_block(n_ref, comm);
  std::vector<double> sums(2 * n_ref, 0.0);
  std::vector<Particle> particles;
  for (std::int64_t k = mine.begin; k < mine.end; ++k) {
    const std::int64_t i = k * s.n_particles / n_ref;
    const ImageStack image = project_rows(s, proj, {i, i + 1}, particles);
    PixelMoments m;
    m.add(image.image(0), image.image_size());
    sums[2 * k] = m.sum, sums[2 * k + 1] = m.sum_squares;
  }
  mpi::all_sum_inplace(sums.data(), 2 * n_ref, comm);
  PixelMoments pooled;
  const std::int64_t n_pixels = s.image_size * s.image_size;
  for (std::int64_t k = 0; k < n_ref; ++k)
    pooled.add({sums[2 * k], sums[2 * k + 1], n_pixels});
  const double v_ref = pooled.variance();
  PAIRPOSE_CHECK(v_ref > 0, "simulate: the clean images have zero variance; cannot set a noise "
                            "level relative to them");
  return std::sqrt(s.snr > 0 ? v_ref / s.snr : v_ref * s.noise_sigma2);
}

void write_dataset(StageContext& ctx, const Setup& s,
                   const std::vector<std::unique_ptr<FourierProjector>>& proj, double sigma) {
  io::DatasetInfo info;
  info.n_particles = s.n_particles;
  info.image_size = s.image_size;
  info.pixel_size = s.pixel_size;
  info.has_orientations = true;
  info.has_ctf = s.from_star ? (s.draw.ctf && s.star.particles.front().has_ctf) : s.draw.ctf;
  info.provenance = ctx.provenance;
  info.map_names = s.map_paths;
  info.attributes["simulate_noise_sigma"] = std::to_string(sigma);
  io::Dataset dataset = io::Dataset::create(s.output, ctx.comm, info);

  // Pieces of `chunk` particles are dealt out in turns from a shared counter: a rank on a busier
  // core (or a slower node) simply does fewer. Each particle's draws depend on (seed, index)
  // only and each piece is written to its own rows, so the file does not depend on which rank
  // did what (nor on the number of ranks).
  const int n_ranks = mpi::comm_size(ctx.comm);
  const std::int64_t chunk =
      std::clamp<std::int64_t>(s.n_particles / (16 * std::int64_t(n_ranks)), 1, s.batch);
  mpi::SharedCounter next_piece(ctx.comm);
  Progress progress(ctx.log, "projecting", (s.n_particles + n_ranks - 1) / n_ranks);
  std::vector<Particle> particles;
  for (;;) {
    const std::int64_t first = next_piece.fetch_add(chunk);
    if (first >= s.n_particles) break;
    const Block rows{first, std::min(s.n_particles, first + chunk)};
    ImageStack images;
    {
      auto t = ctx.timers.scope("project");
      images = project_rows(s, proj, rows, particles);
    }
    if (sigma > 0) {
      auto t = ctx.timers.scope("add noise");
      for (std::int64_t k = 0; k < rows.size(); ++k)
        add_particle_noise(images.image(k), images.image_size(), sigma, s.seed, rows.begin + k);
    }
    auto t = ctx.timers.scope("write dataset");
    dataset.write_local(rows, images.data.data(), particles);
    progress.advance(rows.size());
  }
  progress.finish();
  auto t = ctx.timers.scope("write dataset");
  dataset.commit();
}

/// STAR + MRC stacks, read back from the committed dataset. Each stack holds up to 10,000
/// images and is written by one rank (round robin), so the files do not depend on the rank count.
void export_star(StageContext& ctx, const Setup& s) {
  auto t = ctx.timers.scope("export STAR");
  constexpr std::int64_t per_stack = 10000;
  std::string stem = s.export_star;
  if (stem.size() > 5 && stem.compare(stem.size() - 5, 5, ".star") == 0)
    stem.resize(stem.size() - 5);
  const std::int64_t n_stacks = (s.n_particles + per_stack - 1) / per_stack;
  auto stack_path = [&](std::int64_t c) {
    if (n_stacks == 1) return stem + ".mrcs";
    char suffix[32];
    std::snprintf(suffix, sizeof suffix, "_%05lld.mrcs", static_cast<long long>(c + 1));
    return stem + suffix;
  };
  const int rank = mpi::comm_rank(ctx.comm), size = mpi::comm_size(ctx.comm);
  io::Dataset dataset = io::Dataset::open(s.output, ctx.comm);
  make_parent_folders(s.export_star);
  for (std::int64_t first = 0; first < n_stacks; first += size) {
    const std::int64_t c = first + rank;
    const Block rows = c < n_stacks
                           ? Block{c * per_stack, std::min(s.n_particles, (c + 1) * per_stack)}
                           : Block{0, 0};
    const ImageStack images = dataset.read_images(rows);
    if (!rows.empty()) io::write_mrc(stack_path(c), images, "simulate");
  }
  dataset.close();
  if (rank == 0) {
    io::ParticleStar star;
    star.pixel_size = s.pixel_size;
    star.image_size = s.image_size;
    star.has_angles = true;
    star.relion31 = true;
    io::StarColumn classes{"rlnClassNumber", {}};
    for (std::int64_t i = 0; i < s.n_particles; ++i) {
      star.particles.push_back(particle_at(s, i));
      star.images.push_back({stack_path(i / per_stack), i % per_stack + 1});
      star.optics_groups.push_back(1);
      classes.values.push_back(std::to_string(star.particles.back().map_index + 1));
    }
    if (s.maps.size() > 1) star.extra.push_back(std::move(classes));
    io::write_particles_star(s.export_star, star, ctx.provenance);
    write_provenance_sidecar(s.export_star, ctx.provenance);
  }
  MPI_Barrier(ctx.comm);
}

/// Refuses (on every rank, before any output) a run whose largest allocations exceed this rank's
/// memory budget: the padded grid (at most N = padding · the largest map side; its slab of the
/// r2c transform), each map's replicated Fourier box (at most N/2 · N² complex floats) and a batch
/// of images (twice: projections and their copy in the dataset write).
void require_memory(const Setup& s, MPI_Comm comm) {
  std::int64_t side = 0;
  for (const Volume& m : s.maps)
    side = std::max({side, m.nx, m.ny, m.nz});
  const std::int64_t N = s.padding * side + (s.padding * side) % 2, P = mpi::comm_size(comm);
  const std::int64_t n_maps = static_cast<std::int64_t>(s.maps.size());
  const std::int64_t bytes = memory::checked_sum(
      {memory::checked_product({(N + P - 1) / P, N, N / 2 + 1, 8}),
       memory::checked_product({n_maps, N / 2, N, N, 8}),
       memory::checked_product({std::min(s.batch, s.n_particles), s.image_size, s.image_size, 8})});
  memory::require(bytes,
                  fmt::format("simulate: the padded Fourier grid (up to {}^3) and batches of {} "
                              "images of {} px",
                              N, s.batch, s.image_size),
                  comm);
}

} // namespace

void run_simulate(StageContext& ctx) {
  Setup s;
  {
    auto t = ctx.timers.scope("read input");
    s = read_setup(ctx.params);
  }
  ctx.log.info("simulate: {} particles of {} px at {} Å from {} map(s){}", s.n_particles,
               s.image_size, s.pixel_size, s.maps.size(),
               s.from_star ? ", geometry from STAR" : "");
  require_memory(s, ctx.comm);
  std::vector<std::unique_ptr<FourierProjector>> projectors;
  {
    auto t = ctx.timers.scope("3D FFT");
    ProjectorOptions options;
    options.image_size = s.image_size;
    options.pixel_size = s.pixel_size;
    options.padding = s.padding;
    for (const Volume& map : s.maps)
      projectors.push_back(std::make_unique<FourierProjector>(map, options, ctx.comm));
  }
  ctx.log.info("simulate: padded grid {}^3, Fourier box {:.1f} MB per rank",
               projectors.front()->padded_size(), projectors.front()->fourier_box_bytes() / 1e6);
  double sigma = 0;
  {
    auto t = ctx.timers.scope("noise level");
    sigma = noise_sigma(s, projectors, ctx.comm);
  }
  if (sigma > 0) ctx.log.info("simulate: noise sigma {:.6g}", sigma);
  write_dataset(ctx, s, projectors, sigma);
  if (!s.export_star.empty()) export_star(ctx, s);
  ctx.log.info("simulate: wrote {}{}", s.output,
               s.export_star.empty() ? "" : " and " + s.export_star);
}

} // namespace pairpose::simulate
