#pragma once
/// @file partition.hpp
/// A rank's share of a range of items (particles, pairs, rows, slabs): a half-open block of 64-bit
/// indices made by one split function. The first `n % parts` blocks hold one item more.
#include <cstdint>
#include <mpi.h>
#include <vector>

namespace pairpose {

/// Half-open range [begin, end) of 64-bit item indices.
struct Block {
  std::int64_t begin = 0;
  std::int64_t end = 0;
  std::int64_t size() const { return end - begin; }
  bool empty() const { return end <= begin; }
  bool contains(std::int64_t i) const { return i >= begin && i < end; }
  bool operator==(const Block& o) const { return begin == o.begin && end == o.end; }
};

/// Block `part` of `n_items` items split into `n_parts` contiguous, balanced blocks.
Block split_block(std::int64_t n_items, int n_parts, int part);

/// This rank's block of `n_items` over the communicator.
Block split_block(std::int64_t n_items, MPI_Comm comm);

/// The part that owns item `i` under split_block(n_items, n_parts, .).
int block_owner(std::int64_t i, std::int64_t n_items, int n_parts);

/// Offsets of every part: offsets[p] = split_block(n, n_parts, p).begin, offsets[n_parts] = n.
std::vector<std::int64_t> block_offsets(std::int64_t n_items, int n_parts);

} // namespace pairpose
