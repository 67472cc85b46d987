// NetworkConfig: presets, checks and the text form stored in model files (Torch-free).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>

#include "pairpose/core/error.hpp"
#include "pairpose/learn/network.hpp"

namespace pairpose::learn {

namespace {

std::string join(const std::vector<int>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i)
    s += (i ? "," : "") + std::to_string(v[i]);
  return s.empty() ? "-" : s;
}

/// A whole decimal number in [0, 2^31) filling `text`; an error naming the field otherwise.
int parse_count(const std::string& text, const std::string& field) {
  int v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  PAIRPOSE_CHECK(!text.empty() && ec == std::errc() && end == text.data() + text.size() && v >= 0,
                 "network architecture: field " << field << " = '" << text
                                                << "' is not a whole number below 2^31");
  return v;
}

std::vector<int> split_ints(const std::string& text, const std::string& field) {
  std::vector<int> v;
  if (text == "-") return v;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    PAIRPOSE_CHECK(!item.empty() && item.find_first_not_of("0123456789") == std::string::npos,
                   "network architecture: field " << field << " = '" << text
                                                  << "' is not a list of integers");
    v.push_back(parse_count(item, field));
  }
  return v;
}

bool parse_bool(const std::string& text, const std::string& field) {
  PAIRPOSE_CHECK(text == "0" || text == "1",
                 "network architecture: field " << field << " = '" << text << "' is not 0 or 1");
  return text == "1";
}

} // namespace

int NetworkConfig::output_dim() const {
  if (embedding_dim > 0) return embedding_dim;
  if (!mlp_hidden.empty()) return mlp_hidden.back();
  return channels.empty() ? 0 : channels.back();
}

std::string NetworkConfig::to_text() const {
  std::ostringstream s;
  s << "preset=" << preset << " image_size=" << image_size << " channels=" << join(channels)
    << " kernels=" << join(kernels) << " batch_norm=" << batch_norm << " max_pool=" << max_pool
    << " mlp_hidden=" << join(mlp_hidden) << " embedding_dim=" << embedding_dim;
  return s.str();
}

NetworkConfig NetworkConfig::from_text(const std::string& text) {
  NetworkConfig c;
  std::istringstream in(text);
  std::string item;
  int n_fields = 0;
  while (in >> item) {
    const size_t eq = item.find('=');
    PAIRPOSE_CHECK(eq != std::string::npos,
                   "network architecture '" << text << "': field '" << item << "' has no '='");
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    ++n_fields;
    if (key == "preset")
      c.preset = value;
    else if (key == "image_size")
      c.image_size = parse_count(value, key);
    else if (key == "channels")
      c.channels = split_ints(value, key);
    else if (key == "kernels")
      c.kernels = split_ints(value, key);
    else if (key == "batch_norm")
      c.batch_norm = parse_bool(value, key);
    else if (key == "max_pool")
      c.max_pool = parse_bool(value, key);
    else if (key == "mlp_hidden")
      c.mlp_hidden = split_ints(value, key);
    else if (key == "embedding_dim")
      c.embedding_dim = parse_count(value, key);
    else
      PAIRPOSE_FAIL("network architecture '" << text << "': unknown field '" << key << "'");
  }
  PAIRPOSE_CHECK(n_fields == 8,
                 "network architecture '" << text << "': expected 8 fields, got " << n_fields);
  c.check();
  return c;
}

void NetworkConfig::check() const {
  PAIRPOSE_CHECK(image_size >= 4, "network: image_size must be at least 4, got " << image_size);
  PAIRPOSE_CHECK(!channels.empty(), "network: at least one convolution block is needed");
  PAIRPOSE_CHECK(kernels.size() == channels.size(),
                 "network: " << channels.size() << " channel widths but " << kernels.size()
                             << " kernel sizes");
  for (size_t k = 0; k < channels.size(); ++k) {
    PAIRPOSE_CHECK(channels[k] >= 1,
                   "network: block " << k << " has " << channels[k] << " channels (must be >= 1)");
    PAIRPOSE_CHECK(kernels[k] >= 1 && kernels[k] % 2 == 1,
                   "network: block " << k << " kernel " << kernels[k] << " must be odd and >= 1");
  }
  for (int w : mlp_hidden)
    PAIRPOSE_CHECK(w >= 1, "network: MLP hidden width " << w << " must be >= 1");
  PAIRPOSE_CHECK(embedding_dim >= 0, "network: embedding_dim must be >= 0");
}

NetworkConfig network_preset(const std::string& name, std::int64_t image_size) {
  NetworkConfig c;
  c.preset = name;
  c.image_size = image_size;
  if (name == "paper") {
    c.channels = {32, 64, 128, 256, 256, 512, 512};
    c.kernels = {7, 5, 3, 3, 3, 3, 3};
    c.batch_norm = false;
    c.mlp_hidden = {};
    c.embedding_dim = 0;
  } else if (name == "small") {
    c.channels = {32, 64, 128, 128};
    c.kernels = {3, 3, 3, 3};
    c.batch_norm = true;
    c.mlp_hidden = {128};
    c.embedding_dim = 64;
  } else {
    PAIRPOSE_FAIL("network preset '" << name << "' is unknown (expected paper or small)");
  }
  c.check();
  return c;
}

double embedding_distance(const float* a, const float* b, int dim) {
  double ab = 0, aa = 0, bb = 0;
  for (int k = 0; k < dim; ++k) {
    ab += double(a[k]) * b[k];
    aa += double(a[k]) * a[k];
    bb += double(b[k]) * b[k];
  }
  const double c = (aa > 0 && bb > 0) ? ab / std::sqrt(aa * bb) : 0.0;
  return 2 * std::acos(std::clamp(c, 0.0, 1.0));
}

} // namespace pairpose::learn
