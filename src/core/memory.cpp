#include "pairpose/core/memory.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#include "pairpose/core/error.hpp"
#include "pairpose/core/mpi.hpp"

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
    b.source = std::string("PAIRPOSE_MEMORY_LIMIT_GB=") + env;
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

/// "12.3 GiB", "640 MiB", "512 KiB" (three significant digits).
std::string format_bytes(std::int64_t bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = double(bytes);
  int u = 0;
  while (v >= 1024 && u < 6)
    v /= 1024, ++u;
  std::ostringstream s;
  s.precision(3);
  s << v << " " << units[u];
  return s.str();
}

} // namespace

std::int64_t budget_bytes() { return budget().bytes; }

void require(std::int64_t bytes, const std::string& what) {
  const Budget& b = budget();
  if (bytes >= 0 && bytes <= b.bytes) return;
  PAIRPOSE_FAIL(what << " needs " << (bytes < 0 ? "more than 8 EiB" : format_bytes(bytes))
                     << ", more than this process's memory budget of " << format_bytes(b.bytes)
                     << " (" << b.source << "; set PAIRPOSE_MEMORY_LIMIT_GB to change it)");
}

void require(std::int64_t bytes, const std::string& what, MPI_Comm comm) {
  std::string message;
  try {
    require(bytes, what);
  } catch (const Error& e) {
    message = e.what();
  }
  mpi::agree_or_throw(message, comm);
}

std::int64_t checked_product(std::initializer_list<std::int64_t> factors) {
  std::int64_t p = 1;
  for (std::int64_t f : factors)
    if (f < 0 || __builtin_mul_overflow(p, f, &p)) return -1;
  return p;
}

std::int64_t checked_sum(std::initializer_list<std::int64_t> terms) {
  std::int64_t s = 0;
  for (std::int64_t t : terms)
    if (t < 0 || __builtin_add_overflow(s, t, &s)) return -1;
  return s;
}

} // namespace pairpose::memory
