#pragma once
/// @file stage.hpp
/// What a stage of the pipeline receives when it runs. Each stage module provides two functions,
/// `void declare_<stage>(config::Schema&)` (its parameters, declared once) and
/// `void run_<stage>(StageContext&)`; src/app/stages.cpp lists them.
#include <mpi.h>
#include <string>

#include "pairpose/config/params.hpp"
#include "pairpose/core/log.hpp"

namespace pairpose {

struct StageContext {
  MPI_Comm comm;                 ///< the stage's communicator (all ranks of the job)
  const config::Params& params;  ///< this stage's resolved parameters
  const Logger& log;             ///< rank-0 logger
  TimerOutput& timers;           ///< per-section timers, summarised after the stage
  /// Text to store with every output: program version, git revision, stage, resolved
  /// parameters (TOML). HDF5 outputs store it as an attribute, MRC and STAR outputs beside them
  /// (see config/provenance.hpp).
  std::string provenance;
};

} // namespace pairpose
