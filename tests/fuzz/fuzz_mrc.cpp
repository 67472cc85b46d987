// Fuzz target: MRC maps and stacks (include/pairpose/io/mrc.hpp) from arbitrary bytes: the header,
// then (only when the header is accepted, as the other readers would refuse it the same way) the
// whole file as a map, as a stack and through MrcStackReader range reads. The readers take a
// path, so the input is written to a file in /dev/shm.
#include "fuzz_common.hpp"
#include "pairpose/io/mrc.hpp"

using namespace pairpose;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fuzz::write_input("input.mrc", data, size);
  try {
    io::read_mrc_header(path);
  } catch (const Error&) {
    return 0;
  }
  fuzz::expect_success_or_error([&] { io::read_mrc_volume(path); });
  fuzz::expect_success_or_error([&] {
    io::MrcStackReader stack(path);
    const std::int64_t n = stack.n_images();
    stack.read(0, n); // what read_mrc_stack does
    stack.read(n - 1, 1);
    stack.read(n, 1); // past the end: must be refused
  });
  return 0;
}
