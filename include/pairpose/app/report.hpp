#pragma once
/// @file report.hpp
/// `pairpose report`: one self-contained HTML page about a run (`pairpose run`'s folder): the
/// sections with their status and timings (from the stage records), the figures of the JSON
/// summaries the sections wrote (any `summary` parameter: E_OR, physical error, FSC
/// resolutions, whatever keys exist), every PNG of their plot folders (any `plots` parameter),
/// and each section's resolved parameters. Images are embedded as base64 data URIs and the CSS
/// is inline: the page needs no network and no other file. Written by rank 0, atomically.
#include <string>
#include <utility>
#include <vector>

#include "pairpose/config/params.hpp"
#include "pairpose/core/stage.hpp"

namespace pairpose::app {

/// Parameters of [report]: run_folder, output, title, plots, summaries.
void declare_report(config::Schema& s);
/// Collective; rank 0 reads the records and files and writes the page.
void run_report(StageContext& ctx);
/// The page's path: [report] output, or <run_folder>/report.html when empty.
std::string report_output(const config::Params& params);

/// The scalar values of a JSON document, depth first, as (dotted path, value text) pairs:
/// strings unquoted, numbers and true/false/null as written; a short array of scalars (≤ 8)
/// as "[a, b, ...]", a longer one as "[n values]". Throws pairpose::Error naming `name` and the
/// offset on malformed JSON.
std::vector<std::pair<std::string, std::string>> flatten_json(const std::string& text,
                                                              const std::string& name);
/// RFC 4648 base64 of `bytes`.
std::string base64(const std::string& bytes);
/// Text with &, <, >, " and ' escaped for HTML.
std::string html_escape(const std::string& text);

} // namespace pairpose::app
