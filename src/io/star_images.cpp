// Checking a particle STAR file's image references before any heavy work (star.hpp).
#include <map>
#include <sstream>

#include "pairpose/core/error.hpp"
#include "pairpose/core/files.hpp"
#include "pairpose/io/mrc.hpp"
#include "pairpose/io/star.hpp"

namespace pairpose::io {
namespace {

/// What a stack holds: number of images and their size (n_images < 0: cannot be read).
struct StackInfo {
  std::int64_t n_images = -1, nx = 0, ny = 0;
  std::string problem;
};

StackInfo stack_info(const std::string& path) {
  StackInfo s;
  if (!file_exists(path)) {
    s.problem = "does not exist";
    return s;
  }
  try {
    const MrcHeader h = read_mrc_header(path);
    s.n_images = h.nz;
    s.nx = h.nx;
    s.ny = h.ny;
  } catch (const Error& e) {
    s.problem = e.what();
  }
  return s;
}

} // namespace

void check_particle_images(const ParticleStar& star, const std::string& source) {
  std::map<std::string, StackInfo> stacks;
  std::int64_t n_bad = 0, n_no_stack = 0, n_past_end = 0, n_wrong_size = 0;
  std::string first;
  for (std::size_t i = 0; i < star.images.size(); ++i) {
    const ImageRef& ref = star.images[i];
    auto it = stacks.find(ref.stack);
    if (it == stacks.end()) it = stacks.emplace(ref.stack, stack_info(ref.stack)).first;
    const StackInfo& s = it->second;
    std::ostringstream why;
    if (s.n_images < 0) {
      ++n_no_stack;
      why << "stack " << ref.stack << ": " << s.problem;
    } else if (ref.index > s.n_images) {
      ++n_past_end;
      why << "image " << ref.index << " of " << ref.stack << ", which holds " << s.n_images;
    } else if (star.image_size > 0 && (s.nx != star.image_size || s.ny != star.image_size)) {
      ++n_wrong_size;
      why << ref.stack << " holds " << s.nx << " × " << s.ny << " images, the STAR file says "
          << star.image_size;
    } else {
      continue;
    }
    if (n_bad++ == 0) first = "particle " + std::to_string(i + 1) + ": " + why.str();
  }
  std::int64_t n_missing_stacks = 0;
  for (const auto& [path, s] : stacks)
    n_missing_stacks += s.n_images < 0 ? 1 : 0;
  PAIRPOSE_CHECK(n_bad == 0, source << ": " << n_bad << " of " << star.images.size()
                                    << " particles name images that cannot be read (" << n_no_stack
                                    << " in " << n_missing_stacks << " of " << stacks.size()
                                    << " stacks that are missing or unreadable, " << n_past_end
                                    << " past the end of their stack, " << n_wrong_size
                                    << " of the wrong size); the first: " << first);
}

} // namespace pairpose::io
