// Fuzz target: atomic models (include/pairpose/io/atomic_model.hpp). The same bytes are read as a
// PDB file and as an mmCIF file.
#include "fuzz_common.hpp"
#include "pairpose/io/atomic_model.hpp"

using namespace pairpose;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string pdb = fuzz::write_input("model.pdb", data, size);
  fuzz::expect_success_or_error([&] { io::read_pdb(pdb); });
  const std::string cif = fuzz::write_input("model.cif", data, size);
  fuzz::expect_success_or_error([&] { io::read_mmcif(cif); });
  return 0;
}
