#pragma once
/// @file params.hpp
/// Parameters are declared once, in one place per stage, with their type, default, range, units
/// and one sentence of documentation:
///
///     void declare(config::Schema& s) {
///       s.integer("n_particles", 1000, 1, 1e9, "Number of particles to simulate.");
///       s.real("snr", 0.1, 0.0, 1e6, "Signal-to-noise ratio of the images.", "");
///       s.choice("orientations", "uniform", {"uniform", "half", "quarter"}, "...");
///     }
///
/// A parameter file is TOML with one table per stage ([simulate], [recover], ...). resolve()
/// takes a stage's table, applies `--set stage.key=value` overrides, checks every key against the
/// schema (unknown keys, wrong types, values out of range are errors naming the file, line and
/// key), and returns the resolved Params. Every output stores Params::to_toml() for provenance.
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace pairpose::config {

enum class Type { integer, real, boolean, string, choice, string_list };

/// A resolved value. string_list is stored as std::vector<std::string>.
using Value = std::variant<std::int64_t, double, bool, std::string, std::vector<std::string>>;

struct ParamSpec {
  std::string key;
  Type type = Type::string;
  Value default_value;
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  std::vector<std::string> choices; ///< for Type::choice
  std::string units;
  std::string doc;
};

/// The declared parameters of one section (stage).
class Schema {
public:
  Schema(std::string section, std::string summary);
  const std::string& section() const { return section_; }
  const std::string& summary() const { return summary_; }

  Schema& integer(std::string key, std::int64_t def, double min, double max, std::string doc,
                  std::string units = "");
  Schema& real(std::string key, double def, double min, double max, std::string doc,
               std::string units = "");
  Schema& boolean(std::string key, bool def, std::string doc);
  /// Free text; paths are strings ("" meaning not set).
  Schema& string(std::string key, std::string def, std::string doc);
  Schema& choice(std::string key, std::string def, std::vector<std::string> choices,
                 std::string doc);
  Schema& string_list(std::string key, std::vector<std::string> def, std::string doc);

  const std::vector<ParamSpec>& entries() const { return entries_; }
  const ParamSpec* find(const std::string& key) const;

  /// Text for `pairpose <stage> --help`.
  std::string help_text() const;
  /// Markdown table for docs/parameters.md.
  std::string markdown() const;

private:
  ParamSpec& add(ParamSpec spec);
  std::string section_, summary_;
  std::vector<ParamSpec> entries_;
};

/// Resolved parameters of one section: every declared key has a value.
class Params {
public:
  Params() = default;
  Params(std::string section, std::map<std::string, Value> values)
      : section_(std::move(section)), values_(std::move(values)) {}

  const std::string& section() const { return section_; }
  std::int64_t integer(const std::string& key) const;
  double real(const std::string& key) const;
  bool boolean(const std::string& key) const;
  /// For string and choice parameters.
  const std::string& string(const std::string& key) const;
  const std::vector<std::string>& string_list(const std::string& key) const;
  bool has(const std::string& key) const { return values_.count(key) != 0; }

  /// Replaces a value (type must match the stored one); for tests and for `run`.
  void set(const std::string& key, Value v);

  /// The section as TOML ("[section]\nkey = value\n..."), keys in sorted order.
  std::string to_toml() const;

private:
  const Value& get(const std::string& key) const;
  std::string section_;
  std::map<std::string, Value> values_;
};

/// One `--set section.key=value` override.
struct Override {
  std::string section, key, value;
};
/// Parses "section.key=value"; throws naming the argument when malformed.
Override parse_override(const std::string& arg);

/// A parsed parameter file (opaque; holds the TOML tree and the file name).
class ParameterFile {
public:
  ParameterFile();
  ~ParameterFile();
  ParameterFile(ParameterFile&&) noexcept;
  ParameterFile& operator=(ParameterFile&&) noexcept;
  /// Reads and parses; a syntax error names the file, line and column.
  static ParameterFile load(const std::string& path);
  /// Parses TOML text; `name` is used in messages.
  static ParameterFile parse(const std::string& text, const std::string& name);
  const std::string& name() const;
  bool empty() const;
  /// Top-level keys (section names) in the file.
  std::vector<std::string> sections() const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

private:
  Impl* impl_ = nullptr;
};

/// Checks the whole file against the known schemas: every top-level key must be a table named
/// after a schema's section, and every key in it must be declared there, of the right type and in
/// range. Throws pairpose::Error on the first problem.
void validate(const ParameterFile& file, const std::vector<Schema>& schemas);

/// Resolves one section: defaults, then the file's table (if any), then overrides for this
/// section (overrides for other sections are ignored here; validate them with
/// validate_overrides).
Params resolve(const Schema& schema, const ParameterFile& file,
               const std::vector<Override>& overrides);

/// Every override must name a known section and key and carry a value of the right type.
void validate_overrides(const std::vector<Override>& overrides, const std::vector<Schema>& schemas);

} // namespace pairpose::config
