#define BOOST_TEST_MODULE learn_stage
#include "pairpose_test.hpp"

#ifdef PAIRPOSE_HAVE_LEARN

#include <algorithm>
#include <cmath>
#include <limits>

#include "pairpose/config/provenance.hpp"
#include "pairpose/core/error.hpp"
#include "pairpose/core/files.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/core/random.hpp"
#include "pairpose/io/dataset.hpp"
#include "pairpose/io/mrc.hpp"
#include "pairpose/learn/images.hpp"
#include "pairpose/learn/network.hpp"
#include "pairpose/learn/source.hpp"
#include "pairpose/learn/stage.hpp"
#include "pairpose/simulate/projector.hpp"

using namespace pairpose;

namespace {

Volume blob_map() {
  Volume v(24, 24, 24, 2.0);
  const double centres[3][4] = {{4, -3, 2, 2.0}, {-5, -3, -1, 2.5}, {1, 6, 3, 1.8}};
  for (std::int64_t z = 0; z < 24; ++z)
    for (std::int64_t y = 0; y < 24; ++y)
      for (std::int64_t x = 0; x < 24; ++x) {
        double s = 0;
        for (const auto& c : centres) {
          const double dx = x - 12 - c[0], dy = y - 12 - c[1], dz = z - 12 - c[2];
          s += std::exp(-(dx * dx + dy * dy + dz * dz) / (2 * c[3] * c[3]));
        }
        v.at(x, y, z) = float(s);
      }
  return v;
}

/// A dataset of n projections of the blob map; `nan_at` ≥ 0 puts a NaN into that image.
void make_dataset(const std::string& path, std::int64_t n, bool orientations,
                  std::int64_t nan_at = -1) {
  MPI_Comm comm = MPI_COMM_WORLD;
  simulate::FourierProjector proj(blob_map(), {}, comm);
  io::DatasetInfo info;
  info.n_particles = n;
  info.image_size = proj.image_size();
  info.pixel_size = 2.0;
  info.has_orientations = orientations;
  auto ds = io::Dataset::create(path, comm, info);
  const Block mine = ds.block();
  std::vector<Particle> parts;
  for (std::int64_t i = mine.begin; i < mine.end; ++i) {
    Rng rng(5, stream_orientation, std::uint64_t(i));
    Particle p;
    p.orientation = geometry::random_rotation(rng);
    parts.push_back(p);
  }
  ImageStack images = proj.project(parts);
  if (mine.contains(nan_at)) images.image(nan_at - mine.begin)[7] = std::nanf("");
  ds.write_images(mine, images);
  ds.write_particles(mine, parts);
  ds.commit();
}

template <class Declare, class Run>
void run_stage(const std::string& section, Declare declare, Run run,
               const std::vector<std::string>& settings) {
  MPI_Comm comm = MPI_COMM_WORLD;
  config::Schema schema(section, "");
  declare(schema);
  std::vector<config::Override> overrides;
  for (const auto& s : settings)
    overrides.push_back(config::parse_override(section + "." + s));
  auto params = config::resolve(schema, config::ParameterFile::parse("", "none"), overrides);
  Logger log(comm, LogLevel::quiet);
  TimerOutput timers(comm);
  StageContext ctx{comm, params, log, timers, make_provenance(params)};
  run(ctx);
}

void train(const std::vector<std::string>& settings) {
  std::vector<std::string> all = {"image_size=8",   "channels=8,16",   "kernels=3,3",
                                  "mlp_hidden=16",  "embedding_dim=8", "batch_size=8",
                                  "n_validation=8", "validate_every=3"};
  all.insert(all.end(), settings.begin(), settings.end());
  run_stage("train", learn::declare_train, learn::run_train, all);
}

std::int64_t count_lines(const std::string& path) {
  const std::string text = read_file(path);
  return std::int64_t(std::count(text.begin(), text.end(), '\n'));
}

bool message_has(const Error& e, const std::string& text) {
  const bool ok = std::string(e.what()).find(text) != std::string::npos;
  if (!ok) BOOST_TEST_MESSAGE("message: " << e.what());
  return ok;
}

} // namespace

