#include "pairpose/app/run.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>

#include "pairpose/app/record.hpp"
#include "pairpose/app/report.hpp"
#include "pairpose/core/error.hpp"
#include "pairpose/core/files.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/io/dataset.hpp"
#include "pairpose/version.hpp"

namespace pairpose::app {

namespace {

/// The default order of the stages in a run (stages not listed follow, in table order).
const char* const pipeline_order[] = {"phantom", "molmap",      "simulate", "train",
                                      "embed",   "pairs",       "recover",  "gauge",
                                      "refine",  "reconstruct", "evaluate", "report"};

std::size_t order_of(const Stage* stage) {
  const std::size_t n_listed = sizeof pipeline_order / sizeof pipeline_order[0];
  for (std::size_t i = 0; i < n_listed; ++i)
    if (std::string(stage->name) == pipeline_order[i]) return i;
  const auto& table = stages();
  for (std::size_t i = 0; i < table.size(); ++i)
    if (&table[i] == stage) return n_listed + i;
  return n_listed + table.size();
}

/// One section of the run, resolved before anything runs.
struct Step {
  const Stage* stage;
  config::Params params;
};

/// Local (rank 0): does `out` exist? A dataset array must be complete.
bool output_exists(const StageOutput& out) {
  if (!file_exists(out.file)) return false;
  if (out.array.empty()) return true;
  try {
    auto ds = io::Dataset::open(out.file, MPI_COMM_SELF, io::Dataset::Mode::read);
    const bool ok = ds.has(out.array);
    ds.close();
    return ok;
  } catch (const Error&) {
    return false;
  }
}

/// Local (rank 0): may this step be skipped? Logs why not at debug level.
bool unchanged(const Step& step, const std::string& folder, const Logger& log) {
  const std::string path = record_path(folder, step.params.section());
  if (!file_exists(path)) return false;
  StageRecord record;
  try {
    record = read_record(path);
  } catch (const Error& e) {
    log.warn("{} (the section runs again)", e.what());
    return false;
  }
  const auto outputs = section_outputs(*step.stage, step.params);
  if (record.status != "finished" || outputs.empty() || !same_parameters(record, step.params))
    return false;
  return std::all_of(outputs.begin(), outputs.end(), output_exists);
}

StageRecord start_record(const Step& step, MPI_Comm comm) {
  StageRecord r;
  r.section = step.params.section();
  r.stage = step.stage->name;
  r.status = "running";
  r.version = std::string(version_string) + " (" + version_git + ")";
  r.started = utc_now();
  r.ranks = mpi::comm_size(comm);
  r.parameters = step.params.to_toml();
  return r;
}

/// Runs one step, keeping its record up to date on rank 0. Returns the wall seconds.
double run_step(const Step& step, const Invocation& inv, const std::string& folder, MPI_Comm comm) {
  const bool root = mpi::comm_rank(comm) == 0;
  const std::string path = record_path(folder, step.params.section());
  StageRecord record = start_record(step, comm);
  if (root) write_record(path, record);
  const auto t0 = std::chrono::steady_clock::now();
  auto finish = [&](const std::string& status, const std::string& error) {
    record.status = status;
    record.error = error;
    record.finished = utc_now();
    record.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (root) write_record(path, record);
  };
  try {
    execute_stage(*step.stage, step.params, comm, inv.level);
  } catch (const std::exception& e) {
    finish("failed", e.what());
    if (root)
      std::fprintf(stderr, "pairpose run: [%s] failed; the run stops (record %s)\n",
                   step.params.section().c_str(), path.c_str());
    throw;
  }
  finish("finished", "");
  return record.wall_seconds;
}

/// Every rank: the run's sections resolved (configuration problems throw before anything runs).
std::vector<Step> plan_run(const Invocation& inv, std::string& folder, bool& force) {
  const auto file = config::ParameterFile::load(inv.file);
  const auto schemas = schemas_for(file, inv.overrides);
  config::validate(file, schemas);
  config::validate_overrides(inv.overrides, schemas);
  const auto run_it = std::find_if(schemas.begin(), schemas.end(),
                                   [](const config::Schema& s) { return s.section() == "run"; });
  const auto run_params = config::resolve(*run_it, file, inv.overrides);
  folder = run_params.string("folder");
  force = run_params.boolean("force");
  PAIRPOSE_CHECK(!folder.empty(), inv.file << ": [run] folder must not be empty");
  std::vector<Step> steps;
  for (const auto& section : run_sections(file, run_params)) {
    const Stage* stage = stage_of_section(section);
    steps.push_back({stage, resolve_section(*stage, section, file, inv.overrides)});
  }
  PAIRPOSE_CHECK(!steps.empty(), inv.file << ": nothing to run (no stage sections, and [run] "
                                             "stages is empty)");
  return steps;
}

} // namespace

void declare_run(config::Schema& s) {
  s.string_list("stages", {},
                "Sections to run, in order (stage names or labelled sections such as "
                "\"simulate-test\"); empty = every section of the file, in pipeline order.");
  s.string("folder", "pairpose-run",
           "Run folder: the record of each section (stages/<section>.toml) and the report.");
  s.boolean("force", false,
            "Run every section, even those whose record shows them finished and unchanged.");
}

std::vector<StageOutput> section_outputs(const Stage& stage, const config::Params& p) {
  const std::string name = stage.name;
  auto file = [&](const char* key) { return StageOutput{p.string(key), ""}; };
  auto array = [&](const char* array) { return StageOutput{p.string("dataset"), array}; };
  if (name == "phantom" || name == "molmap" || name == "train" || name == "reconstruct")
    return {file("output")};
  if (name == "simulate") {
    std::vector<StageOutput> out = {file("output")};
    if (!p.string("export_star").empty()) out.push_back(file("export_star"));
    return out;
  }
  if (name == "embed") return {array(p.string("output").c_str())};
  if (name == "pairs") return {array("pairs/index"), array("pairs/distance")};
  if (name == "recover") return {array("recover/quaternions")};
  if (name == "gauge") return {array("gauge/quaternions")};
  if (name == "refine") return {array("refine/quaternions")};
  if (name == "evaluate") return {file("summary")};
  if (name == "report") return {{report_output(p), ""}};
  return {};
}

std::vector<std::string> run_sections(const config::ParameterFile& file,
                                      const config::Params& run_params) {
  std::vector<std::string> out = run_params.string_list("stages");
  for (std::size_t i = 0; i < out.size(); ++i) {
    check_stage_built(out[i], file.name() + ": [run] stages");
    PAIRPOSE_CHECK(out[i] != "run" && stage_of_section(out[i]) != nullptr,
                   file.name() << ": [run] stages: '" << out[i]
                               << "' is neither a stage nor <stage>-<label> of a known stage "
                                  "(pairpose --help lists the stages)");
    PAIRPOSE_CHECK(std::find(out.begin(), out.begin() + i, out[i]) == out.begin() + i,
                   file.name() << ": [run] stages: '" << out[i] << "' is listed twice");
  }
  if (!out.empty()) return out;
  for (const auto& section : file.sections())
    if (section != "run") out.push_back(section);
  std::stable_sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    return order_of(stage_of_section(a)) < order_of(stage_of_section(b));
  });
  return out;
}

