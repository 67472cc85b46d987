#include "pairpose/evaluate/stage.hpp"

#include <cstdlib>
#include <fmt/format.h>
#include <fstream>
#include <sstream>

#include "pairpose/core/error.hpp"
#include "pairpose/core/files.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/core/random.hpp"
#include "pairpose/evaluate/orientation_error.hpp"
#include "pairpose/io/dataset.hpp"
#include "stage_parts.hpp"

namespace pairpose::evaluate {

void declare_evaluate(config::Schema& s) {
  s.string("dataset", "",
           "Dataset (HDF5) holding the true orientations and the estimate; empty: no orientation "
           "part (maps only).");
  s.string("orientations", "recover/quaternions",
           "Rows of the dataset holding the estimated quaternions (N x 4, scalar first).");
  s.string("summary", "evaluate.json", "Summary file (JSON) to write.");
  s.string("plots", "",
           "Folder for CSV tables and PNG plots (viewing directions, loss history, d-hat against "
           "d_q, FSC curves, central slices of map and reference); empty: no plots.");
  s.string("python", "/usr/bin/python3",
           "Python interpreter with numpy and matplotlib, used only to draw the plots.");
  s.integer("n_fit", 20000, 0, 1e9,
            "Fit the alignments on a random subset of at most this many particles (0: all); "
            "errors are then evaluated on every particle.");
  s.integer("n_plot", 5000, 100, 1e7, "Particles and pairs drawn in the plots (a random subset).");
  s.integer("seed", 1, 0, 9.2e18, "Seed of the subsets.");
  detail::declare_map_parameters(s);
}

namespace {

std::vector<geometry::Quat> to_quats(const io::RowArray<double>& rows, const std::string& what) {
  PAIRPOSE_CHECK(rows.n_cols == 4,
                 what << ": expected 4 columns (quaternions), got " << rows.n_cols);
  std::vector<geometry::Quat> out(static_cast<size_t>(rows.n_rows));
  for (std::int64_t i = 0; i < rows.n_rows; ++i)
    out[i] = {rows.at(i, 0), rows.at(i, 1), rows.at(i, 2), rows.at(i, 3)};
  return out;
}

/// Beam direction in the map's frame: third row of A.
geometry::Vec3 view_direction(const geometry::Quat& q) {
  const geometry::Mat3 a = geometry::to_matrix(q);
  return {a[6], a[7], a[8]};
}

/// Indices of at most `n` items of `n_total`, a seeded random subset in increasing order.
std::vector<std::int64_t> subset(std::int64_t n_total, std::int64_t n, std::uint64_t seed) {
  Rng rng(seed, stream_evaluate, 7);
  return sample_indices(n_total, std::min(n, n_total), rng);
}

void write_views_csv(const std::string& path, const std::vector<geometry::Quat>& truth,
                     const std::vector<geometry::Quat>& aligned,
                     const std::vector<std::int64_t>& pick, const std::vector<double>& errors) {
  std::ostringstream os;
  os << "particle,true_x,true_y,true_z,recovered_x,recovered_y,recovered_z,error_rad\n";
  for (std::int64_t i : pick) {
    const auto t = view_direction(truth[i]), r = view_direction(aligned[i]);
    os << fmt::format("{},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6g}\n", i, t[0], t[1], t[2],
                      r[0], r[1], r[2], errors[i]);
  }
  write_file_atomic(path, os.str());
}

void write_loss_csv(const std::string& path, const io::RowArray<double>& loss) {
  std::ostringstream os;
  os << "iteration,loss\n";
  for (std::int64_t k = 0; k < loss.n_rows; ++k)
    os << k << "," << fmt::format("{:.10g}", loss.at(k, 0)) << "\n";
  write_file_atomic(path, os.str());
}

void write_pairs_csv(const std::string& path, const io::RowArray<std::int64_t>& index,
                     const io::RowArray<double>& distance, const std::vector<geometry::Quat>& truth,
                     std::int64_t n_plot, std::uint64_t seed) {
  std::ostringstream os;
  os << "i,j,estimated,true\n";
  for (std::int64_t k : subset(index.n_rows, n_plot * 10, seed)) {
    const std::int64_t i = index.at(k, 0), j = index.at(k, 1);
    PAIRPOSE_CHECK(i >= 0 && j >= 0 && i < (std::int64_t)truth.size() &&
                       j < (std::int64_t)truth.size(),
                   "pairs/index row " << k << ": particle out of range");
    os << i << "," << j << ","
       << fmt::format("{:.6g},{:.6g}\n", distance.at(k, 0), geometry::distance(truth[i], truth[j]));
  }
  write_file_atomic(path, os.str());
}

/// The orientation members of the summary (each line indented, no trailing comma).
std::string orientation_json(const io::Dataset& ds, const std::string& source,
                             const OrientationError& eor, const PhysicalError& phys) {
  return fmt::format(
      "  \"dataset\": \"{}\",\n  \"orientations\": \"{}\",\n  \"n_particles\": {},\n"
      "  \"e_or\": {{\"mean_rad\": {:.8g}, \"median_rad\": {:.8g}}},\n"
      "  \"physical\": {{\"mean_rad\": {:.8g}, \"median_rad\": {:.8g}, \"mean_deg\": {:.6g}, "
      "\"median_deg\": {:.6g}, \"mirrored\": {}}}",
      ds.path(), source, ds.n_particles(), eor.mean, eor.median, phys.mean_rad, phys.median_rad,
      phys.mean_deg, phys.median_deg, phys.mirrored ? "true" : "false");
}

std::string summary_json(const std::vector<std::string>& members, const std::string& provenance) {
  std::string prov;
  for (char c : provenance)
    prov += c == '"' ? std::string("\\\"") : c == '\n' ? std::string("\\n") : std::string(1, c);
  std::string out = "{\n";
  for (const auto& m : members)
    if (!m.empty()) out += m + ",\n";
  return out + fmt::format("  \"provenance\": \"{}\"\n}}\n", prov);
}

void draw_plots(const StageContext& ctx, const std::string& folder) {
  const char* env = std::getenv("PAIRPOSE_SCRIPTS");
  const std::string script = std::string(env ? env : PAIRPOSE_SCRIPTS_DIR) + "/plot_evaluate.py";
  const std::string python = ctx.params.string("python");
  if (!file_exists(python) || !file_exists(script)) {
    ctx.log.warn("no plots drawn: {} or {} is missing (tables are in {})", python, script, folder);
    return;
  }
  const std::string cmd = python + " '" + script + "' '" + folder + "'";
  PAIRPOSE_CHECK(std::system(cmd.c_str()) == 0, "drawing the plots failed: " << cmd);
}

/// The orientation part (collective: every rank reads, rank 0 fits and writes the plot tables).
/// Returns the summary members on rank 0; `phys` gets the fit, whose alignment (b, mirrored) is
/// broadcast to every rank.
std::string evaluate_orientations(StageContext& ctx, const std::string& folder,
                                  PhysicalError& phys) {
  const auto& p = ctx.params;
  auto ds = io::Dataset::open(p.string("dataset"), ctx.comm, io::Dataset::Mode::read);
  PAIRPOSE_CHECK(ds.has_orientations(),
                 ds.path() << ": no true orientations (/particles/orientation): the orientation "
                              "error needs simulated data");
  const std::string source = p.string("orientations");
  PAIRPOSE_CHECK(ds.has(source), ds.path() << ": no complete array '" << source
                                           << "' (did pairpose recover finish?)");
  std::vector<Particle> particles;
  io::RowArray<double> estimate_rows;
  {
    auto t = ctx.timers.scope("read");
    particles = ds.read_particles({0, ds.n_particles()});
    estimate_rows = ds.read_all_rows<double>(source);
  }
  PAIRPOSE_CHECK(estimate_rows.n_rows == ds.n_particles(),
                 ds.path() << ": " << source << " has " << estimate_rows.n_rows << " rows for "
                           << ds.n_particles() << " particles");
  std::vector<geometry::Quat> truth(particles.size());
  for (size_t i = 0; i < particles.size(); ++i)
    truth[i] = particles[i].orientation;
  const auto estimate = to_quats(estimate_rows, ds.path() + ": " + source);

  const bool plots = !folder.empty();
  const bool have_loss = plots && ds.has("recover/loss_history");
  const bool have_pairs = plots && ds.has("pairs/index") && ds.has("pairs/distance");
  io::RowArray<double> loss, pair_distance;
  io::RowArray<std::int64_t> pair_index;
  if (have_loss) loss = ds.read_all_rows<double>("recover/loss_history");
  if (have_pairs && mpi::comm_rank(ctx.comm) == 0) {
    pair_index = ds.read_rows<std::int64_t>("pairs/index", {0, ds.n_rows("pairs/index")});
    pair_distance = ds.read_rows<double>("pairs/distance", {0, ds.n_rows("pairs/distance")});
  } else if (have_pairs) {
    ds.read_rows<std::int64_t>("pairs/index", {0, 0});
    ds.read_rows<double>("pairs/distance", {0, 0});
  }
  ds.close();

  std::string problem, json;
  if (mpi::comm_rank(ctx.comm) == 0) {
    try {
      AlignmentOptions opt;
      opt.n_fit = static_cast<std::size_t>(p.integer("n_fit"));
      opt.seed = static_cast<std::uint64_t>(p.integer("seed"));
      OrientationError eor;
      {
        auto t = ctx.timers.scope("align");
        eor = orientation_error(truth, estimate, opt);
        phys = physical_error(truth, estimate, opt);
      }
      ctx.log.info("E_OR (paper's metric, min over O(4)): median {:.4g} rad, mean {:.4g} rad",
                   eor.median, eor.mean);
      ctx.log.info("physical error (right factor + handedness only): median {:.3f} deg, mean "
                   "{:.3f} deg{}",
                   phys.median_deg, phys.mean_deg, phys.mirrored ? " (mirrored)" : "");
      json = orientation_json(ds, source, eor, phys);
      if (plots) {
        // Until the gauge stage decides the left factor, only the O(4) alignment of E_OR makes
        // the recovered viewing directions comparable with the true ones.
        std::vector<geometry::Quat> aligned(estimate.size());
        for (size_t i = 0; i < estimate.size(); ++i)
          aligned[i] = geometry::canonical(geometry::normalized(transform(eor.t, estimate[i])));
        const auto pick = subset(ds.n_particles(), p.integer("n_plot"), p.integer("seed"));
        write_views_csv(folder + "/views.csv", truth, aligned, pick, eor.errors);
        if (have_loss) write_loss_csv(folder + "/loss.csv", loss);
        if (have_pairs)
          write_pairs_csv(folder + "/pairs.csv", pair_index, pair_distance, truth,
                          p.integer("n_plot"), p.integer("seed"));
      }
    } catch (const Error& e) {
      problem = e.what();
    }
  }
  mpi::agree_or_throw(problem, ctx.comm);
  int mirrored = phys.mirrored ? 1 : 0;
  mpi::broadcast(phys.b.data(), 9, 0, ctx.comm);
  mpi::broadcast(&mirrored, 1, 0, ctx.comm);
  phys.mirrored = mirrored != 0;
  return json;
}

/// Parameter combinations that cannot work, before any file is read.
void check_parameters(const config::Params& p) {
  const bool orient = !p.string("dataset").empty(), maps = !p.string("map").empty();
  PAIRPOSE_CHECK(orient || maps, "[evaluate] nothing to evaluate: set dataset (orientations "
                                 "against the truth) and/or map (a reconstructed map)");
  PAIRPOSE_CHECK(maps || (p.string("reference").empty() && p.string_list("half_maps").empty()),
                 "[evaluate] reference and half_maps need map (the reconstructed map)");
  PAIRPOSE_CHECK(!maps || p.string("reference").empty() || orient ||
                     p.string("alignment") != "orientations",
                 "[evaluate] alignment = \"orientations\" needs dataset (the true orientations "
                 "and the estimate the map was reconstructed from)");
}

} // namespace

void run_evaluate(StageContext& ctx) {
  const auto& p = ctx.params;
  check_parameters(p);
  const bool root = mpi::comm_rank(ctx.comm) == 0;
  const std::string folder = p.string("plots");
  if (root && !folder.empty()) make_parent_folders(folder + "/views.csv");
  if (root) make_parent_folders(p.string("summary"));
  if (root && !p.string("aligned_map").empty()) make_parent_folders(p.string("aligned_map"));
  PhysicalError phys;
  std::string orientation_members, map_members;
  if (!p.string("dataset").empty()) orientation_members = evaluate_orientations(ctx, folder, phys);
  if (!p.string("map").empty())
    map_members = detail::evaluate_maps(ctx, p.string("dataset").empty() ? nullptr : &phys, folder);
  std::string problem;
  if (root) {
    try {
      write_file_atomic(p.string("summary"),
                        summary_json({orientation_members, map_members}, ctx.provenance));
      if (!folder.empty()) draw_plots(ctx, folder);
    } catch (const Error& e) {
      problem = e.what();
    }
  }
  mpi::agree_or_throw(problem, ctx.comm);
  ctx.log.info("summary written to {}", p.string("summary"));
}

} // namespace pairpose::evaluate
