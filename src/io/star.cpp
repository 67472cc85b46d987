// Generic STAR reading and writing (see star.hpp for the grammar accepted).
#include "pairpose/io/star.hpp"

#include <charconv>
#include <cmath>
#include <sstream>

#include "pairpose/core/error.hpp"
#include "pairpose/core/files.hpp"

namespace pairpose::io {

// --- StarTable -------------------------------------------------------------------------------

StarTable::StarTable(std::string name, bool is_loop, std::string source)
    : name_(std::move(name)), is_loop_(is_loop), source_(std::move(source)) {
  if (!is_loop_) begin_row(0); // key-value blocks are one row, filled key by key
}

int StarTable::find_column(const std::string& label) const {
  for (int c = 0; c < n_columns(); ++c)
    if (columns_[static_cast<size_t>(c)] == label) return c;
  return -1;
}

int StarTable::require_column(const std::string& label) const {
  const int c = find_column(label);
  PAIRPOSE_CHECK(c >= 0, source_ << ": block 'data_" << name_ << "' has no column _" << label);
  return c;
}

std::string_view StarTable::view(std::int64_t row, int column) const {
  const auto cell = static_cast<size_t>(row * n_columns() + column);
  const std::uint64_t begin = cell == 0 ? 0 : cell_end_[cell - 1];
  return std::string_view(buffer_).substr(begin, cell_end_[cell] - begin);
}

std::int64_t StarTable::line_of(std::int64_t row, int column) const {
  // Messages may name a row or key that is not there (e.g. row 1 of an empty loop): line 0.
  const auto& lines = is_loop_ ? row_lines_ : column_lines_;
  const std::int64_t i = is_loop_ ? row : column;
  return i >= 0 && i < static_cast<std::int64_t>(lines.size()) ? lines[static_cast<size_t>(i)] : 0;
}

std::string StarTable::where(std::int64_t row, int column) const {
  std::ostringstream os;
  os << source_ << ":" << line_of(row, column) << ": block 'data_" << name_ << "', column _"
     << columns_[static_cast<size_t>(column)];
  if (is_loop_) os << ", row " << row + 1;
  return os.str();
}

double StarTable::real(std::int64_t row, int column) const {
  const std::string_view t = view(row, column);
  const char* first = t.data() + (!t.empty() && t[0] == '+' ? 1 : 0);
  double v = 0;
  const auto [end, ec] = std::from_chars(first, t.data() + t.size(), v);
  PAIRPOSE_CHECK(ec == std::errc() && end == t.data() + t.size() && std::isfinite(v) && !t.empty(),
                 where(row, column) << ": expected a number, got '" << t << "'");
  return v;
}

std::int64_t StarTable::integer(std::int64_t row, int column) const {
  const double v = real(row, column);
  PAIRPOSE_CHECK(v == std::round(v) && std::abs(v) < 9.0e15,
                 where(row, column) << ": expected an integer, got '" << text(row, column) << "'");
  return static_cast<std::int64_t>(v);
}

std::string StarTable::value(const std::string& key) const {
  PAIRPOSE_CHECK(n_rows() > 0, source_ << ": block 'data_" << name_ << "' is empty");
  return text(0, require_column(key));
}

int StarTable::add_column(const std::string& label, std::int64_t line) {
  PAIRPOSE_CHECK(!label.empty(),
                 source_ << ":" << line << ": empty label in block 'data_" << name_ << "'");
  PAIRPOSE_CHECK(!is_loop_ || row_lines_.empty(), source_ << ":" << line << ": label _" << label
                                                          << " after the rows of the loop"
                                                          << " in block 'data_" << name_ << "'");
  PAIRPOSE_CHECK(find_column(label) < 0, source_ << ":" << line << ": duplicate label _" << label
                                                 << " in block 'data_" << name_ << "'");
  columns_.push_back(label);
  column_lines_.push_back(line);
  return n_columns() - 1;
}

void StarTable::add_key(const std::string& key, std::string_view value, std::int64_t line) {
  PAIRPOSE_CHECK(!is_loop_, source_ << ":" << line << ": key _" << key << " in loop block 'data_"
                                    << name_ << "'");
  add_column(key, line);
  push_value(value.data(), value.size());
}

void StarTable::begin_row(std::int64_t line) { row_lines_.push_back(line); }

void StarTable::push_value(const char* text, std::size_t length) {
  buffer_.append(text, length);
  cell_end_.push_back(buffer_.size());
}

void StarTable::end_row() {
  const auto expected = static_cast<std::uint64_t>(n_rows() * n_columns());
  if (cell_end_.size() == expected) return;
  const auto got = static_cast<std::int64_t>(cell_end_.size()) - (n_rows() - 1) * n_columns();
  PAIRPOSE_FAIL(source_ << ":" << row_lines_.back() << ": block 'data_" << name_ << "', row "
                        << n_rows() << " has " << got << " values, expected " << n_columns());
}

void StarTable::add_row(const std::vector<std::string>& values, std::int64_t line) {
  begin_row(line);
  for (const auto& v : values)
    push_value(v.data(), v.size());
  end_row();
}

const StarTable* StarFile::find(const std::string& name) const {
  for (const auto& t : tables)
    if (t.name() == name) return &t;
  return nullptr;
}

const StarTable& StarFile::require(const std::string& name) const {
  if (const StarTable* t = find(name)) return *t;
  std::ostringstream present;
  for (const auto& t : tables)
    present << " data_" << t.name();
  PAIRPOSE_FAIL(path << ": no block 'data_" << name << "' (blocks present:" << present.str()
                     << ")");
}

// --- parsing ---------------------------------------------------------------------------------

namespace {

struct Token {
  const char* p;
  std::size_t n;
  bool quoted;
  bool starts(const char* s) const {
    const std::size_t k = std::char_traits<char>::length(s);
    return !quoted && n >= k && std::char_traits<char>::compare(p, s, k) == 0;
  }
};

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/// Splits one line into tokens, dropping a trailing comment.
void tokenize(const char* p, const char* end, std::vector<Token>& out, const std::string& source,
              std::int64_t line) {
  out.clear();
  while (p < end) {
    while (p < end && is_blank(*p))
      ++p;
    if (p == end || *p == '#') return;
    if (*p == '\'' || *p == '"') { // a quote closes only before a blank or the end of the line
      const char q = *p;
      const char* s = ++p;
      while (p < end && !(*p == q && (p + 1 == end || is_blank(p[1]))))
        ++p;
      PAIRPOSE_CHECK(p < end, source << ":" << line << ": unterminated quoted value");
      out.push_back({s, static_cast<std::size_t>(p - s), true});
      ++p;
    } else {
      const char* s = p;
      while (p < end && !is_blank(*p))
        ++p;
      out.push_back({s, static_cast<std::size_t>(p - s), false});
    }
  }
}

/// The state machine over lines: which block and which part of it we are in.
class StarParser {
public:
  StarParser(StarFile& file) : file_(file) {}

