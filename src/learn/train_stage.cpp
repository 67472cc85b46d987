// The `train` stage (see learn/stage.hpp). Torch-free: it drives the library through its
// public headers.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fmt/format.h>
#include <limits>
#include <memory>
#include <sstream>

#include "pairpose/core/error.hpp"
#include "pairpose/core/files.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/core/parse.hpp"
#include "pairpose/io/dataset.hpp"
#include "pairpose/io/mrc.hpp"
#include "pairpose/learn/source.hpp"
#include "pairpose/learn/stage.hpp"
#include "pairpose/learn/trainer.hpp"
#include "pairpose/simulate/molmap.hpp"
#include "pairpose/simulate/projector.hpp"

namespace pairpose::learn {

void declare_train(config::Schema& s) {
  s.choice("source", "dataset", {"dataset", "simulate"},
           "Training images: a dataset written by `pairpose simulate`, or projections simulated "
           "online from `maps` (fresh every batch).");
  s.string("dataset", "", "source = dataset: the HDF5 dataset (with true orientations).");
  s.string_list("maps", {}, "source = simulate: the maps (MRC) to project.");
  s.integer("random_maps", 0, 0, 100000,
            "source = simulate: also this many random maps, each an assembly of fragments of "
            "`random_models` (molmap.hpp, fragment_assembly), made in memory from the seed.");
  s.string_list("random_models", {},
                "random_maps > 0: atomic models (PDB or mmCIF) the fragments are cut from.");
  s.real("random_radius", 100, 1, 1e5,
         "random_maps: largest radius of an assembly (drawn in [0.6, 1] times this).", "Å");
  s.real("random_fragment_radius", 20, 1, 1e4,
         "random_maps: a fragment is the atoms within this distance of a random atom.", "Å");
  s.integer("random_fragments", 40, 1, 1e6,
            "random_maps: largest fragment count of an assembly (drawn in [n/2, n]).");
  s.real("random_resolution", 8, 0.1, 1000,
         "random_maps: molmap resolution of the random maps (their voxel size is "
         "simulate_pixel_size, their box simulate_image_size, or the first map's).",
         "Å");
  s.integer("simulate_image_size", 0, 0, 4096,
            "source = simulate: side of the projections; 0 = the first map's largest side.", "px");
  s.real("simulate_pixel_size", 0, 0, 1e4,
         "source = simulate: pixel size of the projections; 0 = the first map's voxel size (as "
         "`simulate`).",
         "Å");
  s.choice("views", "full", {"full", "half", "quarter"}, "source = simulate: viewing directions.");
  s.real("shift_max", 0, 0, 1e4, "source = simulate: largest shift (uniform on the disk).", "Å");
  s.boolean("ctf", false, "source = simulate: apply a CTF drawn per particle.");
  s.real("defocus_min", 10000, 0, 1e6, "source = simulate: smallest mean defocus.", "Å");
  s.real("defocus_max", 25000, 0, 1e6, "source = simulate: largest mean defocus.", "Å");
  s.real("snr", 0, 0, 1e9, "source = simulate: signal-to-noise ratio; 0 = no noise.");
  s.integer("group_size", 0, 0, 1e5,
            "source = simulate: a batch's images come in groups of this many showing one map "
            "(drawn per group); 0 = a map drawn per image. Only pairs of one map enter the loss, "
            "so with many maps set it (batch_size a multiple of it).");
  s.real("group_spread", 0, 0, M_PI,
         "group_size > 0: half the group's orientations (every second) lie within this angle "
         "of a centre drawn per group, the others are uniform (0 = all uniform); gives many "
         "short distances.",
         "rad");
  s.integer("n_validation", 256, 2, 1e6,
            "Held-out images (dataset: its last particles; simulate: separate draws).");
  s.choice("preset", "small", {"small", "paper"}, "Network preset (network.hpp).");
  s.integer("image_size", 32, 4, 1024, "Network input side; images are area-resampled to it.",
            "px");
  s.string("channels", "", "Conv channel widths, comma-separated; empty = the preset's.");
  s.string("kernels", "", "Conv kernel sides, comma-separated; empty = the preset's.");
  s.string("mlp_hidden", "", "MLP hidden widths ('-' = none); empty = the preset's.");
  s.integer("embedding_dim", -1, -1, 1e5, "MLP output width (0 = no MLP); -1 = the preset's.");
  s.choice("batch_norm", "preset", {"preset", "true", "false"}, "Batch-norm after each conv.");
  s.boolean("mask", true, "Zero pixels beyond the inscribed circle of the network input.");
  s.boolean("standardize", true, "Zero mean, unit variance per image.");
  s.boolean("augment", true, "source = dataset: random in-plane rotation of every item.");
  s.integer("batch_size", 64, 2, 1e5, "Images a step (all B(B-1)/2 pairs are used).");
  s.integer("steps", 1000, 1, 1e9, "Optimiser steps.");
  s.choice("loss", "squared", {"squared", "absolute"}, "Pair loss on d_hat - d_q.");
  s.boolean("rebalance", false, "Weight pairs by the inverse frequency of their d_q (10 bins).");
  s.real("weight_scale", 0, 0, 100, "> 0: weight pairs by exp(-d_q / weight_scale).", "rad");
  s.choice("optimizer", "adam", {"adam", "rmsprop"}, "Optimiser.");
  s.real("learning_rate", 1e-3, 1e-9, 10, "Initial learning rate.");
  s.choice("schedule", "constant", {"constant", "exponential", "cosine"},
           "Learning-rate schedule.");
  s.real("decay", 0.5, 1e-6, 1, "exponential: factor every decay_steps.");
  s.integer("decay_steps", 1000, 1, 1e9, "exponential: steps per decay factor.");
  s.real("min_learning_rate", 0, 0, 10, "cosine: final learning rate (reached at `steps`).");
  s.integer("validate_every", 100, 1, 1e9, "Steps between validations.");
  s.integer("patience", 0, 0, 1e6,
            "Stop after this many validations without improvement; 0 = off.");
  s.string("output", "distance.model", "Model file (best validation loss).");
  s.string("checkpoint", "", "Checkpoint file; empty = <output>.checkpoint.");
  s.integer("checkpoint_every", 500, 0, 1e9, "Steps between checkpoints; 0 = none.");
  s.boolean("resume", false, "Continue from the checkpoint.");
  s.string("plots", "", "Folder for CSV tables (and PNGs); empty = none.");
  s.integer("n_plot_pairs", 20000, 0, 1e8, "Held-out pairs written to pairs.csv.");
  s.integer("threads", 1, 1, 256, "Torch and projector threads per rank.");
  s.integer("seed", 1, 0, 9.0e18, "Seed of initialisation, batches, augmentation, simulation.");
}

namespace {

std::vector<int> parse_list(const std::string& text, const std::string& key) {
  std::vector<int> v;
  if (text == "-") return v;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    PAIRPOSE_CHECK(!item.empty() && item.find_first_not_of(" 0123456789") == std::string::npos,
                   "train." << key << " = '" << text << "': expected comma-separated integers");
    const std::int64_t value = parse_int64(item, "train." + key);
    PAIRPOSE_CHECK(value <= std::numeric_limits<int>::max(),
                   "train." << key << " = '" << text << "': " << value << " is too large");
    v.push_back(static_cast<int>(value));
  }
  return v;
}

NetworkConfig network_config(const config::Params& p) {
  NetworkConfig c = network_preset(p.string("preset"), p.integer("image_size"));
  bool custom = false;
  if (!p.string("channels").empty()) c.channels = parse_list(p.string("channels"), "channels");
  if (!p.string("kernels").empty()) c.kernels = parse_list(p.string("kernels"), "kernels");
  if (!p.string("mlp_hidden").empty())
    c.mlp_hidden = parse_list(p.string("mlp_hidden"), "mlp_hidden");
  if (p.integer("embedding_dim") >= 0) c.embedding_dim = int(p.integer("embedding_dim"));
  if (p.string("batch_norm") != "preset") c.batch_norm = p.string("batch_norm") == "true";
  custom = c != network_preset(p.string("preset"), p.integer("image_size"));
  if (custom) c.preset = "custom";
  c.check();
  return c;
}

TrainerOptions trainer_options(const config::Params& p) {
  TrainerOptions o;
  o.loss = p.string("loss");
  o.optimizer = p.string("optimizer");
  o.learning_rate = p.real("learning_rate");
  o.schedule = p.string("schedule");
  o.decay = p.real("decay");
  o.decay_steps = p.integer("decay_steps");
  o.total_steps = p.integer("steps");
  o.min_learning_rate = p.real("min_learning_rate");
  o.rebalance = p.boolean("rebalance");
  o.weight_scale = p.real("weight_scale");
  o.threads = int(p.integer("threads"));
  o.check();
  return o;
}

/// The maps and their projectors for online simulation (collective construction).
struct Simulation {
  std::vector<std::unique_ptr<simulate::FourierProjector>> projectors;
  std::unique_ptr<SimulatedTrainingData> data;
};

Simulation make_simulation(const StageContext& ctx, const PreprocessOptions& pre) {
  const auto& p = ctx.params;
  const std::int64_t n_random = p.integer("random_maps");
  PAIRPOSE_CHECK(!p.string_list("maps").empty() || n_random > 0,
                 "train.maps: give at least one map (or random_maps > 0)");
  Simulation sim;
  simulate::ProjectorOptions po;
  po.image_size = p.integer("simulate_image_size");
  po.pixel_size = p.real("simulate_pixel_size");
  for (const auto& path : p.string_list("maps")) {
    const Volume map = io::read_mrc_volume(path);
    simulate::check_map(map, path);
    // As the simulate stage: the first map fixes the detector for all maps.
    if (po.image_size == 0) po.image_size = std::max({map.nx, map.ny, map.nz});
    if (po.pixel_size == 0) po.pixel_size = map.voxel_size;
    sim.projectors.push_back(std::make_unique<simulate::FourierProjector>(map, po, ctx.comm));
  }
  if (n_random > 0) {
    PAIRPOSE_CHECK(po.image_size > 0 && po.pixel_size > 0,
                   "train.random_maps without maps: set simulate_image_size and "
                   "simulate_pixel_size (the random maps' box and voxel size)");
    PAIRPOSE_CHECK(!p.string_list("random_models").empty(),
                   "train.random_maps = " << n_random
                                          << ": list the atomic models in random_models");
    std::vector<std::vector<io::Atom>> models;
    for (const auto& path : p.string_list("random_models")) // a file without atoms is an error
      models.push_back(io::read_atomic_model(path));
    simulate::MolmapOptions mo;
    mo.resolution = p.real("random_resolution");
    mo.voxel_size = po.pixel_size;
    mo.box = po.image_size;
    simulate::AssemblyOptions ao;
    ao.radius = p.real("random_radius");
    ao.fragment_radius = p.real("random_fragment_radius");
    ao.n_fragments = p.integer("random_fragments");
    // Every rank builds the same maps from the seed (a few ms each); the projectors' 3D FFTs are
    // collective.
    for (std::int64_t k = 0; k < n_random; ++k) {
      ao.seed = std::uint64_t(p.integer("seed")) * 1000003u + std::uint64_t(k);
      const Volume map = simulate::molmap(simulate::fragment_assembly(models, ao), mo);
      simulate::check_map(map, "random map " + std::to_string(k));
      sim.projectors.push_back(std::make_unique<simulate::FourierProjector>(map, po, ctx.comm));
    }
    ctx.log.info("train: {} random maps ({}³ voxels of {} Å) from fragments of {} model(s)",
                 n_random, mo.box, mo.voxel_size, models.size());
  }
  simulate::DrawOptions d;
  d.views = geometry::parse_view_range(p.string("views").c_str());
  d.shift_max = p.real("shift_max");
  d.ctf = p.boolean("ctf");
  d.defocus_min = p.real("defocus_min");
  d.defocus_max = p.real("defocus_max");
  std::vector<const simulate::FourierProjector*> raw;
  for (auto& proj : sim.projectors)
    raw.push_back(proj.get());
  const std::int64_t n_val = p.integer("n_validation");
  sim.data = std::make_unique<SimulatedTrainingData>(
      raw, d, p.real("snr"), std::uint64_t(p.integer("seed")), n_val, split_block(n_val, ctx.comm),
      pre, int(p.integer("threads")), p.integer("group_size"), p.real("group_spread"));
  return sim;
}

/// Loss history and validation figures, kept identically on every rank.
struct History {
  std::string steps = "step,loss,learning_rate\n";
  std::string validations = "step,loss,rmse,mean_abs\n";
  double best_loss = std::numeric_limits<double>::infinity();
  std::int64_t best_step = -1;
  std::int64_t since_best = 0;
};

void write_tables(const StageContext& ctx, const History& h, const PairEvaluation& final_eval) {
  const std::string folder = ctx.params.string("plots");
  if (folder.empty() || mpi::comm_rank(ctx.comm) != 0) return;
  write_file_atomic(join_path(folder, "history.csv"), h.steps);
  write_file_atomic(join_path(folder, "validation.csv"), h.validations);
  std::string pairs = "d_q,d_hat\n";
  for (size_t k = 0; k < final_eval.sample_truth.size(); ++k)
    pairs +=
        fmt::format("{:.6f},{:.6f}\n", final_eval.sample_truth[k], final_eval.sample_estimate[k]);
  write_file_atomic(join_path(folder, "pairs.csv"), pairs);
  const char* scripts = std::getenv("PAIRPOSE_SCRIPTS");
  if (!scripts) {
    ctx.log.info("train: tables in {}; draw them with python3 scripts/plot_train.py {}", folder,
                 folder);
    return;
  }
  const std::string cmd = fmt::format("/usr/bin/python3 '{}/plot_train.py' '{}'", scripts, folder);
  if (std::system(cmd.c_str()) != 0) ctx.log.warn("drawing the plots failed: {}", cmd);
}

ModelInfo model_info(const StageContext& ctx, const TrainingData& data, const History& h,
                     std::int64_t step, const PreprocessOptions& pre) {
  const auto& p = ctx.params;
  ModelInfo info;
  info["training_data"] = data.describe();
  std::string maps;
  for (const auto& m : p.string_list("maps"))
    maps += (maps.empty() ? "" : ";") + m;
  if (p.integer("random_maps") > 0) {
    maps += fmt::format("{}{} random assemblies (seed {}, radius {} A, fragments {} of {} A, "
                        "resolution {} A) of",
                        maps.empty() ? "" : ";", p.integer("random_maps"), p.integer("seed"),
                        p.real("random_radius"), p.integer("random_fragments"),
                        p.real("random_fragment_radius"), p.real("random_resolution"));
    for (const auto& m : p.string_list("random_models"))
      maps += " " + m;
  }
  info["maps"] = maps;
  info["dataset"] = p.string("dataset");
  info["mask"] = p.boolean("mask") ? "1" : "0";
  info["standardize"] = p.boolean("standardize") ? "1" : "0";
  info["intermediate_size"] = std::to_string(pre.intermediate_size);
  info["steps_done"] = std::to_string(step);
  info["best_step"] = std::to_string(h.best_step);
  info["best_validation_loss"] = fmt::format("{:.9g}", h.best_loss);
  info["history"] = h.steps;
  info["validation_history"] = h.validations;
  info["provenance"] = ctx.provenance;
  return info;
}

} // namespace

