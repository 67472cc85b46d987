#pragma once
/// @file stage.hpp
/// The `simulate` stage: one or more maps → a projection dataset (HDF5, io/dataset.hpp), and
/// optionally a RELION 3.1 STAR file with MRC stacks of the same images.
///
/// What it does, on every rank of the communicator:
///  1. reads and checks the maps (and the input STAR, if any) and every parameter, before any
///     output is created: bad input (a map of zeros or NaNs, an image larger than the padded map,
///     an empty defocus range, ...) ends the run with an error and no file;
///  2. builds one FourierProjector per map (collective: distributed 3D FFT, replicated Fourier
///     box, see projector.hpp);
///  3. splits the particles across ranks (split_block). Particle i's orientation, shift, CTF,
///     map and noise come from (seed, i) alone (draw.hpp, noise.hpp), or its orientation, shift
///     and CTF from row i of the input STAR: 1 rank and P ranks write identical images;
///  4. noise: σ² = v_ref / snr, or v_ref · noise_sigma2 (the paper's σ² on standardised
///     images), v_ref being the pooled pixel variance of the clean images of up to 256 particles
///     spread evenly over the set (computed once, split across ranks, summed in particle order);
///  5. writes the dataset in batches (collective parallel HDF5), then, if `export_star` is set,
///     the STAR file and stacks `<stem>.mrcs` (or `<stem>_NNNNN.mrcs`, 10,000 images each, when
///     there are more), each stack written by one rank, read back from the dataset. With several
///     maps, rlnClassNumber = map index + 1.
///
/// Outputs: `output` (dataset; provenance attribute), `export_star` + stacks + its
/// `.params.toml` sidecar.
#include "pairpose/config/params.hpp"
#include "pairpose/core/stage.hpp"

namespace pairpose::simulate {

void declare_simulate(config::Schema& schema);
void run_simulate(StageContext& ctx);

} // namespace pairpose::simulate
