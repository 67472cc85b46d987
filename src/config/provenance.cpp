#include "pairpose/config/provenance.hpp"

#include "pairpose/core/files.hpp"
#include "pairpose/version.hpp"

namespace pairpose {

std::string make_provenance(const config::Params& params) {
  return std::string("# pairpose ") + version_string + " (" + version_git + ")\n# stage: " +
         params.section() + "\n" + params.to_toml();
}

void write_provenance_sidecar(const std::string& output_path, const std::string& provenance) {
  write_file_atomic(output_path + ".params.toml", provenance);
}

} // namespace pairpose
