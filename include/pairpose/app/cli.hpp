#pragma once
/// @file cli.hpp
/// The pairpose command line: `pairpose <stage> [params.toml] [--section NAME]
/// [--set section.key=value ...]` runs one stage; `pairpose run params.toml` runs the pipeline
/// (app/run.hpp).
///
/// Sections: a parameter file holds one table per stage ([simulate], [recover], ...). A stage may
/// also appear under labelled sections `[<stage>-<label>]` (e.g. [simulate-test]): each is an
/// instance of that stage with its own parameters, checked against the stage's schema, and run
/// alone with `pairpose <stage> file.toml --section <stage>-<label>`.
#include <mpi.h>
#include <string>
#include <vector>

#include "pairpose/config/params.hpp"
#include "pairpose/core/log.hpp"
#include "pairpose/core/stage.hpp"

namespace pairpose::app {

struct Stage {
  const char* name;
  const char* summary;
  void (*declare)(config::Schema&);
  void (*run)(StageContext&);
  /// Declared only when a parameter file or --set names the stage: declaring it is costly (the
  /// learn stages load the LibTorch plugin).
  bool declare_on_demand = false;
};

/// Every stage, in the order of the documentation.
const std::vector<Stage>& stages();
/// The schemas of every stage and of [run] (what a parameter file may contain, labels aside).
std::vector<config::Schema> all_schemas();
/// docs/parameters.md: generated from the declarations.
std::string parameters_markdown();

/// The stage a section belongs to: the stage named `section`, or the stage `<stage>` of a
/// labelled section `<stage>-<label>` (label: letters, digits, '_' and '-'); nullptr when neither.
const Stage* stage_of_section(const std::string& section);
/// Throws (prefixed by `where`) when `section` names a stage, or a label of one, that this build
/// lacks (train and embed without LibTorch).
void check_stage_built(const std::string& section, const std::string& where);
/// The stage's parameters declared under the section's name (labelled sections).
config::Schema section_schema(const Stage& stage, const std::string& section);
/// The schemas a parameter file and overrides may use: all_schemas() plus one per labelled
/// section they name. Throws naming the section when it belongs to a stage this build lacks.
std::vector<config::Schema> schemas_for(const config::ParameterFile& file,
                                        const std::vector<config::Override>& overrides);

/// A parsed command line.
struct Invocation {
  std::string command; ///< a stage's name, or "run"
  std::string section; ///< the section to run (--section; default: the stage's name)
  std::string file;    ///< parameter file ("" = defaults only)
  std::vector<config::Override> overrides;
  LogLevel level = LogLevel::info;
};
/// Parses the arguments after the program name; throws pairpose::Error on bad options.
Invocation parse_arguments(const std::vector<std::string>& args);

/// Resolves one section of a validated file: defaults, the file's table, the overrides. A
/// parameter `run_folder` left empty is set to the file's [run] folder.
config::Params resolve_section(const Stage& stage, const std::string& section,
                               const config::ParameterFile& file,
                               const std::vector<config::Override>& overrides);

/// Runs one resolved section on `comm` exactly as `pairpose <stage>` does: logger, timers,
/// provenance, the stage's function, the timer summary. Collective; errors propagate.
void execute_stage(const Stage& stage, const config::Params& params, MPI_Comm comm, LogLevel level);

/// Runs the command line on `comm`; returns the process exit code. Errors throw pairpose::Error
/// (or CollectiveError when every rank failed alike).
int run_command_line(const std::vector<std::string>& args, MPI_Comm comm);

} // namespace pairpose::app
