// Fuzz target: STAR files (include/pairpose/io/star.hpp). The text is parsed once (parse_star, in
// memory); every typed accessor of the tables is tried; the parsed file goes through
// particles_from_star (what read_particles_star does after parsing) with default options and with
// a pixel size and no angles, image names resolved against a folder holding a valid 2-image
// stack "stack.mrcs" so that references can resolve.
#include <algorithm>

#include "fuzz_common.hpp"
#include "pairpose/io/mrc.hpp"
#include "pairpose/io/star.hpp"

using namespace pairpose;

namespace {

/// A valid 2-image 4×4 stack in the scratch folder, written once.
void write_stack_once() {
  static const bool done = [] {
    ImageStack s(2, 4, 4, 1.5);
    for (std::size_t i = 0; i < s.data.size(); ++i)
      s.data[i] = float(i % 7);
    io::write_mrc(fuzz::scratch() + "/stack.mrcs", s);
    return true;
  }();
  (void)done;
}

void touch_cells(const io::StarTable& t) {
  const std::int64_t n_rows = std::min<std::int64_t>(t.n_rows(), 64);
  for (std::int64_t r = 0; r < n_rows; ++r)
    for (int c = 0; c < t.n_columns(); ++c) {
      fuzz::expect_success_or_error([&] { t.real(r, c); });
      fuzz::expect_success_or_error([&] { t.integer(r, c); });
      t.where(r, c);
    }
  if (!t.is_loop())
    for (const auto& key : t.columns())
      t.value(key);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  write_stack_once();
  const std::string text(reinterpret_cast<const char*>(data), size);
  io::StarFile file;
  try {
    file = io::parse_star(text, fuzz::scratch() + "/particles.star");
  } catch (const Error&) {
    return 0;
  }
  for (const auto& t : file.tables)
    touch_cells(t);
  // What was parsed must survive a write and a re-read.
  fuzz::expect_success_or_error(
      [&] { io::parse_star(io::format_star(file.tables, "fuzz"), "fuzz-formatted.star"); });
  fuzz::expect_success_or_error([&] { io::particles_from_star(file); });
  fuzz::expect_success_or_error([&] {
    io::ParticleStarOptions options;
    options.pixel_size = 1.5;
    options.require_angles = false;
    io::particles_from_star(file, options);
  });
  return 0;
}
