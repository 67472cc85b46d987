#pragma once
/// @file memory.hpp
/// A memory budget per process, so that inputs that are valid but too large for the machine are
/// refused early with a clear message (what needs how much) instead of an out-of-memory kill
/// hours into a run. Readers and stages call `memory::require(bytes, what)` before allocating
/// anything proportional to the input (a map, a block of images, a pair set).
///
/// The budget (bytes, per process) is, in order:
///  1. the environment variable PAIRPOSE_MEMORY_LIMIT_GB (GiB, a positive number), if set;
///  2. MemAvailable of /proc/meminfo divided by the number of ranks of this job on the node
///     (OMPI_COMM_WORLD_LOCAL_SIZE, 1 when unset);
///  3. unlimited when neither is known.
/// It is read once per process. It is a guard against hopeless allocations, not an accounting:
/// each check compares one allocation with the whole budget.
#include <cstdint>
#include <initializer_list>
#include <mpi.h>
#include <string>

namespace pairpose::memory {

/// The budget in bytes (INT64_MAX when unknown), see above.
std::int64_t budget_bytes();

/// Throws pairpose::Error when `bytes` (negative = overflowed, i.e. huge) exceeds the budget:
/// "<what> needs 12.0 GiB, more than this process's memory budget of 7.5 GiB (MemAvailable / 1
/// rank on this node; set PAIRPOSE_MEMORY_LIMIT_GB to change it)".
void require(std::int64_t bytes, const std::string& what);

/// Collective over `comm`: each rank checks its own need (`bytes`, which may differ per rank)
/// against its own budget; if any rank's is exceeded, every rank throws pairpose::Error with the
/// message of the lowest such rank (so no rank is left waiting in a later collective). Stages
/// call it with an estimate of their largest allocations before any output is created.
void require(std::int64_t bytes, const std::string& what, MPI_Comm comm);

/// The product of non-negative factors, or −1 when it overflows 64 bits.
std::int64_t checked_product(std::initializer_list<std::int64_t> factors);
/// The sum of non-negative terms, or −1 when a term is negative (an overflowed product) or the
/// sum overflows 64 bits.
std::int64_t checked_sum(std::initializer_list<std::int64_t> terms);

} // namespace pairpose::memory
