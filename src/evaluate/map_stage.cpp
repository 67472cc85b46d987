// The map part of `pairpose evaluate` (stage.hpp): half-map FSC, alignment to a reference, FSC
// against it, aligned map, plot tables.
#include "stage_parts.hpp"

#include <cmath>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sstream>

#include "pairpose/config/provenance.hpp"
#include "pairpose/core/error.hpp"
#include "pairpose/core/files.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/evaluate/fsc.hpp"
#include "pairpose/evaluate/map_alignment.hpp"
#include "pairpose/io/mrc.hpp"

namespace pairpose::evaluate::detail {

void declare_map_parameters(config::Schema& s) {
  s.string("map", "", "Reconstructed map (MRC) to evaluate; empty: no map part.");
  s.string_list("half_maps", {},
                "The two half-maps (MRC); empty: <stem>_half1.mrc and <stem>_half2.mrc beside "
                "`map` (as reconstruct writes them) when both exist, else no half-map FSC.");
  s.string("reference", "",
           "Reference map (MRC, e.g. the true map): FSC of the aligned map against it "
           "(resolution at 0.5); empty: none.");
  s.choice("reference_box", "centre", {"centre", "exact"},
           "A reference of another box size but the same voxel size: centre = placed centred in "
           "the map's box (zero-padded or cropped, as simulate places its maps); exact = error.");
  s.choice("alignment", "search", {"search", "orientations", "none"},
           "How the map is brought into the reference's frame and hand: search = SO(3) grid x "
           "both hands, refined locally; orientations = the physical-error fit of the dataset's "
           "estimate to its true orientations (needs `dataset`); none = the map as it is.");
  s.integer("align_size", 32, 8, 256,
            "Box of the global alignment search (both maps Fourier-cropped to it).", "voxels");
  s.real("align_step", 15, 2, 60, "Spacing of the SO(3) grid of the global search.", "degrees");
  s.integer("refine_size", 64, 8, 1024,
            "Box of the last local refinement (Fourier-cropped; capped at the map's box).",
            "voxels");
  s.integer("align_candidates", 3, 1, 100, "Best grid rotations of each hand refined locally.");
  s.real("align_final_step", 0.1, 0.001, 10, "Smallest step of the local refinement.", "degrees");
  s.boolean("align_mirror", true, "Search both hands (false: the map's hand is taken as right).");
  s.integer("rotate_oversampling", 2, 1, 2,
            "Rotating the map for the FSC: 2 = trilinear on a 2x Fourier-upsampled copy (less "
            "blur; about 28 x (2n)^3 bytes on rank 0), 1 = trilinear on the map itself.");
  s.real("mask_diameter", 0, 0, 1e5,
         "Also report FSCs of maps multiplied by a soft spherical mask of this diameter, centred "
         "in the box (the particle's, as RELION's --particle_diameter); 0 = unmasked only.",
         "Å");
  s.real("mask_edge", 10, 0, 1e4, "Width of the mask's raised-cosine edge.", "Å");
  s.string("aligned_map", "",
           "Where to write the map after alignment (MRC, with a provenance sidecar); empty: not "
           "written.");
}

namespace {

struct MapInputs {
  std::string map_path, ref_path;
  std::vector<std::string> half_paths; ///< empty: no half-map FSC
  Volume map, ref;
  std::vector<Volume> halves;
};

Volume read_cubic(const std::string& path) {
  Volume v = io::read_mrc_volume(path);
  PAIRPOSE_CHECK(v.is_cube(),
                 path << ": expected a cubic map, got " << v.nx << "x" << v.ny << "x" << v.nz);
  return v;
}

std::vector<std::string> half_map_paths(const config::Params& p, const std::string& map_path) {
  const auto& given = p.string_list("half_maps");
  PAIRPOSE_CHECK(given.empty() || given.size() == 2,
                 "[evaluate] half_maps: expected two files (or none), got " << given.size());
  if (!given.empty()) return given;
  std::string stem = map_path;
  if (stem.size() > 4 && stem.compare(stem.size() - 4, 4, ".mrc") == 0)
    stem.resize(stem.size() - 4);
  const std::vector<std::string> derived{stem + "_half1.mrc", stem + "_half2.mrc"};
  if (file_exists(derived[0]) && file_exists(derived[1])) return derived;
  return {};
}

/// Every rank reads the same files (small), so a bad file fails on every rank alike.
MapInputs read_inputs(const StageContext& ctx) {
  const auto& p = ctx.params;
  MapInputs in;
  in.map_path = p.string("map");
  in.map = read_cubic(in.map_path);
  in.half_paths = half_map_paths(p, in.map_path);
  for (const auto& path : in.half_paths) {
    in.halves.push_back(read_cubic(path));
    check_same_grid(in.map, in.map_path, in.halves.back(), path);
  }
  in.ref_path = p.string("reference");
  if (in.ref_path.empty()) return in;
  Volume ref = io::read_mrc_volume(in.ref_path);
  PAIRPOSE_CHECK(std::abs(ref.voxel_size - in.map.voxel_size) <= 1e-3 * in.map.voxel_size,
                 in.ref_path << " has a voxel size of " << ref.voxel_size << " Å, expected "
                             << in.map.voxel_size << " Å like " << in.map_path
                             << " (resample the reference first)");
  const bool same_box = ref.nx == in.map.nx && ref.ny == in.map.nx && ref.nz == in.map.nx;
  if (!same_box && p.string("reference_box") == "centre") {
    ctx.log.info("reference {} ({}x{}x{}) placed centred in the map's {}^3 box", in.ref_path,
                 ref.nx, ref.ny, ref.nz, in.map.nx);
    ref = place_centred(ref, in.map.nx);
  }
  check_same_grid(in.map, in.map_path, ref, in.ref_path);
  in.ref = std::move(ref);
  return in;
}

MapSearchOptions search_options(const config::Params& p) {
  MapSearchOptions o;
  o.coarse_size = p.integer("align_size");
  o.coarse_step_deg = p.real("align_step");
  o.refine_size = p.integer("refine_size");
  o.n_candidates = static_cast<int>(p.integer("align_candidates"));
  o.final_step_deg = p.real("align_final_step");
  o.search_mirror = p.boolean("align_mirror");
  return o;
}

std::string numbers(const std::vector<double>& v, const char* format) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i)
    out += (i ? ", " : "") + fmt::format(fmt::runtime(format), v[i]);
  return out + "]";
}

