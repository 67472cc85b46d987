#pragma once
// The container behind model and checkpoint files (private to src/learn; Torch-free).
//
// Layout: the magic line "pairpose-learn 1\n", then records, each
//     <kind> <name-length> <name> <payload-bytes>\n<payload>\n
// with kind "text" (UTF-8), "tensor" (int64 rank, int64 dims, float32 values, little-endian as
// the machine) or "blob" (opaque bytes), then "end <fnv1a-64 of everything before>\n".
// A truncated, altered or foreign file fails the magic, a record header or the checksum, and
// read_model_file throws naming the file.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pairpose::learn {

struct FileTensor {
  std::vector<std::int64_t> shape;
  std::vector<float> values;
};

struct ModelFileContent {
  std::map<std::string, std::string> texts;
  std::vector<std::pair<std::string, FileTensor>> tensors; ///< in order
  std::map<std::string, std::string> blobs;
};

/// Writes `content` to `path` atomically (temporary + rename).
void write_model_file(const std::string& path, const ModelFileContent& content);
/// Reads a file written by write_model_file; throws pairpose::Error naming the file otherwise.
ModelFileContent read_model_file(const std::string& path);
/// The same from the file's bytes; `source` names it in error messages.
ModelFileContent parse_model_file(const std::string& bytes, const std::string& source);

} // namespace pairpose::learn
