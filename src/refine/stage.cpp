#include "pairpose/refine/stage.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "pairpose/core/error.hpp"
#include "pairpose/core/memory.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/evaluate/fsc.hpp"
#include "pairpose/evaluate/orientation_error.hpp"
#include "pairpose/io/dataset.hpp"
#include "pairpose/io/orientation_star.hpp"
#include "pairpose/reconstruct/reconstructor.hpp"
#include "pairpose/refine/matcher.hpp"

namespace pairpose::refine {

using geometry::Quat;

void declare_refine(config::Schema& s) {
  s.string("dataset", "", "Dataset with the images and the orientations to refine (updated).");
  s.string("orientations", "gauge/quaternions",
           "N × 4 array of the orientations to start from (after the gauge).");
  s.integer("iterations", 4, 1, 100,
            "Most rounds of reconstruct half-maps → match every particle against its half-map; "
            "fewer when the median particle moved by less than min_step in a round.");
  s.real("step", 6, 0.01, 90, "First search step of the first iteration (halved each iteration).",
         "degrees");
  s.real("min_step", 0.25, 0.001, 90, "The search of a particle stops after this step.", "degrees");
  s.real("max_resolution", 0, 0, 1e4,
         "Finest resolution used in matching; 0 = as fine as the half-map FSC (0.143) allows.",
         "Å");
  s.real("mask_diameter", 0, 0, 1e5,
         "Soft spherical mask on the half-maps (particle diameter) before matching and for "
         "their FSC; 0 = no mask.",
         "Å");
  s.real("mask_edge", 10, 0, 1e4, "Raised-cosine edge of the mask.", "Å");
  s.integer("padding", 2, 1, 4, "Oversampling of the 3D Fourier grids (reconstruction, slices).");
  s.boolean("ctf", true, "Use the particles' CTFs (weighting and matching) when they have one.");
  s.real("wiener_constant", 1e-3, 0, 1e6, "λ of the reconstructions (see reconstruct).");
  s.integer("seed", 1, 0, 9.0e18,
            "Seed of the half-set split (the same as reconstruct.seed gives the same halves).");
  s.integer("batch_size", 512, 1, 1e7, "Particles a rank reads at a time.");
  s.string("star", "", "Also export the refined orientations as a RELION STAR file (empty = no).");
  s.string("star_stack", "particles.mrcs",
           "STAR export: the image stack the rlnImageName entries point to (N@stack).");
}

namespace {

struct Settings {
  std::string path, array;
  int iterations = 0;
  double step = 0, min_step = 0, max_resolution = 0, mask_diameter = 0, mask_edge = 0;
  reconstruct::ReconstructorOptions rec;
  std::uint64_t seed = 1;
  std::int64_t batch = 0;
};

Settings settings(const config::Params& p, const io::Dataset& ds) {
  Settings s;
  s.path = p.string("dataset");
  s.array = p.string("orientations");
  s.iterations = static_cast<int>(p.integer("iterations"));
  s.step = p.real("step");
  s.min_step = p.real("min_step");
  PAIRPOSE_CHECK(s.min_step <= s.step,
                 "refine: min_step " << s.min_step << "° is larger than step " << s.step << "°");
  s.max_resolution = p.real("max_resolution");
  s.mask_diameter = p.real("mask_diameter");
  s.mask_edge = p.real("mask_edge");
  s.rec.image_size = ds.info().image_size;
  s.rec.pixel_size = ds.info().pixel_size;
  s.rec.padding = static_cast<int>(p.integer("padding"));
  s.rec.apply_ctf = p.boolean("ctf");
  s.rec.wiener_constant = p.real("wiener_constant");
  s.rec.source = s.path;
  s.seed = static_cast<std::uint64_t>(p.integer("seed"));
  s.batch = p.integer("batch_size");
  return s;
}

/// Half-map h (1 or 2) on every rank, masked when asked.
Volume shared_half(const reconstruct::Reconstruction& r, int h, const Settings& s, MPI_Comm comm) {
  const std::int64_t n = s.rec.image_size;
  Volume v =
      mpi::comm_rank(comm) == 0 ? (h == 1 ? r.half1 : r.half2) : Volume(n, n, n, s.rec.pixel_size);
  mpi::broadcast(v.data.data(), v.size(), 0, comm);
  return s.mask_diameter > 0 ? evaluate::soft_sphere_masked(v, s.mask_diameter, s.mask_edge) : v;
}

std::string joined(const std::vector<double>& v, const char* format) {
  std::string out;
  for (const double x : v)
    out += (out.empty() ? "" : ",") + fmt::format(fmt::runtime(format), x);
  return out;
}

/// Median over all ranks of the values each rank holds (gathered on every rank).
double global_median(const std::vector<double>& mine, MPI_Comm comm) {
  const int n_ranks = mpi::comm_size(comm);
  int count = static_cast<int>(mine.size());
  std::vector<int> counts(n_ranks), displs(n_ranks, 0);
  mpi::check(MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, comm), "MPI_Allgather");
  for (int r = 1; r < n_ranks; ++r)
    displs[r] = displs[r - 1] + counts[r - 1];
  std::vector<double> all(static_cast<size_t>(displs.back() + counts.back()));
  mpi::check(MPI_Allgatherv(mine.data(), count, MPI_DOUBLE, all.data(), counts.data(),
                            displs.data(), MPI_DOUBLE, comm),
             "MPI_Allgatherv");
  if (all.empty()) return 0;
  std::nth_element(all.begin(), all.begin() + all.size() / 2, all.end());
  return all[all.size() / 2];
}

/// Refuses (on every rank, before anything is allocated) a refinement that cannot fit this rank's
/// memory budget: a Reconstructor's two half-set grids (N²(N/2 + 1) cells of 12 bytes, N ≈
/// padding · n) and the slabs of its finish() (N³/P complex doubles), the two half-map
/// projectors' boxes ((R + 2)(2R + 3)² complex floats, R = N/2) and a batch of images.
void require_memory(const Settings& s, MPI_Comm comm) {
  const std::int64_t n = s.rec.image_size, N = s.rec.padding * n, R = N / 2;
  const std::int64_t P = mpi::comm_size(comm);
  const std::int64_t bytes =
      memory::checked_sum({memory::checked_product({2, N, N, N / 2 + 1, 12}),
                           memory::checked_product({(N + P - 1) / P, N, N, 16}),
                           memory::checked_product({2, R + 2, 2 * R + 3, 2 * R + 3, 8}),
                           memory::checked_product({s.batch, n, n, 4})});
  memory::require(bytes,
                  fmt::format("refine: the padded Fourier grids (about {}^3) and half-map "
                              "projectors for {} px images",
                              N, n),
                  comm);
}

} // namespace

