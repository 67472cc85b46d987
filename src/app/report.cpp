#include "pairpose/app/report.hpp"

#include <algorithm>
#include <filesystem>
#include <fmt/format.h>
#include <sstream>
#include <toml++/toml.h>

#include "pairpose/app/record.hpp"
#include "pairpose/core/error.hpp"
#include "pairpose/core/files.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/version.hpp"

namespace pairpose::app {

namespace {

const char* const style = R"(
body { font-family: sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; margin-top: 1.6em; }
p.meta { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; }
th { background: #f2f2f2; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.failed, td.running { color: #b00; font-weight: bold; } td.finished { color: #070; }
div.bar { background: #4a7fb5; height: 0.8em; min-width: 1px; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; }
figure img { max-width: 32em; border: 1px solid #ddd; }
figcaption { font-size: 0.85em; color: #555; }
pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; }
)";

/// A string parameter of a recorded section ("" when absent).
std::string recorded_string(const StageRecord& r, const std::string& key) {
  try {
    const auto root = toml::parse(r.parameters, r.section);
    for (auto&& [name, node] : root)
      if (const auto* t = node.as_table())
        if (const auto* v = t->get(key); v != nullptr && v->is_string())
          return std::string(*v->value<std::string>());
  } catch (const toml::parse_error&) {
  }
  return "";
}

std::string duration_text(double seconds) {
  if (seconds < 60) return fmt::format("{:.1f} s", seconds);
  const int total = static_cast<int>(seconds + 0.5);
  if (total < 3600) return fmt::format("{} min {:02d} s", total / 60, total % 60);
  return fmt::format("{} h {:02d} min", total / 3600, (total / 60) % 60);
}

void timings_section(std::ostringstream& os, const std::vector<StageRecord>& records) {
  double longest = 0, total = 0;
  for (const auto& r : records) {
    longest = std::max(longest, r.wall_seconds);
    total += r.wall_seconds;
  }
  os << "<h2>Stages and timings</h2>\n<table>\n<tr><th>section</th><th>stage</th><th>status</th>"
        "<th>started (UTC)</th><th>wall time</th><th>ranks</th><th></th></tr>\n";
  for (const auto& r : records) {
    const double width = longest > 0 ? 100.0 * r.wall_seconds / longest : 0.0;
    os << "<tr><td>" << html_escape(r.section) << "</td><td>" << html_escape(r.stage)
       << "</td><td class=\"" << html_escape(r.status) << "\">" << html_escape(r.status)
       << "</td><td>" << html_escape(r.started) << "</td><td class=\"num\">"
       << duration_text(r.wall_seconds) << "</td><td class=\"num\">" << r.ranks
       << "</td><td style=\"width:12em\"><div class=\"bar\" style=\"width:"
       << fmt::format("{:.1f}", width) << "%\"></div></td></tr>\n";
    if (!r.error.empty())
      os << "<tr><td></td><td colspan=\"6\"><pre>" << html_escape(r.error) << "</pre></td></tr>\n";
  }
  os << "<tr><th colspan=\"4\">total</th><td class=\"num\">" << duration_text(total)
     << "</td><td></td><td></td></tr>\n</table>\n";
}

/// One table per JSON summary; a file that is missing or unreadable is noted, not fatal.
void summaries_section(std::ostringstream& os,
                       const std::vector<std::pair<std::string, std::string>>& summaries) {
  if (summaries.empty()) return;
  os << "<h2>Results</h2>\n";
  for (const auto& [label, path] : summaries) {
    os << "<h3>" << html_escape(label) << ": " << html_escape(path) << "</h3>\n";
    std::vector<std::pair<std::string, std::string>> values;
    try {
      values = flatten_json(read_file(path), path);
    } catch (const Error& e) {
      os << "<p>not readable: " << html_escape(e.what()) << "</p>\n";
      continue;
    }
    os << "<table>\n<tr><th>quantity</th><th>value</th></tr>\n";
    for (const auto& [key, value] : values) {
      if (key == "provenance") continue; // the parameters are listed below
      os << "<tr><td>" << html_escape(key) << "</td><td class=\"num\">" << html_escape(value)
         << "</td></tr>\n";
    }
    os << "</table>\n";
  }
}

bool is_png(const std::string& bytes) { return bytes.rfind("\x89PNG\r\n\x1a\n", 0) == 0; }

/// Every PNG of each folder, embedded; returns the number embedded.
int figures_section(std::ostringstream& os,
                    const std::vector<std::pair<std::string, std::string>>& folders) {
  namespace fs = std::filesystem;
  int n_images = 0;
  std::ostringstream body;
  for (const auto& [label, folder] : folders) {
    std::error_code ec;
    if (!fs::is_directory(folder, ec)) continue;
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(folder, ec))
      if (entry.path().extension() == ".png") files.push_back(entry.path().string());
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      const std::string bytes = read_file(file);
      if (!is_png(bytes)) continue;
      body << "<figure><img src=\"data:image/png;base64," << base64(bytes) << "\" alt=\""
           << html_escape(fs::path(file).filename().string()) << "\"><figcaption>"
           << html_escape(label) << ": " << html_escape(file) << "</figcaption></figure>\n";
      ++n_images;
    }
  }
  if (n_images > 0) os << "<h2>Figures</h2>\n" << body.str();
  return n_images;
}

void parameters_section(std::ostringstream& os, const std::vector<StageRecord>& records) {
  os << "<h2>Parameters</h2>\n";
  for (const auto& r : records)
    os << "<details><summary>[" << html_escape(r.section) << "] " << html_escape(r.version)
       << "</summary>\n<pre>" << html_escape(r.parameters) << "</pre></details>\n";
}

/// Rank 0: the page's HTML. Throws when there is nothing at all to report.
std::string make_report(const config::Params& p, std::string& note) {
  const std::string folder = p.string("run_folder");
  auto records = read_records(folder);
  // The report's own record (this section, still running) is no part of the run it reports.
  records.erase(std::remove_if(records.begin(), records.end(),
                               [&](const StageRecord& r) { return r.section == p.section(); }),
                records.end());
  std::vector<std::pair<std::string, std::string>> summaries, plot_folders;
  for (const auto& r : records) {
    const std::string summary = recorded_string(r, "summary");
    const std::string plots = recorded_string(r, "plots");
    if (!summary.empty()) summaries.emplace_back("[" + r.section + "]", summary);
    if (!plots.empty()) plot_folders.emplace_back("[" + r.section + "]", plots);
  }
  for (const auto& s : p.string_list("summaries"))
    summaries.emplace_back("summary", s);
  for (const auto& f : p.string_list("plots"))
    plot_folders.emplace_back("plots", f);
  PAIRPOSE_CHECK(!records.empty() || !summaries.empty() || !plot_folders.empty(),
                 "[report] nothing to report: no stage records in "
                     << join_path(folder, "stages") << " (run pairpose run first) and no "
                     << "summaries or plots given");

  std::ostringstream os, figures;
  const int n_images = figures_section(figures, plot_folders);
  os << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>"
     << html_escape(p.string("title")) << "</title>\n<style>" << style << "</style>\n</head>\n"
     << "<body>\n<h1>" << html_escape(p.string("title")) << "</h1>\n<p class=\"meta\">run folder "
     << html_escape(folder) << " &middot; report made " << utc_now() << " by pairpose "
     << version_string << " (" << version_git << ")</p>\n";
  if (!records.empty()) timings_section(os, records);
  summaries_section(os, summaries);
  os << figures.str();
  if (!records.empty()) parameters_section(os, records);
  os << "</body>\n</html>\n";
  note = fmt::format("{} section(s), {} summary file(s), {} image(s)", records.size(),
                     summaries.size(), n_images);
  return os.str();
}

} // namespace

void declare_report(config::Schema& s) {
  s.string("run_folder", "",
           "Run folder whose stage records (stages/*.toml) to gather; empty = [run] folder.");
  s.string("output", "", "The HTML page to write; empty = <run_folder>/report.html.");
  s.string("title", "pairpose run", "Title of the page.");
  s.string_list("plots", {},
                "More folders whose PNG files to include, beside the plots folders of the "
                "recorded sections.");
  s.string_list("summaries", {},
                "More JSON summaries to include, beside those of the recorded sections.");
}

std::string report_output(const config::Params& p) {
  const std::string output = p.string("output");
  return output.empty() ? join_path(p.string("run_folder"), "report.html") : output;
}

void run_report(StageContext& ctx) {
  std::string problem, note;
  const std::string path = report_output(ctx.params);
  if (mpi::comm_rank(ctx.comm) == 0) {
    try {
      auto t = ctx.timers.scope("report");
      const std::string html = make_report(ctx.params, note);
      make_parent_folders(path);
      write_file_atomic(path, html);
    } catch (const Error& e) {
      problem = e.what();
    }
  }
  mpi::agree_or_throw(problem, ctx.comm);
  ctx.log.info("report: {} ({})", path, note);
}

} // namespace pairpose::app