namespace {

PreprocessOptions preprocessing(const config::Params& p, const NetworkConfig& config) {
  PreprocessOptions pre;
  pre.size = config.image_size;
  pre.mask = p.boolean("mask");
  pre.standardize = p.boolean("standardize");
  if (p.string("source") == "dataset" && p.boolean("augment"))
    pre.intermediate_size = 2 * config.image_size; // rotate at twice the input size
  return pre;
}

/// One run of the stage: configured from the parameters, then run().
class TrainingRun {
public:
  explicit TrainingRun(StageContext& ctx)
      : ctx_(ctx), p_(ctx.params), config_(network_config(p_)), pre_(preprocessing(p_, config_)),
        batch_(p_.integer("batch_size")), n_steps_(p_.integer("steps")),
        output_(p_.string("output")),
        checkpoint_(p_.string("checkpoint").empty() ? output_ + ".checkpoint"
                                                    : p_.string("checkpoint")),
        net_(config_, std::uint64_t(p_.integer("seed"))) {
    PAIRPOSE_CHECK(batch_ >= mpi::comm_size(ctx.comm),
                   "train.batch_size = " << batch_ << " is smaller than the number of ranks ("
                                         << mpi::comm_size(ctx.comm) << ")");
    const TrainerOptions options = trainer_options(p_);
    open_data();
    trainer_ = std::make_unique<Trainer>(ctx.comm, net_, options);
    if (p_.boolean("resume")) resume();
  }