/// {"resolution_<tag>": Å, "threshold": t, "curve": {shell, frequency, fsc}}.
std::string fsc_json(const std::vector<double>& fsc, const Volume& map, double threshold) {
  std::vector<double> shells(fsc.size());
  for (size_t s = 0; s < fsc.size(); ++s)
    shells[s] = double(s);
  const double res = shell_resolution(shell_at(fsc, threshold), map.nx, map.voxel_size);
  return fmt::format(
      "\"threshold\": {}, \"resolution_angstrom\": {:.4f}, \"curve\": {{\"shell\": "
      "{}, \"frequency_per_angstrom\": {}, \"fsc\": {}}}",
      threshold, res, numbers(shells, "{:.0f}"),
      numbers(shell_frequencies(std::int64_t(fsc.size()), map.nx, map.voxel_size), "{:.6g}"),
      numbers(fsc, "{:.6f}"));
}

/// With evaluate.mask_diameter > 0: `, "masked": {...}` (the FSC of both maps under the soft
/// spherical mask, logged as well); else "".
std::string masked_fsc_json(StageContext& ctx, const Volume& a, const Volume& b, double threshold,
                            const char* what) {
  const double diameter = ctx.params.real("mask_diameter");
  if (diameter <= 0) return "";
  const double edge = ctx.params.real("mask_edge");
  const auto fsc = fourier_shell_correlation(soft_sphere_masked(a, diameter, edge),
                                             soft_sphere_masked(b, diameter, edge));
  ctx.log.info("{} FSC with a soft spherical mask of {:.0f} Å: {:.2f} Å at {}", what, diameter,
               shell_resolution(shell_at(fsc, threshold), a.nx, a.voxel_size), threshold);
  return fmt::format(", \"masked\": {{\"mask_diameter_angstrom\": {}, \"mask_edge_angstrom\": "
                     "{}, {}}}",
                     diameter, edge, fsc_json(fsc, a, threshold));
}

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s)
    out += c == '"' || c == '\\' ? std::string("\\") + c : std::string(1, c);
  return out + "\"";
}

