#pragma once
/// @file mpi.hpp
/// Small value-returning MPI helpers. Library code receives its communicator from the caller and
/// never names MPI_COMM_WORLD.
#include <cstdint>
#include <mpi.h>
#include <string>
#include <vector>

#include "pairpose/core/error.hpp"
#include "pairpose/core/partition.hpp"

namespace pairpose::mpi {

/// Throws pairpose::Error with MPI's text for a failed call.
void check(int code, const char* what);

inline int comm_rank(MPI_Comm comm) {
  int r = 0;
  MPI_Comm_rank(comm, &r);
  return r;
}
inline int comm_size(MPI_Comm comm) {
  int s = 1;
  MPI_Comm_size(comm, &s);
  return s;
}

template <class T> MPI_Datatype type_of();
template <> inline MPI_Datatype type_of<double>() { return MPI_DOUBLE; }
template <> inline MPI_Datatype type_of<float>() { return MPI_FLOAT; }
template <> inline MPI_Datatype type_of<int>() { return MPI_INT; }
template <> inline MPI_Datatype type_of<std::int64_t>() { return MPI_INT64_T; }
template <> inline MPI_Datatype type_of<std::uint64_t>() { return MPI_UINT64_T; }
template <> inline MPI_Datatype type_of<char>() { return MPI_CHAR; }

/// Sum of one value over the communicator, returned on every rank.
template <class T> T all_sum(T value, MPI_Comm comm) {
  T out{};
  check(MPI_Allreduce(&value, &out, 1, type_of<T>(), MPI_SUM, comm), "MPI_Allreduce");
  return out;
}
template <class T> T all_max(T value, MPI_Comm comm) {
  T out{};
  check(MPI_Allreduce(&value, &out, 1, type_of<T>(), MPI_MAX, comm), "MPI_Allreduce");
  return out;
}
template <class T> T all_min(T value, MPI_Comm comm) {
  T out{};
  check(MPI_Allreduce(&value, &out, 1, type_of<T>(), MPI_MIN, comm), "MPI_Allreduce");
  return out;
}
/// In-place element-wise sum of a buffer over the communicator. Large buffers are reduced in
/// chunks so that counts stay within int.
template <class T> void all_sum_inplace(T* data, std::int64_t n, MPI_Comm comm) {
  constexpr std::int64_t chunk = std::int64_t(1) << 28;
  for (std::int64_t off = 0; off < n; off += chunk) {
    const int count = static_cast<int>(std::min(chunk, n - off));
    check(MPI_Allreduce(MPI_IN_PLACE, data + off, count, type_of<T>(), MPI_SUM, comm),
          "MPI_Allreduce");
  }
}
template <class T> void broadcast(T* data, std::int64_t n, int root, MPI_Comm comm) {
  constexpr std::int64_t chunk = std::int64_t(1) << 28;
  for (std::int64_t off = 0; off < n; off += chunk) {
    const int count = static_cast<int>(std::min(chunk, n - off));
    check(MPI_Bcast(data + off, count, type_of<T>(), root, comm), "MPI_Bcast");
  }
}
/// Every rank's block of a distributed array on every rank: the array has n_items items of
/// item_size values each, split as block_offsets(n_items, comm_size); `mine` holds this rank's
/// block (or is this rank's block inside `all`: then in place) and `all` receives the whole
/// array. Throws (naming `what`) when the counts exceed int.
template <class T>
void allgather_blocks(const T* mine, std::int64_t n_items, std::int64_t item_size, T* all,
                      MPI_Comm comm, const char* what) {
  const int n_ranks = comm_size(comm);
  const std::vector<std::int64_t> offsets = block_offsets(n_items, n_ranks);
  PAIRPOSE_CHECK(n_items * item_size < std::int64_t(INT32_MAX),
                 what << ": " << n_items << " × " << item_size
                      << " values exceed the int count of MPI_Allgatherv");
  std::vector<int> counts(n_ranks), displs(n_ranks);
  for (int r = 0; r < n_ranks; ++r) {
    counts[r] = static_cast<int>(item_size * (offsets[r + 1] - offsets[r]));
    displs[r] = static_cast<int>(item_size * offsets[r]);
  }
  const int rank = comm_rank(comm);
  const bool in_place = mine == all + displs[rank];
  check(MPI_Allgatherv(in_place ? MPI_IN_PLACE : mine, counts[rank], type_of<T>(), all,
                       counts.data(), displs.data(), type_of<T>(), comm),
        "MPI_Allgatherv");
}

/// The string held by `root`, on every rank.
std::string broadcast_string(const std::string& s, int root, MPI_Comm comm);

/// True on every rank when `ok` is true on every rank. Use it after rank-local validation so that
/// all ranks fail together with the message of the first failing rank (see agree_or_throw).
bool all_true(bool ok, MPI_Comm comm);

/// Collective: if any rank's `message` is non-empty, every rank throws pairpose::Error with the
/// message of the lowest such rank (prefixed by its rank number). Lets rank-local input checks end
/// the job cleanly instead of leaving the other ranks in a collective.
void agree_or_throw(const std::string& message, MPI_Comm comm);

/// Collective: runs `work` on every rank, then turns a pairpose::Error that `work` threw on some
/// ranks only into the same error on every rank (agree_or_throw), so that no rank is left
/// waiting in a later collective. `work` must not itself call collectives that a failing rank
/// would skip.
template <class F> void agreed(MPI_Comm comm, F&& work) {
  std::string message;
  try {
    work();
  } catch (const Error& e) {
    message = e.what();
  }
  agree_or_throw(message, comm);
}

/// A counter shared by the ranks of a communicator, for dealing out work in turns: a rank that
/// finishes early takes the next piece instead of waiting for a slower one (a busier core, a
/// slower node). Construction and destruction are collective; fetch_add is one-sided (an MPI-3
/// atomic on a window held by rank 0), so ranks call it as often as they like, independently.
/// Whoever does a piece, what it computes must depend on the piece alone for results to be
/// independent of the rank count and of timing.
class SharedCounter {
public:
  /// Collective. The counter starts at `start`.
  explicit SharedCounter(MPI_Comm comm, std::int64_t start = 0);
  ~SharedCounter();
  SharedCounter(const SharedCounter&) = delete;
  SharedCounter& operator=(const SharedCounter&) = delete;
  /// Local: adds `step` and returns the value before the addition.
  std::int64_t fetch_add(std::int64_t step);

private:
  MPI_Win win_ = MPI_WIN_NULL;
  int uncaught_at_start_ = 0;
};

} // namespace pairpose::mpi