  void run() {
    ctx_.log.info("train: {}; network {} ({} parameters); {} steps of {} images ({} pairs)",
                  data_->describe(), config_.to_text(), net_.n_parameters(), n_steps_, batch_,
                  batch_ * (batch_ - 1) / 2);
    const Block mine = split_block(batch_, ctx_.comm);
    start_ = wall_seconds();
    while (trainer_->step_count() < n_steps_) {
      const std::int64_t step = trainer_->step_count();
      const double lr = trainer_->learning_rate();
      const ImageSet b = [&] {
        auto timer = ctx_.timers.scope("batches");
        return data_->batch(step, batch_, mine);
      }();
      double loss = 0;
      {
        auto timer = ctx_.timers.scope("steps");
        loss = trainer_->step(b.images.data(), b.orientations, mine, b.groups);
      }
      h_.steps += fmt::format("{},{:.9g},{:.6g}\n", step, loss, lr);
      const std::int64_t done = trainer_->step_count();
      if ((done % p_.integer("validate_every") == 0 || done == n_steps_) && !validate(loss)) break;
      if (p_.integer("checkpoint_every") > 0 && done % p_.integer("checkpoint_every") == 0)
        trainer_->save_checkpoint(checkpoint_, info(done));
    }
    finish();
  }

private:
  void open_data() {
    auto timer = ctx_.timers.scope("prepare data");
    if (p_.string("source") == "dataset") {
      PAIRPOSE_CHECK(!p_.string("dataset").empty(), "train.dataset: give the dataset path");
      dataset_ = std::make_unique<io::Dataset>(io::Dataset::open(p_.string("dataset"), ctx_.comm));
      from_dataset_ = std::make_unique<DatasetTrainingData>(*dataset_, p_.integer("n_validation"),
                                                            pre_, p_.boolean("augment"),
                                                            std::uint64_t(p_.integer("seed")));
      data_ = from_dataset_.get();
    } else {
      sim_ = make_simulation(ctx_, pre_);
      data_ = sim_.data.get();
    }
  }

