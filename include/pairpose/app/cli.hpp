#pragma once
/// @file cli.hpp
/// The pairpose command line: `pairpose <stage> [params.toml] [--set section.key=value ...]`.
#include <mpi.h>
#include <string>
#include <vector>

#include "pairpose/config/params.hpp"
#include "pairpose/core/stage.hpp"

namespace pairpose::app {

struct Stage {
  const char* name;
  const char* summary;
  void (*declare)(config::Schema&);
  void (*run)(StageContext&);
};

/// Every stage, in pipeline order.
const std::vector<Stage>& stages();
/// The schemas of every stage (what a parameter file may contain).
std::vector<config::Schema> all_schemas();
/// docs/parameters.md: generated from the declarations.
std::string parameters_markdown();

/// Runs the command line on `comm`; returns the process exit code. Errors throw pairpose::Error
/// (or CollectiveError when every rank failed alike).
int run_command_line(const std::vector<std::string>& args, MPI_Comm comm);

} // namespace pairpose::app
