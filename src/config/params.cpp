#include "pairpose/config/params.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <sstream>
#include <toml++/toml.h>

#include "pairpose/core/error.hpp"

namespace pairpose::config {

// ---------------------------------------------------------------------------------------------
// Schema

Schema::Schema(std::string section, std::string summary)
    : section_(std::move(section)), summary_(std::move(summary)) {}

ParamSpec& Schema::add(ParamSpec spec) {
  PAIRPOSE_CHECK(find(spec.key) == nullptr,
                 "parameter [" << section_ << "] " << spec.key << " declared twice");
  entries_.push_back(std::move(spec));
  return entries_.back();
}

Schema& Schema::integer(std::string key, std::int64_t def, double min, double max,
                        std::string doc, std::string units) {
  PAIRPOSE_CHECK(def >= min && def <= max, "default of " << key << " out of its range");
  add({std::move(key), Type::integer, def, min, max, {}, std::move(units), std::move(doc)});
  return *this;
}
Schema& Schema::real(std::string key, double def, double min, double max, std::string doc,
                     std::string units) {
  PAIRPOSE_CHECK(def >= min && def <= max, "default of " << key << " out of its range");
  add({std::move(key), Type::real, def, min, max, {}, std::move(units), std::move(doc)});
  return *this;
}
Schema& Schema::boolean(std::string key, bool def, std::string doc) {
  ParamSpec s;
  s.key = std::move(key);
  s.type = Type::boolean;
  s.default_value = def;
  s.doc = std::move(doc);
  add(std::move(s));
  return *this;
}
Schema& Schema::string(std::string key, std::string def, std::string doc) {
  ParamSpec s;
  s.key = std::move(key);
  s.type = Type::string;
  s.default_value = std::move(def);
  s.doc = std::move(doc);
  add(std::move(s));
  return *this;
}
Schema& Schema::choice(std::string key, std::string def, std::vector<std::string> choices,
                       std::string doc) {
  PAIRPOSE_CHECK(std::find(choices.begin(), choices.end(), def) != choices.end(),
                 "default of " << key << " not among its choices");
  ParamSpec s;
  s.key = std::move(key);
  s.type = Type::choice;
  s.default_value = std::move(def);
  s.choices = std::move(choices);
  s.doc = std::move(doc);
  add(std::move(s));
  return *this;
}
Schema& Schema::string_list(std::string key, std::vector<std::string> def, std::string doc) {
  ParamSpec s;
  s.key = std::move(key);
  s.type = Type::string_list;
  s.default_value = std::move(def);
  s.doc = std::move(doc);
  add(std::move(s));
  return *this;
}

const ParamSpec* Schema::find(const std::string& key) const {
  for (const auto& e : entries_)
    if (e.key == key) return &e;
  return nullptr;
}

namespace {

std::string type_name(Type t) {
  switch (t) {
  case Type::integer: return "integer";
  case Type::real: return "real";
  case Type::boolean: return "boolean";
  case Type::string: return "string";
  case Type::choice: return "choice";
  case Type::string_list: return "list of strings";
  }
  return "?";
}

std::string format_number(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{:g}", v);
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string value_text(const Value& v) {
  struct V {
    std::string operator()(std::int64_t x) const { return std::to_string(x); }
    std::string operator()(double x) const {
      std::string s = fmt::format("{}", x);
      if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
      return s;
    }
    std::string operator()(bool x) const { return x ? "true" : "false"; }
    std::string operator()(const std::string& x) const { return quote(x); }
    std::string operator()(const std::vector<std::string>& x) const {
      std::string s = "[";
      for (size_t i = 0; i < x.size(); ++i) s += (i ? ", " : "") + quote(x[i]);
      return s + "]";
    }
  };
  return std::visit(V{}, v);
}

std::string range_text(const ParamSpec& s) {
  if (s.type == Type::choice) {
    std::string out;
    for (size_t i = 0; i < s.choices.size(); ++i) out += (i ? " | " : "") + s.choices[i];
    return out;
  }
  if (s.type != Type::integer && s.type != Type::real) return "";
  return "[" + format_number(s.min) + ", " + format_number(s.max) + "]";
}

} // namespace

std::string Schema::help_text() const {
  std::ostringstream os;
  os << "pairpose " << section_ << ": " << summary_ << "\n\nParameters (table [" << section_
     << "] of the parameter file, or --set " << section_ << ".KEY=VALUE):\n";
  for (const auto& e : entries_) {
    os << "  " << e.key << " (" << type_name(e.type);
    if (!e.units.empty()) os << ", " << e.units;
    const std::string r = range_text(e);
    if (!r.empty()) os << ", " << r;
    os << ") default " << value_text(e.default_value) << "\n      " << e.doc << "\n";
  }
  return os.str();
}

std::string Schema::markdown() const {
  std::ostringstream os;
  os << "## `[" << section_ << "]`\n\n" << summary_ << "\n\n";
  os << "| key | type | default | range | units | meaning |\n|---|---|---|---|---|---|\n";
  for (const auto& e : entries_) {
    std::string r = range_text(e);
    std::replace(r.begin(), r.end(), '|', '/');
    os << "| `" << e.key << "` | " << type_name(e.type) << " | `" << value_text(e.default_value)
       << "` | " << r << " | " << e.units << " | " << e.doc << " |\n";
  }
  return os.str();
}

// ---------------------------------------------------------------------------------------------
// Params

const Value& Params::get(const std::string& key) const {
  auto it = values_.find(key);
  PAIRPOSE_CHECK(it != values_.end(), "internal: parameter [" << section_ << "] " << key
                                                              << " was never declared");
  return it->second;
}

template <class T> static const T& typed(const Value& v, const std::string& sec, const std::string& key) {
  const T* p = std::get_if<T>(&v);
  PAIRPOSE_CHECK(p != nullptr, "internal: parameter [" << sec << "] " << key
                                                      << " read with the wrong type");
  return *p;
}

std::int64_t Params::integer(const std::string& key) const {
  return typed<std::int64_t>(get(key), section_, key);
}
double Params::real(const std::string& key) const { return typed<double>(get(key), section_, key); }
bool Params::boolean(const std::string& key) const { return typed<bool>(get(key), section_, key); }
const std::string& Params::string(const std::string& key) const {
  return typed<std::string>(get(key), section_, key);
}
const std::vector<std::string>& Params::string_list(const std::string& key) const {
  return typed<std::vector<std::string>>(get(key), section_, key);
}

void Params::set(const std::string& key, Value v) {
  PAIRPOSE_CHECK(get(key).index() == v.index(),
                 "parameter [" << section_ << "] " << key << " set with a value of another type");
  values_[key] = std::move(v);
}

std::string Params::to_toml() const {
  std::string out = "[" + section_ + "]\n";
  for (const auto& [k, v] : values_) out += k + " = " + value_text(v) + "\n";
  return out;
}

// ---------------------------------------------------------------------------------------------
// Parameter files

struct ParameterFile::Impl {
  std::string name;
  toml::table root;
};

ParameterFile::ParameterFile() : impl_(new Impl) {}
ParameterFile::~ParameterFile() { delete impl_; }
ParameterFile::ParameterFile(ParameterFile&& o) noexcept : impl_(o.impl_) { o.impl_ = nullptr; }
ParameterFile& ParameterFile::operator=(ParameterFile&& o) noexcept {
  std::swap(impl_, o.impl_);
  return *this;
}
const std::string& ParameterFile::name() const { return impl_->name; }
bool ParameterFile::empty() const { return impl_->root.empty(); }

ParameterFile ParameterFile::parse(const std::string& text, const std::string& name) {
  ParameterFile f;
  f.impl_->name = name;
  try {
    f.impl_->root = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    PAIRPOSE_FAIL(name << ":" << e.source().begin.line << ":" << e.source().begin.column
                       << ": TOML syntax error: " << e.description());
  }
  return f;
}

ParameterFile ParameterFile::load(const std::string& path) {
  std::ifstream probe(path);
  PAIRPOSE_CHECK(probe.good(), path << ": cannot open parameter file");
  std::stringstream ss;
  ss << probe.rdbuf();
  return parse(ss.str(), path);
}

std::vector<std::string> ParameterFile::sections() const {
  std::vector<std::string> out;
  for (auto&& [k, v] : impl_->root) out.emplace_back(k.str());
  return out;
}

namespace {

std::string where(const std::string& file, const toml::node& node) {
  const auto& src = node.source();
  if (src.begin.line == 0) return file;
  return file + ":" + std::to_string(src.begin.line);
}

std::string describe(const toml::node& n) {
  switch (n.type()) {
  case toml::node_type::string: return "string \"" + std::string(*n.value<std::string>()) + "\"";
  case toml::node_type::integer: return "integer " + std::to_string(*n.value<std::int64_t>());
  case toml::node_type::floating_point: return "real " + format_number(*n.value<double>());
  case toml::node_type::boolean: return *n.value<bool>() ? "true" : "false";
  case toml::node_type::array: return "an array";
  case toml::node_type::table: return "a table";
  default: return "a date or time";
  }
}

void check_range(const ParamSpec& s, double v, const std::string& at, const std::string& section) {
  PAIRPOSE_CHECK(std::isfinite(v) || (s.type == Type::real && std::isinf(v) && v >= s.min && v <= s.max),
                 at << ": [" << section << "] " << s.key << " must be a finite number");
  PAIRPOSE_CHECK(v >= s.min && v <= s.max, at << ": [" << section << "] " << s.key << " = "
                                              << format_number(v) << " is out of range "
                                              << range_text(s));
}

/// Converts one TOML node to the declared type, or throws naming `at`, section and key.
Value convert(const ParamSpec& s, const toml::node& n, const std::string& at,
              const std::string& section) {
  auto wrong = [&]() -> Value {
    PAIRPOSE_FAIL(at << ": [" << section << "] " << s.key << ": expected " << type_name(s.type)
                     << (s.type == Type::choice ? " (" + range_text(s) + ")" : "") << ", got "
                     << describe(n));
  };
  switch (s.type) {
  case Type::integer: {
    if (!n.is_integer()) return wrong();
    const std::int64_t v = *n.value<std::int64_t>();
    check_range(s, static_cast<double>(v), at, section);
    return v;
  }
  case Type::real: {
    if (!n.is_number()) return wrong();
    const double v = *n.value<double>();
    check_range(s, v, at, section);
    return v;
  }
  case Type::boolean:
    if (!n.is_boolean()) return wrong();
    return *n.value<bool>();
  case Type::string:
    if (!n.is_string()) return wrong();
    return std::string(*n.value<std::string>());
  case Type::choice: {
    if (!n.is_string()) return wrong();
    std::string v(*n.value<std::string>());
    PAIRPOSE_CHECK(std::find(s.choices.begin(), s.choices.end(), v) != s.choices.end(),
                   at << ": [" << section << "] " << s.key << " = \"" << v
                      << "\" is not one of " << range_text(s));
    return v;
  }
  case Type::string_list: {
    std::vector<std::string> out;
    if (n.is_string()) return std::vector<std::string>{std::string(*n.value<std::string>())};
    if (!n.is_array()) return wrong();
    for (const auto& el : *n.as_array()) {
      if (!el.is_string()) return wrong();
      out.emplace_back(*el.value<std::string>());
    }
    return out;
  }
  }
  return wrong();
}

const Schema* find_schema(const std::vector<Schema>& schemas, const std::string& section) {
  for (const auto& s : schemas)
    if (s.section() == section) return &s;
  return nullptr;
}

std::string known_sections(const std::vector<Schema>& schemas) {
  std::string out;
  for (const auto& s : schemas) out += (out.empty() ? "" : ", ") + s.section();
  return out;
}

/// Parses an override's text as a TOML value of the declared type. Strings may be given bare.
Value convert_override(const ParamSpec& s, const Override& o) {
  const std::string at = "--set " + o.section + "." + o.key;
  std::string text = o.value;
  const bool stringy = s.type == Type::string || s.type == Type::choice;
  if (stringy && (text.empty() || (text.front() != '"' && text.front() != '\''))) text = quote(text);
  if (s.type == Type::string_list && (text.empty() || text.front() != '[')) {
    std::string list = "[";
    std::stringstream ss(o.value);
    std::string item;
    bool first = true;
    while (std::getline(ss, item, ',')) {
      list += (first ? "" : ", ") + quote(item);
      first = false;
    }
    text = list + "]";
  }
  toml::table t;
  try {
    t = toml::parse("v = " + text, at);
  } catch (const toml::parse_error&) {
    PAIRPOSE_FAIL(at << ": cannot read \"" << o.value << "\" as " << type_name(s.type));
  }
  return convert(s, *t.get("v"), at, o.section);
}

} // namespace

Override parse_override(const std::string& arg) {
  const auto eq = arg.find('=');
  const auto dot = arg.find('.');
  PAIRPOSE_CHECK(eq != std::string::npos && dot != std::string::npos && dot < eq && dot > 0 &&
                     eq > dot + 1,
                 "--set " << arg << ": expected section.key=value");
  return {arg.substr(0, dot), arg.substr(dot + 1, eq - dot - 1), arg.substr(eq + 1)};
}

namespace {

/// The command that lists a section's keys: a labelled section [simulate-test] is the stage
/// simulate's (`pairpose simulate --help`).
std::string help_command(const std::string& section) {
  return "pairpose " + section.substr(0, section.find('-')) + " --help";
}

} // namespace

void validate(const ParameterFile& file, const std::vector<Schema>& schemas) {
  for (auto&& [k, node] : file.impl().root) {
    const std::string section(k.str());
    const Schema* schema = find_schema(schemas, section);
    PAIRPOSE_CHECK(schema != nullptr, where(file.name(), node)
                                          << ": unknown section or key '" << section
                                          << "' (known sections: " << known_sections(schemas)
                                          << ")");
    PAIRPOSE_CHECK(node.is_table(), where(file.name(), node)
                                        << ": '" << section << "' must be a table [" << section
                                        << "]");
    for (auto&& [key, value] : *node.as_table()) {
      const ParamSpec* spec = schema->find(std::string(key.str()));
      PAIRPOSE_CHECK(spec != nullptr, where(file.name(), value)
                                          << ": unknown key '" << key.str() << "' in ["
                                          << section << "] (see " << help_command(section)
                                          << ")");
      convert(*spec, value, where(file.name(), value), section);
    }
  }
}

void validate_overrides(const std::vector<Override>& overrides,
                        const std::vector<Schema>& schemas) {
  for (const auto& o : overrides) {
    const Schema* schema = find_schema(schemas, o.section);
    PAIRPOSE_CHECK(schema != nullptr, "--set " << o.section << "." << o.key
                                               << ": unknown section '" << o.section
                                               << "' (known: " << known_sections(schemas) << ")");
    const ParamSpec* spec = schema->find(o.key);
    PAIRPOSE_CHECK(spec != nullptr, "--set " << o.section << "." << o.key << ": unknown key '"
                                             << o.key << "' in [" << o.section << "]");
    convert_override(*spec, o);
  }
}

Params resolve(const Schema& schema, const ParameterFile& file,
               const std::vector<Override>& overrides) {
  std::map<std::string, Value> values;
  for (const auto& e : schema.entries()) values[e.key] = e.default_value;
  if (const toml::node* node = file.impl().root.get(schema.section())) {
    PAIRPOSE_CHECK(node->is_table(), where(file.name(), *node) << ": '" << schema.section()
                                                               << "' must be a table");
    for (auto&& [key, value] : *node->as_table()) {
      const ParamSpec* spec = schema.find(std::string(key.str()));
      PAIRPOSE_CHECK(spec != nullptr, where(file.name(), value)
                                          << ": unknown key '" << key.str() << "' in ["
                                          << schema.section() << "] (see "
                                          << help_command(schema.section()) << ")");
      values[spec->key] = convert(*spec, value, where(file.name(), value), schema.section());
    }
  }
  for (const auto& o : overrides) {
    if (o.section != schema.section()) continue;
    const ParamSpec* spec = schema.find(o.key);
    PAIRPOSE_CHECK(spec != nullptr, "--set " << o.section << "." << o.key << ": unknown key '"
                                             << o.key << "' in [" << o.section << "]");
    values[spec->key] = convert_override(*spec, o);
  }
  return Params(schema.section(), std::move(values));
}

} // namespace pairpose::config
