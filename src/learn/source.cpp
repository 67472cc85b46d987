#include "pairpose/learn/source.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <map>

#include "pairpose/core/error.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/core/random.hpp"
#include "pairpose/io/dataset.hpp"
#include "pairpose/simulate/noise.hpp"
#include "pairpose/simulate/projector.hpp"

namespace pairpose::learn {

namespace {

/// Index offsets keeping the augmentation and reference draws apart from the particles'.
constexpr std::uint64_t augment_offset = std::uint64_t(1) << 40;
constexpr std::int64_t reference_offset = std::int64_t(1) << 51;
constexpr std::int64_t read_chunk = 512;

std::vector<geometry::Quat> orientations_of(const std::vector<Particle>& particles) {
  std::vector<geometry::Quat> q;
  for (const auto& p : particles)
    q.push_back(p.orientation);
  return q;
}

std::vector<std::int32_t> maps_of(const std::vector<Particle>& particles) {
  std::vector<std::int32_t> m;
  for (const auto& p : particles)
    m.push_back(p.map_index);
  return m;
}

/// Index offset of the per-item turn within a group (group_spread > 0).
constexpr std::uint64_t group_turn_offset = std::uint64_t(1) << 62;

} // namespace

// --- dataset -------------------------------------------------------------------------------------

DatasetTrainingData::DatasetTrainingData(const io::Dataset& ds, std::int64_t n_validation,
                                         const PreprocessOptions& preprocess, bool augment,
                                         std::uint64_t seed)
    : preprocess_(preprocess), augment_(augment), seed_(seed) {
  const std::int64_t n = ds.n_particles(), side = ds.info().image_size;
  PAIRPOSE_CHECK(ds.has_images(), ds.path() << ": the dataset holds no images");
  PAIRPOSE_CHECK(ds.has_orientations(),
                 ds.path() << ": the dataset has no true orientations (/particles/orientation); "
                              "training needs simulated data");
  n_train_ = n - n_validation;
  PAIRPOSE_CHECK(n_validation >= 2 && n_train_ >= 2,
                 ds.path() << ": " << n << " particles cannot give " << n_validation
                           << " validation particles (>= 2) and >= 2 training particles");
  stored_size_ = std::min(side, preprocess.intermediate_size > 0 ? preprocess.intermediate_size
                                                                 : preprocess.size);
  const std::int64_t s2 = stored_size_ * stored_size_;
  stored_.resize(static_cast<size_t>(n_train_ * s2));
  for (std::int64_t b = 0; b < n_train_; b += read_chunk) {
    const Block rows{b, std::min(n_train_, b + read_chunk)};
    const ImageStack images = ds.read_images(rows); // every rank reads every training image
    for (std::int64_t i = 0; i < rows.size(); ++i) {
      const float* image = images.image(i);
      for (std::int64_t k = 0; k < side * side; ++k)
        PAIRPOSE_CHECK(std::isfinite(image[k]), ds.path()
                                                    << ": image " << rows.begin + i
                                                    << " has a non-finite pixel (" << k << ")");
      resample_area(image, side, stored_.data() + (rows.begin + i) * s2, stored_size_);
    }
  }
  const std::vector<Particle> train_particles = ds.read_particles({0, n_train_});
  orientations_ = orientations_of(train_particles);
  maps_ = maps_of(train_particles);

  const Block all_validation{n_train_, n};
  const Block mine = split_block(n_validation, ds.comm());
  validation_.mine = mine;
  const std::vector<Particle> validation_particles = ds.read_particles(all_validation);
  validation_.orientations = orientations_of(validation_particles);
  validation_.groups = maps_of(validation_particles);
  const ImageStack images = ds.read_images({n_train_ + mine.begin, n_train_ + mine.end});
  std::string failure; // a bad image on one rank fails every rank
  try {
    validation_.images =
        preprocess_images(images.data.data(), mine.size(), side, preprocess, n_train_ + mine.begin);
  } catch (const Error& e) {
    failure = ds.path() + ": " + e.what();
  }
  mpi::agree_or_throw(failure, ds.comm());
  description_ = "dataset " + ds.path() + ": " + std::to_string(n_train_) + " training, " +
                 std::to_string(n_validation) + " validation particles" +
                 (augment ? ", in-plane rotation augmentation" : "");
}

std::vector<std::int64_t> DatasetTrainingData::permutation(std::int64_t epoch) const {
  std::vector<std::int64_t> p(static_cast<size_t>(n_train_));
  for (std::int64_t i = 0; i < n_train_; ++i)
    p[i] = i;
  Rng rng(seed_, stream_train, std::uint64_t(epoch));
  for (std::int64_t i = n_train_ - 1; i > 0; --i)
    std::swap(p[i], p[rng.below(std::uint64_t(i + 1))]);
  return p;
}

ImageSet DatasetTrainingData::batch(std::int64_t step, std::int64_t batch_size, Block mine) const {
  ImageSet set;
  set.mine = mine;
  const std::int64_t m2 = preprocess_.size * preprocess_.size, s2 = stored_size_ * stored_size_;
  set.images.resize(static_cast<size_t>(mine.size() * m2));
  std::map<std::int64_t, std::vector<std::int64_t>> perms;
  for (std::int64_t k = 0; k < batch_size; ++k) {
    const std::int64_t g = step * batch_size + k, epoch = g / n_train_;
    if (!perms.count(epoch)) perms[epoch] = permutation(epoch);
    const std::int64_t item = perms[epoch][g % n_train_];
    double phi = 0;
    if (augment_)
      phi = Rng(seed_, stream_train, augment_offset + std::uint64_t(g)).uniform(0, 2 * M_PI);
    set.orientations.push_back(phi != 0 ? rotate_orientation(orientations_[item], phi)
                                        : orientations_[item]);
    set.groups.push_back(maps_[item]);
    if (mine.contains(k))
      preprocess_image(stored_.data() + item * s2, stored_size_, preprocess_, phi,
                       set.images.data() + (k - mine.begin) * m2, item);
  }
  return set;
}

// --- online simulation -------------------------------------------------------------------------

SimulatedTrainingData::SimulatedTrainingData(
    std::vector<const simulate::FourierProjector*> projectors, const simulate::DrawOptions& draw,
    double snr, std::uint64_t seed, std::int64_t n_validation, Block mine_validation,
    const PreprocessOptions& preprocess, int threads, std::int64_t group_size, double group_spread)
    : projectors_(std::move(projectors)), draw_(draw), seed_(seed), threads_(threads),
      group_size_(group_size), group_spread_(group_spread), preprocess_(preprocess) {
  PAIRPOSE_CHECK(!projectors_.empty(), "online simulation: no maps");
  PAIRPOSE_CHECK(n_validation >= 2, "online simulation: the validation set needs >= 2 images");
  PAIRPOSE_CHECK(group_size_ == 0 || group_size_ >= 2,
                 "online simulation: group_size must be 0 (off) or >= 2, got " << group_size_);
  PAIRPOSE_CHECK(group_spread_ >= 0 && (group_spread_ == 0 || group_size_ > 0),
                 "online simulation: group_spread needs group_size > 0");
  draw_.n_maps = std::int32_t(projectors_.size());
  simulate::check_draw_options(draw_);
  if (snr > 0) {
    simulate::PixelMoments moments;
    const std::int64_t n = projectors_[0]->image_size();
    std::vector<float> image(static_cast<size_t>(n * n));
    for (std::int64_t k = 0; k < 256; ++k) {
      const Particle p = particle(reference_offset + k);
      projectors_[p.map_index]->project(p, image.data());
      moments.add(image.data(), n * n);
    }
    sigma_ = std::sqrt(moments.variance() / snr);
  }
  validation_ = make_set(simulated_validation_offset, n_validation, mine_validation);
  description_ = fmt::format(
      "online simulation from {} map(s), {} px at {:.4g} A, snr {}{}, shift_max {:.4g} A",
      projectors_.size(), projectors_[0]->image_size(), projectors_[0]->pixel_size(),
      snr > 0 ? fmt::format("{:.6g}", snr) : std::string("none"), draw_.ctf ? ", CTF" : "",
      draw_.shift_max);
  if (group_size_ > 0)
    description_ += fmt::format(", groups of {} images of one map", group_size_) +
                    (group_spread_ > 0 ? fmt::format(" within {:.4g} rad", group_spread_) : "");
}

Particle SimulatedTrainingData::particle(std::int64_t index) const {
  Particle p = simulate::draw_particle(draw_, seed_, index);
  if (group_size_ == 0) return p;
  Rng group(seed_, stream_train_group, std::uint64_t(index / group_size_));
  p.map_index = std::int32_t(group.below(std::uint64_t(projectors_.size())));
  // Every second image of a group keeps its uniform orientation: far partners for the near ones.
  if (group_spread_ > 0 && index % 2 == 0) {
    const geometry::Quat centre = geometry::random_rotation(group, draw_.views);
    Rng turn(seed_, stream_train_group, group_turn_offset + std::uint64_t(index));
    const double angle = turn.uniform(0, group_spread_);
    double axis[3] = {turn.normal(), turn.normal(), turn.normal()};
    const double n = std::sqrt(axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]);
    const double s = std::sin(angle / 2) / n;
    p.orientation = geometry::canonical(geometry::multiply(
        geometry::Quat{std::cos(angle / 2), s * axis[0], s * axis[1], s * axis[2]}, centre));
  }
  return p;
}

