#pragma once
/// @file molmap.hpp
/// Input maps for the pipeline: density from an atomic model (`molmap`) and the project's own
/// synthetic default map (`phantom`). Both run on rank 0 (they take well under a second for
/// boxes up to ~200³); other ranks wait and receive the same error if rank 0 fails.
///
/// molmap: each atom is a 3D Gaussian with standard deviation σ = resolution / (π·√2)
/// ≈ 0.225 · resolution, the default of UCSF Chimera's `molmap` (sigmaFactor 1/(π√2), which
/// makes the Gaussian's Fourier transform fall to 1/e at spatial frequency 1/resolution;
/// Chimera User's Guide, "molmap"), weighted by its atomic number. The Gaussian is evaluated only
/// on the voxels within ±cutoff·σ of the atom along each axis (a separable product of three 1D
/// factors), and each 1D factor is normalised to unit sum over its window, so every atom adds
/// exactly Z / voxel³ to the map: the map is electrons per Å³ and Σ values · voxel³ = Σ Z over the
/// atoms whose windows lie inside the box. The model is centred: its centre of mass (weights Z)
/// is placed at the box centre, voxel (n/2, n/2, n/2) (method.md §2: projections rotate about
/// that point), and the MRC origin is set so that the map overlays the model's own coordinates
/// (origin = centre of mass − n/2 · voxel).
///
/// phantom: a sum of anisotropic Gaussian blobs laid out along a random walk inside a sphere of
/// radius `radius_fraction` · box voxels about the box centre (default 1/3: a compact,
/// asymmetric, protein-like body with room to rotate). Blob k has axis standard deviations
/// σ_k·(1, u, v) with σ_k ∈ [R/12, R/5] voxels (at least 1), u, v ∈ [0.4, 1], a random
/// orientation and an amplitude in [0.5, 1]; successive centres are 1.6·σ_k apart, each kept
/// at most R − 2σ_k from the box centre. Every draw comes from Rng(seed, stream_phantom, 0), so
/// the map depends only on (seed, box, n_blobs, radius_fraction); the voxel size only sets the
/// header. The map is scaled to a maximum of 1.
#include <array>
#include <cstdint>
#include <vector>

#include "pairpose/config/params.hpp"
#include "pairpose/core/array.hpp"
#include "pairpose/core/stage.hpp"
#include "pairpose/io/atomic_model.hpp"

namespace pairpose::simulate {

struct MolmapOptions {
  double resolution = 8.0; ///< Å; sets σ = resolution / (π√2)
  double voxel_size = 1.5; ///< Å
  std::int64_t box = 0;    ///< edge in voxels; 0 = from the model's extent (see auto_box_size)
  double margin = 10.0;    ///< Å added on each side beyond the Gaussian tails when box = 0
  double cutoff = 3.0;     ///< Gaussians are evaluated within ±cutoff·σ
};

/// σ of the atomic Gaussian for a resolution (Å): resolution / (π√2).
double molmap_sigma(double resolution);
/// Centre of mass of the atoms, weighted by atomic number (Å).
std::array<double, 3> centre_of_mass(const std::vector<io::Atom>& atoms);
/// Smallest even edge (voxels) holding every atom's window plus the margin on each side, with
/// the centre of mass at the centre: 2·ceil((max |r − com|∞ + cutoff·σ + margin) / voxel).
std::int64_t auto_box_size(const std::vector<io::Atom>& atoms, const MolmapOptions& options);
/// The density map of the atoms (cubic box; see the file comment for the model).
Volume molmap(const std::vector<io::Atom>& atoms, const MolmapOptions& options);

struct PhantomOptions {
  std::int64_t box = 64;            ///< edge in voxels
  double voxel_size = 2.0;          ///< Å (header only)
  std::int64_t n_blobs = 40;        ///< number of Gaussian blobs
  double radius_fraction = 1 / 3.0; ///< radius of the bounding sphere / box edge
  std::uint64_t seed = 1;
};

/// The synthetic phantom map (deterministic per options).
Volume phantom(const PhantomOptions& options);

/// Random assemblies of fragments of atomic models: training maps of many shapes that keep
/// the texture of real protein density (issue "learn": a network trained on few maps does not
/// carry over to a map it has never seen). Each fragment is the set of atoms within
/// `fragment_radius` of a random atom of a random model, turned by a random rotation and placed
/// on a random walk (steps of 1.2 · fragment_radius, pulled back inside the sphere of radius
/// R − fragment_radius), as `phantom` lays out its blobs. Per assembly, R is drawn in
/// [0.6, 1] · `radius` and the fragment count in [⌈n/2⌉, n]. Every draw comes from
/// Rng(seed, stream_assembly, 0): the atoms depend only on (models, options). Molecules that are
/// symmetric as a whole give asymmetric assemblies, whose images determine the orientation.
struct AssemblyOptions {
  double radius = 100.0;         ///< Å: largest radius of the sphere holding the fragments
  double fragment_radius = 20.0; ///< Å
  std::int64_t n_fragments = 40; ///< largest fragment count
  std::uint64_t seed = 1;
};

/// The atoms of one assembly (centred on the origin's neighbourhood; molmap centres them).
/// Throws unless some model has atoms and the options are positive.
std::vector<io::Atom> fragment_assembly(const std::vector<std::vector<io::Atom>>& models,
                                        const AssemblyOptions& options);

/// Stage `molmap`: [molmap] model, output, resolution, voxel_size, box, margin, cutoff.
void declare_molmap(config::Schema& schema);
void run_molmap(StageContext& ctx);
/// Stage `phantom`: [phantom] output, box, voxel_size, n_blobs, radius_fraction, seed.
void declare_phantom(config::Schema& schema);
void run_phantom(StageContext& ctx);

} // namespace pairpose::simulate
