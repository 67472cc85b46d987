// Text helpers of the report: a small JSON reader that flattens a document into its scalar
// values, base64 and HTML escaping.
#include <cctype>

#include "pairpose/app/report.hpp"
#include "pairpose/core/error.hpp"

namespace pairpose::app {

namespace {

/// Recursive-descent reader over one JSON text; appends (path, value) pairs.
class JsonFlattener {
public:
  JsonFlattener(const std::string& text, const std::string& name) : s_(text), name_(name) {}

  std::vector<std::pair<std::string, std::string>> run() {
    value("");
    skip_space();
    PAIRPOSE_CHECK(pos_ == s_.size(), name_ << ": JSON: unexpected text at offset " << pos_);
    return std::move(out_);
  }

private:
  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_])))
      ++pos_;
  }
  char peek() {
    skip_space();
    PAIRPOSE_CHECK(pos_ < s_.size(), name_ << ": JSON: unexpected end of text");
    return s_[pos_];
  }
  void expect(char c) {
    PAIRPOSE_CHECK(peek() == c, name_ << ": JSON: expected '" << c << "' at offset " << pos_);
    ++pos_;
  }
  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  std::string string_literal() {
    expect('"');
    std::string v;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      char c = s_[pos_++];
      if (c == '\\' && pos_ < s_.size()) {
        const char e = s_[pos_++];
        c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
        if (e == 'u') { // \uXXXX: kept as written (the report only displays it)
          v += "\\u";
          continue;
        }
      }
      v += c;
    }
    PAIRPOSE_CHECK(pos_ < s_.size(), name_ << ": JSON: unterminated string");
    ++pos_;
    return v;
  }

  /// A number, true, false or null, as written.
  std::string bare_literal() {
    const std::size_t start = pos_;
    while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) ||
                                s_[pos_] == '-' || s_[pos_] == '+' || s_[pos_] == '.'))
      ++pos_;
    PAIRPOSE_CHECK(pos_ > start,
                   name_ << ": JSON: unexpected '" << s_[start] << "' at offset " << start);
    return s_.substr(start, pos_ - start);
  }

  /// Reads one value; scalars are returned (and recorded when `record`), containers recorded.
  std::string value(const std::string& path, bool record = true) {
    const char c = peek();
    std::string v;
    if (c == '{') {
      object(path);
      return "{...}";
    }
    if (c == '[') {
      array(path);
      return "[...]";
    }
    v = c == '"' ? string_literal() : bare_literal();
    if (record) out_.emplace_back(path, v);
    return v;
  }

  void object(const std::string& path) {
    expect('{');
    if (peek() == '}') {
      ++pos_;
      return;
    }
    for (;;) {
      const std::string key = string_literal();
      expect(':');
      value(join(path, key));
      if (peek() == '}') break;
      expect(',');
    }
    ++pos_;
  }

  void array(const std::string& path) {
    expect('[');
    std::vector<std::string> items;
    bool scalars = true;
    if (peek() != ']') {
      for (;;) {
        const char c = peek();
        scalars = scalars && c != '{' && c != '[';
        items.push_back(value(join(path, std::to_string(items.size())), false));
        if (peek() == ']') break;
        expect(',');
      }
    }
    ++pos_;
    if (!scalars) {
      out_.emplace_back(path, "[" + std::to_string(items.size()) + " items]");
    } else if (items.size() <= 8) {
      std::string text = "[";
      for (std::size_t i = 0; i < items.size(); ++i)
        text += (i ? ", " : "") + items[i];
      out_.emplace_back(path, text + "]");
    } else {
      out_.emplace_back(path, "[" + std::to_string(items.size()) + " values]");
    }
  }

  const std::string& s_;
  const std::string& name_;
  std::size_t pos_ = 0;
  std::vector<std::pair<std::string, std::string>> out_;
};

} // namespace

std::vector<std::pair<std::string, std::string>> flatten_json(const std::string& text,
                                                              const std::string& name) {
  return JsonFlattener(text, name).run();
}

std::string base64(const std::string& bytes) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (unsigned char)bytes[i] << 16 | (unsigned char)bytes[i + 1] << 8 |
                       (unsigned char)bytes[i + 2];
    for (int k = 3; k >= 0; --k)
      out += alphabet[(v >> (6 * k)) & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    unsigned v = (unsigned char)bytes[i] << 16;
    if (rest == 2) v |= (unsigned char)bytes[i + 1] << 8;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += rest == 2 ? alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
    case '&': out += "&amp;"; break;
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '"': out += "&quot;"; break;
    case '\'': out += "&#39;"; break;
    default: out += c;
    }
  }
  return out;
}

} // namespace pairpose::app