int run_pipeline(const Invocation& inv, MPI_Comm comm) {
  std::vector<Step> steps;
  std::string folder, problem;
  bool force = false;
  try {
    steps = plan_run(inv, folder, force);
  } catch (const Error& e) {
    problem = e.what();
  }
  mpi::agree_or_throw(problem, comm);

  Logger log(comm, inv.level);
  const bool root = mpi::comm_rank(comm) == 0;
  std::string names;
  for (const auto& s : steps)
    names += (names.empty() ? "" : ", ") + s.params.section();
  log.info("pairpose run {}: {} section(s): {}; records in {}", inv.file, steps.size(), names,
           join_path(folder, "stages"));
  bool run_rest = force;
  std::vector<std::string> lines;
  for (const auto& step : steps) {
    const std::string& section = step.params.section();
    int skip = 0;
    if (!run_rest && root) skip = unchanged(step, folder, log) ? 1 : 0;
    mpi::broadcast(&skip, 1, 0, comm);
    if (skip) {
      log.info("[{}] skipped: unchanged (record {})", section, record_path(folder, section));
      lines.push_back(fmt::format("  {:<20} skipped: unchanged", section));
      continue;
    }
    run_rest = true;
    log.info("=== [{}] ({})", section, step.stage->name);
    const double seconds = run_step(step, inv, folder, comm);
    lines.push_back(fmt::format("  {:<20} ran in {:.1f} s", section, seconds));
  }
  std::string summary;
  for (const auto& line : lines)
    summary += "\n" + line;
  log.info("pairpose run {}: done{}", inv.file, summary);
  return 0;
}

} // namespace pairpose::app
