// The embedding branch (LibTorch) and DistanceNetwork: construction, inference, parameter
// vectors and model files.
#include "network_module.hpp"

#include <cmath>

#include "model_file.hpp"
#include "pairpose/core/error.hpp"

namespace pairpose::learn {

EmbeddingBranchOptions branch_options(const NetworkConfig& c) {
  EmbeddingBranchOptions o(std::vector<int64_t>(c.channels.begin(), c.channels.end()),
                           std::vector<int64_t>(c.kernels.begin(), c.kernels.end()));
  o.batch_norm(c.batch_norm).max_pool(c.max_pool);
  o.mlp_hidden(std::vector<int64_t>(c.mlp_hidden.begin(), c.mlp_hidden.end()));
  o.embedding_dim(c.embedding_dim);
  return o;
}

EmbeddingBranchImpl::EmbeddingBranchImpl(EmbeddingBranchOptions options)
    : options_(std::move(options)) {
  namespace nn = torch::nn;
  convs_ = register_module("convs", nn::ModuleList());
  norms_ = register_module("norms", nn::ModuleList());
  mlp_ = register_module("mlp", nn::ModuleList());
  int64_t in = 1;
  for (size_t k = 0; k < options_.channels().size(); ++k) {
    const int64_t out = options_.channels()[k], kernel = options_.kernels()[k];
    convs_->push_back(nn::Conv2d(nn::Conv2dOptions(in, out, kernel).padding(kernel / 2)));
    if (options_.batch_norm()) norms_->push_back(nn::BatchNorm2d(out));
    in = out;
  }
  for (int64_t width : options_.mlp_hidden()) {
    mlp_->push_back(nn::Linear(in, width));
    in = width;
  }
  if (options_.embedding_dim() > 0) mlp_->push_back(nn::Linear(in, options_.embedding_dim()));
}

torch::Tensor EmbeddingBranchImpl::forward(torch::Tensor x) {
  for (size_t k = 0; k < convs_->size(); ++k) {
    x = convs_[k]->as<torch::nn::Conv2d>()->forward(x);
    if (options_.batch_norm()) x = norms_[k]->as<torch::nn::BatchNorm2d>()->forward(x);
    x = torch::relu(x);
    if (options_.max_pool() && x.size(2) >= 2 && x.size(3) >= 2) x = torch::max_pool2d(x, 2);
  }
  x = x.mean({2, 3});
  for (size_t k = 0; k < mlp_->size(); ++k) {
    x = mlp_[k]->as<torch::nn::Linear>()->forward(x);
    if (k + 1 < mlp_->size()) x = torch::relu(x);
  }
  return x;
}

torch::Tensor pairwise_distances(const torch::Tensor& unit) {
  constexpr double eps = 1e-6;
  const torch::Tensor cosines = torch::matmul(unit, unit.t());
  return 2 * torch::acos(torch::clamp(cosines, -1 + eps, 1 - eps));
}

torch::Tensor DistanceNetwork::Impl::forward(const torch::Tensor& images) {
  const torch::Tensor f = branch->forward(images.unsqueeze(1));
  return torch::nn::functional::normalize(
      f, torch::nn::functional::NormalizeFuncOptions().p(2).dim(1).eps(1e-12));
}

torch::Tensor images_tensor(const float* images, std::int64_t n, std::int64_t side) {
  return torch::from_blob(const_cast<float*>(images), {n, side, side}, torch::kFloat32).clone();
}

void set_torch_threads(int n_threads) { torch::set_num_threads(std::max(1, n_threads)); }

// --- DistanceNetwork ----------------------------------------------------------------------------

DistanceNetwork::DistanceNetwork(const NetworkConfig& config, std::uint64_t seed)
    : impl_(std::make_unique<Impl>()) {
  config.check();
  torch::manual_seed(seed);
  impl_->config = config;
  impl_->branch = EmbeddingBranch(branch_options(config));
}
DistanceNetwork::~DistanceNetwork() = default;
DistanceNetwork::DistanceNetwork(DistanceNetwork&&) noexcept = default;
DistanceNetwork& DistanceNetwork::operator=(DistanceNetwork&&) noexcept = default;

const NetworkConfig& DistanceNetwork::config() const { return impl_->config; }

std::int64_t DistanceNetwork::n_parameters() const {
  std::int64_t n = 0;
  for (const auto& p : impl_->branch->parameters())
    n += p.numel();
  return n;
}

std::vector<float> DistanceNetwork::embed(const float* images, std::int64_t n_images,
                                          std::int64_t batch_size) const {
  const std::int64_t s = impl_->config.image_size, n_pixels = s * s;
  for (std::int64_t i = 0; i < n_images; ++i)
    for (std::int64_t k = 0; k < n_pixels; ++k)
      PAIRPOSE_CHECK(std::isfinite(images[i * n_pixels + k]),
                     "embedding: image " << i << " has a non-finite pixel (" << k << ")");
  const int dim = impl_->config.output_dim();
  std::vector<float> out(static_cast<size_t>(n_images * dim));
  torch::NoGradGuard no_grad;
  const bool was_training = impl_->branch->is_training();
  impl_->branch->eval();
  for (std::int64_t b = 0; b < n_images; b += batch_size) {
    const std::int64_t m = std::min(batch_size, n_images - b);
    const torch::Tensor f = impl_->forward(images_tensor(images + b * n_pixels, m, s)).contiguous();
    std::copy_n(f.data_ptr<float>(), m * dim, out.data() + b * dim);
  }
  impl_->branch->train(was_training);
  return out;
}

namespace {

std::vector<std::pair<std::string, torch::Tensor>> named_state(EmbeddingBranch& branch) {
  std::vector<std::pair<std::string, torch::Tensor>> state;
  for (const auto& p : branch->named_parameters())
    state.emplace_back(p.key(), p.value());
  for (const auto& b : branch->named_buffers())
    state.emplace_back(b.key(), b.value());
  return state;
}

} // namespace

std::vector<float> DistanceNetwork::state_vector() const {
  std::vector<float> v;
  for (auto& [name, t] : named_state(impl_->branch)) {
    const torch::Tensor c = t.detach().to(torch::kFloat32).contiguous();
    v.insert(v.end(), c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  }
  return v;
}

void DistanceNetwork::set_state_vector(const std::vector<float>& values) {
  torch::NoGradGuard no_grad;
  size_t offset = 0;
  for (auto& [name, t] : named_state(impl_->branch)) {
    const size_t n = static_cast<size_t>(t.numel());
    PAIRPOSE_CHECK(offset + n <= values.size(),
                   "network state: " << values.size() << " values are too few");
    const torch::Tensor src =
        torch::from_blob(const_cast<float*>(values.data() + offset), t.sizes(), torch::kFloat32);
    t.copy_(src.to(t.dtype()));
    offset += n;
  }
  PAIRPOSE_CHECK(offset == values.size(),
                 "network state: expected " << offset << " values, got " << values.size());
}

ModelFileContent network_content(const DistanceNetwork& network, const ModelInfo& info) {
  ModelFileContent content;
  content.texts["architecture"] = network.config().to_text();
  for (const auto& [key, value] : info)
    content.texts["info/" + key] = value;
  for (auto& [name, t] : named_state(network.impl().branch)) {
    const torch::Tensor c = t.detach().to(torch::kFloat32).contiguous();
    FileTensor ft;
    ft.shape.assign(c.sizes().begin(), c.sizes().end());
    ft.values.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
    content.tensors.emplace_back(name, std::move(ft));
  }
  return content;
}

void load_network_tensors(DistanceNetwork& network, const ModelFileContent& content,
                          const std::string& path) {
  auto state = named_state(network.impl().branch);
  PAIRPOSE_CHECK(state.size() == content.tensors.size(), path << ": " << content.tensors.size()
                                                              << " tensors, the architecture has "
                                                              << state.size());
  torch::NoGradGuard no_grad;
  for (size_t k = 0; k < state.size(); ++k) {
    const auto& [name, ft] = content.tensors[k];
    torch::Tensor& t = state[k].second;
    const std::vector<std::int64_t> shape(t.sizes().begin(), t.sizes().end());
    PAIRPOSE_CHECK(name == state[k].first && shape == ft.shape,
                   path << ": tensor " << k << " '" << name
                        << "' does not match the architecture's '" << state[k].first << "'");
    t.copy_(torch::from_blob(const_cast<float*>(ft.values.data()), t.sizes(), torch::kFloat32)
                .to(t.dtype()));
  }
}

void DistanceNetwork::save(const std::string& path, const ModelInfo& info) const {
  write_model_file(path, network_content(*this, info));
}

DistanceNetwork DistanceNetwork::load(const std::string& path, ModelInfo* info) {
  const ModelFileContent content = read_model_file(path);
  const auto arch = content.texts.find("architecture");
  PAIRPOSE_CHECK(arch != content.texts.end(), path << ": not a pairpose model (no architecture)");
  DistanceNetwork net(NetworkConfig::from_text(arch->second), 0);
  load_network_tensors(net, content, path);
  if (info) {
    info->clear();
    for (const auto& [key, value] : content.texts)
      if (key.rfind("info/", 0) == 0) (*info)[key.substr(5)] = value;
  }
  return net;
}

DistanceNetwork DistanceNetwork::load_expecting(const std::string& path,
                                                const NetworkConfig& expected, ModelInfo* info) {
  DistanceNetwork net = load(path, info);
  PAIRPOSE_CHECK(net.config() == expected,
                 path << ": the model's architecture (" << net.config().to_text()
                      << ") differs from the one asked for (" << expected.to_text() << ")");
  return net;
}

} // namespace pairpose::learn
