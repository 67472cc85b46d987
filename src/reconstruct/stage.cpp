#include "pairpose/reconstruct/stage.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
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
#include "pairpose/reconstruct/reconstructor.hpp"

namespace pairpose::reconstruct {

void declare_reconstruct(config::Schema& s) {
  s.string("input", "",
           "Particles to reconstruct: the project's dataset (.h5) or a RELION STAR "
           "file (.star) with its MRC stacks.");
  s.choice("orientations", "true", {"true", "recovered"},
           "Dataset input: the true (simulated) orientations /particles/orientation, or the "
           "recovered ones in the array `recovered_array`.");
  s.string("recovered_array", "recover/quaternions",
           "Dataset input with orientations = \"recovered\": result array of N rows (w, x, y, z).");
  s.string("image_root", "",
           "STAR input: folder image names are relative to; \"\" = the STAR "
           "file's folder.");
  s.real("pixel_size", 0, 0, 1e4, "STAR input: pixel size override; 0 = from the file.", "Å");
  s.string("output", "reconstruct/map.mrc",
           "Output map (MRC); the half-maps are written beside "
           "it as <stem>_half1.mrc and <stem>_half2.mrc.");
  s.integer("padding", 2, 1, 4, "Oversampling of the 3D Fourier grid (RELION uses 2).");
  s.boolean("pad_images", true,
            "Zero-pad each image to padding x its size before its 2D FFT "
            "(false: RELION's way, the unpadded transform placed at padding x k; "
            "about 4x fewer Fourier points to insert).");
  s.boolean("ctf", true,
            "CTF-weight the particles that carry CTF parameters (data x CTF, "
            "weights x CTF^2).");
  s.real("wiener_constant", 1e-3, 0, 1e6,
         "Regularisation where the weights vanish: F = D / (W + "
         "wiener_constant x mean W of the shell).");
  s.integer("seed", 1, 0, 9.0e18,
            "Seed of the random half-set split (particle i depends only on "
            "(seed, i)); unused when the STAR file has rlnRandomSubset.");
  s.integer("batch_size", 512, 1, 1e7, "Particles a rank reads and inserts at a time.");
  s.choice("schedule", "dynamic", {"dynamic", "static"},
           "How pieces of particles go to the ranks: \"dynamic\" = taken in turns from a "
           "shared counter (a rank on a busier core does fewer; the map's last float bits "
           "then vary from run to run), \"static\" = dealt round robin (bit-reproducible).");
}

namespace {

struct Settings {
  std::string input, orientations, recovered_array, image_root, output;
  double pixel_size = 0, wiener = 0;
  int padding = 2;
  bool ctf = true, pad_images = true, dynamic = true;
  std::uint64_t seed = 1;
  std::int64_t batch = 512;
};

Settings read_settings(const config::Params& p) {
  Settings s;
  s.input = p.string("input");
  PAIRPOSE_CHECK(!s.input.empty(), "reconstruct.input is not set (a .h5 dataset or a .star file)");
  s.orientations = p.string("orientations");
  s.recovered_array = p.string("recovered_array");
  s.image_root = p.string("image_root");
  s.output = p.string("output");
  PAIRPOSE_CHECK(!s.output.empty(), "reconstruct.output is empty");
  s.pixel_size = p.real("pixel_size");
  s.wiener = p.real("wiener_constant");
  s.padding = static_cast<int>(p.integer("padding"));
  s.ctf = p.boolean("ctf");
  s.pad_images = p.boolean("pad_images");
  s.seed = static_cast<std::uint64_t>(p.integer("seed"));
  s.batch = p.integer("batch_size");
  s.dynamic = p.string("schedule") == "dynamic";
  return s;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

ReconstructorOptions make_options(const Settings& s, std::int64_t n, double pixel) {
  ReconstructorOptions o;
  o.image_size = n;
  o.pixel_size = pixel;
  o.padding = s.padding;
  o.apply_ctf = s.ctf;
  o.pad_images = s.pad_images;
  o.wiener_constant = s.wiener;
  o.source = s.input;
  return o;
}

/// Refuses (on every rank, before the grids are allocated) a reconstruction that cannot fit this
/// rank's memory budget: two half-set grids of N²(N/2 + 1) cells of 12 bytes, the slabs of
/// finish() (N³/P complex doubles) and a batch of images, N ≈ padding · n (reconstructor.hpp).
void require_memory(const Settings& s, std::int64_t n, MPI_Comm comm) {
  const std::int64_t N = s.padding * n, P = mpi::comm_size(comm);
  const std::int64_t bytes =
      memory::checked_sum({memory::checked_product({2, N, N, N / 2 + 1, 12}),
                           memory::checked_product({(N + P - 1) / P, N, N, 16}),
                           memory::checked_product({s.batch, n, n, 4})});
  memory::require(
      bytes,
      fmt::format("reconstruct: the padded Fourier grids (about {}^3) for {} px images", N, n),
      comm);
}

/// The pieces of particles a rank inserts: [c·size, (c+1)·size) for piece c, about 32 pieces per
/// rank (at most `batch` particles each). Static: piece c goes to rank c mod P, so a particle
/// file ordered by view, defocus or micrograph (RELION's STAR files are) still loads the ranks
/// evenly (contiguous blocks left one rank 4–18 % slower on relion_project's ordered views).
/// Dynamic: ranks take the next piece from a shared counter when they are ready, so a rank on a
/// busier core (the rank on core 0 here was 2–17 % slower in every 2-rank run) does fewer. What
/// a piece contributes depends on the piece alone; only the order of the float sums does not.
/// Collective construction; next() is local.
class Pieces {
public:
  Pieces(std::int64_t n, std::int64_t batch, bool dynamic, MPI_Comm comm)
      : n_(n), rank_(mpi::comm_rank(comm)), n_ranks_(mpi::comm_size(comm)) {
    size_ = std::clamp<std::int64_t>((n + 32 * n_ranks_ - 1) / (32 * n_ranks_), 1, batch);
    if (dynamic) counter_ = std::make_unique<mpi::SharedCounter>(comm);
    next_static_ = rank_;
  }
  /// The next piece of this rank; empty when there is none left.
  Block next() {
    std::int64_t c = 0;
    if (counter_) {
      c = counter_->fetch_add(1);
    } else {
      c = next_static_;
      next_static_ += n_ranks_;
    }
    if (c * size_ >= n_) return {n_, n_};
    return {c * size_, std::min(n_, (c + 1) * size_)};
  }
  /// About this rank's share (for progress reports).
  std::int64_t share() const { return (n_ + n_ranks_ - 1) / n_ranks_; }

private:
  std::int64_t n_ = 0, size_ = 1, next_static_ = 0;
  int rank_ = 0, n_ranks_ = 1;
  std::unique_ptr<mpi::SharedCounter> counter_;
};

// --- HDF5 dataset ------------------------------------------------------------------------------

void check_orientation_source(const io::Dataset& ds, const Settings& s) {
  PAIRPOSE_CHECK(ds.has_images(), s.input << ": the dataset holds no images (/particles/images)");
  if (s.orientations == "true") {
    PAIRPOSE_CHECK(ds.has_orientations(),
                   s.input << ": no true orientations (/particles/orientation): the dataset was "
                              "not simulated; set reconstruct.orientations = \"recovered\"");
    return;
  }
  const std::string& a = s.recovered_array;
  PAIRPOSE_CHECK(ds.has(a), s.input << ": no complete array " << a
                                    << " (did the stage that writes it finish on this dataset?)");
  PAIRPOSE_CHECK(ds.n_rows(a) == ds.n_particles() && ds.n_cols(a) == 4,
                 s.input << ": " << a << " is " << ds.n_rows(a) << " x " << ds.n_cols(a)
                         << ", expected " << ds.n_particles() << " x 4 (one quaternion w, x, y, z "
                         << "per particle)");
}

Reconstruction from_dataset(const Settings& s, StageContext& ctx) {
  const double start = wall_seconds();
  const auto ds = io::Dataset::open(s.input, ctx.comm);
  check_orientation_source(ds, s);
  const bool recovered = s.orientations == "recovered";
  require_memory(s, ds.info().image_size, ctx.comm);
  Reconstructor rec(ctx.comm, make_options(s, ds.info().image_size, ds.info().pixel_size));
  ctx.timers.add("set-up", wall_seconds() - start); // opening, checks, the grids' allocation
  ctx.log.info("reconstruct: {} particles of {} px from {} ({} orientations), padded grid {}^3",
               ds.n_particles(), ds.info().image_size, s.input, s.orientations, rec.padded_size());
  // Every rank holds the whole orientation array (N × 4): the pieces are read independently.
  io::RowArray<double> q;
  if (recovered) q = ds.read_all_rows<double>(s.recovered_array);
  Pieces pieces(ds.n_particles(), s.batch, s.dynamic, ctx.comm);
  Progress progress(ctx.log, "inserting", pieces.share());
  mpi::agreed(ctx.comm, [&] {
    for (Block b = pieces.next(); !b.empty(); b = pieces.next()) {
      ImageStack images;
      std::vector<Particle> particles;
      {
        auto t = ctx.timers.scope("read");
        images = ds.read_images_local(b);
        particles = ds.read_particles_local(b);
        if (recovered)
          for (std::int64_t i = 0; i < b.size(); ++i)
            particles[i].orientation = {q.at(b.begin + i, 0), q.at(b.begin + i, 1),
                                        q.at(b.begin + i, 2), q.at(b.begin + i, 3)};
      }
      auto t = ctx.timers.scope("insert");
      rec.insert(images, particles, random_half_sets(s.seed, b), b.begin);
      progress.advance(b.size());
    }
  });
  progress.finish();
  auto t = ctx.timers.scope("finish");
  return rec.finish();
}

// --- RELION STAR + MRC stacks ------------------------------------------------------------------

/// rlnRandomSubset per particle (1 or 2), or empty when the particle table has no such column.
std::vector<int> star_half_sets(const std::string& path, std::int64_t n_particles) {
  const io::StarFile file = io::read_star(path);
  const io::StarTable* table = file.find("particles");
  if (!table)
    for (const auto& t : file.tables)
      if (t.is_loop() && t.has_column("rlnImageName")) table = &t;
  if (!table || !table->has_column("rlnRandomSubset")) return {};
  const int column = table->require_column("rlnRandomSubset");
  PAIRPOSE_CHECK(table->n_rows() == n_particles, path << ": " << table->n_rows()
                                                      << " rows with rlnRandomSubset, expected "
                                                      << n_particles);
  std::vector<int> out(static_cast<size_t>(n_particles));
  for (std::int64_t i = 0; i < n_particles; ++i) {
    const std::int64_t v = table->integer(i, column);
    PAIRPOSE_CHECK(v == 1 || v == 2, table->where(i, column)
                                         << ": rlnRandomSubset must be 1 or 2, got " << v);
    out[i] = static_cast<int>(v);
  }
  return out;
}

/// Images of particles `rows`, read in runs of consecutive images of one stack.
ImageStack read_star_images(const io::ParticleStar& star, Block rows, std::int64_t n) {
  ImageStack out(rows.size(), n, n, star.pixel_size);
  for (std::int64_t i = rows.begin; i < rows.end;) {
    std::int64_t end = i + 1;
    while (end < rows.end && star.images[end].stack == star.images[i].stack &&
           star.images[end].index == star.images[end - 1].index + 1)
      ++end;
    const ImageStack run =
        io::read_mrc_images(star.images[i].stack, star.images[i].index - 1, end - i);
    PAIRPOSE_CHECK(run.nx == n && run.ny == n, star.images[i].stack
                                                   << ": images are " << run.nx << " x " << run.ny
                                                   << " pixels, the STAR file says " << n);
    std::copy(run.data.begin(), run.data.end(), out.image(i - rows.begin));
    i = end;
  }
  return out;
}

Reconstruction from_star(const Settings& s, StageContext& ctx) {
  const double start = wall_seconds();
  io::ParticleStarOptions options;
  options.image_root = s.image_root;
  options.pixel_size = s.pixel_size;
  const io::ParticleStar star = io::read_particles_star(s.input, options);
  const auto n_particles = static_cast<std::int64_t>(star.particles.size());
  PAIRPOSE_CHECK(n_particles > 0, s.input << ": no particles");
  std::string missing; // every image must be there before any work (headers, on rank 0)
  if (mpi::comm_rank(ctx.comm) == 0) try {
      io::check_particle_images(star, s.input);
    } catch (const Error& e) {
      missing = e.what();
    }
  mpi::agree_or_throw(missing, ctx.comm);
  std::int64_t n = star.image_size;
  if (n <= 0) n = io::read_mrc_header(star.images[0].stack).nx;
  auto half_sets = star_half_sets(s.input, n_particles);
  const bool from_file = !half_sets.empty();
  if (!from_file) half_sets = random_half_sets(s.seed, {0, n_particles});
  require_memory(s, n, ctx.comm);
  Reconstructor rec(ctx.comm, make_options(s, n, star.pixel_size));
  ctx.timers.add("set-up", wall_seconds() - start); // the STAR file, image checks, the grids
  ctx.log.info("reconstruct: {} particles of {} px, {} Å/px from {}; half-sets {}", n_particles, n,
               star.pixel_size, s.input,
               from_file ? "from rlnRandomSubset" : "drawn from the seed");
  Pieces pieces(n_particles, s.batch, s.dynamic, ctx.comm);
  Progress progress(ctx.log, "inserting", pieces.share());
  mpi::agreed(ctx.comm, [&] {
    for (Block b = pieces.next(); !b.empty(); b = pieces.next()) {
      ImageStack images;
      {
        auto t = ctx.timers.scope("read");
        images = read_star_images(star, b, n);
      }
      auto t = ctx.timers.scope("insert");
      const std::vector<Particle> ps(star.particles.begin() + b.begin,
                                     star.particles.begin() + b.end);
      const std::vector<int> hs(half_sets.begin() + b.begin, half_sets.begin() + b.end);
      rec.insert(images, ps, hs, b.begin);
      progress.advance(b.size());
    }
  });
  progress.finish();
  auto t = ctx.timers.scope("finish");
  return rec.finish();
}

void write_maps(const Settings& s, const Reconstruction& maps, StageContext& ctx) {
  auto t = ctx.timers.scope("write");
  const std::string stem =
      ends_with(s.output, ".mrc") ? s.output.substr(0, s.output.size() - 4) : s.output;
  const std::pair<std::string, const Volume*> outputs[] = {{s.output, &maps.full},
                                                           {stem + "_half1.mrc", &maps.half1},
                                                           {stem + "_half2.mrc", &maps.half2}};
  mpi::agreed(ctx.comm, [&] {
    if (mpi::comm_rank(ctx.comm) != 0) return;
    for (const auto& [path, volume] : outputs) {
      make_parent_folders(path);
      io::write_mrc(path, *volume, "reconstruct " + s.input);
      write_provenance_sidecar(path, ctx.provenance);
    }
  });
  ctx.log.info("reconstruct: wrote {} and the half-maps {}_half1.mrc, {}_half2.mrc ({} / {} "
               "particles)",
               s.output, stem, stem, maps.n_particles[0], maps.n_particles[1]);
}

} // namespace

void run_reconstruct(StageContext& ctx) {
  const Settings s = read_settings(ctx.params);
  const bool is_star = ends_with(s.input, ".star");
  PAIRPOSE_CHECK(is_star || ends_with(s.input, ".h5") || ends_with(s.input, ".hdf5"),
                 "reconstruct.input = " << s.input << ": expected a .h5 dataset or a .star file");
  const Reconstruction maps = is_star ? from_star(s, ctx) : from_dataset(s, ctx);
  write_maps(s, maps, ctx);
}

} // namespace pairpose::reconstruct