BOOST_AUTO_TEST_CASE(train_resume_and_embed_a_dataset) {
  const std::string dir =
      testing::scratch_folder("learn_stage_np" + std::to_string(mpi::comm_size(MPI_COMM_WORLD)));
  const std::string data = dir + "/data.h5", model = dir + "/m.model";
  make_dataset(data, 40, true);
  train({"dataset=" + data, "output=" + model, "steps=4", "checkpoint_every=2",
         "plots=" + dir + "/plots"});
  learn::ModelInfo info;
  learn::DistanceNetwork net = learn::DistanceNetwork::load(model, &info);
  BOOST_TEST(net.config().output_dim() == 8);
  BOOST_TEST(info.at("steps_done") == "4");
  BOOST_TEST(std::stod(info.at("validation_rmse")) > 0.0);
  BOOST_TEST(count_lines(dir + "/plots/history.csv") == 1 + 4);
  BOOST_TEST(count_lines(dir + "/plots/validation.csv") == 1 + 2); // steps 3 and 4
  BOOST_TEST(count_lines(dir + "/plots/pairs.csv") == 1 + 8 * 7 / 2);

  // resume from the step-4 checkpoint up to step 6
  train(
      {"dataset=" + data, "output=" + model, "steps=6", "resume=true", "plots=" + dir + "/plots"});
  BOOST_TEST(count_lines(dir + "/plots/history.csv") == 1 + 6);
  learn::DistanceNetwork::load(model, &info);
  BOOST_TEST(info.at("steps_done") == "6");

  // embed: rows equal the network's embedding of the preprocessed images
  net = learn::DistanceNetwork::load(model);
  run_stage("embed", learn::declare_embed, learn::run_embed,
            {"dataset=" + data, "model=" + model, "batch_size=7"});
  auto ds = io::Dataset::open(data, MPI_COMM_WORLD);
  BOOST_REQUIRE(ds.has("embedding/vectors"));
  BOOST_TEST(ds.n_rows("embedding/vectors") == 40);
  const auto rows = ds.read_all_rows<double>("embedding/vectors");
  const ImageStack images = ds.read_images({0, 40});
  learn::DistanceNetwork::load(model, &info);
  learn::PreprocessOptions pre;
  pre.size = 8;
  pre.intermediate_size = std::stoll(info.at("intermediate_size"));
  BOOST_TEST(pre.intermediate_size == 16); // augmentation rotates at twice the input size
  const auto input = learn::preprocess_images(images.data.data(), 40, images.nx, pre, 0);
  const std::vector<float> f = net.embed(input.data(), 40);
  double worst = 0;
  for (size_t k = 0; k < f.size(); ++k)
    worst = std::max(worst, std::abs(f[k] - rows.data[k]));
  BOOST_TEST(worst < 1e-5);
  ds.close();

  BOOST_CHECK_EXCEPTION(run_stage("embed", learn::declare_embed, learn::run_embed,
                                  {"dataset=" + data, "model=" + model, "image_size=32"}),
                        Error, [](const Error& e) { return message_has(e, "8 px"); });
}

