#include "pairpose/core/memory.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#include "pairpose/core/error.hpp"

namespace pairpose::memory {
namespace {

constexpr std::int64_t unlimited = std::numeric_limits<std::int64_t>::max();
constexpr double gib = 1024.0 * 1024.0 * 1024.0;

struct Budget {
  std::int64_t bytes = unlimited;
  std::string source = "unlimited";
};

/// MemAvailable in bytes, or −1.
std::int64_t mem_available() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::int64_t kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit)
    if (key == "MemAvailable:") return kib * 1024;
  return -1;
}

Budget find_budget() {
  Budget b;
  if (const char* env = std::getenv("PAIRPOSE_MEMORY_LIMIT_GB"); env && *env) {
    char* end = nullptr;
    const double g = std::strtod(env, &end);
    PAIRPOSE_CHECK(end && *end == '\0' && g > 0 && g < 1e9,
                   "PAIRPOSE_MEMORY_LIMIT_GB=" << env << " is not a positive number of GiB");
    b.bytes = static_cast<std::int64_t>(g * gib);
    b.source = "PAIRPOSE_MEMORY_LIMIT_GB";
    return b;
  }
  const std::int64_t avail = mem_available();
  if (avail <= 0) return b;
  long ranks = 1;
  if (const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE"))
    ranks = std::max(1L, std::strtol(local, nullptr, 10));
  b.bytes = avail / ranks;
  b.source = "MemAvailable / " + std::to_string(ranks) + " rank(s) on this node";
  return b;
}

const Budget& budget() {
  static const Budget b = find_budget();
  return b;
}

} // namespace

std::int64_t budget_bytes() { return budget().bytes; }

void require(std::int64_t bytes, const std::string& what) {
  const Budget& b = budget();
  if (bytes >= 0 && bytes <= b.bytes) return;
  std::ostringstream need, have;
  need.precision(3);
  have.precision(3);
  if (bytes < 0)
    need << "more than 8 EiB";
  else
    need << double(bytes) / gib << " GiB";
  have << double(b.bytes) / gib << " GiB";
  PAIRPOSE_FAIL(what << " needs " << need.str() << ", more than this process's memory budget of "
                     << have.str() << " (" << b.source
                     << "; set PAIRPOSE_MEMORY_LIMIT_GB to change it)");
}

std::int64_t checked_product(std::initializer_list<std::int64_t> factors) {
  std::int64_t p = 1;
  for (std::int64_t f : factors)
    if (f < 0 || __builtin_mul_overflow(p, f, &p)) return -1;
  return p;
}

} // namespace pairpose::memory
