#pragma once
/// @file record.hpp
/// The record a section of `pairpose run` leaves in `<folder>/stages/<section>.toml`: a small
/// TOML file, written atomically by rank 0, read by the skip test and by `pairpose report`.
///
///     section = "simulate-test"      stage = "simulate"      status = "finished"
///     version = "0.1.0 (abc1234)"    started = "2026-11-27T05:40:00Z"
///     finished = "2026-11-27T05:40:12Z"   wall_seconds = 12.3   ranks = 2   error = ""
///     [parameters]                   the resolved parameters, as `pairpose <stage>` used them
#include <cstdint>
#include <string>
#include <vector>

#include "pairpose/config/params.hpp"

namespace pairpose::app {

struct StageRecord {
  std::string section, stage;
  std::string status;   ///< "running" (started; a killed run leaves it), "finished", "failed"
  std::string version;  ///< program version and git revision
  std::string started;  ///< UTC, ISO 8601
  std::string finished; ///< UTC, ISO 8601; empty while running
  double wall_seconds = 0;
  std::int64_t ranks = 0;
  std::string error;      ///< the message of a failed section
  std::string parameters; ///< the resolved parameters: "[section]\nkey = value\n..."
};

/// `<folder>/stages/<section>.toml`.
std::string record_path(const std::string& folder, const std::string& section);
/// Writes the record atomically (parent folders created). Call on one rank.
void write_record(const std::string& path, const StageRecord& record);
/// Reads a record; throws pairpose::Error naming the file when it is not a valid record.
StageRecord read_record(const std::string& path);
/// Every valid record of a run folder, in the order the sections started (none: empty).
std::vector<StageRecord> read_records(const std::string& folder);
/// True when the record's parameters are those of `params` (same keys, types and values).
bool same_parameters(const StageRecord& record, const config::Params& params);
/// The current time, UTC, ISO 8601 with milliseconds ("2026-11-27T05:40:00.123Z").
std::string utc_now();

} // namespace pairpose::app
