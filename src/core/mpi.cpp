#include "pairpose/core/mpi.hpp"

#include <exception>

namespace pairpose::mpi {

void check(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  throw Error(std::string(what) + " failed: " + std::string(text, len));
}

std::string broadcast_string(const std::string& s, int root, MPI_Comm comm) {
  std::int64_t n = static_cast<std::int64_t>(s.size());
  broadcast(&n, 1, root, comm);
  std::string out = comm_rank(comm) == root ? s : std::string(static_cast<size_t>(n), '\0');
  if (n > 0) broadcast(out.data(), n, root, comm);
  return out;
}

bool all_true(bool ok, MPI_Comm comm) { return all_min(ok ? 1 : 0, comm) == 1; }

void agree_or_throw(const std::string& message, MPI_Comm comm) {
  const int me = comm_rank(comm);
  const int first = all_min(message.empty() ? comm_size(comm) : me, comm);
  if (first == comm_size(comm)) return;
  const std::string text = broadcast_string(message, first, comm);
  throw CollectiveError(comm_size(comm) > 1 ? "rank " + std::to_string(first) + ": " + text : text);
}

SharedCounter::SharedCounter(MPI_Comm comm, std::int64_t start)
    : uncaught_at_start_(std::uncaught_exceptions()) {
  const bool holder = comm_rank(comm) == 0;
  std::int64_t* value = nullptr;
  const MPI_Aint bytes = holder ? sizeof(std::int64_t) : 0;
  check(MPI_Win_allocate(bytes, sizeof(std::int64_t), MPI_INFO_NULL, comm, &value, &win_),
        "MPI_Win_allocate");
  if (holder) *value = start;
  // The initial value must be in place before any rank's first fetch_add.
  check(MPI_Barrier(comm), "MPI_Barrier");
  check(MPI_Win_lock_all(MPI_MODE_NOCHECK, win_), "MPI_Win_lock_all");
}

SharedCounter::~SharedCounter() {
  if (win_ == MPI_WIN_NULL) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  // Freeing a window is collective: while unwinding (possibly on this rank only) leave it to
  // MPI_Finalize / MPI_Abort rather than block.
  if (finalized || std::uncaught_exceptions() > uncaught_at_start_) return;
  MPI_Win_unlock_all(win_);
  MPI_Win_free(&win_);
}

std::int64_t SharedCounter::fetch_add(std::int64_t step) {
  std::int64_t before = 0;
  check(MPI_Fetch_and_op(&step, &before, MPI_INT64_T, 0, 0, MPI_SUM, win_), "MPI_Fetch_and_op");
  check(MPI_Win_flush(0, win_), "MPI_Win_flush");
  return before;
}

} // namespace pairpose::mpi
