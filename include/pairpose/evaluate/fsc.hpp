#pragma once
/// @file fsc.hpp
/// Fourier shell correlation between two maps (method.md §6): in shell s (the voxels of the 3D
/// DFT whose frequency index |k| rounds to s, s = 0 … n/2),
///
///     FSC(s) = Re Σ F₁ F₂* / sqrt(Σ |F₁|² · Σ |F₂|²).
///
/// Resolution at a threshold: the first crossing of the curve below it (linear interpolation
/// between shells), as box · voxel / shell in Å. Used to compare a reconstruction with its true
/// map (threshold 0.5) and half-maps with each other (0.143).
#include <cstdint>
#include <string>
#include <vector>

#include "pairpose/core/array.hpp"

namespace pairpose::evaluate {

/// FSC of two cubic maps of the same size, shells 0 … n/2 (shell 0 is the mean). A shell where
/// either map has no power gets 0. Throws pairpose::Error when the maps are not cubic or differ
/// in size. Rank-local (maps are small enough to hold on one rank).
std::vector<double> fourier_shell_correlation(const Volume& a, const Volume& b);

/// Fractional shell at which `fsc` first falls below `threshold` (from shell 1 on), linearly
/// interpolated; fsc.size() − 1 when it never does.
double shell_at(const std::vector<double>& fsc, double threshold);

/// Resolution in Å of a fractional shell: box · voxel / shell (infinity at shell 0).
double shell_resolution(double shell, std::int64_t box, double voxel_size);

/// Spatial frequency in 1/Å of each shell s = 0 … n_shells − 1: s / (box · voxel).
std::vector<double> shell_frequencies(std::int64_t n_shells, std::int64_t box, double voxel_size);

/// A copy of `map` multiplied by a soft spherical mask centred on voxel (n/2, n/2, n/2): 1 out to
/// radius diameter/2, a raised cosine down to 0 over the next `edge` Å, 0 beyond (RELION's soft
/// spherical mask of a particle diameter). FSC of masked maps leaves out the solvent around the
/// particle, whose noise otherwise lowers every shell. Throws pairpose::Error for diameter ≤ 0
/// or edge < 0.
Volume soft_sphere_masked(const Volume& map, double diameter, double edge);

/// Throws pairpose::Error unless `b` is a cube of the same size and voxel size (to 0.1 %) as `a`;
/// the message names both (`what_a`, `what_b`: e.g. the files) and what was expected.
void check_same_grid(const Volume& a, const std::string& what_a, const Volume& b,
                     const std::string& what_b);

} // namespace pairpose::evaluate
