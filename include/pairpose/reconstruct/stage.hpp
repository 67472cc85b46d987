#pragma once
/// @file stage.hpp
/// The `reconstruct` stage: particle images with orientations → a 3D map and two half-maps (MRC),
/// by direct Fourier inversion (reconstructor.hpp), distributed over the job's ranks.
///
/// Input, one of:
///  - the project's HDF5 dataset (`input` ending in .h5 / .hdf5; io/dataset.hpp): images, shifts
///    and CTFs from /particles; orientations from /particles/orientation (`orientations =
///    "true"`, simulated data) or from the rows of a result array (`orientations = "recovered"`,
///    default array "recover/quaternions": N rows (w, x, y, z), RELION's A as a quaternion);
///  - a RELION STAR file (`input` ending in .star) with its MRC stacks (io/star.hpp): angles,
///    origins and CTF from the file; images resolved against `image_root` (default: the STAR's
///    folder).
///
/// Half-sets: rlnRandomSubset (1/2) when the STAR file has it, otherwise particle i goes to the
/// half drawn from Rng(seed, stream_split, i) (random_half_sets): the split, like the maps, does
/// not depend on the rank count.
///
/// The particles are cut into pieces (about 32 per rank, at most `batch_size` each) that the ranks
/// read (independently) and insert: with `schedule = "dynamic"` (default) each rank takes the
/// next piece from a shared counter when it is ready, so that a rank on a busier core does
/// fewer; with "static" piece c goes to rank c mod P (bit-reproducible maps; dynamic maps differ
/// between runs only in the float summation order, ~1e-7). finish() sums the Fourier grids into
/// FFTW-MPI slabs and inverts them distributed; rank 0 writes the maps.
///
/// Output: `output` (full map), `<stem>_half1.mrc`, `<stem>_half2.mrc` (stem = output without
/// ".mrc"), each with a `.params.toml` provenance sidecar. Maps have the images' pixel size and
/// the images' density scale (a map whose line integrals are the images).
///
/// Bad input ends the run before any output with an error naming the file and the particle: a
/// dataset without images or without the requested orientations, a recovered array of the wrong
/// shape or with a missing (NaN / zero) row, a non-finite pixel, a half-set with no particle.
#include "pairpose/config/params.hpp"
#include "pairpose/core/stage.hpp"

namespace pairpose::reconstruct {

void declare_reconstruct(config::Schema& schema);
void run_reconstruct(StageContext& ctx);

} // namespace pairpose::reconstruct