void write_fsc_csv(const std::string& path, const std::vector<double>& half,
                   const std::vector<double>& ref, const Volume& map) {
  const auto n_shells = std::int64_t(std::max(half.size(), ref.size()));
  const auto freq = shell_frequencies(n_shells, map.nx, map.voxel_size);
  std::ostringstream os;
  os << "shell,frequency,half_maps,reference\n";
  for (std::int64_t s = 0; s < n_shells; ++s)
    os << fmt::format("{},{:.6g},{},{}\n", s, freq[s],
                      s < std::int64_t(half.size()) ? fmt::format("{:.6f}", half[s]) : "nan",
                      s < std::int64_t(ref.size()) ? fmt::format("{:.6f}", ref[s]) : "nan");
  write_file_atomic(path, os.str());
}

/// Central slices xy (z = n/2; rows y), xz (y = n/2; rows z), yz (x = n/2; rows z): 3n lines of
/// n values.
void write_slices_csv(const std::string& path, const Volume& v) {
  const std::int64_t n = v.nx, c = n / 2;
  std::ostringstream os;
  for (int plane = 0; plane < 3; ++plane)
    for (std::int64_t row = 0; row < n; ++row)
      for (std::int64_t col = 0; col < n; ++col) {
        const float value = plane == 0   ? v.at(col, row, c)
                            : plane == 1 ? v.at(col, c, row)
                                         : v.at(c, col, row);
        os << fmt::format("{:.6g}", value) << (col + 1 < n ? "," : "\n");
      }
  write_file_atomic(path, os.str());
}

/// The alignment asked for (collective for the search); `json` gets its description.
MapAlignment find_alignment(StageContext& ctx, const MapInputs& in, const PhysicalError* fit,
                            std::string& json) {
  const std::string method = ctx.params.string("alignment");
  MapAlignment a;
  if (method == "orientations") {
    a = alignment_from_orientations(*fit);
  } else if (method == "search") {
    auto t = ctx.timers.scope("align maps");
    MapAligner aligner(ctx.comm);
    aligner.set_options(search_options(ctx.params));
    a = aligner.align(in.map, in.ref);
    const auto& r = aligner.report();
    ctx.log.info("map alignment: {} rotations x {} hands, {} correlations in {:.1f} s ({:.1f} "
                 "CPU s); correlation {:.4f} (other hand {:.4f})",
                 r.n_grid, aligner.options().search_mirror ? 2 : 1, r.n_scored, r.seconds,
                 r.cpu_seconds, a.score, a.other_hand_score);
    json +=
        fmt::format("\"score\": {:.6f}, \"other_hand_score\": {:.6f}, \"n_grid\": {}, "
                    "\"n_scored\": {}, \"seconds\": {:.3f}, \"cpu_seconds\": {:.3f}, ",
                    a.score, a.other_hand_score, r.n_grid, r.n_scored, r.seconds, r.cpu_seconds);
    if (fit) {
      const MapAlignment o = alignment_from_orientations(*fit);
      ctx.log.info("map alignment vs the orientations' fit: {:.3f} deg apart, hands {}",
                   angle_between_deg(a, o), o.mirrored == a.mirrored ? "agree" : "DIFFER");
      json += fmt::format("\"orientation_fit\": {{\"mirrored\": {}, \"angle_to_search_deg\": "
                          "{:.4f}}}, ",
                          o.mirrored, angle_between_deg(a, o));
    }
  }
  const double angle = geometry::rotation_angle(geometry::identity3(), a.rotation) * 180 / M_PI;
  json = fmt::format("\"method\": \"{}\", \"rotation\": {}, \"mirrored\": {}, "
                     "\"rotation_angle_deg\": {:.4f}, ",
                     method, numbers({a.rotation.begin(), a.rotation.end()}, "{:.8f}"), a.mirrored,
                     angle) +
         json;
  json.resize(json.size() - 2); // the last ", "
  return a;
}

} // namespace

