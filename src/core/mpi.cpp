#include "pairpose/core/mpi.hpp"

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

} // namespace pairpose::mpi