  /// Network, optimiser, step and history from the checkpoint; the best state from `output`.
  void resume() {
    std::string failure; // a rank that cannot read the files fails every rank
    try {
      restore();
    } catch (const Error& e) {
      failure = e.what();
    }
    mpi::agree_or_throw(failure, ctx_.comm);
    ctx_.log.info("train: resumed from {} at step {}", checkpoint_, trainer_->step_count());
  }

  void restore() {
    const ModelInfo saved = trainer_->load_checkpoint(checkpoint_);
    h_.steps = saved.at("history");
    h_.validations = saved.at("validation_history");
    h_.best_loss =
        parse_double(saved.at("best_validation_loss"), checkpoint_ + ": best_validation_loss");
    h_.best_step = parse_int64(saved.at("best_step"), checkpoint_ + ": best_step");
    if (h_.best_step >= 0)
      best_state_ = DistanceNetwork::load_expecting(output_, config_).state_vector();
  }

  /// Validation after a step; writes `output` on improvement. False: stop early.
  bool validate(double loss) {
    auto timer = ctx_.timers.scope("validation");
    const std::int64_t done = trainer_->step_count();
    const ImageSet& val = data_->validation();
    const PairEvaluation e =
        trainer_->evaluate(val.images.data(), val.orientations, val.mine, 0, val.groups);
    h_.validations += fmt::format("{},{:.9g},{:.6g},{:.6g}\n", done, e.loss, e.rmse, e.mean_abs);
    const double rate = double(done * batch_) / (wall_seconds() - start_);
    ctx_.log.info("train: step {} loss {:.4f}, validation loss {:.4f} rmse {:.4f} rad, {:.1f} "
                  "images/s",
                  done, loss, e.loss, e.rmse, rate);
    if (e.loss < h_.best_loss) {
      h_.best_loss = e.loss, h_.best_step = done, h_.since_best = 0;
      best_state_ = net_.state_vector();
      if (mpi::comm_rank(ctx_.comm) == 0) net_.save(output_, info(done));
    } else if (p_.integer("patience") > 0 && ++h_.since_best >= p_.integer("patience")) {
      ctx_.log.info("train: no improvement in {} validations: stopping early", h_.since_best);
      return false;
    }
    return true;
  }

