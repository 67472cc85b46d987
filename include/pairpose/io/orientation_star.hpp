#pragma once
/// @file orientation_star.hpp
/// Export of estimated orientations as a RELION 3.1 particle STAR file (used by `recover` and
/// `gauge`): the dataset's particles (CTF, shifts, map) with their orientations replaced.
#include <string>
#include <vector>

#include <mpi.h>

#include "pairpose/geometry/rotation.hpp"
#include "pairpose/io/dataset.hpp"

namespace pairpose::io {

/// Writes `star_path` (+ its provenance sidecar) on rank 0: particle i of `dataset` with
/// orientation `orientations[i]`, image i + 1 of the stack `stack_path` (a name recorded in the
/// STAR file; the stack itself is not written). Collective over `comm` (every rank reads the
/// particle rows). Throws pairpose::Error when the counts differ.
void write_orientations_star(const std::string& star_path, const std::string& stack_path,
                             const Dataset& dataset,
                             const std::vector<geometry::Quat>& orientations,
                             const std::string& provenance, MPI_Comm comm);

} // namespace pairpose::io
