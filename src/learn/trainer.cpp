// Data-parallel training on all pairs of a batch (see trainer.hpp).
#include "pairpose/learn/trainer.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include "model_file.hpp"
#include "network_module.hpp"
#include "pairpose/core/error.hpp"
#include "pairpose/core/mpi.hpp"
#include "pairpose/core/parse.hpp"

namespace pairpose::learn {

void TrainerOptions::check() const {
  PAIRPOSE_CHECK(loss == "squared" || loss == "absolute",
                 "train.loss: '" << loss << "' (expected squared or absolute)");
  PAIRPOSE_CHECK(optimizer == "adam" || optimizer == "rmsprop",
                 "train.optimizer: '" << optimizer << "' (expected adam or rmsprop)");
  PAIRPOSE_CHECK(schedule == "constant" || schedule == "exponential" || schedule == "cosine",
                 "train.schedule: '" << schedule << "' (expected constant, exponential, cosine)");
  PAIRPOSE_CHECK(learning_rate > 0, "train.learning_rate must be > 0");
  PAIRPOSE_CHECK(decay > 0 && decay_steps > 0 && total_steps > 0,
                 "train: decay, decay_steps and total_steps must be > 0");
  PAIRPOSE_CHECK(threads >= 1, "train.threads must be >= 1");
}

std::vector<double> pair_weights(const std::vector<double>& targets, bool rebalance,
                                 double weight_scale, const std::vector<double>& used) {
  std::vector<double> w = used.empty() ? std::vector<double>(targets.size(), 1.0) : used;
  if (rebalance) {
    constexpr int n_bins = 10;
    std::vector<double> count(n_bins, 0.0);
    auto bin = [](double d) { return std::min(n_bins - 1, std::max(0, int(d / M_PI * n_bins))); };
    for (size_t k = 0; k < targets.size(); ++k)
      count[bin(targets[k])] += w[k];
    const double n_pairs = std::accumulate(count.begin(), count.end(), 0.0);
    const double n_bins_used = double(n_bins - std::count(count.begin(), count.end(), 0.0));
    for (size_t k = 0; k < targets.size(); ++k) // mean weight 1, every used bin the same total
      if (w[k] > 0) w[k] = n_pairs / (n_bins_used * count[bin(targets[k])]);
  }
  if (weight_scale > 0)
    for (size_t k = 0; k < targets.size(); ++k)
      w[k] *= std::exp(-targets[k] / weight_scale);
  return w;
}

struct Trainer::Impl {
  MPI_Comm comm;
  DistanceNetwork& network;
  TrainerOptions options;
  std::unique_ptr<torch::optim::Optimizer> optimizer;

