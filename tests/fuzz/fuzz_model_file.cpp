// Fuzz target: learn's model and checkpoint files (src/learn/model_file.hpp, Torch-free): the
// container (magic line, records, tensors, checksum) parsed in memory, then the architecture
// text record through NetworkConfig::from_text, as DistanceNetwork::load does before it builds
// the network. The checksum makes mutated files fail early; seeds with a valid checksum and the
// target's second mode (below) reach the records.
#include "fuzz_common.hpp"
#include "model_file.hpp"
#include "pairpose/learn/network.hpp"

using namespace pairpose;

namespace {

/// The FNV-1a 64 checksum line that write_model_file appends, so that inputs reach the records.
std::string with_checksum(std::string body) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : body)
    h = (h ^ c) * 0x100000001b3ull;
  return body + "end " + std::to_string(h) + "\n";
}

void parse(const std::string& bytes) {
  const learn::ModelFileContent content = learn::parse_model_file(bytes, "model.pt");
  const auto arch = content.texts.find("architecture");
  if (arch != content.texts.end()) learn::NetworkConfig::from_text(arch->second);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  // As given (a corrupted file), and with a valid checksum appended (a crafted file: every
  // record check must hold on its own).
  fuzz::expect_success_or_error([&] { parse(bytes); });
  fuzz::expect_success_or_error([&] { parse(with_checksum(bytes)); });
  return 0;
}
