#include "pairpose/app/cli.hpp"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "pairpose/app/run.hpp"
#include "pairpose/config/provenance.hpp"
#include "pairpose/core/error.hpp"
#include "pairpose/core/log.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/version.hpp"

namespace pairpose::app {

namespace {

const Stage* find_stage(const std::string& name) {
  for (const auto& s : stages())
    if (name == s.name) return &s;
  return nullptr;
}

config::Schema schema_of(const Stage& s) { return section_schema(s, s.name); }

config::Schema run_schema() {
  config::Schema schema("run", "The whole pipeline from one parameter file (pairpose run)");
  declare_run(schema);
  return schema;
}

/// Stages that exist only in some builds, and what they need.
const char* missing_stage_reason(const std::string& name) {
  if (name == "train" || name == "embed")
    return "it needs LibTorch: configure with -DPAIRPOSE_WITH_TORCH=ON";
  return nullptr;
}

std::string usage() {
  std::ostringstream os;
  os << "pairpose " << version_string << " (" << version_git << ")\n"
     << "Orientation recovery for single-particle cryo-EM from learned pairwise distances.\n\n"
     << "usage: pairpose <stage> [params.toml] [--section NAME] [--set section.key=value ...]\n"
     << "                [--quiet|--verbose]\n"
     << "       pairpose run params.toml [--set ...]   every stage of the file, in order\n"
     << "       pairpose <stage> --help     the stage's parameters (run --help: [run]'s)\n"
     << "       pairpose --version | --help | --markdown\n\nstages:\n";
  for (const auto& s : stages()) {
    char line[256];
    std::snprintf(line, sizeof line, "  %-12s %s\n", s.name, s.summary);
    os << line;
  }
  os << "\nA parameter file is TOML with one table per stage ([simulate], [recover], ...);\n"
        "`--set` overrides any key. Run with mpirun -n N for N ranks.\n"
        "A labelled section [<stage>-<label>] (e.g. [simulate-test]) is another instance of\n"
        "the stage with its own parameters: `pairpose simulate file.toml --section\n"
        "simulate-test` runs it; `pairpose run` runs the sections listed in [run] stages\n"
        "(default: every section of the file, in pipeline order), skipping those whose\n"
        "record in [run] folder shows they finished with the same parameters and whose\n"
        "outputs exist (docs/running.md).\n";
  return os.str();
}

/// Fault injection for the reliability tests: PAIRPOSE_INJECT_FAULT=R makes rank R fail as the
/// stage starts while the other ranks go on into the stage's collectives; the job must still end
/// promptly with rank R's message.
void inject_fault(MPI_Comm comm) {
  const char* rank = std::getenv("PAIRPOSE_INJECT_FAULT");
  if (rank != nullptr && std::atoi(rank) == mpi::comm_rank(comm))
    PAIRPOSE_FAIL("injected fault on rank " << rank << " (PAIRPOSE_INJECT_FAULT)");
}

} // namespace

void check_stage_built(const std::string& section, const std::string& where) {
  const std::string base = section.substr(0, section.find('-'));
  if (stage_of_section(section) != nullptr) return;
  const char* reason = missing_stage_reason(base);
  PAIRPOSE_CHECK(reason == nullptr, where << ": section [" << section
                                          << "]: this build of pairpose "
                                          << "has no stage '" << base << "' (" << reason << ")");
}

const Stage* stage_of_section(const std::string& section) {
  if (const Stage* s = find_stage(section)) return s;
  const auto dash = section.find('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == section.size()) return nullptr;
  for (char c : section.substr(dash + 1)) // a label names files (run records): keep it plain
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return nullptr;
  return find_stage(section.substr(0, dash));
}

config::Schema section_schema(const Stage& stage, const std::string& section) {
  config::Schema schema(section, stage.summary);
  stage.declare(schema);
  return schema;
}

std::vector<config::Schema> all_schemas() {
  std::vector<config::Schema> out;
  for (const auto& s : stages())
    out.push_back(schema_of(s));
  out.push_back(run_schema());
  return out;
}

std::vector<config::Schema> schemas_for(const config::ParameterFile& file,
                                        const std::vector<config::Override>& overrides) {
  auto named = [&](const Stage& stage) {
    for (const auto& section : file.sections())
      if (stage_of_section(section) == &stage) return true;
    for (const auto& o : overrides)
      if (stage_of_section(o.section) == &stage) return true;
    return false;
  };
  std::vector<config::Schema> out;
  for (const auto& s : stages())
    if (!s.declare_on_demand || named(s)) out.push_back(schema_of(s));
  out.push_back(run_schema());
  auto add = [&](const std::string& section, const std::string& where) {
    check_stage_built(section, where);
    const Stage* stage = stage_of_section(section);
    if (stage == nullptr || section == stage->name) return; // unknown: validate() says so
    for (const auto& s : out)
      if (s.section() == section) return;
    out.push_back(section_schema(*stage, section));
  };
  for (const auto& section : file.sections())
    add(section, file.name());
  for (const auto& o : overrides)
    add(o.section, "--set " + o.section + "." + o.key);
  return out;
}

std::string parameters_markdown() {
  std::string out =
      "# pairpose parameters\n\n"
      "Generated by `pairpose --markdown` from the declarations in the code; a test checks that\n"
      "this file matches them. A parameter file holds one TOML table per stage; any key can be\n"
      "overridden on the command line with `--set stage.key=value`. Unknown keys, wrong types and\n"
      "values out of range are errors. A labelled table `[<stage>-<label>]` holds the\n"
      "parameters of another instance of the stage (docs/running.md).\n\n";
  for (const auto& schema : all_schemas())
    out += schema.markdown() + "\n";
  return out;
}

Invocation parse_arguments(const std::vector<std::string>& args) {
  Invocation inv;
  inv.command = args[0];
  if (inv.command != "run") check_stage_built(inv.command, "pairpose " + inv.command);
  PAIRPOSE_CHECK(inv.command == "run" || find_stage(inv.command) != nullptr,
                 "unknown stage '" << args[0] << "' (pairpose --help lists them)");
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--set" || a == "--section") {
      PAIRPOSE_CHECK(i + 1 < args.size(),
                     a << (a == "--set" ? " needs section.key=value" : " needs a section name"));
      if (a == "--set")
        inv.overrides.push_back(config::parse_override(args[++i]));
      else
        inv.section = args[++i];
    } else if (a.rfind("--set=", 0) == 0) {
      inv.overrides.push_back(config::parse_override(a.substr(6)));
    } else if (a.rfind("--section=", 0) == 0) {
      inv.section = a.substr(10);
    } else if (a == "--quiet") {
      inv.level = LogLevel::quiet;
    } else if (a == "--verbose") {
      inv.level = LogLevel::debug;
    } else if (!a.empty() && a[0] == '-') {
      PAIRPOSE_FAIL("unknown option '" << a << "' (pairpose " << args[0] << " --help)");
    } else {
      PAIRPOSE_CHECK(inv.file.empty(),
                     "more than one parameter file given: '" << inv.file << "' and '" << a << "'");
      inv.file = a;
    }
  }
  if (inv.command == "run") {
    PAIRPOSE_CHECK(inv.section.empty(), "pairpose run: --section is for single stages (list "
                                        "the sections to run in [run] stages)");
    PAIRPOSE_CHECK(!inv.file.empty(), "pairpose run needs a parameter file");
  } else if (inv.section.empty()) {
    inv.section = inv.command;
  } else {
    PAIRPOSE_CHECK(stage_of_section(inv.section) == find_stage(inv.command),
                   "--section " << inv.section << ": not a section of stage '" << inv.command
                                << "' (expected " << inv.command << " or " << inv.command
                                << "-<label>)");
  }
  return inv;
}

