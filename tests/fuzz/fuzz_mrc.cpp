// Fuzz target: MRC maps and stacks (include/pairpose/io/mrc.hpp) from arbitrary bytes: the header
// alone, the whole file as a map and as a stack, and range reads through MrcStackReader.
#include <algorithm>

#include "fuzz_common.hpp"
#include "pairpose/io/mrc.hpp"

using namespace pairpose;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fuzz::write_input("input.mrc", data, size);
  fuzz::expect_success_or_error([&] { io::read_mrc_header(path); });
  fuzz::expect_success_or_error([&] { io::read_mrc_volume(path); });
  fuzz::expect_success_or_error([&] { io::read_mrc_stack(path); });
  fuzz::expect_success_or_error([&] {
    io::MrcStackReader stack(path);
    const std::int64_t n = stack.n_images();
    stack.read(0, std::min<std::int64_t>(n, 2));
    stack.read(n - 1, 1);
    stack.read(n, 1); // past the end: must be refused
  });
  return 0;
}
