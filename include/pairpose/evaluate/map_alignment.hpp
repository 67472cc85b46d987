#pragma once
/// @file map_alignment.hpp
/// Bringing a reconstructed map into the frame and handedness of a reference map, so that the
/// two can be compared by FSC (method.md §5, §6).
///
/// Why: orientations fixed by the gauge stage are the true ones up to a right factor B ∈ SO(3)
/// and the handedness J = diag(1, 1, −1). The map reconstructed from them is the true map seen
/// through T = Ĵ·B: with p in voxels from the box centre (voxel n/2 on each axis, x fastest),
///
///     aligned(p) = map(T·p),   T = Ĵ·R,   Ĵ = J when mirrored, else the identity,
///
/// is the true map again for R = B. A MapAlignment holds (R, mirrored). When the true and the
/// estimated orientations are known, physical_error (orientation_error.hpp) fits B and Ĵ such
/// that Ĵ·Â_i·Ĵ·B ≈ A_i; that fit gives R = B and the same handedness directly
/// (alignment_from_orientations). Without them, MapAligner finds (R, mirrored) by search:
///
///  1. both maps are down-sampled by Fourier cropping to `coarse_size`³ (a low-pass at that
///     box's Nyquist, with a raised-cosine edge over its last fifth);
///  2. every rotation of a near-uniform SO(3) grid (a super-Fibonacci spiral, Alexa, CVPR 2022,
///     with about 8π²/step³ points), for both hands, is scored by the Pearson correlation of
///     map(T·p) with the reference over the sphere of radius size/2 − 1 voxels about the centre
///     (trilinear interpolation, zero outside the box). The grid is split across the ranks
///     (split_block); the scores are summed so that every rank holds them all;
///  3. the best `n_candidates` rotations of each hand (suppressing any within two grid steps of
///     a better one) are refined by a pattern search on R·exp([ω]ₓ) (±step about each axis,
///     step halved down to `final_step_deg`), first at the coarse size, then at
///     min(`refine_size`, n)³; candidates are split across the ranks, the best reduced.
/// The result does not depend on the number of ranks. No translation is searched: both maps are
/// expected to be centred on voxel n/2 (as pairpose's simulate and reconstruct place them).
///
/// Maps are replicated: every rank holds both maps and runs the same code on its share.
#include <cstdint>
#include <mpi.h>
#include <vector>

#include "pairpose/core/array.hpp"
#include "pairpose/evaluate/orientation_error.hpp"
#include "pairpose/geometry/rotation.hpp"

namespace pairpose::evaluate {

/// aligned(p) = map(Ĵ·R·p); see the file comment.
struct MapAlignment {
  geometry::Mat3 rotation = geometry::identity3(); ///< R ∈ SO(3)
  bool mirrored = false;                           ///< Ĵ = J = diag(1, 1, −1)
  /// Pearson correlation with the reference at the refinement size (search only; 0 otherwise).
  double score = 0;
  /// Best score of the other hand after refinement (search only): the margin by which the
  /// handedness was decided.
  double other_hand_score = 0;
  /// The matrix T = Ĵ·R applied to the coordinates.
  geometry::Mat3 matrix() const;
};

/// The alignment a physical_error fit implies: R = fit.b, mirrored = fit.mirrored.
MapAlignment alignment_from_orientations(const PhysicalError& fit);

/// Angle in degrees between the rotations of two alignments (meaningful when their hands agree).
double angle_between_deg(const MapAlignment& a, const MapAlignment& b);

/// A cubic map resampled to m³ voxels by cropping (m < n) or zero-padding (m > n) its Fourier
/// transform: band-limited interpolation, the voxel size becomes voxel · n / m and the centre
/// voxel n/2 lands on m/2 (a sub-voxel phase shift when n or m is odd). With `taper`, the
/// transform is multiplied by a raised cosine falling from 1 at 0.8 · min(n, m)/2 to 0 at
/// min(n, m)/2 (less ringing). Values keep their scale. Throws unless the map is a cube.
Volume resample(const Volume& map, std::int64_t m, bool taper);

/// The map placed in an n³ box so that its voxel (nx/2, ny/2, nz/2) lands on (n/2, n/2, n/2):
/// zero-padded where the box is larger, cropped where it is smaller. Voxel size kept.
Volume place_centred(const Volume& map, std::int64_t n);

/// out(p) = map(T·p) on the map's own grid, p from the centre voxel n/2; trilinear, zero outside.
/// With oversampling 2 the map is first resampled to (2n)³ in Fourier space, so the trilinear
/// step blurs far less (costs 8× the map's memory); 1 interpolates the map itself.
Volume transform_map(const Volume& map, const geometry::Mat3& t, int oversampling = 2);

/// `count` rotations spread near-uniformly over SO(3) (super-Fibonacci spiral), as matrices.
std::vector<geometry::Mat3> rotation_grid(std::int64_t count);

/// Settings of the search (see the file comment).
struct MapSearchOptions {
  std::int64_t coarse_size = 32; ///< box of the global grid search (voxels)
  double coarse_step_deg = 15;   ///< spacing of the SO(3) grid
  std::int64_t refine_size = 64; ///< box of the last refinement (capped at the map's size)
  int n_candidates = 3;          ///< rotations of each hand refined
  double final_step_deg = 0.1;   ///< smallest step of the pattern search
  bool search_mirror = true;     ///< false: the hand is assumed right (mirrored = false)
};

/// What the last search did.
struct MapSearchReport {
  std::int64_t n_grid = 0;   ///< rotations of the grid (per hand)
  std::int64_t n_scored = 0; ///< correlations computed over all ranks
  double seconds = 0;        ///< wall time of the search
  double cpu_seconds = 0;    ///< CPU time of the search, summed over the ranks
};

/// Configure, then run:
///
///     MapAligner aligner(comm);
///     aligner.set_options(options);
///     MapAlignment a = aligner.align(map, reference);   // collective over comm
///
/// Both maps must be cubes of the same size (any voxel size: only the grid is used).
class MapAligner {
public:
  explicit MapAligner(MPI_Comm comm) : comm_(comm) {}
  void set_options(const MapSearchOptions& options) { options_ = options; }
  const MapSearchOptions& options() const { return options_; }
  /// Collective. Every rank passes the same maps and gets the same result. Throws
  /// pairpose::Error (on every rank) when the maps differ in size or are not cubic, or when
  /// either is constant inside the search sphere.
  MapAlignment align(const Volume& map, const Volume& reference);
  const MapSearchReport& report() const { return report_; }

private:
  MPI_Comm comm_;
  MapSearchOptions options_;
  MapSearchReport report_;
};

} // namespace pairpose::evaluate
