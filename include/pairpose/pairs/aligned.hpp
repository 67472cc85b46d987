#pragma once
/// @file aligned.hpp
/// Pairs from rotational alignment of the images (pairs.source = "aligned"), for maps no network
/// was trained on.
///
/// Two projections of nearby viewing directions look alike up to an in-plane rotation, whatever
/// the map. So each image is CTF phase-flipped, low-passed and resampled on a polar grid about
/// its centre; the correlation of two images over all in-plane rotations α is then one inverse
/// FFT along the angle of the product of their angular Fourier coefficients. Its peak ranks the
/// other images by viewing direction, and its position α_ij is the in-plane rotation between them:
/// the turn (counter-clockwise in x, y with y along the rows) that brings image j onto image i,
/// so that image j looks like image i turned by −α_ij, and α_ji = −α_ij.
///
/// Pair set: each image's `neighbours` best-correlated images (symmetrised: j is a neighbour of i
/// when either lists the other), kept only when the two share at least `min_shared` neighbours,
/// which drops the rare unlike views that happen to correlate. Every kept pair stores α_ij (the
/// pair's first particle being i) and the distance d̂ = 2·acos(cos(t/2)·|cos(α_ij/2)|), exact for
/// two rotations whose viewing directions are t apart and whose in-plane rotations differ by α
/// (cos(d/2) = cos(θ/2)·cos((φ+ψ)/2) for the ZYZ angles of the relative rotation).
///
/// Assumes centred particles (the polar grid is about the image centre): shifts blur the
/// comparison.
#include <complex>
#include <cstdint>
#include <mpi.h>
#include <vector>

#include "pairpose/core/array.hpp"
#include "pairpose/io/particle.hpp"
#include "pairpose/pairs/pair_set.hpp"

namespace pairpose::pairs {

struct AlignedOptions {
  double pixel_size = 1.0;      ///< Å per pixel of the images
  double resolution = 20.0;     ///< Å: Gaussian low-pass exp(−(s·resolution)²/2), s in 1/Å
  bool ctf_flip = true;         ///< phase-flip by the particle's CTF (when it has one)
  int n_angles = 72;            ///< polar samples per ring (even)
  int n_radii = 36;             ///< rings, from 1 px to max_radius
  double max_radius = 0.4;      ///< outer ring, as a fraction of the image size
  std::int64_t neighbours = 30; ///< best-correlated images listed per image
  std::int64_t min_shared = 10; ///< shared neighbours a pair needs to be kept
  double tilt = 0.15;           ///< rad: the typical viewing-direction angle t of a kept pair
};

/// Angular Fourier coefficients of the polar images: per image n_radii × (n_angles/2 + 1)
/// complex floats, ring by ring; each image's polar samples are mean-free, weighted by √r and of
/// unit norm, so that the correlation of two images lies in [−1, 1].
struct PolarFeatures {
  std::int64_t n = 0;
  int n_radii = 0, n_coefficients = 0;
  std::vector<std::complex<float>> values;
  std::int64_t stride() const { return std::int64_t(n_radii) * n_coefficients; }
  const std::complex<float>* image(std::int64_t i) const { return values.data() + i * stride(); }
};

/// Features of `images` (square, any number), with particles[k] giving image k's CTF. Throws
/// naming the image for a non-finite or constant image, and for bad options.
PolarFeatures polar_features(const ImageStack& images, const std::vector<Particle>& particles,
                             const AlignedOptions& opt);

/// Peak of the correlation over in-plane rotations of images a and b: its value, and the angle
/// α (rad, in (−π, π], refined between samples by a parabola).
struct AlignmentPeak {
  double correlation = 0;
  double angle = 0;
};
AlignmentPeak align(const PolarFeatures& f, std::int64_t a, std::int64_t b, int n_angles);

/// The pair set described above, for the rows of this rank (`rows`, split_block of all), from the
/// features of every image (replicated on every rank). Collective (the neighbour lists are
/// gathered). PairSet::inplane receives α_ij per stored pair (i its first particle).
/// Deterministic and independent of the rank count.
PairSet aligned_pairs(const PolarFeatures& all, const Block& rows, const AlignedOptions& opt,
                      MPI_Comm comm);

} // namespace pairpose::pairs
