#define BOOST_TEST_MODULE io_limits
// Inputs that are valid in form but too large are refused early with a clear message: MRC headers
// whose sizes overflow or exceed the file, maps and image blocks over the memory budget
// (core/memory.hpp), and STAR files naming images that are not there.
#include "pairpose_test.hpp"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>

#include "pairpose/core/error.hpp"
#include "pairpose/core/memory.hpp"
#include "pairpose/io/mrc.hpp"
#include "pairpose/io/star.hpp"

using namespace pairpose;

namespace {

/// The budget is read once per process: fix it at 64 KiB before anything asks for it.
struct SmallBudget {
  SmallBudget() { setenv("PAIRPOSE_MEMORY_LIMIT_GB", "0.00006103515625", 1); }
};
const SmallBudget small_budget;

bool message_has(const Error& e, const std::string& text) {
  BOOST_TEST_MESSAGE(e.what());
  return std::string(e.what()).find(text) != std::string::npos;
}

Volume ramp(std::int64_t n) {
  Volume v;
  v.nx = v.ny = v.nz = n;
  v.voxel_size = 1.0;
  v.data.resize(static_cast<size_t>(n * n * n));
  for (size_t i = 0; i < v.data.size(); ++i)
    v.data[i] = float(i % 13);
  return v;
}

/// Overwrites 32-bit little-endian word `i` of the header of `path`.
void poke(const std::string& path, int i, std::int32_t value) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(4 * i);
  f.write(reinterpret_cast<const char*>(&value), 4);
}

} // namespace

BOOST_AUTO_TEST_CASE(checked_product_reports_overflow) {
  BOOST_TEST(memory::checked_product({3, 4, 5}) == 60);
  const std::int64_t big = std::numeric_limits<std::int32_t>::max();
  BOOST_TEST(memory::checked_product({big, big, big, 4}) == -1);
  BOOST_TEST(memory::checked_product({2, -1}) == -1);
  BOOST_TEST(memory::budget_bytes() == 65536);
}

BOOST_AUTO_TEST_CASE(checked_sum_and_the_stage_check) {
  BOOST_TEST(memory::checked_sum({1, 2, 3}) == 6);
  BOOST_TEST(memory::checked_sum({5, -1}) == -1); // an overflowed product stays "huge"
  BOOST_TEST(memory::checked_sum({std::numeric_limits<std::int64_t>::max(), 1}) == -1);
  // The collective form (what stages call): within the budget nothing happens; beyond it every
  // rank throws the same CollectiveError naming what, the size and the budget.
  BOOST_CHECK_NO_THROW(memory::require(65536, "stage: the grid", MPI_COMM_WORLD));
  try {
    memory::require(3 * 65536, "stage: the grid", MPI_COMM_WORLD);
    BOOST_FAIL("a need over the budget was accepted");
  } catch (const CollectiveError& e) {
    BOOST_TEST(message_has(e, "stage: the grid needs 192 KiB, more than this process's memory "
                              "budget of 64 KiB (PAIRPOSE_MEMORY_LIMIT_GB="));
  }
  BOOST_CHECK_THROW(memory::require(-1, "stage: an overflowed size", MPI_COMM_WORLD), Error);
}

BOOST_AUTO_TEST_CASE(mrc_header_with_overflowing_sizes_is_refused) {
  const auto dir = testing::scratch_folder("io_limits_overflow");
  const std::string path = dir + "/huge.mrc";
  io::write_mrc(path, ramp(4));
  const std::int32_t big = std::numeric_limits<std::int32_t>::max();
  for (int i : {0, 1, 2})
    poke(path, i, big); // NX = NY = NZ = 2^31 - 1: 2^95 bytes
  try {
    io::read_mrc_header(path);
    BOOST_FAIL("a 2^31-cubed header was accepted");
  } catch (const Error& e) {
    BOOST_TEST(message_has(e, "needs more bytes than the file has"));
    BOOST_TEST(message_has(e, path));
  }
}

BOOST_AUTO_TEST_CASE(map_over_the_memory_budget_is_refused) {
  const auto dir = testing::scratch_folder("io_limits_budget");
  io::write_mrc(dir + "/small.mrc", ramp(16)); // 16 KiB: within 64 KiB
  BOOST_TEST(io::read_mrc_volume(dir + "/small.mrc").data.size() == 4096u);
  io::write_mrc(dir + "/large.mrc", ramp(32)); // 128 KiB
  try {
    io::read_mrc_volume(dir + "/large.mrc");
    BOOST_FAIL("a map over the memory budget was read");
  } catch (const Error& e) {
    BOOST_TEST(message_has(e, "memory budget"));
    BOOST_TEST(message_has(e, "PAIRPOSE_MEMORY_LIMIT_GB"));
  }
  io::MrcStackReader stack(dir + "/large.mrc");
  BOOST_TEST(stack.read(0, 8).data.size() == 8u * 32 * 32); // 32 KiB
  BOOST_CHECK_THROW(stack.read(0, 32), Error);              // 128 KiB
  BOOST_CHECK_THROW(stack.read(30, 4), Error);              // past the end, before allocating
}

BOOST_AUTO_TEST_CASE(star_naming_missing_images_is_refused_with_counts) {
  const auto dir = testing::scratch_folder("io_limits_star");
  ImageStack s(2, 4, 4, 1.0);
  std::fill(s.data.begin(), s.data.end(), 1.0f);
  io::write_mrc(dir + "/a.mrcs", s);
  io::ParticleStar star;
  star.pixel_size = 1.0;
  star.image_size = 4;
  star.images = {{dir + "/a.mrcs", 1}, {dir + "/a.mrcs", 2}};
  BOOST_CHECK_NO_THROW(io::check_particle_images(star, "ok.star"));
  star.images.push_back({dir + "/a.mrcs", 3});
  for (int i = 0; i < 5; ++i)
    star.images.push_back({dir + "/gone.mrcs", i + 1});
  try {
    io::check_particle_images(star, "bad.star");
    BOOST_FAIL("missing images were not reported");
  } catch (const Error& e) {
    BOOST_TEST(message_has(e, "bad.star: 6 of 8 particles"));
    BOOST_TEST(message_has(e, "5 in 1 of 2 stacks that are missing"));
    BOOST_TEST(message_has(e, "1 past the end"));
    BOOST_TEST(message_has(e, "particle 3: image 3 of " + dir + "/a.mrcs, which holds 2"));
  }
  star.images.resize(2);
  star.image_size = 8;
  try {
    io::check_particle_images(star, "size.star");
    BOOST_FAIL("a wrong image size was not reported");
  } catch (const Error& e) {
    BOOST_TEST(message_has(e, "2 of the wrong size"));
  }
}
