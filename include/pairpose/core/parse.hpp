#pragma once
/// @file parse.hpp
/// Numbers read back from files pairpose wrote (HDF5 attributes, checkpoint and model-file
/// entries), where a damaged or foreign file must give a clear pairpose::Error, not a bare
/// std::invalid_argument from std::stoll. The whole text must be the number (surrounding blanks
/// allowed); `what` names the file and field in the message.
#include <cstdint>
#include <string>

namespace pairpose {

std::int64_t parse_int64(const std::string& text, const std::string& what);
std::uint64_t parse_uint64(const std::string& text, const std::string& what);
/// A finite or infinite double ("inf", "-inf" as written by std::to_string and fmt); NaN is
/// refused.
double parse_double(const std::string& text, const std::string& what);

} // namespace pairpose