  /// All ranks' rows: F (B × D) with this rank's rows live, the others detached.
  torch::Tensor gather(const torch::Tensor& local, Block mine, std::int64_t n_batch) const;
  /// The loss over all pairs of F against the orientations (and the targets it used).
  torch::Tensor loss(const torch::Tensor& f, const std::vector<geometry::Quat>& q,
                     const std::vector<std::int32_t>& groups) const;
  torch::Tensor embed_local(const float* images, Block mine) const;
  void sum_gradients() const;
  void average_batch_statistics() const;
};

namespace {

std::vector<double> pair_targets(const std::vector<geometry::Quat>& q) {
  const size_t b = q.size();
  std::vector<double> d;
  d.reserve(b * (b - 1) / 2);
  for (size_t i = 0; i < b; ++i)
    for (size_t j = i + 1; j < b; ++j)
      d.push_back(geometry::distance(q[i], q[j]));
  return d;
}

torch::Tensor to_tensor(const std::vector<double>& v) {
  return torch::from_blob(const_cast<double*>(v.data()), {std::int64_t(v.size())}, torch::kFloat64)
      .to(torch::kFloat32);
}

/// 1 for the pairs (i < j, row-major upper triangle) of one group, 0 for the others.
std::vector<double> same_group(const std::vector<std::int32_t>& groups, size_t b) {
  std::vector<double> m;
  m.reserve(b * (b - 1) / 2);
  for (size_t i = 0; i < b; ++i)
    for (size_t j = i + 1; j < b; ++j)
      m.push_back(groups.empty() || groups[i] == groups[j] ? 1.0 : 0.0);
  return m;
}

void check_batch(const std::vector<geometry::Quat>& q, Block mine, MPI_Comm comm,
                 const std::vector<std::int32_t>& groups) {
  std::string message;
  std::vector<std::int32_t> sorted = groups;
  std::sort(sorted.begin(), sorted.end());
  if (q.size() < 2)
    message = "training batch: at least 2 images are needed";
  else if (!groups.empty() && groups.size() != q.size())
    message = "training batch: groups and orientations differ in length";
  else if (!groups.empty() && std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end())
    message = "training batch: no two images of the same map";
  else if (mine.begin < 0 || mine.end > std::int64_t(q.size()) || mine.size() < 0)
    message = "training batch: this rank's rows are outside the batch";
  mpi::agree_or_throw(message, comm);
}

} // namespace

torch::Tensor Trainer::Impl::embed_local(const float* images, Block mine) const {
  const std::int64_t s = network.config().image_size;
  if (mine.empty()) return torch::zeros({0, network.config().output_dim()});
  return network.impl().forward(images_tensor(images, mine.size(), s));
}

torch::Tensor Trainer::Impl::gather(const torch::Tensor& local, Block mine,
                                    std::int64_t n_batch) const {
  const int dim = network.config().output_dim(), n_ranks = mpi::comm_size(comm);
  std::int64_t mine_pair[2] = {mine.begin, mine.size()};
  std::vector<std::int64_t> blocks(2 * n_ranks);
  mpi::check(MPI_Allgather(mine_pair, 2, MPI_INT64_T, blocks.data(), 2, MPI_INT64_T, comm),
             "MPI_Allgather");
  std::vector<int> counts(n_ranks), displs(n_ranks);
  for (int r = 0; r < n_ranks; ++r) {
    counts[r] = int(blocks[2 * r + 1] * dim), displs[r] = int(blocks[2 * r] * dim);
    PAIRPOSE_CHECK(r == 0 || blocks[2 * r] == blocks[2 * r - 2] + blocks[2 * r - 1],
                   "training batch: the ranks' rows do not tile the batch in rank order");
  }
  const torch::Tensor send = local.detach().contiguous();
  std::vector<float> all(static_cast<size_t>(n_batch * dim));
  mpi::check(MPI_Allgatherv(send.data_ptr<float>(), int(send.numel()), MPI_FLOAT, all.data(),
                            counts.data(), displs.data(), MPI_FLOAT, comm),
             "MPI_Allgatherv");
  const torch::Tensor full = torch::from_blob(all.data(), {n_batch, dim}, torch::kFloat32).clone();
  return torch::cat({full.slice(0, 0, mine.begin), local, full.slice(0, mine.end, n_batch)});
}

torch::Tensor Trainer::Impl::loss(const torch::Tensor& f, const std::vector<geometry::Quat>& q,
                                  const std::vector<std::int32_t>& groups) const {
  const std::int64_t b = f.size(0);
  const std::vector<double> targets = pair_targets(q);
  const torch::Tensor t = to_tensor(targets);
  const torch::Tensor w = to_tensor(
      pair_weights(targets, options.rebalance, options.weight_scale, same_group(groups, q.size())));
  const torch::Tensor iu = torch::triu_indices(b, b, 1);
  const torch::Tensor d = pairwise_distances(f).index({iu[0], iu[1]});
  const torch::Tensor diff = d - t;
  const torch::Tensor l = options.loss == "squared" ? diff * diff : diff.abs();
  return (w * l).sum() / w.sum();
}

void Trainer::Impl::sum_gradients() const {
  auto params = network.impl().branch->parameters();
  std::vector<float> flat;
  for (auto& p : params) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    const torch::Tensor g = p.grad().contiguous();
    flat.insert(flat.end(), g.data_ptr<float>(), g.data_ptr<float>() + g.numel());
  }
  mpi::all_sum_inplace(flat.data(), std::int64_t(flat.size()), comm);
  size_t offset = 0;
  torch::NoGradGuard no_grad;
  for (auto& p : params) {
    p.grad().copy_(torch::from_blob(flat.data() + offset, p.sizes(), torch::kFloat32));
    offset += size_t(p.numel());
  }
}