std::string evaluate_maps(StageContext& ctx, const PhysicalError* fit,
                          const std::string& plot_folder) {
  const auto& p = ctx.params;
  const bool root = mpi::comm_rank(ctx.comm) == 0;
  std::string problem;
  MapInputs in;
  try {
    auto t = ctx.timers.scope("read maps");
    in = read_inputs(ctx);
  } catch (const Error& e) {
    problem = e.what();
  }
  mpi::agree_or_throw(problem, ctx.comm);
  const bool have_ref = !in.ref_path.empty();
  std::string align_json;
  MapAlignment alignment;
  if (have_ref) alignment = find_alignment(ctx, in, fit, align_json);

  std::string json;
  if (root) {
    try {
      auto t = ctx.timers.scope("fsc");
      std::vector<double> half_fsc, ref_fsc;
      json = fmt::format("  \"maps\": {{\n    \"map\": {}, \"box\": {}, \"voxel_size\": {}",
                         quoted(in.map_path), in.map.nx, in.map.voxel_size);
      if (!in.halves.empty()) {
        half_fsc = fourier_shell_correlation(in.halves[0], in.halves[1]);
        const double res =
            shell_resolution(shell_at(half_fsc, 0.143), in.map.nx, in.map.voxel_size);
        ctx.log.info("half-map FSC: {:.2f} Å at 0.143", res);
        json += fmt::format(",\n    \"half_maps\": {{\"files\": [{}, {}], {}{}}}",
                            quoted(in.half_paths[0]), quoted(in.half_paths[1]),
                            fsc_json(half_fsc, in.map, 0.143),
                            masked_fsc_json(ctx, in.halves[0], in.halves[1], 0.143, "half-map"));
      } else {
        ctx.log.info("no half-maps beside {}: no half-map FSC", in.map_path);
      }
      Volume aligned;
      if (have_ref) {
        aligned = p.string("alignment") == "none"
                      ? in.map
                      : transform_map(in.map, alignment.matrix(),
                                      static_cast<int>(p.integer("rotate_oversampling")));
        ref_fsc = fourier_shell_correlation(aligned, in.ref);
        const double res = shell_resolution(shell_at(ref_fsc, 0.5), in.map.nx, in.map.voxel_size);
        ctx.log.info("FSC against the reference {}: {:.2f} Å at 0.5", in.ref_path, res);
        json += fmt::format(",\n    \"reference\": {{\"file\": {}, \"alignment\": {{{}}}, {}{}}}",
                            quoted(in.ref_path), align_json, fsc_json(ref_fsc, in.map, 0.5),
                            masked_fsc_json(ctx, aligned, in.ref, 0.5, "reference"));
        if (!p.string("aligned_map").empty()) {
          io::write_mrc(p.string("aligned_map"), aligned, "evaluate: aligned to the reference");
          write_provenance_sidecar(p.string("aligned_map"), ctx.provenance);
        }
      }
      json += "\n  }";
      if (!plot_folder.empty()) {
        write_fsc_csv(plot_folder + "/fsc.csv", half_fsc, ref_fsc, in.map);
        write_slices_csv(plot_folder + "/slices_map.csv", have_ref ? aligned : in.map);
        if (have_ref) write_slices_csv(plot_folder + "/slices_reference.csv", in.ref);
      }
    } catch (const Error& e) {
      problem = e.what();
    }
  }
  mpi::agree_or_throw(problem, ctx.comm);
  return json;
}

} // namespace pairpose::evaluate::detail