  void line(const std::vector<Token>& tk, std::int64_t ln) {
    const Token& t = tk[0];
    if (t.starts("data_")) return start_block(tk, ln);
    PAIRPOSE_CHECK(!t.starts("save_") && !t.starts("global_") && !t.starts("stop_") &&
                       !t.starts(";"),
                   where(ln) << "'" << std::string(t.p, t.n) << "' is not supported in STAR "
                             << "files read by pairpose");
    PAIRPOSE_CHECK(has_block_, where(ln) << "content before the first data_ block");
    if (t.starts("loop_")) return start_loop(tk, ln);
    if (t.starts("_")) return label(tk, ln);
    PAIRPOSE_CHECK(mode_ == Mode::header || mode_ == Mode::rows,
                   where(ln) << "value '" << std::string(t.p, t.n) << "' outside a loop");
    mode_ = Mode::rows;
    StarTable& table = file_.tables.back();
    table.begin_row(ln);
    for (const auto& v : tk)
      table.push_value(v.p, v.n);
    table.end_row();
  }

  void finish() {
    if (has_block_ && mode_ == Mode::fresh) file_.tables.emplace_back(name_, false, file_.path);
  }

private:
  enum class Mode { fresh, header, rows, keys };

  std::string where(std::int64_t ln) const { return file_.path + ":" + std::to_string(ln) + ": "; }

  void start_block(const std::vector<Token>& tk, std::int64_t ln) {
    PAIRPOSE_CHECK(tk.size() == 1, where(ln) << "unexpected text after the block name");
    finish();
    name_.assign(tk[0].p + 5, tk[0].n - 5);
    has_block_ = true;
    mode_ = Mode::fresh;
  }

  void start_loop(const std::vector<Token>& tk, std::int64_t ln) {
    PAIRPOSE_CHECK(tk.size() == 1, where(ln) << "unexpected text after loop_");
    PAIRPOSE_CHECK(mode_ == Mode::fresh,
                   where(ln) << "block 'data_" << name_ << "' already has content; pairpose "
                             << "reads one loop or one set of key-value pairs per block");
    file_.tables.emplace_back(name_, true, file_.path);
    mode_ = Mode::header;
  }