void Trainer::Impl::average_batch_statistics() const {
  const int n_ranks = mpi::comm_size(comm);
  if (n_ranks == 1) return;
  torch::NoGradGuard no_grad;
  for (auto& b : network.impl().branch->named_buffers()) {
    if (b.value().scalar_type() != torch::kFloat32) continue;
    torch::Tensor t = b.value().contiguous();
    mpi::all_sum_inplace(t.data_ptr<float>(), t.numel(), comm);
    b.value().copy_(t / float(n_ranks));
  }
}

Trainer::Trainer(MPI_Comm comm, DistanceNetwork& network, const TrainerOptions& options)
    : impl_(new Impl{comm, network, options, nullptr}) {
  options.check();
  torch::set_num_threads(options.threads);
  std::vector<float> state = network.state_vector();
  mpi::broadcast(state.data(), std::int64_t(state.size()), 0, comm);
  network.set_state_vector(state);
  network.impl().branch->train();
  auto params = network.impl().branch->parameters();
  if (options.optimizer == "adam")
    impl_->optimizer = std::make_unique<torch::optim::Adam>(
        params, torch::optim::AdamOptions(options.learning_rate));
  else
    impl_->optimizer = std::make_unique<torch::optim::RMSprop>(
        params, torch::optim::RMSpropOptions(options.learning_rate));
}

Trainer::~Trainer() = default;

double Trainer::learning_rate() const {
  const TrainerOptions& o = impl_->options;
  if (o.schedule == "exponential")
    return o.learning_rate * std::pow(o.decay, double(step_) / double(o.decay_steps));
  if (o.schedule == "cosine") {
    const double t = std::min(1.0, double(step_) / double(o.total_steps));
    return o.min_learning_rate +
           0.5 * (o.learning_rate - o.min_learning_rate) * (1 + std::cos(M_PI * t));
  }
  return o.learning_rate;
}

double Trainer::loss_and_gradient(const float* local_images,
                                  const std::vector<geometry::Quat>& orientations, Block mine,
                                  std::vector<float>& gradient,
                                  const std::vector<std::int32_t>& groups) {
  check_batch(orientations, mine, impl_->comm, groups);
  impl_->network.impl().branch->train();
  impl_->optimizer->zero_grad();
  const torch::Tensor local = impl_->embed_local(local_images, mine);
  const torch::Tensor f = impl_->gather(local, mine, std::int64_t(orientations.size()));
  const torch::Tensor l = impl_->loss(f, orientations, groups);
  if (l.requires_grad()) l.backward();
  impl_->sum_gradients();
  gradient.clear();
  for (auto& p : impl_->network.impl().branch->parameters()) {
    const torch::Tensor g = p.grad().contiguous();
    gradient.insert(gradient.end(), g.data_ptr<float>(), g.data_ptr<float>() + g.numel());
  }
  return l.item<double>();
}

double Trainer::step(const float* local_images, const std::vector<geometry::Quat>& orientations,
                     Block mine, const std::vector<std::int32_t>& groups) {
  std::vector<float> gradient;
  const double l = loss_and_gradient(local_images, orientations, mine, gradient, groups);
  PAIRPOSE_CHECK(std::isfinite(l), "training diverged: the loss is " << l << " at step " << step_);
  for (auto& group : impl_->optimizer->param_groups())
    group.options().set_lr(learning_rate());
  impl_->optimizer->step();
  impl_->average_batch_statistics();
  ++step_;
  return l;
}