  /// The best state, its held-out figures and pair sample, the model file and the tables.
  void finish() {
    if (!best_state_.empty()) net_.set_state_vector(best_state_);
    const ImageSet& val = data_->validation();
    const PairEvaluation e = trainer_->evaluate(val.images.data(), val.orientations, val.mine,
                                                p_.integer("n_plot_pairs"), val.groups);
    ModelInfo final_info = info(trainer_->step_count());
    final_info["validation_rmse"] = fmt::format("{:.6g}", e.rmse);
    final_info["validation_mean_abs"] = fmt::format("{:.6g}", e.mean_abs);
    if (mpi::comm_rank(ctx_.comm) == 0) net_.save(output_, final_info);
    mpi::check(MPI_Barrier(ctx_.comm), "MPI_Barrier");
    write_tables(ctx_, h_, e);
    ctx_.log.info("train: wrote {} (best step {}, validation loss {:.4f}, rmse {:.4f} rad)",
                  output_, h_.best_step, e.loss, e.rmse);
  }

  ModelInfo info(std::int64_t step) const { return model_info(ctx_, *data_, h_, step, pre_); }

  StageContext& ctx_;
  const config::Params& p_;
  NetworkConfig config_;
  PreprocessOptions pre_;
  std::int64_t batch_, n_steps_;
  std::string output_, checkpoint_;
  std::unique_ptr<io::Dataset> dataset_;
  std::unique_ptr<DatasetTrainingData> from_dataset_;
  Simulation sim_;
  const TrainingData* data_ = nullptr;
  DistanceNetwork net_;
  std::unique_ptr<Trainer> trainer_;
  History h_;
  std::vector<float> best_state_;
  double start_ = 0;
};

} // namespace

void run_train(StageContext& ctx) { TrainingRun(ctx).run(); }

} // namespace pairpose::learn
