#include "model_file.hpp"

#include <cstring>
#include <sstream>

#include "pairpose/core/error.hpp"
#include "pairpose/core/files.hpp"

namespace pairpose::learn {

namespace {

constexpr const char* magic = "pairpose-learn 1\n";

std::uint64_t fnv1a(const char* data, size_t n) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i)
    h = (h ^ static_cast<unsigned char>(data[i])) * 0x100000001b3ull;
  return h;
}

void put_record(std::string& out, const std::string& kind, const std::string& name,
                const std::string& payload) {
  out += kind + " " + std::to_string(name.size()) + " " + name + " " +
         std::to_string(payload.size()) + "\n";
  out += payload;
  out += "\n";
}

template <class T> void put_raw(std::string& out, const T* data, size_t n) {
  out.append(reinterpret_cast<const char*>(data), n * sizeof(T));
}

std::string tensor_payload(const FileTensor& t) {
  std::string p;
  const std::int64_t rank = static_cast<std::int64_t>(t.shape.size());
  put_raw(p, &rank, 1);
  put_raw(p, t.shape.data(), t.shape.size());
  put_raw(p, t.values.data(), t.values.size());
  return p;
}

/// Sequential reader over the file's bytes; every failure names the file.
struct Cursor {
  const std::string& path;
  const std::string& bytes;
  size_t pos = 0;
  [[noreturn]] void fail(const std::string& what) const {
    PAIRPOSE_FAIL(path << ": not a valid pairpose model/checkpoint file (" << what << " at byte "
                       << pos << "); the file is corrupted or truncated");
  }
  std::string word() {
    const size_t end = bytes.find_first_of(" \n", pos);
    if (end == std::string::npos) fail("unterminated field");
    std::string w = bytes.substr(pos, end - pos);
    pos = end + 1;
    return w;
  }
  size_t number() {
    const std::string w = word();
    // At most 18 digits: any length that fits the file, and never out of std::stoull's range.
    if (w.empty() || w.size() > 18 || w.find_first_not_of("0123456789") != std::string::npos)
      fail("bad length");
    return std::stoull(w);
  }
  std::string take(size_t n) {
    if (n > bytes.size() - pos) fail("record past the end");
    std::string s = bytes.substr(pos, n);
    pos += n;
    return s;
  }
};

FileTensor parse_tensor(Cursor& c, const std::string& payload) {
  FileTensor t;
  std::int64_t rank = 0;
  if (payload.size() < sizeof rank) c.fail("short tensor");
  std::memcpy(&rank, payload.data(), sizeof rank);
  if (rank < 0 || rank > 8 || payload.size() < (1 + size_t(rank)) * 8) c.fail("bad tensor rank");
  t.shape.resize(rank);
  // (memcpy of zero bytes from/to an empty vector's null data() is undefined: copy only if any)
  if (rank > 0) std::memcpy(t.shape.data(), payload.data() + 8, rank * 8);
  size_t numel = 1;
  for (auto d : t.shape) {
    if (d < 0) c.fail("negative tensor dimension");
    // A product larger than the payload cannot match it (and must not wrap around).
    if (d > 0 && numel > payload.size() / static_cast<size_t>(d)) c.fail("tensor size mismatch");
    numel *= static_cast<size_t>(d);
  }
  if (payload.size() != (1 + size_t(rank)) * 8 + numel * 4) c.fail("tensor size mismatch");
  t.values.resize(numel);
  if (numel > 0) std::memcpy(t.values.data(), payload.data() + (1 + rank) * 8, numel * 4);
  return t;
}

} // namespace

void write_model_file(const std::string& path, const ModelFileContent& content) {
  std::string out = magic;
  for (const auto& [name, text] : content.texts)
    put_record(out, "text", name, text);
  for (const auto& [name, tensor] : content.tensors)
    put_record(out, "tensor", name, tensor_payload(tensor));
  for (const auto& [name, blob] : content.blobs)
    put_record(out, "blob", name, blob);
  out += "end " + std::to_string(fnv1a(out.data(), out.size())) + "\n";
  make_parent_folders(path);
  write_file_atomic(path, out);
}

ModelFileContent read_model_file(const std::string& path) {
  PAIRPOSE_CHECK(file_exists(path), path << ": model file not found");
  return parse_model_file(read_file(path), path);
}

ModelFileContent parse_model_file(const std::string& bytes, const std::string& path) {
  Cursor c{path, bytes};
  if (bytes.compare(0, std::strlen(magic), magic) != 0) c.fail("no pairpose-learn header");
  c.pos = std::strlen(magic);
  ModelFileContent content;
  while (true) {
    const size_t record_start = c.pos;
    const std::string kind = c.word();
    if (kind == "end") {
      const std::string sum = c.word();
      if (sum != std::to_string(fnv1a(bytes.data(), record_start))) c.fail("checksum mismatch");
      if (c.pos != bytes.size()) c.fail("trailing bytes");
      return content;
    }
    if (kind != "text" && kind != "tensor" && kind != "blob")
      c.fail("unknown record '" + kind + "'");
    const size_t name_length = c.number();
    const std::string name = c.take(name_length);
    if (c.take(1) != " ") c.fail("bad record header");
    const size_t n = c.number();
    const std::string payload = c.take(n);
    if (c.take(1) != "\n") c.fail("bad record end");
    if (kind == "text") content.texts[name] = payload;
    if (kind == "blob") content.blobs[name] = payload;
    if (kind == "tensor") content.tensors.emplace_back(name, parse_tensor(c, payload));
  }
}

} // namespace pairpose::learn
