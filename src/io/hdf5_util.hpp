#pragma once
// Private helpers of the io module over the HDF5 C API: owning handles, error conversion,
// attributes, and collective row transfers split into bounded rounds.
#include <cstdint>
#include <hdf5.h>
#include <mpi.h>
#include <string>
#include <vector>

namespace pairpose::io::h5 {

/// An owning HDF5 identifier, closed with the function it was made with. Move-only.
class Hid {
public:
  using Closer = herr_t (*)(hid_t);
  Hid() = default;
  Hid(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Hid(Hid&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = -1; }
  Hid& operator=(Hid&& o) noexcept;
  Hid(const Hid&) = delete;
  Hid& operator=(const Hid&) = delete;
  ~Hid() { reset(); }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset();
  /// Gives up ownership without closing.
  hid_t release();

private:
  hid_t id_ = -1;
  Closer closer_ = nullptr;
};

/// Switches off HDF5's printing of its error stack (errors become pairpose::Error).
void silence_errors();
/// Throws pairpose::Error "<context>: <HDF5's innermost message>" when `status` < 0.
void check(std::int64_t status, const std::string& context);
/// `id` wrapped with its closer; throws as check() when id < 0.
Hid make(hid_t id, Hid::Closer closer, const std::string& context);

/// True when every component of the absolute path `path` exists as a link.
bool exists(hid_t file, const std::string& path);
Hid open_object(hid_t file, const std::string& path, const std::string& context);

// Attributes (scalar numeric, UTF-8 variable-length strings, string lists).
bool has_attribute(hid_t object, const std::string& key);
void write_int_attribute(hid_t object, const std::string& key, std::int64_t value);
void write_double_attribute(hid_t object, const std::string& key, double value);
void write_string_attribute(hid_t object, const std::string& key, const std::string& value);
void write_string_list_attribute(hid_t object, const std::string& key,
                                 const std::vector<std::string>& values);
std::int64_t read_int_attribute(hid_t object, const std::string& key, const std::string& context);
double read_double_attribute(hid_t object, const std::string& key, const std::string& context);
std::string read_string_attribute(hid_t object, const std::string& key, const std::string& context);
std::vector<std::string> read_string_list_attribute(hid_t object, const std::string& key,
                                                    const std::string& context);
/// Names of all attributes of an object, in creation/name order.
std::vector<std::string> attribute_names(hid_t object);
/// True when attribute `key` holds a string (fixed or variable length).
bool is_string_attribute(hid_t object, const std::string& key);

/// Dimensions of a dataset.
std::vector<std::int64_t> dims(hid_t dataset);

enum class Direction { read, write };
/// Collective: rows [first, first + n_rows) of `dataset` (a row = all elements after the first
/// axis) to or from `buffer`, in rounds of at most `round_bytes` per rank; every rank takes the
/// same number of rounds (empty selections where it has nothing left).
void transfer_rows(hid_t dataset, hid_t mem_type, std::int64_t first, std::int64_t n_rows,
                   void* buffer, Direction direction, hid_t dxpl, MPI_Comm comm,
                   const std::string& context, std::int64_t round_bytes = std::int64_t(256) << 20);

} // namespace pairpose::io::h5
