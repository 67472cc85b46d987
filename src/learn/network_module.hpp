#pragma once
// LibTorch side of the learned distance (private to src/learn: never include from a public
// header). Options / Impl / TORCH_MODULE as LibTorch's own modules (torch/nn/modules/linear.h).
#include <torch/torch.h>

#include "pairpose/learn/network.hpp"

namespace pairpose::learn {

/// Options of the embedding branch (see NetworkConfig for the meaning of each field).
struct EmbeddingBranchOptions {
  EmbeddingBranchOptions(std::vector<int64_t> channels, std::vector<int64_t> kernels)
      : channels_(std::move(channels)), kernels_(std::move(kernels)) {}
  TORCH_ARG(std::vector<int64_t>, channels);
  TORCH_ARG(std::vector<int64_t>, kernels);
  TORCH_ARG(bool, batch_norm) = true;
  TORCH_ARG(bool, max_pool) = true;
  TORCH_ARG(std::vector<int64_t>, mlp_hidden) = {};
  TORCH_ARG(int64_t, embedding_dim) = 0;
};

/// Image (B × 1 × s × s) → embedding (B × D), not normalised.
class EmbeddingBranchImpl : public torch::nn::Module {
public:
  explicit EmbeddingBranchImpl(EmbeddingBranchOptions options);
  torch::Tensor forward(torch::Tensor x);
  const EmbeddingBranchOptions& options() const { return options_; }

private:
  EmbeddingBranchOptions options_;
  torch::nn::ModuleList convs_;
  torch::nn::ModuleList norms_;
  torch::nn::ModuleList mlp_;
};
TORCH_MODULE(EmbeddingBranch);

EmbeddingBranchOptions branch_options(const NetworkConfig& config);

/// Training form of the head on unit rows: D_ij = 2·acos(clamp(cos, −1 + ε, 1 − ε)), so pairs
/// predicted beyond π still receive a gradient and the derivative stays finite near 0.
torch::Tensor pairwise_distances(const torch::Tensor& unit_embeddings);

struct DistanceNetwork::Impl {
  NetworkConfig config;
  EmbeddingBranch branch{nullptr};
  /// Unit embeddings (B × D) of a batch B × s × s, in the module's current train/eval mode.
  torch::Tensor forward(const torch::Tensor& images);
};

struct ModelFileContent;
/// The architecture, `info` (as "info/<key>" texts) and the named parameters and buffers.
ModelFileContent network_content(const DistanceNetwork& network, const ModelInfo& info);
/// Copies the tensors of `content` into `network` (same architecture); throws naming `path` on
/// a name or shape mismatch.
void load_network_tensors(DistanceNetwork& network, const ModelFileContent& content,
                          const std::string& path);

/// Tensor view (copy) of n images of side s.
torch::Tensor images_tensor(const float* images, std::int64_t n, std::int64_t side);

} // namespace pairpose::learn
