#include "pairpose/app/record.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fmt/format.h>
#include <sstream>
#include <toml++/toml.h>

#include "pairpose/core/error.hpp"
#include "pairpose/core/files.hpp"

namespace pairpose::app {

namespace {

/// The inner table of a "[section]\n..." text (empty when it has none).
toml::table parameter_table(const std::string& text, const std::string& name) {
  toml::table root;
  try {
    root = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    PAIRPOSE_FAIL(name << ": cannot read the parameters: " << e.description());
  }
  for (auto&& [key, node] : root)
    if (node.is_table()) return *node.as_table();
  return {};
}

std::string text_of(const toml::node* n) {
  return n != nullptr && n->is_string() ? std::string(*n->value<std::string>()) : std::string();
}

} // namespace

std::string record_path(const std::string& folder, const std::string& section) {
  return join_path(join_path(folder, "stages"), section + ".toml");
}

std::string utc_now() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t seconds = system_clock::to_time_t(now);
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[40];
  const auto n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(text + n, sizeof text - n, ".%03dZ", static_cast<int>(ms));
  return text;
}

void write_record(const std::string& path, const StageRecord& r) {
  auto quoted = [](const std::string& text) {
    std::ostringstream q;
    q << toml::value<std::string>(text);
    return q.str();
  };
  const std::string params = r.parameters.substr(r.parameters.find('\n') + 1);
  parameter_table(r.parameters, path); // must be valid TOML
  std::ostringstream os;
  os << "# pairpose run: record of section [" << r.section << "]\n"
     << "section = " << quoted(r.section) << "\nstage = " << quoted(r.stage)
     << "\nstatus = " << quoted(r.status) << "\nversion = " << quoted(r.version)
     << "\nstarted = " << quoted(r.started) << "\nfinished = " << quoted(r.finished)
     << "\nwall_seconds = " << fmt::format("{:.3f}", r.wall_seconds) << "\nranks = " << r.ranks
     << "\nerror = " << quoted(r.error) << "\n\n[parameters]\n"
     << params;
  make_parent_folders(path);
  write_file_atomic(path, os.str());
}

StageRecord read_record(const std::string& path) {
  const std::string text = read_file(path);
  toml::table t;
  try {
    t = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    PAIRPOSE_FAIL(path << ": not a stage record: " << e.description());
  }
  StageRecord r;
  r.section = text_of(t.get("section"));
  r.stage = text_of(t.get("stage"));
  r.status = text_of(t.get("status"));
  const auto params_at = text.find("\n[parameters]\n");
  PAIRPOSE_CHECK(!r.section.empty() && !r.stage.empty() && !r.status.empty() &&
                     params_at != std::string::npos,
                 path << ": not a stage record (section, stage, status or [parameters] missing)");
  r.version = text_of(t.get("version"));
  r.started = text_of(t.get("started"));
  r.finished = text_of(t.get("finished"));
  r.error = text_of(t.get("error"));
  r.wall_seconds = t["wall_seconds"].value_or(0.0);
  r.ranks = t["ranks"].value_or(std::int64_t{0});
  // The parameters as written (the text of Params::to_toml, under the section's name).
  r.parameters = "[" + r.section + "]\n" + text.substr(params_at + 14);
  return r;
}

std::vector<StageRecord> read_records(const std::string& folder) {
  namespace fs = std::filesystem;
  std::vector<StageRecord> out;
  const fs::path dir = fs::path(folder) / "stages";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".toml") continue;
    try {
      out.push_back(read_record(entry.path().string()));
    } catch (const Error&) {
      // not a record (a foreign file in the folder): left out
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const StageRecord& a, const StageRecord& b) {
    return a.started != b.started ? a.started < b.started : a.section < b.section;
  });
  return out;
}

bool same_parameters(const StageRecord& record, const config::Params& params) {
  return parameter_table(record.parameters, "record") ==
         parameter_table(params.to_toml(), "parameters");
}

} // namespace pairpose::app