PairEvaluation Trainer::evaluate(const float* local_images,
                                 const std::vector<geometry::Quat>& orientations, Block mine,
                                 std::int64_t max_sample, const std::vector<std::int32_t>& groups) {
  check_batch(orientations, mine, impl_->comm, groups);
  torch::NoGradGuard no_grad;
  auto& branch = impl_->network.impl().branch;
  branch->eval();
  const torch::Tensor local = impl_->embed_local(local_images, mine);
  branch->train();
  const torch::Tensor f = impl_->gather(local, mine, std::int64_t(orientations.size()));
  PairEvaluation e;
  e.loss = impl_->loss(f, orientations, groups).item<double>();
  const std::int64_t b = f.size(0);
  const torch::Tensor iu = torch::triu_indices(b, b, 1);
  const torch::Tensor cosines = torch::matmul(f, f.t()).index({iu[0], iu[1]});
  const torch::Tensor d = (2 * torch::acos(torch::clamp(cosines, 0.0, 1.0))).to(torch::kFloat64);
  const std::vector<double> targets = pair_targets(orientations);
  const std::vector<double> same = same_group(groups, orientations.size());
  const double* dh = d.contiguous().data_ptr<double>();
  e.n_pairs = std::int64_t(std::count(same.begin(), same.end(), 1.0));
  const std::int64_t stride =
      max_sample > 0 ? std::max<std::int64_t>(1, e.n_pairs / max_sample) : 0;
  double s2 = 0, s1 = 0;
  for (std::int64_t k = 0, used = -1; k < std::int64_t(targets.size()); ++k) {
    if (same[k] == 0) continue;
    ++used;
    const double r = dh[k] - targets[k];
    s2 += r * r, s1 += std::abs(r);
    if (stride && used % stride == 0 && std::int64_t(e.sample_truth.size()) < max_sample)
      e.sample_truth.push_back(targets[k]), e.sample_estimate.push_back(dh[k]);
  }
  e.rmse = std::sqrt(s2 / double(e.n_pairs));
  e.mean_abs = s1 / double(e.n_pairs);
  return e;
}

void Trainer::save_checkpoint(const std::string& path, const ModelInfo& info) const {
  if (mpi::comm_rank(impl_->comm) == 0) {
    ModelFileContent content = network_content(impl_->network, info);
    content.texts["checkpoint/step"] = std::to_string(step_);
    content.texts["checkpoint/optimizer"] = impl_->options.optimizer;
    torch::serialize::OutputArchive archive;
    impl_->optimizer->save(archive);
    std::ostringstream bytes;
    archive.save_to(bytes);
    content.blobs["optimizer"] = bytes.str();
    write_model_file(path, content);
  }
  mpi::check(MPI_Barrier(impl_->comm), "MPI_Barrier");
}

ModelInfo Trainer::load_checkpoint(const std::string& path) {
  const ModelFileContent content = read_model_file(path);
  const auto arch = content.texts.find("architecture");
  const auto step = content.texts.find("checkpoint/step");
  const auto opt = content.blobs.find("optimizer");
  PAIRPOSE_CHECK(arch != content.texts.end() && step != content.texts.end() &&
                     opt != content.blobs.end(),
                 path << ": not a pairpose training checkpoint (a model file without optimiser "
                         "state cannot be resumed)");
  const NetworkConfig stored = NetworkConfig::from_text(arch->second);
  PAIRPOSE_CHECK(stored == impl_->network.config(),
                 path << ": the checkpoint's architecture (" << stored.to_text()
                      << ") differs from the one asked for (" << impl_->network.config().to_text()
                      << ")");
  PAIRPOSE_CHECK(content.texts.at("checkpoint/optimizer") == impl_->options.optimizer,
                 path << ": the checkpoint used optimizer "
                      << content.texts.at("checkpoint/optimizer") << ", not "
                      << impl_->options.optimizer);
  load_network_tensors(impl_->network, content, path);
  try {
    torch::serialize::InputArchive archive;
    std::istringstream bytes(opt->second);
    archive.load_from(bytes);
    impl_->optimizer->load(archive);
  } catch (const c10::Error& e) {
    PAIRPOSE_FAIL(path << ": the optimiser state cannot be read: " << e.what_without_backtrace());
  }
  step_ = parse_int64(step->second, path + ": step");
  ModelInfo info;
  for (const auto& [key, value] : content.texts)
    if (key.rfind("info/", 0) == 0) info[key.substr(5)] = value;
  return info;
}

} // namespace pairpose::learn
