#include "pairpose/pairs/stage.hpp"

#include <fmt/format.h>

#include "pairpose/core/error.hpp"
#include "pairpose/core/memory.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/core/random.hpp"
#include "pairpose/io/dataset.hpp"
#include "pairpose/pairs/aligned.hpp"
#include "pairpose/pairs/landmarks.hpp"
#include "pairpose/pairs/pair_io.hpp"
#include "pairpose/pairs/pair_sampler.hpp"
// The landmark set is the one recover's landmark initialisation expects (same function, same
// arguments). Only the executable links this file, and it links pairpose_recover too.

namespace pairpose::pairs {

void declare_pairs(config::Schema& s) {
  s.string("dataset", "",
           "Dataset (HDF5) to add the pair set /pairs to (created when "
           "orientations = \"random\").");
  s.choice("orientations", "dataset", {"dataset", "random"},
           "Where the true orientations come from: the dataset's /particles, or \"random\" to "
           "create a new dataset without images holding n_particles uniform random ones.");
  s.integer("n_particles", 1000, 2, 4e9,
            "Particles of a dataset created with orientations = "
            "\"random\".");
  s.choice("strategy", "random", {"random", "knn", "mix", "all"},
           "Pairs per particle: random partners, k nearest by estimated distance, a mix of "
           "both, or all N(N-1)/2 pairs.");
  s.integer("budget", 50, 1, 1e7, "K: partners drawn per particle (each pair stored once).");
  s.real("random_fraction", 0.5, 0, 1, "mix: share of the budget drawn at random.");
  s.integer("knn_candidates", 0, 0, 1e9,
            "knn/mix: nearest partners are searched among this many random candidates (0 = all "
            "particles, O(N) distance evaluations per particle).");
  s.choice("source", "exact", {"exact", "exact+noise", "euclidean", "embedding", "aligned"},
           "Estimated distance: true d_q, d_q plus Gaussian noise, scaled image distance, the "
           "learned distance of the embeddings, or rotational alignment of the images (for maps "
           "no network was trained on; with strategy knn: each image's budget best-aligned "
           "images; also stores the in-plane angles /pairs/inplane for recover.init = vdm; "
           "assumes centred particles, and costs O(N^2) image comparisons).");
  s.real("aligned_resolution", 20.0, 0, 1e4,
         "aligned: Gaussian low-pass of the images before alignment, exp(-(s r)^2/2).", "Å");
  s.boolean("aligned_ctf", true, "aligned: phase-flip each image by its CTF first.");
  s.integer("aligned_min_shared", 10, 0, 1e6,
            "aligned: a pair is kept when the two images share at least this many of their "
            "best-aligned images (drops unlike views that happen to correlate).");
  s.real("aligned_tilt", 0.15, 0, 3.14159,
         "aligned: the typical angle t between the viewing directions of a kept pair; the "
         "stored distance is 2 acos(cos(t/2) |cos(alpha/2)|), alpha the in-plane angle.",
         "rad");
  s.real("noise_sigma", 0.1, 0, 10, "exact+noise: standard deviation of the noise on d.", "rad");
  s.real("euclidean_scale", 0, 0, 1e12,
         "euclidean: factor on the RMS pixel difference; 0 = automatic (mean distance π/2 + 2/π).");
  s.string("embedding", "embedding/vectors",
           "embedding: rows of the dataset holding the per-particle embedding (N x D).");
  s.integer("landmarks", 0, 0, 1e6,
            "Landmarks L for recover's landmark initialisation (0 = none): adds every "
            "landmark-landmark pair and landmark pairs for every other particle.");
  s.integer("landmark_partners", 100, 0, 1e6,
            "Landmarks paired with each other particle (0 = all L).");
  s.integer("seed", 1, 0, 9.2e18, "Seed of the partner draws, the noise and the random truth.");
}

namespace {

std::vector<geometry::Quat> read_truth(const io::Dataset& ds) {
  PAIRPOSE_CHECK(ds.has_orientations(),
                 ds.path() << ": the exact and exact+noise sources need true orientations "
                              "(/particles/orientation), which this dataset does not have");
  const auto particles = ds.read_particles({0, ds.n_particles()});
  std::vector<geometry::Quat> truth(particles.size());
  for (std::size_t i = 0; i < particles.size(); ++i)
    truth[i] = particles[i].orientation;
  return truth;
}

DistanceModel make_model(const io::Dataset& ds, const config::Params& p) {
  const DistanceSource source = parse_distance_source(p.string("source"));
  switch (source) {
  case DistanceSource::exact: return DistanceModel::exact(read_truth(ds));
  case DistanceSource::exact_noise:
    return DistanceModel::exact_noise(read_truth(ds), p.real("noise_sigma"),
                                      static_cast<std::uint64_t>(p.integer("seed")));
  case DistanceSource::euclidean: {
    PAIRPOSE_CHECK(ds.has_images(), ds.path() << ": the euclidean source needs images");
    ImageStack images = ds.read_images({0, ds.n_particles()});
    DistanceModel m =
        DistanceModel::euclidean(images.n, images.image_size(), std::move(images.data));
    if (p.real("euclidean_scale") > 0) m.set_scale(p.real("euclidean_scale"));
    return m;
  }
  case DistanceSource::embedding: {
    const std::string& name = p.string("embedding");
    PAIRPOSE_CHECK(ds.has(name), ds.path() << ": no complete array /" << name
                                           << " (run the embedding stage first)");
    auto rows = ds.read_all_rows<double>(name);
    PAIRPOSE_CHECK(rows.n_rows == ds.n_particles(), ds.path() << ": /" << name << " has "
                                                              << rows.n_rows << " rows for "
                                                              << ds.n_particles() << " particles");
    return DistanceModel::embedding(rows.n_rows, rows.n_cols, std::move(rows.data));
  }
  }
  PAIRPOSE_FAIL("unreachable");
}

/// A new dataset without images holding uniform random true orientations.
io::Dataset create_random_dataset(const StageContext& ctx) {
  const auto& p = ctx.params;
  io::DatasetInfo info;
  info.n_particles = p.integer("n_particles");
  info.image_size = 0;
  info.has_orientations = true;
  info.provenance = ctx.provenance;
  io::Dataset ds = io::Dataset::create(p.string("dataset"), ctx.comm, info);
  const Block rows = ds.block();
  std::vector<Particle> particles(static_cast<std::size_t>(rows.size()));
  for (std::int64_t i = rows.begin; i < rows.end; ++i) {
    Rng rng(static_cast<std::uint64_t>(p.integer("seed")), stream_orientation,
            static_cast<std::uint64_t>(i));
    particles[i - rows.begin].orientation = geometry::random_rotation(rng);
  }
  ds.write_particles(rows, particles);
  return ds;
}

/// Refuses (on every rank, before any output) a pair set that cannot fit this rank's memory
/// budget: the rank's share of N·K pairs (N(N − 1)/2 for `all`) at 32 bytes (i, j, distance,
/// weight), twice for the sampler's working copy, plus the distance model (every image on every
/// rank for `euclidean`, distance_model.hpp).
void require_memory(const config::Params& p, std::int64_t n, std::int64_t image_size,
                    MPI_Comm comm) {
  const std::int64_t share = (n + mpi::comm_size(comm) - 1) / mpi::comm_size(comm);
  const bool all = p.string("strategy") == "all";
  const std::int64_t per_particle = all ? (n - 1) / 2 + 1 : std::min(p.integer("budget"), n - 1);
  const bool euclidean = p.string("source") == "euclidean";
  const bool aligned = p.string("source") == "aligned";
  // aligned: every image's polar features (36 rings × 37 coefficients, complex float) and
  // neighbour lists (twice, symmetrised) on every rank.
  const std::int64_t features =
      euclidean ? memory::checked_product({n, image_size, image_size, 4})
      : aligned ? memory::checked_product({n, 36 * 37 * 8 + 3 * per_particle * 8})
                : memory::checked_product({n, 32});
  const std::int64_t bytes =
      memory::checked_sum({memory::checked_product({share, per_particle, 2 * 40}), features});
  memory::require(
      bytes,
      fmt::format("pairs: {} pairs a particle for {} particles ({} strategy, source {})",
                  per_particle, n, p.string("strategy"), p.string("source")),
      comm);
}

/// source = "aligned": features of this rank's images, gathered on every rank, then the pairs.
PairSet aligned_pair_set(StageContext& ctx, const io::Dataset& ds) {
  const auto& p = ctx.params;
  PAIRPOSE_CHECK(ds.has_images(), ds.path() << ": the aligned source needs images");
  AlignedOptions opt;
  opt.pixel_size = ds.info().pixel_size;
  opt.resolution = p.real("aligned_resolution");
  opt.ctf_flip = p.boolean("aligned_ctf");
  opt.neighbours = p.integer("budget");
  opt.min_shared = p.integer("aligned_min_shared");
  opt.tilt = p.real("aligned_tilt");
  const Block rows = ds.block();
  PolarFeatures all;
  {
    auto timer = ctx.timers.scope("read features");
    const ImageStack images = ds.read_images(rows);
    const std::vector<Particle> particles = ds.read_particles(rows);
    PolarFeatures local = polar_features(images, particles, opt);
    all.n = ds.n_particles();
    all.n_radii = local.n_radii;
    all.n_coefficients = local.n_coefficients;
    all.values.resize(static_cast<std::size_t>(all.n * local.stride()));
    mpi::allgather_blocks(reinterpret_cast<const float*>(local.values.data()), all.n,
                          2 * local.stride(), reinterpret_cast<float*>(all.values.data()), ctx.comm,
                          "pairs: aligned features");
  }
  auto timer = ctx.timers.scope("sample pairs");
  return aligned_pairs(all, rows, opt, ctx.comm);
}

} // namespace

void run_pairs(StageContext& ctx) {
  const auto& p = ctx.params;
  PAIRPOSE_CHECK(!p.string("dataset").empty(), "pairs: set pairs.dataset");
  const bool random_truth = p.string("orientations") == "random";
  if (random_truth) require_memory(p, p.integer("n_particles"), 0, ctx.comm);
  io::Dataset ds =
      random_truth ? create_random_dataset(ctx)
                   : io::Dataset::open(p.string("dataset"), ctx.comm, io::Dataset::Mode::update);
  if (!random_truth) require_memory(p, ds.n_particles(), ds.info().image_size, ctx.comm);
  const std::int64_t n = ds.n_particles();
  SamplingOptions opt;
  opt.strategy = parse_strategy(p.string("strategy"));
  opt.budget = p.integer("budget");
  opt.random_fraction = p.real("random_fraction");
  opt.knn_candidates = p.integer("knn_candidates");
  opt.seed = static_cast<std::uint64_t>(p.integer("seed"));
  if (p.integer("landmarks") > 0) {
    opt.landmarks = landmark_indices(n, p.integer("landmarks"), opt.seed);
    opt.landmark_partners = p.integer("landmark_partners");
  }
  PairSet pairs;
  if (p.string("source") == "aligned") {
    PAIRPOSE_CHECK(p.string("strategy") == "knn" && p.integer("landmarks") == 0,
                   "pairs: source = \"aligned\" chooses its own pairs (each image's budget "
                   "best-aligned images): set strategy = \"knn\" and landmarks = 0");
    pairs = aligned_pair_set(ctx, ds);
  } else {
    DistanceModel model = [&] {
      auto timer = ctx.timers.scope("read features");
      return make_model(ds, p);
    }();
    auto timer = ctx.timers.scope("sample pairs");
    pairs = sample_pairs(opt, model, ctx.comm, p.real("euclidean_scale") <= 0);
    if (model.source() == DistanceSource::euclidean)
      ctx.log.info("pairs: euclidean scale {:.6g}", model.scale());
  }
  const std::int64_t n_total = total_pairs(pairs, ctx.comm);
  ctx.log.info("pairs: {} pairs for {} particles ({} strategy, budget {}, source {}), {:.1f} a "
               "particle",
               n_total, n, p.string("strategy"), opt.budget, p.string("source"),
               2.0 * double(n_total) / double(n));
  auto timer = ctx.timers.scope("write");
  write_pairs(ds, pairs,
              {{"source", p.string("source")},
               {"strategy", p.string("strategy")},
               {"budget", std::to_string(opt.budget)},
               {"noise_sigma", fmt::format("{}", p.real("noise_sigma"))},
               {"seed", std::to_string(opt.seed)},
               {"landmarks", std::to_string(p.integer("landmarks"))},
               {"landmark_seed", std::to_string(opt.seed)},
               {"provenance", ctx.provenance}});
  ds.commit();
  ctx.log.info("pairs: wrote /pairs to {}", p.string("dataset"));
}

} // namespace pairpose::pairs