config::Params resolve_section(const Stage& stage, const std::string& section,
                               const config::ParameterFile& file,
                               const std::vector<config::Override>& overrides) {
  auto params = config::resolve(section_schema(stage, section), file, overrides);
  if (params.has("run_folder") && params.string("run_folder").empty())
    params.set("run_folder", config::resolve(run_schema(), file, overrides).string("folder"));
  return params;
}

void execute_stage(const Stage& stage, const config::Params& params, MPI_Comm comm,
                   LogLevel level) {
  Logger log(comm, level);
  TimerOutput timers(comm);
  StageContext ctx{comm, params, log, timers, make_provenance(params)};
  const std::string section = params.section() == stage.name ? "" : " [" + params.section() + "]";
  log.info("pairpose {} ({}) {}{}: {} rank(s)", version_string, version_git, stage.name, section,
           mpi::comm_size(comm));
  log.debug("resolved parameters:\n{}", params.to_toml());
  {
    auto total = timers.scope("total");
    inject_fault(comm);
    stage.run(ctx);
  }
  timers.summary(log);
}

int run_command_line(const std::vector<std::string>& args, MPI_Comm comm) {
  const bool root = mpi::comm_rank(comm) == 0;
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    if (root) std::fputs(usage().c_str(), stdout);
    return args.empty() ? 1 : 0;
  }
  if (args[0] == "--version") {
    if (root) std::printf("pairpose %s (%s)\n", version_string, version_git);
    return 0;
  }
  if (args[0] == "--markdown") {
    if (root) std::fputs(parameters_markdown().c_str(), stdout);
    return 0;
  }
  bool help = false;
  for (const auto& a : args)
    help = help || a == "--help" || a == "-h";
  if (help) {
    if (args[0] != "run") check_stage_built(args[0], "pairpose " + args[0]);
    const Stage* s = find_stage(args[0]);
    PAIRPOSE_CHECK(s != nullptr || args[0] == "run",
                   "unknown stage '" << args[0] << "' (pairpose --help lists them)");
    if (root) std::fputs((s ? schema_of(*s) : run_schema()).help_text().c_str(), stdout);
    return 0;
  }

  // Configuration: every rank parses the same input; a problem is reported once, by rank 0.
  Invocation inv;
  config::Params params;
  std::string problem;
  try {
    inv = parse_arguments(args);
    if (inv.command != "run") {
      config::ParameterFile file;
      if (!inv.file.empty()) file = config::ParameterFile::load(inv.file);
      const auto schemas = schemas_for(file, inv.overrides);
      config::validate(file, schemas);
      config::validate_overrides(inv.overrides, schemas);
      params = resolve_section(*find_stage(inv.command), inv.section, file, inv.overrides);
    }
  } catch (const Error& e) {
    problem = e.what();
  }
  mpi::agree_or_throw(problem, comm);
  if (inv.command == "run") return run_pipeline(inv, comm);
  execute_stage(*find_stage(inv.command), params, comm, inv.level);
  return 0;
}

} // namespace pairpose::app
