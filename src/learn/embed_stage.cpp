// The `embed` stage (see learn/stage.hpp). Torch-free.
#include <algorithm>
#include <fmt/format.h>
#include <memory>

#include "pairpose/core/error.hpp"
#include "pairpose/core/parse.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/io/dataset.hpp"
#include "pairpose/learn/images.hpp"
#include "pairpose/learn/network.hpp"
#include "pairpose/learn/stage.hpp"

namespace pairpose::learn {

void declare_embed(config::Schema& s) {
  s.string("dataset", "", "The dataset (HDF5) whose particles to embed; rows are added to it.");
  s.string("model", "distance.model", "Model file written by `pairpose train`.");
  s.string("output", "embedding/vectors",
           "Array written into the dataset (N x D rows; the pairs stage's `embedding` key).");
  s.integer("image_size", 0, 0, 1024,
            "Expected network input side; 0 = the model's (another value is an error).", "px");
  s.integer("batch_size", 256, 1, 1e6, "Images read and embedded at a time per rank.");
  s.integer("threads", 1, 1, 256, "Torch threads per rank.");
}

namespace {

PreprocessOptions model_preprocessing(const ModelInfo& info, const NetworkConfig& config) {
  PreprocessOptions pre;
  pre.size = config.image_size;
  pre.mask = !info.count("mask") || info.at("mask") == "1";
  pre.standardize = !info.count("standardize") || info.at("standardize") == "1";
  if (info.count("intermediate_size"))
    pre.intermediate_size =
        parse_int64(info.at("intermediate_size"), "model file: intermediate_size");
  return pre;
}

} // namespace

void run_embed(StageContext& ctx) {
  const auto& p = ctx.params;
  PAIRPOSE_CHECK(!p.string("dataset").empty(), "embed.dataset: give the dataset path");
  ModelInfo info;
  std::unique_ptr<DistanceNetwork> loaded;
  std::string failure; // a rank that cannot read the model fails every rank
  try {
    loaded = std::make_unique<DistanceNetwork>(DistanceNetwork::load(p.string("model"), &info));
  } catch (const Error& e) {
    failure = e.what();
  }
  mpi::agree_or_throw(failure, ctx.comm);
  DistanceNetwork& net = *loaded;
  const NetworkConfig& config = net.config();
  PAIRPOSE_CHECK(p.integer("image_size") == 0 || p.integer("image_size") == config.image_size,
                 p.string("model")
                     << ": the model takes " << config.image_size
                     << " px images, embed.image_size asks for " << p.integer("image_size"));
  set_torch_threads(int(p.integer("threads")));
  io::Dataset ds = io::Dataset::open(p.string("dataset"), ctx.comm, io::Dataset::Mode::update);
  PAIRPOSE_CHECK(ds.has_images(), ds.path() << ": the dataset holds no images to embed");
  const PreprocessOptions pre = model_preprocessing(info, config);
  const Block mine = ds.block();
  const int dim = config.output_dim();
  const std::int64_t side = ds.info().image_size, chunk = p.integer("batch_size");
  const std::int64_t n_rounds =
      mpi::all_max((mine.size() + chunk - 1) / chunk, ctx.comm); // same count of collective reads
  std::vector<double> vectors;
  vectors.reserve(static_cast<size_t>(mine.size() * dim));
  const double start = wall_seconds();
  for (std::int64_t r = 0; r < n_rounds; ++r) {
    const Block rows{std::min(mine.end, mine.begin + r * chunk),
                     std::min(mine.end, mine.begin + (r + 1) * chunk)};
    const ImageStack images = [&] {
      auto timer = ctx.timers.scope("read");
      return ds.read_images(rows);
    }();
    if (!failure.empty() || rows.empty()) continue;
    auto timer = ctx.timers.scope("embed");
    try {
      const std::vector<float> input =
          preprocess_images(images.data.data(), rows.size(), side, pre, rows.begin);
      const std::vector<float> f = net.embed(input.data(), rows.size(), chunk);
      vectors.insert(vectors.end(), f.begin(), f.end());
    } catch (const Error& e) {
      failure = ds.path() + ": " + e.what();
    }
  }
  mpi::agree_or_throw(failure, ctx.comm);
  const double rate = double(ds.n_particles()) / (wall_seconds() - start);
  {
    auto timer = ctx.timers.scope("write");
    ds.write_rows(p.string("output"), mine.size(), dim, vectors.data());
    const std::string group = p.string("output").substr(0, p.string("output").find('/', 1));
    ds.set_attribute(group, "model", p.string("model"));
    ds.set_attribute(group, "architecture", config.to_text());
    ds.set_attribute(group, "provenance", ctx.provenance);
    ds.commit();
  }
  ctx.log.info("embed: {} particles -> {} ({} values each), {:.1f} images/s", ds.n_particles(),
               p.string("output"), dim, rate);
}

} // namespace pairpose::learn
