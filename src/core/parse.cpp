#include "pairpose/core/parse.hpp"

#include <charconv>
#include <cmath>
#include <system_error>

#include "pairpose/core/error.hpp"

namespace pairpose {

namespace {

/// `text` without leading and trailing blanks.
std::string trimmed(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

template <class T>
T parse_number(const std::string& text, const std::string& what, const char* kind) {
  const std::string t = trimmed(text);
  T value{};
  const char* begin = t.data();
  if (!t.empty() && t[0] == '+') ++begin;
  const auto [end, error] = std::from_chars(begin, t.data() + t.size(), value);
  PAIRPOSE_CHECK(!t.empty() && error == std::errc() && end == t.data() + t.size(),
                 what << ": '" << text << "' is not " << kind
                      << (error == std::errc::result_out_of_range ? " (out of range)" : ""));
  return value;
}

} // namespace

std::int64_t parse_int64(const std::string& text, const std::string& what) {
  return parse_number<std::int64_t>(text, what, "an integer");
}

std::uint64_t parse_uint64(const std::string& text, const std::string& what) {
  PAIRPOSE_CHECK(trimmed(text).rfind('-', 0) != 0,
                 what << ": '" << text << "' is not a non-negative integer");
  return parse_number<std::uint64_t>(text, what, "a non-negative integer");
}

double parse_double(const std::string& text, const std::string& what) {
  const double v = parse_number<double>(text, what, "a number");
  PAIRPOSE_CHECK(!std::isnan(v), what << ": '" << text << "' is not a number");
  return v;
}

} // namespace pairpose