void run_refine(StageContext& ctx) {
  const auto& p = ctx.params;
  const std::string path = p.string("dataset");
  PAIRPOSE_CHECK(!path.empty(), "refine: set refine.dataset");
  io::Dataset ds = io::Dataset::open(path, ctx.comm, io::Dataset::Mode::update);
  PAIRPOSE_CHECK(ds.has_images(), path << ": the dataset holds no images (/particles/images); "
                                          "orientations are refined against the images");
  const Settings s = settings(p, ds);
  require_memory(s, ctx.comm);
  std::vector<Quat> q;
  mpi::agreed(ctx.comm, [&] { q = io::read_orientation_array(ds, s.array); }); // one clean message
  const Block mine = ds.block();
  const std::vector<int> halves = reconstruct::random_half_sets(s.seed, mine);
  const std::int64_t n = s.rec.image_size;
  const std::int64_t n_rounds = mpi::all_max((mine.size() + s.batch - 1) / s.batch, ctx.comm);
  ctx.log.info("refine: {} particles of {} px at {:.4g} Å from /{}, {} iteration(s)",
               ds.n_particles(), n, s.rec.pixel_size, s.array, s.iterations);

  // The true orientations, when simulated: only to log the physical error per iteration.
  std::vector<Quat> truth;
  auto physical_median = [&]() {
    double out = 0;
    if (!ds.has_orientations()) return out;
    if (mpi::comm_rank(ctx.comm) == 0) out = evaluate::physical_error(truth, q).median_deg;
    mpi::broadcast(&out, 1, 0, ctx.comm);
    return out;
  };
  if (ds.has_orientations()) {
    const auto all =
        ds.read_particles(mpi::comm_rank(ctx.comm) == 0 ? Block{0, ds.n_particles()} : Block{0, 0});
    for (const auto& particle : all)
      truth.push_back(particle.orientation);
  }
  std::vector<double> errors;
  if (ds.has_orientations()) errors.push_back(physical_median());
  // Every rank's block of q to every rank (each rank refines only its own block).
  auto share_orientations = [&] {
    std::vector<double> flat(4 * static_cast<size_t>(ds.n_particles()), 0.0);
    for (std::int64_t i = mine.begin; i < mine.end; ++i) {
      const Quat& x = q[i];
      flat[4 * i] = x.w, flat[4 * i + 1] = x.x, flat[4 * i + 2] = x.y, flat[4 * i + 3] = x.z;
    }
    mpi::all_sum_inplace(flat.data(), static_cast<std::int64_t>(flat.size()), ctx.comm);
    for (std::int64_t i = 0; i < ds.n_particles(); ++i)
      q[i] = {flat[4 * i], flat[4 * i + 1], flat[4 * i + 2], flat[4 * i + 3]};
  };

  // One pass over this rank's images: match each against `ref` (when given) and insert it with
  // its (new) orientation into `rec`.
  std::vector<double> scores(static_cast<size_t>(mine.size()), 0.0), changes;
  auto pass = [&](reconstruct::Reconstructor& rec, const simulate::FourierProjector* ref1,
                  const simulate::FourierProjector* ref2, Matcher* matcher) {
    changes.clear();
    for (std::int64_t round = 0; round < n_rounds; ++round) {
      const Block b{std::min(mine.end, mine.begin + round * s.batch),
                    std::min(mine.end, mine.begin + (round + 1) * s.batch)};
      ImageStack images;
      std::vector<Particle> particles;
      {
        auto t = ctx.timers.scope("read");
        images = ds.read_images(b);
        particles = ds.read_particles(b);
      }
      std::vector<int> half(static_cast<size_t>(b.size()));
      mpi::agreed(ctx.comm, [&] {
        for (std::int64_t i = b.begin; i < b.end; ++i) {
          Particle& particle = particles[i - b.begin];
          particle.orientation = q[i];
          half[i - b.begin] = halves[i - mine.begin];
          if (!matcher) continue;
          auto t = ctx.timers.scope("match");
          const MatchResult r = matcher->match(half[i - b.begin] == 1 ? *ref1 : *ref2,
                                               images.image(i - b.begin), particle);
          changes.push_back(geometry::distance(q[i], r.orientation) * 180 / M_PI);
          q[i] = particle.orientation = r.orientation;
          scores[i - mine.begin] = r.score;
        }
        auto t = ctx.timers.scope("insert");
        rec.insert(images, particles, half, b.begin);
      });
    }
  };

  std::vector<double> resolutions, bands, median_changes;
  auto rec = std::make_unique<reconstruct::Reconstructor>(ctx.comm, s.rec);
  pass(*rec, nullptr, nullptr, nullptr);
  double final_resolution = 0;
  for (int it = 0; it <= s.iterations; ++it) {
    reconstruct::Reconstruction maps;
    {
      auto t = ctx.timers.scope("finish maps");
      maps = rec->finish();
      rec.reset();
    }
    const Volume half1 = shared_half(maps, 1, s, ctx.comm),
                 half2 = shared_half(maps, 2, s, ctx.comm);
    const std::vector<double> fsc = evaluate::fourier_shell_correlation(half1, half2);
    const double shell = evaluate::shell_at(fsc, 0.143);
    const double resolution = evaluate::shell_resolution(shell, n, s.rec.pixel_size);
    // Converged: the last pass moved the median particle by less than the finest step.
    const bool converged = !median_changes.empty() && median_changes.back() < s.min_step;
    if (it == s.iterations || converged) {
      final_resolution = resolution;
      ctx.log.info("refine: half-maps of the refined orientations: FSC 0.143 at {:.2f} Å{}",
                   resolution,
                   converged ? fmt::format(" (converged after {} iteration(s))", it) : "");
      break;
    }
    double k_max = std::min<double>(shell, n / 2 - 1);
    if (s.max_resolution > 0) k_max = std::min(k_max, n * s.rec.pixel_size / s.max_resolution);
    MatchOptions mo;
    mo.k_max = std::max(k_max, 2.0);
    mo.step_deg = std::max(s.step / std::pow(2.0, it), s.min_step);
    mo.min_step_deg = s.min_step;
    mo.apply_ctf = s.rec.apply_ctf;
    // The reference filtered by its estimated reliability: sqrt(FSC_full), FSC_full = 2F/(1+F)
    // the FSC expected of the full map from the half-maps' F.
    for (const double f : fsc)
      mo.shell_filter.push_back(f > 0 ? std::sqrt(2 * f / (1 + f)) : 0.0);
    Matcher matcher(n, s.rec.pixel_size, mo);
    std::unique_ptr<simulate::FourierProjector> ref1, ref2;
    {
      auto t = ctx.timers.scope("reference projectors");
      simulate::ProjectorOptions po;
      po.image_size = n;
      po.pixel_size = s.rec.pixel_size;
      po.padding = s.rec.padding;
      ref1 = std::make_unique<simulate::FourierProjector>(half1, po, ctx.comm);
      ref2 = std::make_unique<simulate::FourierProjector>(half2, po, ctx.comm);
    }
    rec = std::make_unique<reconstruct::Reconstructor>(ctx.comm, s.rec);
    pass(*rec, ref1.get(), ref2.get(), &matcher);
    resolutions.push_back(resolution);
    bands.push_back(mo.k_max);
    median_changes.push_back(global_median(changes, ctx.comm));
    // Each rank matches and writes its own block; only the physical error (known truth) needs
    // every orientation.
    if (ds.has_orientations()) {
      share_orientations();
      errors.push_back(physical_median());
    }
    ctx.log.info("refine: iteration {}: matched against half-maps at {:.2f} Å (band to {:.1f}, "
                 "first step {:.3g}°), median change {:.3f}°{}",
                 it + 1, resolution, mo.k_max, mo.step_deg, median_changes.back(),
                 ds.has_orientations()
                     ? fmt::format(", physical error median {:.3f}°", errors.back())
                     : std::string());
  }

  auto t = ctx.timers.scope("write");
  std::vector<double> rows;
  for (std::int64_t i = mine.begin; i < mine.end; ++i) {
    const Quat x = geometry::canonical(geometry::normalized(q[i]));
    rows.insert(rows.end(), {x.w, x.x, x.y, x.z});
  }
  ds.start_group("refine");
  ds.write_rows("refine/quaternions", mine.size(), 4, rows.data());
  ds.write_rows("refine/score", mine.size(), 1, scores.data());
  auto set = [&](const std::string& key, const std::string& value) {
    ds.set_attribute("refine", key, value);
  };
  set("orientations", s.array);
  set("iterations", std::to_string(median_changes.size()));
  set("resolution_angstrom", joined(resolutions, "{:.6g}"));
  set("band", joined(bands, "{:.6g}"));
  set("median_change_deg", joined(median_changes, "{:.6g}"));
  set("final_resolution_angstrom", fmt::format("{:.6g}", final_resolution));
  if (!errors.empty()) set("physical_error_median_deg", joined(errors, "{:.6g}"));
  set("provenance", ctx.provenance);
  ds.commit();
  if (!p.string("star").empty()) {
    share_orientations();
    for (auto& x : q)
      x = geometry::canonical(geometry::normalized(x));
    io::write_orientations_star(p.string("star"), p.string("star_stack"),
                                io::Dataset::open(path, ctx.comm), q, ctx.provenance, ctx.comm);
  }
  ctx.log.info("refine: wrote /refine to {}", path);
}

} // namespace pairpose::refine