BOOST_AUTO_TEST_CASE(online_simulation_trains) {
  const std::string dir =
      testing::scratch_folder("learn_online_np" + std::to_string(mpi::comm_size(MPI_COMM_WORLD)));
  if (mpi::comm_rank(MPI_COMM_WORLD) == 0) io::write_mrc(dir + "/blobs.mrc", blob_map());
  MPI_Barrier(MPI_COMM_WORLD);
  // A detector larger than the map keeps the map's voxel size as its pixel size (as `simulate`
  // does), so online projections match a dataset simulated with the same image_size.
  train({"source=simulate", "maps=" + dir + "/blobs.mrc", "output=" + dir + "/o.model", "steps=3",
         "snr=1", "shift_max=2", "ctf=true", "defocus_min=5000", "defocus_max=8000",
         "simulate_image_size=40", "checkpoint_every=0"});
  learn::ModelInfo info;
  learn::DistanceNetwork::load(dir + "/o.model", &info);
  BOOST_TEST(info.at("training_data").find("online simulation") != std::string::npos);
  BOOST_TEST(info.at("training_data").find("40 px at 2 A") != std::string::npos,
             info.at("training_data"));
  BOOST_TEST(info.at("maps").find("blobs.mrc") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(online_simulation_of_random_assemblies,
                     *boost::unit_test::precondition(testing::needs_shared_data{"1hpv.pdb"})) {
  const std::string dir =
      testing::scratch_folder("learn_random_np" + std::to_string(mpi::comm_size(MPI_COMM_WORLD)));
  const std::string model = testing::shared_data("1hpv.pdb");
  const std::vector<std::string> common = {
      "source=simulate",    "random_models=[\"" + model + "\"]",
      "random_radius=30",   "random_fragment_radius=10",
      "random_fragments=6", "simulate_image_size=24",
      "checkpoint_every=0", "steps=2"};
  auto with = [&](std::vector<std::string> extra) {
    extra.insert(extra.begin(), common.begin(), common.end());
    return extra;
  };
  train(with({"random_maps=3", "simulate_pixel_size=3", "output=" + dir + "/r.model"}));
  learn::ModelInfo info;
  learn::DistanceNetwork::load(dir + "/r.model", &info);
  BOOST_TEST(info.at("maps").find("3 random assemblies") != std::string::npos, info.at("maps"));
  BOOST_TEST(info.at("maps").find("1hpv.pdb") != std::string::npos);
  BOOST_TEST(info.at("training_data").find("3 map(s)") != std::string::npos,
             info.at("training_data"));
  // The random maps need a detector (no map to take it from) and models to cut.
  BOOST_CHECK_EXCEPTION(train(with({"random_maps=3", "output=" + dir + "/x.model"})), Error,
                        [](const Error& e) { return message_has(e, "simulate_pixel_size"); });
  BOOST_CHECK_EXCEPTION(train({"source=simulate", "random_maps=2", "simulate_image_size=24",
                               "simulate_pixel_size=3", "output=" + dir + "/x.model"}),
                        Error, [](const Error& e) { return message_has(e, "random_models"); });
  BOOST_CHECK_EXCEPTION(train(with({"random_maps=0", "output=" + dir + "/x.model"})), Error,
                        [](const Error& e) { return message_has(e, "at least one map"); });
  BOOST_TEST(!file_exists(dir + "/x.model"));
}

BOOST_AUTO_TEST_CASE(online_groups_show_one_map) {
  // Two maps, groups of 4: every group shows one map; with a spread, the even items of a group
  // lie within it of a common centre (so within twice it of each other).
  MPI_Comm comm = MPI_COMM_WORLD;
  Volume shifted = blob_map();
  std::rotate(shifted.data.begin(), shifted.data.begin() + 24 * 24, shifted.data.end());
  simulate::FourierProjector a(blob_map(), {}, comm), b(shifted, {}, comm);
  learn::PreprocessOptions pre;
  pre.size = 8;
  const double spread = 0.3;
  learn::SimulatedTrainingData data({&a, &b}, simulate::DrawOptions{}, 0, 3, 8,
                                    split_block(8, comm), pre, 1, 4, spread);
  BOOST_TEST(data.describe().find("groups of 4 images of one map within 0.3 rad") !=
             std::string::npos);
  std::int64_t n_near = 0, n_far = 0, maps_seen[2] = {0, 0};
  for (std::int64_t step = 0; step < 10; ++step) {
    const learn::ImageSet set = data.batch(step, 16, split_block(16, comm));
    BOOST_TEST_REQUIRE(set.groups.size() == 16u);
    for (std::int64_t g = 0; g < 4; ++g) {
      ++maps_seen[set.groups[4 * g]];
      for (std::int64_t k = 1; k < 4; ++k)
        BOOST_TEST(set.groups[4 * g + k] == set.groups[4 * g]);
      const double d = geometry::distance(set.orientations[4 * g], set.orientations[4 * g + 2]);
      BOOST_TEST(d <= 2 * spread + 1e-9);
      (geometry::distance(set.orientations[4 * g], set.orientations[4 * g + 1]) > 2 * spread
           ? n_far
           : n_near)++;
    }
  }
  BOOST_TEST(maps_seen[0] > 5);
  BOOST_TEST(maps_seen[1] > 5);
  BOOST_TEST(n_far > n_near); // odd items are uniform: mostly far from the centre
  BOOST_TEST(data.validation().groups.size() == 8u);
  BOOST_CHECK_THROW(learn::SimulatedTrainingData({&a}, simulate::DrawOptions{}, 0, 3, 8,
                                                 split_block(8, comm), pre, 1, 1, 0),
                    Error);
  BOOST_CHECK_THROW(learn::SimulatedTrainingData({&a}, simulate::DrawOptions{}, 0, 3, 8,
                                                 split_block(8, comm), pre, 1, 0, spread),
                    Error);
}

BOOST_AUTO_TEST_CASE(bad_datasets_are_clear_errors) {
  const std::string dir =
      testing::scratch_folder("learn_bad_np" + std::to_string(mpi::comm_size(MPI_COMM_WORLD)));
  make_dataset(dir + "/few.h5", 3, true);
  BOOST_CHECK_EXCEPTION(train({"dataset=" + dir + "/few.h5", "output=" + dir + "/x.model"}), Error,
                        [](const Error& e) { return message_has(e, "3 particles"); });
  make_dataset(dir + "/blind.h5", 20, false);
  BOOST_CHECK_EXCEPTION(train({"dataset=" + dir + "/blind.h5", "output=" + dir + "/x.model"}),
                        Error,
                        [](const Error& e) { return message_has(e, "no true orientations"); });
  make_dataset(dir + "/nan.h5", 20, true, 5);
  BOOST_CHECK_EXCEPTION(train({"dataset=" + dir + "/nan.h5", "output=" + dir + "/x.model"}), Error,
                        [](const Error& e) { return message_has(e, "image 5"); });
  // a dataset of orientations only (as `pairs` makes): nothing to train on or embed
  {
    io::DatasetInfo info;
    info.n_particles = 20;
    info.has_orientations = true;
    auto ds = io::Dataset::create(dir + "/empty.h5", MPI_COMM_WORLD, info);
    ds.write_particles(ds.block(), std::vector<Particle>(size_t(ds.block().size())));
    ds.commit();
  }
  BOOST_CHECK_EXCEPTION(train({"dataset=" + dir + "/empty.h5", "output=" + dir + "/x.model"}),
                        Error, [](const Error& e) { return message_has(e, "holds no images"); });
  if (mpi::comm_rank(MPI_COMM_WORLD) == 0)
    learn::DistanceNetwork(learn::network_preset("small", 16), 1).save(dir + "/s.model", {});
  MPI_Barrier(MPI_COMM_WORLD);
  BOOST_CHECK_EXCEPTION(run_stage("embed", learn::declare_embed, learn::run_embed,
                                  {"dataset=" + dir + "/empty.h5", "model=" + dir + "/s.model"}),
                        Error, [](const Error& e) { return message_has(e, "holds no images"); });
  BOOST_TEST(!file_exists(dir + "/x.model"));
}

#else

BOOST_AUTO_TEST_CASE(skipped) { BOOST_TEST_MESSAGE("skipped: built without Torch"); }

#endif
