#pragma once
/// @file run.hpp
/// `pairpose run params.toml`: the whole pipeline from one parameter file. The sections listed
/// in [run] stages (default: every section of the file, in pipeline order) run one after the
/// other in this process, on the same communicator, exactly as `pairpose <stage>` would.
///
/// Each section leaves a record `<run.folder>/stages/<section>.toml` (written by rank 0,
/// atomically): stage, status (running / finished / failed), version, start and end time (UTC),
/// wall seconds, ranks, the error message of a failed section, and the resolved parameters as
/// the table [parameters]. A section whose record says finished with the same resolved
/// parameters, and whose outputs exist (section_outputs), is skipped ("skipped: unchanged");
/// once a section has run, every later one runs too. A stopped run therefore continues where it
/// stopped. A failing section stops the run (its record: failed), and the error propagates.
#include <mpi.h>
#include <string>
#include <vector>

#include "pairpose/app/cli.hpp"
#include "pairpose/config/params.hpp"

namespace pairpose::app {

/// Parameters of [run]: stages, folder, force.
void declare_run(config::Schema& s);

/// What a finished section leaves behind, for the skip test.
struct StageOutput {
  std::string file;  ///< a file that must exist
  std::string array; ///< when not empty: a complete array of the HDF5 dataset `file`
};
/// The outputs of a section run with `params` (explicit per stage). Empty for a stage the table
/// does not know: such a section always runs.
std::vector<StageOutput> section_outputs(const Stage& stage, const config::Params& params);

/// The sections to run, in order: [run] stages, or every section of the file (but [run]) in
/// pipeline order, labelled sections after their stage's own. Throws naming a listed entry that
/// is not a section of a stage of this build, or that is listed twice.
std::vector<std::string> run_sections(const config::ParameterFile& file,
                                      const config::Params& run_params);

/// Runs the pipeline for a parsed `pairpose run` command line (collective). Returns the exit
/// code (0); a failing section throws.
int run_pipeline(const Invocation& inv, MPI_Comm comm);

} // namespace pairpose::app
