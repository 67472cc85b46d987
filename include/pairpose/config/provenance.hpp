#pragma once
/// @file provenance.hpp
/// Every output records the program version, the stage and its resolved parameters (which hold
/// the seed). Formats with room for it (HDF5) store the text inside; for MRC and STAR outputs a
/// sidecar `<output>.params.toml` is written next to the file.
#include <string>

#include "pairpose/config/params.hpp"

namespace pairpose {

/// "# pairpose <version> (<git>)\n# stage: <stage>\n" followed by the parameters as TOML.
std::string make_provenance(const config::Params& params);

/// Writes `<output_path>.params.toml` atomically with the provenance text.
void write_provenance_sidecar(const std::string& output_path, const std::string& provenance);

} // namespace pairpose
