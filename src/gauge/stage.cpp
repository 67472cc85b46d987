#include "pairpose/gauge/stage.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "pairpose/config/provenance.hpp"
#include "pairpose/core/error.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/core/random.hpp"
#include "pairpose/evaluate/orientation_error.hpp"
#include "pairpose/gauge/common_lines.hpp"
#include "pairpose/gauge/search.hpp"
#include "pairpose/io/dataset.hpp"
#include "pairpose/io/orientation_star.hpp"
#include "pairpose/io/star.hpp"

namespace pairpose::gauge {

using geometry::Quat;

void declare_gauge(config::Schema& s) {
  s.string("dataset", "",
           "Dataset (HDF5) with images and recovered orientations; /gauge is "
           "added to it.");
  s.string("orientations", "recover/quaternions",
           "Result array of N rows (w, x, y, z) to correct (known up to O(4)).");
  s.integer("n_images", 1000, 3, 1e7, "Particles whose images are used as evidence (at most N).");
  s.integer("n_pairs", 4000, 1, 1e9, "Image pairs whose common lines score a candidate.");
  s.real("resolution", 0, 0, 1e4,
         "Low-pass: highest frequency compared, as a resolution; 0 = 4 x the pixel size (half "
         "Nyquist).",
         "Å");
  s.integer("n_angles", 360, 8, 100000, "Angles of the polar Fourier transforms over 360°.");
  s.choice("ctf", "flip", {"flip", "multiply", "none"},
           "CTF handling: phase-flip each image's transform, multiply it by its CTF, or ignore "
           "the CTF.");
  s.boolean("whiten", true, "Give every radius the same weight in a line correlation.");
  s.real("min_view_angle", 10, 0, 89,
         "Pairs whose viewing directions are closer than this (or opposite within it) are "
         "skipped: their common line is ill-defined.",
         "degrees");
  s.integer("coarse_pairs", 1000, 0, 1e9,
            "The coarse grid is scored on this many of the pairs (0 = all); the refinement uses "
            "all of them.");
  s.real("grid_spacing", 15, 1, 90, "Spacing of the coarse grid of left factors on SO(3).",
         "degrees");
  s.integer("n_refine", 6, 0, 1000,
            "Best distinct coarse candidates refined by Nelder-Mead (0 = keep the coarse best).");
  s.real("refine_tolerance", 0.01, 1e-6, 10, "Nelder-Mead stops below this simplex size.",
         "degrees");
  s.integer("seed", 1, 0, 9.2e18, "Seed of the choice of images and pairs.");
  s.string("star", "",
           "Also export the corrected orientations as a RELION STAR file (empty = "
           "no).");
  s.string("star_stack", "particles.mrcs",
           "STAR export: the image stack the rlnImageName entries point to (N@stack).");
}

namespace {

struct Evidence {
  std::vector<std::int64_t> particles; ///< chosen particle indices, ascending
  std::vector<std::pair<std::int64_t, std::int64_t>> pairs;
};

/// The particles and pairs used as evidence; the same on every rank.
Evidence choose_evidence(const io::Dataset& ds, const config::Params& p) {
  std::vector<std::int64_t> eligible;
  const bool skip_unsolved =
      p.string("orientations") == "recover/quaternions" && ds.has("recover/solved");
  if (skip_unsolved) {
    const auto solved = ds.read_all_rows<std::int64_t>("recover/solved");
    for (std::int64_t i = 0; i < solved.n_rows; ++i)
      if (solved.at(i, 0) != 0) eligible.push_back(i);
  } else {
    eligible.resize(static_cast<size_t>(ds.n_particles()));
    for (std::int64_t i = 0; i < ds.n_particles(); ++i)
      eligible[i] = i;
  }
  const auto n_eligible = static_cast<std::int64_t>(eligible.size());
  PAIRPOSE_CHECK(n_eligible >= 3, ds.path() << ": " << n_eligible
                                            << " usable particle(s); the gauge needs at least 3");
  const auto seed = static_cast<std::uint64_t>(p.integer("seed"));
  Rng pick(seed, stream_gauge, 0);
  Evidence e;
  for (const std::int64_t k :
       sample_indices(n_eligible, std::min(n_eligible, p.integer("n_images")), pick))
    e.particles.push_back(eligible[k]);
  const auto m = static_cast<std::int64_t>(e.particles.size());
  const std::int64_t n_all = m * (m - 1) / 2;
  if (p.integer("n_pairs") >= n_all) {
    for (std::int64_t a = 0; a < m; ++a)
      for (std::int64_t b = a + 1; b < m; ++b)
        e.pairs.emplace_back(a, b);
    return e;
  }
  Rng draw(seed, stream_gauge, 1);
  for (std::int64_t k = 0; k < p.integer("n_pairs"); ++k) {
    const auto a = static_cast<std::int64_t>(draw.below(std::uint64_t(m)));
    auto b = static_cast<std::int64_t>(draw.below(std::uint64_t(m - 1)));
    if (b >= a) ++b;
    e.pairs.emplace_back(a, b);
  }
  return e;
}

/// Polar transforms of the chosen particles, on every rank; `truth` receives their true
/// orientations when the dataset has them. Each rank reads the chosen particles of its block in
/// runs, one collective read per round.
PolarTransforms polar_transforms(const io::Dataset& ds, const Evidence& e, const PolarOptions& o,
                                 std::vector<Quat>& truth) {
  PolarTransforms polar(o);
  const auto m = static_cast<std::int64_t>(e.particles.size());
  polar.resize(m);
  truth.assign(static_cast<size_t>(m), Quat{0, 0, 0, 0});
  const Block mine = ds.block();
  std::vector<std::int64_t> slots;
  for (std::int64_t k = 0; k < m; ++k)
    if (e.particles[k] >= mine.begin && e.particles[k] < mine.end) slots.push_back(k);
  // Runs of chosen particles (gaps of at most 16 rows, at most 256 rows) are read in one call.
  std::vector<std::size_t> run_start{0};
  for (std::size_t k = 1; k < slots.size(); ++k)
    if (e.particles[slots[k]] - e.particles[slots[k - 1]] > 16 ||
        e.particles[slots[k]] - e.particles[slots[run_start.back()]] >= 256)
      run_start.push_back(k);
  if (slots.empty()) run_start.clear();
  const auto n_runs = static_cast<std::int64_t>(run_start.size());
  const std::int64_t n_rounds = mpi::all_max(n_runs, ds.comm());
  for (std::int64_t r = 0; r < n_rounds; ++r) {
    const std::size_t first = r < n_runs ? run_start[r] : 0;
    const std::size_t end = r + 1 < n_runs ? run_start[r + 1] : slots.size();
    const Block b = r < n_runs ? Block{e.particles[slots[first]], e.particles[slots[end - 1]] + 1}
                               : Block{0, 0};
    const ImageStack images = ds.read_images(b);
    const auto particles = ds.read_particles(b);
    if (r >= n_runs) continue;
    for (std::size_t k = first; k < end; ++k) {
      const std::int64_t local = e.particles[slots[k]] - b.begin;
      polar.compute(slots[k], images.image(local), particles[local]);
      truth[slots[k]] = particles[local].orientation;
    }
  }
  auto& data = polar.data();
  mpi::all_sum_inplace(reinterpret_cast<float*>(data.data()), 2 * std::int64_t(data.size()),
                       ds.comm());
  mpi::all_sum_inplace(reinterpret_cast<double*>(truth.data()), 4 * m, ds.comm());
  return polar;
}

/// Physical error (median, mean in degrees) of the corrected orientations against the truth.
std::array<double, 2> physical_error(const StageContext& ctx, const io::Dataset& ds,
                                     const std::vector<Quat>& corrected) {
  const auto particles = ds.read_particles({0, ds.n_particles()});
  std::array<double, 2> out{0, 0};
  if (mpi::comm_rank(ctx.comm) == 0) {
    std::vector<Quat> truth(particles.size());
    for (std::size_t i = 0; i < truth.size(); ++i)
      truth[i] = particles[i].orientation;
    const auto e = evaluate::physical_error(truth, corrected);
    out = {e.median_deg, e.mean_deg};
  }
  mpi::broadcast(out.data(), 2, 0, ctx.comm);
  return out;
}

SearchOptions search_options(const config::Params& p) {
  SearchOptions o;
  o.grid_spacing_deg = p.real("grid_spacing");
  o.coarse_pairs = p.integer("coarse_pairs");
  o.n_refine = static_cast<int>(p.integer("n_refine"));
  o.refine_tol_deg = p.real("refine_tolerance");
  return o;
}

void write_results(const StageContext& ctx, io::Dataset& ds, const std::vector<Quat>& corrected,
                   const SearchResult& r, const Evidence& e, double resolution) {
  const Block mine = ds.block();
  std::vector<double> rows;
  for (std::int64_t i = mine.begin; i < mine.end; ++i)
    rows.insert(rows.end(), {corrected[i].w, corrected[i].x, corrected[i].y, corrected[i].z});
  ds.start_group("gauge");
  ds.write_rows("gauge/quaternions", mine.size(), 4, rows.data());
  auto set = [&](const std::string& key, const std::string& value) {
    ds.set_attribute("gauge", key, value);
  };
  set("c", fmt::format("{:.17g},{:.17g},{:.17g},{:.17g}", r.c.w, r.c.x, r.c.y, r.c.z));
  set("transposed", r.transposed ? "1" : "0");
  set("score", fmt::format("{:.10g}", r.score));
  set("coarse_score", fmt::format("{:.10g}", r.coarse_score));
  set("score_not_transposed", fmt::format("{:.10g}", r.best_score_by_flag[0]));
  set("score_transposed", fmt::format("{:.10g}", r.best_score_by_flag[1]));
  set("n_images", std::to_string(e.particles.size()));
  set("n_pairs", std::to_string(e.pairs.size()));
  set("resolution", fmt::format("{:.6g}", resolution));
  set("orientations", ctx.params.string("orientations"));
  set("provenance", ctx.provenance);
}

} // namespace

void run_gauge(StageContext& ctx) {
  const auto& p = ctx.params;
  const std::string path = p.string("dataset");
  PAIRPOSE_CHECK(!path.empty(), "gauge: set gauge.dataset");
  io::Dataset ds = io::Dataset::open(path, ctx.comm, io::Dataset::Mode::update);
  PAIRPOSE_CHECK(ds.has_images(), path << ": the dataset holds no images (/particles/images); "
                                          "the gauge is decided from the images");
  const std::vector<Quat> q_hat = io::read_orientation_array(ds, p.string("orientations"));
  const Evidence e = choose_evidence(ds, p);
  PolarOptions po;
  po.image_size = ds.info().image_size;
  po.pixel_size = ds.info().pixel_size;
  po.resolution = p.real("resolution") > 0 ? p.real("resolution") : 4 * po.pixel_size;
  po.n_angles = static_cast<int>(p.integer("n_angles"));
  po.ctf = parse_ctf_mode(p.string("ctf"));
  po.whiten = p.boolean("whiten");
  std::vector<Quat> truth;
  PolarTransforms polar = [&] {
    auto t = ctx.timers.scope("polar transforms");
    return polar_transforms(ds, e, po, truth);
  }();
  ctx.log.info("gauge: {} images, {} pairs, {} radii to {:.2f} Å, {} angles", e.particles.size(),
               e.pairs.size(), polar.n_radii(), po.resolution, po.n_angles);
  std::vector<Quat> chosen_q;
  for (const std::int64_t i : e.particles)
    chosen_q.push_back(q_hat[i]);
  const double min_view = p.real("min_view_angle");
  const CommonLineScore score(polar, chosen_q, e.pairs, min_view);
  SearchResult r;
  {
    auto t = ctx.timers.scope("search");
    r = GaugeSearch(search_options(p)).run(score, ctx.comm);
  }
  ctx.log.info("gauge: {} coarse candidates (best {:.4f}; by flag: {:.4f} / {:.4f} transposed), "
               "refined to {:.4f} ({} evaluations): C = ({:.6f}, {:.6f}, {:.6f}, {:.6f}), {}",
               r.n_candidates, r.coarse_score, r.best_score_by_flag[0], r.best_score_by_flag[1],
               r.score, r.n_evaluations, r.c.w, r.c.x, r.c.y, r.c.z,
               r.transposed ? "transposed" : "not transposed");
  std::vector<Quat> corrected(q_hat.size());
  for (std::size_t i = 0; i < q_hat.size(); ++i)
    corrected[i] = apply_gauge(r.c, r.transposed, q_hat[i]);
  auto t = ctx.timers.scope("write");
  write_results(ctx, ds, corrected, r, e, po.resolution);
  if (ds.has_orientations()) {
    const CommonLineScore reference(polar, truth, e.pairs, min_view);
    const double true_score = reference.score(geometry::identity3(), false);
    const auto err = physical_error(ctx, ds, corrected);
    ctx.log.info("gauge: score of the true orientations {:.4f}; physical error of the result: "
                 "median {:.3f}°, mean {:.3f}°",
                 true_score, err[0], err[1]);
    ds.set_attribute("gauge", "true_score", fmt::format("{:.10g}", true_score));
    ds.set_attribute("gauge", "physical_error_median_deg", fmt::format("{:.6g}", err[0]));
    ds.set_attribute("gauge", "physical_error_mean_deg", fmt::format("{:.6g}", err[1]));
  }
  ds.commit();
  if (!p.string("star").empty())
    io::write_orientations_star(p.string("star"), p.string("star_stack"),
                                io::Dataset::open(path, ctx.comm), corrected, ctx.provenance,
                                ctx.comm);
  ctx.log.info("gauge: wrote /gauge to {}", path);
}

} // namespace pairpose::gauge
