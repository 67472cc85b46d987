#pragma once
/// @file source.hpp
/// Where training images come from (Torch-free): a dataset written by `pairpose simulate`, or
/// projections simulated online with fresh orientations, shifts, CTFs and noise every batch.
///
/// A global batch of B images is step-indexed: item k of step s is the same whatever the rank
/// count (every draw comes from Rng(seed, stream, s·B + k) or from a per-epoch permutation drawn
/// from (seed, epoch)); each rank prepares only its block `mine` of the batch, and every rank
/// gets the B orientations (the targets need all of them).
#include <cstdint>
#include <memory>
#include <mpi.h>
#include <string>
#include <vector>

#include "pairpose/core/partition.hpp"
#include "pairpose/geometry/rotation.hpp"
#include "pairpose/learn/images.hpp"
#include "pairpose/simulate/draw.hpp"

namespace pairpose::io {
class Dataset;
}
namespace pairpose::simulate {
class FourierProjector;
}

namespace pairpose::learn {

/// A rank's rows of a set of preprocessed images, with the orientations of the whole set.
struct ImageSet {
  Block mine;                               ///< this rank's rows of the set
  std::vector<float> images;                ///< mine.size() × size² floats
  std::vector<geometry::Quat> orientations; ///< all rows of the set
  /// All rows: the map each image shows. d_q between images of two different maps means
  /// nothing, so such pairs are left out of the loss and of the figures.
  std::vector<std::int32_t> groups;
  std::int64_t size() const { return std::int64_t(orientations.size()); }
};

class TrainingData {
public:
  virtual ~TrainingData() = default;
  /// Rank-local: rows `mine` of global batch `step` (B = batch_size images).
  virtual ImageSet batch(std::int64_t step, std::int64_t batch_size, Block mine) const = 0;
  /// The held-out set, split across ranks as `mine` (made once, on construction).
  virtual const ImageSet& validation() const = 0;
  /// One line for logs and the model file.
  virtual std::string describe() const = 0;
};

/// Training from a dataset with true orientations. Particles [0, N − n_validation) train, the last
/// n_validation validate (simulated particles are independent draws, so a contiguous split is
/// random). Every rank keeps the training images at min(n, intermediate_size or else size)
/// pixels (16 KB an image at 64 px), rotated there when augmenting, then preprocessed;
/// item k of step s is particle perm_e[(s·B + k) mod n_train] of epoch e = (s·B + k) / n_train,
/// perm_e a permutation drawn from (seed, e). With `augment`, each item is turned in-plane by a
/// uniform φ drawn from (seed, s·B + k) and its orientation becomes Rz(φ)·A.
class DatasetTrainingData : public TrainingData {
public:
  /// Collective over the dataset's communicator. Throws (on every rank) when the dataset has no
  /// images or no true orientations, when fewer than 2 particles remain for training or the
  /// validation set has fewer than 2, or when an image holds a non-finite pixel (naming it).
  DatasetTrainingData(const io::Dataset& dataset, std::int64_t n_validation,
                      const PreprocessOptions& preprocess, bool augment, std::uint64_t seed);
  ImageSet batch(std::int64_t step, std::int64_t batch_size, Block mine) const override;
  const ImageSet& validation() const override { return validation_; }
  std::string describe() const override { return description_; }

private:
  std::vector<std::int64_t> permutation(std::int64_t epoch) const;
  PreprocessOptions preprocess_;
  bool augment_ = false;
  std::uint64_t seed_ = 0;
  std::int64_t n_train_ = 0, stored_size_ = 0;
  std::vector<float> stored_; ///< n_train × stored_size² floats
  std::vector<geometry::Quat> orientations_;
  std::vector<std::int32_t> maps_; ///< map_index of the training particles
  ImageSet validation_;
  std::string description_;
};

/// Online simulation from one or more maps' projectors (owned by the caller, alive while this
/// object is used). Item k of step s is particle s·B + k of draw_particle(draw, seed, ·), projected
/// through projectors[map_index], with white noise of variance v_ref / snr (v_ref: pooled clean
/// variance of 256 reference draws; snr = 0: no noise), then preprocessed. The validation set is
/// n_validation particles drawn from indices 2⁵⁰ + k (never used for training).
///
/// Groups (group_size > 0): the items are taken in consecutive groups of group_size (item k of
/// step s is particle s·B + k; group ⌊(s·B + k) / group_size⌋), and every item of a group shows
/// the same map, drawn per group, so that a batch has pairs of one map to learn from whatever
/// the number of maps. With group_spread > 0 the orientations of the group's even-indexed items
/// are its centre (drawn per group) turned by a rotation of uniform random axis and angle in
/// [0, group_spread], and the odd-indexed items keep their uniform draw: a quarter of the pairs
/// are then short distances (the ones that carry over to an unseen map), the others far ones.
class SimulatedTrainingData : public TrainingData {
public:
  /// Local; `mine_validation` is this rank's block of the validation set (split_block).
  SimulatedTrainingData(std::vector<const simulate::FourierProjector*> projectors,
                        const simulate::DrawOptions& draw, double snr, std::uint64_t seed,
                        std::int64_t n_validation, Block mine_validation,
                        const PreprocessOptions& preprocess, int threads,
                        std::int64_t group_size = 0, double group_spread = 0);
  ImageSet batch(std::int64_t step, std::int64_t batch_size, Block mine) const override;
  const ImageSet& validation() const override { return validation_; }
  std::string describe() const override { return description_; }
  double noise_sigma() const { return sigma_; }

private:
  ImageSet make_set(std::int64_t first_index, std::int64_t n, Block mine) const;
  /// Particle `index`: draw_particle, then the group's map and turn (see the class comment).
  Particle particle(std::int64_t index) const;
  std::vector<const simulate::FourierProjector*> projectors_;
  simulate::DrawOptions draw_;
  std::uint64_t seed_ = 0;
  double sigma_ = 0;
  int threads_ = 1;
  std::int64_t group_size_ = 0;
  double group_spread_ = 0;
  PreprocessOptions preprocess_;
  ImageSet validation_;
  std::string description_;
};

/// Index offset of the validation particles of SimulatedTrainingData.
constexpr std::int64_t simulated_validation_offset = std::int64_t(1) << 50;

} // namespace pairpose::learn
