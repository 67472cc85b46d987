#pragma once
/// @file pair_io.hpp
/// The pair set in the dataset (group /pairs), a sparse symmetric matrix stored once per
/// unordered pair in CSR form by rows (docs/data-format.md: result groups):
///
/// | array            | type    | shape       | content                                          |
/// |------------------|---------|-------------|--------------------------------------------------|
/// | `pairs/index`    | int64   | n_pairs × 2 | (i, j) of each pair, sorted by (i, j); i owns it |
/// | `pairs/distance` | float64 | n_pairs × 1 | d̂_ij, radians in [0, π]                          |
/// | `pairs/counts`   | int64   | N × 1       | pairs owned by each particle (CSR row lengths)   |
///
/// Attributes of /pairs: `n_particles`, `n_pairs`, `hash` (pair_set_hash, hex), and whatever
/// the writer adds (source, strategy, budget, seed, ...). Any number of ranks can read a file
/// written by any other number: a rank reads the rows of the particles of its block.
#include <map>
#include <string>

#include "pairpose/io/dataset.hpp"
#include "pairpose/pairs/pair_set.hpp"

namespace pairpose::pairs {

/// Collective. Writes group /pairs (replacing an older one) with `attributes` added. The pairs
/// must be this rank's (i in split_block(N, comm)), sorted by (i, j). The group is marked complete
/// when the dataset is committed.
void write_pairs(io::Dataset& dataset, const PairSet& pairs,
                 const std::map<std::string, std::string>& attributes);

/// Collective. This rank's pairs (weights 1). Throws naming the file when /pairs is absent or
/// incomplete, or when the arrays disagree in length (counts vs index rows, N vs the dataset).
/// The content is not validated further here (recover::PairObjective does that).
PairSet read_pairs(const io::Dataset& dataset);

} // namespace pairpose::pairs