  void label(const std::vector<Token>& tk, std::int64_t ln) {
    const std::string label(tk[0].p + 1, tk[0].n - 1);
    if (mode_ == Mode::header) {
      PAIRPOSE_CHECK(tk.size() == 1, where(ln) << "unexpected text after loop label _" << label);
      file_.tables.back().add_column(label, ln);
      return;
    }
    PAIRPOSE_CHECK(mode_ != Mode::rows, where(ln)
                                            << "key _" << label << " after the loop of block 'data_"
                                            << name_ << "'");
    if (mode_ == Mode::fresh) file_.tables.emplace_back(name_, false, file_.path);
    mode_ = Mode::keys;
    PAIRPOSE_CHECK(tk.size() == 2, where(ln) << "key _" << label << " needs exactly one value, got "
                                             << tk.size() - 1);
    file_.tables.back().add_key(label, std::string_view(tk[1].p, tk[1].n), ln);
  }

  StarFile& file_;
  std::string name_;
  bool has_block_ = false;
  Mode mode_ = Mode::fresh;
};

} // namespace

StarFile parse_star(const std::string& text, const std::string& source) {
  StarFile file;
  file.path = source;
  StarParser parser(file);
  std::vector<Token> tokens;
  std::int64_t ln = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    ++ln;
    tokenize(text.data() + pos, text.data() + eol, tokens, source, ln);
    if (!tokens.empty()) parser.line(tokens, ln);
    pos = eol + 1;
  }
  parser.finish();
  PAIRPOSE_CHECK(!file.tables.empty(), source << ": no data_ block (empty or not a STAR file)");
  return file;
}

StarFile read_star(const std::string& path) { return parse_star(read_file(path), path); }

// --- writing ---------------------------------------------------------------------------------

namespace {

/// Appends `v` to `out`, quoted when a reader would otherwise split or misread it.
void append_value(std::string& out, std::string_view v, const std::string& table,
                  const std::string& label) {
  bool needs = v.empty() || v[0] == '#' || v[0] == '_' || v[0] == ';' || v[0] == '\'' ||
               v[0] == '"' || v.substr(0, 5) == "data_" || v.substr(0, 5) == "loop_";
  for (char c : v) {
    PAIRPOSE_CHECK(c != '\n', "STAR block 'data_" << table << "', column _" << label
                                                  << ": value contains a line break");
    needs = needs || is_blank(c);
  }
  if (!needs) {
    out += v;
    return;
  }
  const bool has_double = v.find('"') != std::string_view::npos;
  PAIRPOSE_CHECK(!has_double || v.find('\'') == std::string_view::npos,
                 "STAR block 'data_" << table << "', column _" << label
                                     << ": value contains both quote characters: " << v);
  const char q = has_double ? '\'' : '"';
  ((out += q) += v) += q;
}

void append_table(std::string& out, const StarTable& t) {
  ((out += "\n# version 30001\n\ndata_") += t.name()) += "\n\n";
  const auto& labels = t.columns();
  if (!t.is_loop()) {
    for (int c = 0; c < t.n_columns(); ++c) {
      ((out += "_") += labels[c]) += " ";
      append_value(out, t.view(0, c), t.name(), labels[c]);
      out += "\n";
    }
    return;
  }
  out += "loop_\n";
  for (int c = 0; c < t.n_columns(); ++c)
    out += "_" + labels[c] + " #" + std::to_string(c + 1) + "\n";
  for (std::int64_t r = 0; r < t.n_rows(); ++r) {
    for (int c = 0; c < t.n_columns(); ++c) {
      if (c) out += ' ';
      append_value(out, t.view(r, c), t.name(), labels[c]);
    }
    out += '\n';
  }
}

} // namespace

std::string format_star(const std::vector<StarTable>& tables, const std::string& header_comment) {
  std::string out;
  std::istringstream comment(header_comment);
  for (std::string line; std::getline(comment, line);)
    ((out += (line.rfind('#', 0) == 0 ? "" : "# ")) += line) += "\n";
  for (const auto& t : tables)
    append_table(out, t);
  out += "\n";
  return out;
}

void write_star(const std::string& path, const std::vector<StarTable>& tables,
                const std::string& header_comment) {
  write_file_atomic(path, format_star(tables, header_comment));
}

} // namespace pairpose::io
