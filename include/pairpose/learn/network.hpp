#pragma once
/// @file network.hpp
/// The learned distance d̂(p_i, p_j) ≈ d_q(q_i, q_j) (method.md §7): a convolutional branch maps
/// each image to an embedding f, shared by both sides of a pair, and a distance head compares two
/// embeddings,
///
///     d̂ = 2·acos(clip(cos_sim(f_i, f_j), 0, 1)) ∈ [0, π].
///
/// This header is Torch-free (the modules live in src/learn/, LibTorch's TORCH_ARG / Impl /
/// TORCH_MODULE pattern): the rest of the project and the tests see plain std types only.
///
/// Architecture (NetworkConfig), block k of the branch:
///     conv(channels[k], kernels[k] × kernels[k], 'same' padding) → [batch-norm] → ReLU
///     → [2×2 max-pool, skipped once the feature map is smaller than 2 × 2]
/// then global average pooling, then an MLP (Linear → ReLU for each hidden width, Linear to
/// embedding_dim) when mlp_hidden is non-empty or embedding_dim > 0. Input: one channel,
/// image_size × image_size, preprocessed as in images.hpp.
///
/// Presets (every size stays a parameter):
///  - "paper": 7 blocks 32·7×7, 64·5×5, 128, 256, 256, 512, 512 of 3×3, ReLU + max-pool, global
///    average pool to a 512-vector, no batch-norm, no MLP (Zhang et al., arXiv:2104.06237);
///  - "small": 4 blocks 32-64-128-128 of 3×3 with batch-norm, max-pool, global average pool, MLP
///    128 → 64 (method.md §7 measured 0.146 rad E_OR at 32 px after 12 CPU minutes).
///
/// Batch-norm: training uses the statistics of each rank's local share of the batch (as
/// PyTorch's DistributedDataParallel without SyncBatchNorm), so a run with batch-norm is not
/// bitwise independent of the rank count; inference uses the running statistics (identical on all
/// ranks, taken from rank 0). Architectures without batch-norm train identically on any number of
/// ranks up to rounding.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace pairpose::learn {

/// Everything that fixes the shapes of the parameters. Stored in every model file; loading into
/// another architecture is an error.
struct NetworkConfig {
  std::string preset = "small"; ///< name for messages ("paper", "small", or "custom")
  std::int64_t image_size = 32; ///< side of the (down-sampled) input image, pixels
  std::vector<int> channels;    ///< output channels per conv block
  std::vector<int> kernels;     ///< kernel side per conv block (odd)
  bool batch_norm = true;       ///< batch-norm after each convolution
  bool max_pool = true;         ///< 2×2 max-pool after each block
  std::vector<int> mlp_hidden;  ///< hidden widths of the MLP after pooling (may be empty)
  int embedding_dim = 64;       ///< output width of the MLP; 0 = no MLP (the pooled vector)

  /// Width of the embedding f.
  int output_dim() const;
  /// One-line text form ("preset=small image_size=32 channels=32,64,128,128 ..."), the form
  /// stored in model files and compared on load.
  std::string to_text() const;
  /// Parses to_text(); throws pairpose::Error naming the text on a malformed field.
  static NetworkConfig from_text(const std::string& text);
  /// Throws pairpose::Error when a size is out of range (image_size < 4, no blocks, kernels not
  /// odd or not matching channels, widths < 1).
  void check() const;
  bool operator==(const NetworkConfig& o) const { return to_text() == o.to_text(); }
  bool operator!=(const NetworkConfig& o) const { return !(*this == o); }
};

/// The preset of that name ("paper" | "small") at the given input size; throws otherwise.
NetworkConfig network_preset(const std::string& name, std::int64_t image_size);

/// What a model file records besides the parameters: free-form key → value text (training maps,
/// datasets, validation figures, step count, provenance).
using ModelInfo = std::map<std::string, std::string>;

/// The network and its parameters (float32, CPU). Not thread-safe; one per rank.
class DistanceNetwork {
public:
  /// A freshly initialised network; the initial parameters depend only on `seed`.
  DistanceNetwork(const NetworkConfig& config, std::uint64_t seed);
  ~DistanceNetwork();
  DistanceNetwork(DistanceNetwork&&) noexcept;
  DistanceNetwork& operator=(DistanceNetwork&&) noexcept;

  const NetworkConfig& config() const;
  std::int64_t n_parameters() const;

  /// Unit embeddings of `n_images` preprocessed images (n × s × s floats, s = image_size, x
  /// fastest), inference mode (batch-norm running statistics), in batches of `batch_size`.
  /// Returns n × output_dim() floats, each row of norm 1. Throws on a non-finite pixel, naming
  /// the image.
  std::vector<float> embed(const float* images, std::int64_t n_images,
                           std::int64_t batch_size = 256) const;

  /// All parameters and buffers flattened in registration order (for tests and broadcasts).
  std::vector<float> state_vector() const;
  /// Replaces the parameters and buffers from state_vector()'s layout; throws on a size mismatch.
  void set_state_vector(const std::vector<float>& values);

  /// Writes a model file (a LibTorch archive): the architecture text, `info`, the parameters and
  /// buffers. Written to `<path>.part` and renamed. Local (call on one rank).
  void save(const std::string& path, const ModelInfo& info) const;
  /// Reads a model file. Throws pairpose::Error naming the file when it cannot be read, is not a
  /// pairpose model, or is corrupted.
  static DistanceNetwork load(const std::string& path, ModelInfo* info = nullptr);
  /// As load(), and throws naming both when the file's architecture differs from `expected`.
  static DistanceNetwork load_expecting(const std::string& path, const NetworkConfig& expected,
                                        ModelInfo* info = nullptr);

  struct Impl; ///< Torch side (src/learn/network_module.hpp)
  Impl& impl() const { return *impl_; }

private:
  std::unique_ptr<Impl> impl_;
};

/// Sets LibTorch's intra-op threads of this process (torch::set_num_threads).
void set_torch_threads(int n_threads);

/// The distance head on two unit (or any non-zero) embeddings of width `dim`:
/// 2·acos(clip(cos_sim, 0, 1)) ∈ [0, π]; the same formula as pairs::DistanceModel::embedding.
double embedding_distance(const float* a, const float* b, int dim);

} // namespace pairpose::learn
