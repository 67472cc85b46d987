#include "pairpose/core/partition.hpp"

#include "pairpose/core/error.hpp"
#include "pairpose/core/mpi.hpp"

namespace pairpose {

Block split_block(std::int64_t n_items, int n_parts, int part) {
  PAIRPOSE_CHECK(n_items >= 0, "split_block: negative item count " << n_items);
  PAIRPOSE_CHECK(n_parts > 0 && part >= 0 && part < n_parts,
                 "split_block: part " << part << " of " << n_parts);
  const std::int64_t base = n_items / n_parts;
  const std::int64_t extra = n_items % n_parts;
  const std::int64_t begin = part * base + std::min<std::int64_t>(part, extra);
  return {begin, begin + base + (part < extra ? 1 : 0)};
}

Block split_block(std::int64_t n_items, MPI_Comm comm) {
  return split_block(n_items, mpi::comm_size(comm), mpi::comm_rank(comm));
}

int block_owner(std::int64_t i, std::int64_t n_items, int n_parts) {
  PAIRPOSE_CHECK(i >= 0 && i < n_items, "block_owner: item " << i << " outside [0, " << n_items
                                                             << ")");
  const std::int64_t base = n_items / n_parts;
  const std::int64_t extra = n_items % n_parts;
  const std::int64_t cut = extra * (base + 1); // items held by the larger blocks
  if (i < cut) return static_cast<int>(i / (base + 1));
  return static_cast<int>(extra + (i - cut) / base);
}

std::vector<std::int64_t> block_offsets(std::int64_t n_items, int n_parts) {
  std::vector<std::int64_t> out(static_cast<size_t>(n_parts) + 1);
  for (int p = 0; p < n_parts; ++p) out[p] = split_block(n_items, n_parts, p).begin;
  out[n_parts] = n_items;
  return out;
}

} // namespace pairpose
