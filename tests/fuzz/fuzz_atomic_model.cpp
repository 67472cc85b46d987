// Fuzz target: atomic models (include/pairpose/io/atomic_model.hpp). The same text is parsed as a
// PDB file and as an mmCIF file, in memory (read_pdb/read_mmcif read the file, then do this).
#include "fuzz_common.hpp"
#include "pairpose/io/atomic_model.hpp"

using namespace pairpose;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_success_or_error([&] { io::parse_pdb(text, "model.pdb"); });
  fuzz::expect_success_or_error([&] { io::parse_mmcif(text, "model.cif"); });
  return 0;
}