ImageSet SimulatedTrainingData::make_set(std::int64_t first, std::int64_t n, Block mine) const {
  ImageSet set;
  set.mine = mine;
  std::vector<Particle> particles;
  for (std::int64_t k = 0; k < n; ++k)
    particles.push_back(particle(first + k));
  set.orientations = orientations_of(particles);
  set.groups = maps_of(particles);
  const std::int64_t side = projectors_[0]->image_size(), m2 = preprocess_.size * preprocess_.size;
  set.images.resize(static_cast<size_t>(mine.size() * m2));
  ImageStack clean(mine.size(), side, side);
  for (size_t m = 0; m < projectors_.size(); ++m) { // each map's particles in one threaded call
    std::vector<Particle> subset;
    std::vector<std::int64_t> where;
    for (std::int64_t k = mine.begin; k < mine.end; ++k)
      if (std::size_t(particles[k].map_index) == m)
        subset.push_back(particles[k]), where.push_back(k);
    if (subset.empty()) continue;
    const ImageStack images = projectors_[m]->project(subset, true, threads_);
    for (size_t j = 0; j < where.size(); ++j)
      std::copy_n(images.image(std::int64_t(j)), side * side, clean.image(where[j] - mine.begin));
  }
  for (std::int64_t k = mine.begin; k < mine.end; ++k) {
    float* image = clean.image(k - mine.begin);
    if (sigma_ > 0) simulate::add_particle_noise(image, side * side, sigma_, seed_, first + k);
    preprocess_image(image, side, preprocess_, 0.0, set.images.data() + (k - mine.begin) * m2,
                     first + k);
  }
  return set;
}

ImageSet SimulatedTrainingData::batch(std::int64_t step, std::int64_t batch_size,
                                      Block mine) const {
  return make_set(step * batch_size, batch_size, mine);
}

} // namespace pairpose::learn
