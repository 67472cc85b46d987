#include "hdf5_util.hpp"

#include <algorithm>

#include "pairpose/core/error.hpp"
#include "pairpose/core/mpi.hpp"

namespace pairpose::io::h5 {

Hid& Hid::operator=(Hid&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    closer_ = o.closer_;
    o.id_ = -1;
  }
  return *this;
}

void Hid::reset() {
  if (id_ >= 0 && closer_) closer_(id_);
  id_ = -1;
}

hid_t Hid::release() {
  const hid_t id = id_;
  id_ = -1;
  return id;
}

void silence_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

namespace {

herr_t first_message(unsigned, const H5E_error2_t* err, void* data) {
  auto* text = static_cast<std::string*>(data);
  if (text->empty() && err && err->desc) *text = err->desc;
  return 0;
}

/// The most specific message on HDF5's error stack (then cleared).
std::string stack_message() {
  std::string text;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, first_message, &text);
  H5Eclear2(H5E_DEFAULT);
  return text.empty() ? "HDF5 error" : text;
}

Hid string_type() {
  Hid t = make(H5Tcopy(H5T_C_S1), H5Tclose, "string type");
  check(H5Tset_size(t.get(), H5T_VARIABLE), "string type");
  check(H5Tset_cset(t.get(), H5T_CSET_UTF8), "string type");
  return t;
}

Hid replace_attribute(hid_t object, const std::string& key, hid_t type, hid_t space) {
  if (H5Aexists(object, key.c_str()) > 0) check(H5Adelete(object, key.c_str()), key);
  return make(H5Acreate2(object, key.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
              "cannot create attribute " + key);
}

Hid open_attribute(hid_t object, const std::string& key, const std::string& context) {
  PAIRPOSE_CHECK(H5Aexists(object, key.c_str()) > 0, context << ": no attribute " << key);
  return make(H5Aopen(object, key.c_str(), H5P_DEFAULT), H5Aclose, context + ": attribute " + key);
}

/// Strings of a string attribute of either kind (variable or fixed length); `n` elements.
std::vector<std::string> read_strings(hid_t attr, std::size_t n, const std::string& context) {
  Hid file_type = make(H5Aget_type(attr), H5Tclose, context);
  PAIRPOSE_CHECK(H5Tget_class(file_type.get()) == H5T_STRING, context << " is not a string");
  std::vector<std::string> out(n);
  if (n == 0) return out;
  if (H5Tis_variable_str(file_type.get()) > 0) {
    Hid mem = string_type();
    std::vector<char*> ptrs(n, nullptr);
    check(H5Aread(attr, mem.get(), ptrs.data()), context);
    for (std::size_t i = 0; i < n; ++i) {
      if (ptrs[i]) out[i] = ptrs[i];
      H5free_memory(ptrs[i]);
    }
    return out;
  }
  const std::size_t size = H5Tget_size(file_type.get());
  Hid mem = make(H5Tcopy(file_type.get()), H5Tclose, context);
  std::vector<char> buffer(size * n, '\0');
  check(H5Aread(attr, mem.get(), buffer.data()), context);
  for (std::size_t i = 0; i < n; ++i) {
    const char* s = buffer.data() + i * size;
    out[i] = std::string(s, std::find(s, s + size, '\0'));
  }
  return out;
}

std::size_t n_elements(hid_t attr, const std::string& context) {
  Hid space = make(H5Aget_space(attr), H5Sclose, context);
  if (H5Sget_simple_extent_type(space.get()) == H5S_NULL) return 0;
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  check(n, context);
  return static_cast<std::size_t>(n);
}

} // namespace

void check(std::int64_t status, const std::string& context) {
  if (status < 0) throw Error(context + ": " + stack_message());
}

Hid make(hid_t id, Hid::Closer closer, const std::string& context) {
  check(id, context);
  return Hid(id, closer);
}

bool exists(hid_t file, const std::string& path) {
  // H5Lexists needs every parent to exist: test the components one by one.
  std::string prefix;
  std::size_t pos = 1;
  while (pos <= path.size()) {
    const std::size_t next = std::min(path.find('/', pos), path.size());
    prefix = path.substr(0, next);
    if (H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    pos = next + 1;
  }
  return !prefix.empty();
}

Hid open_object(hid_t file, const std::string& path, const std::string& context) {
  return make(H5Oopen(file, path.c_str(), H5P_DEFAULT), H5Oclose, context);
}

bool has_attribute(hid_t object, const std::string& key) {
  return H5Aexists(object, key.c_str()) > 0;
}

void write_int_attribute(hid_t object, const std::string& key, std::int64_t value) {
  Hid space = make(H5Screate(H5S_SCALAR), H5Sclose, key);
  Hid attr = replace_attribute(object, key, H5T_STD_I64LE, space.get());
  check(H5Awrite(attr.get(), H5T_NATIVE_INT64, &value), "cannot write attribute " + key);
}

void write_double_attribute(hid_t object, const std::string& key, double value) {
  Hid space = make(H5Screate(H5S_SCALAR), H5Sclose, key);
  Hid attr = replace_attribute(object, key, H5T_IEEE_F64LE, space.get());
  check(H5Awrite(attr.get(), H5T_NATIVE_DOUBLE, &value), "cannot write attribute " + key);
}

void write_string_attribute(hid_t object, const std::string& key, const std::string& value) {
  Hid type = string_type();
  Hid space = make(H5Screate(H5S_SCALAR), H5Sclose, key);
  Hid attr = replace_attribute(object, key, type.get(), space.get());
  const char* text = value.c_str();
  check(H5Awrite(attr.get(), type.get(), &text), "cannot write attribute " + key);
}

void write_string_list_attribute(hid_t object, const std::string& key,
                                 const std::vector<std::string>& values) {
  Hid type = string_type();
  const hsize_t n = values.size();
  Hid space = make(n == 0 ? H5Screate(H5S_NULL) : H5Screate_simple(1, &n, nullptr), H5Sclose, key);
  Hid attr = replace_attribute(object, key, type.get(), space.get());
  if (n == 0) return;
  std::vector<const char*> texts;
  for (const auto& v : values)
    texts.push_back(v.c_str());
  check(H5Awrite(attr.get(), type.get(), texts.data()), "cannot write attribute " + key);
}

std::int64_t read_int_attribute(hid_t object, const std::string& key, const std::string& context) {
  Hid attr = open_attribute(object, key, context);
  Hid type = make(H5Aget_type(attr.get()), H5Tclose, context);
  PAIRPOSE_CHECK(H5Tget_class(type.get()) == H5T_INTEGER && n_elements(attr.get(), context) == 1,
                 context << ": attribute " << key << " is not an integer");
  std::int64_t value = 0;
  check(H5Aread(attr.get(), H5T_NATIVE_INT64, &value), context + ": attribute " + key);
  return value;
}

double read_double_attribute(hid_t object, const std::string& key, const std::string& context) {
  Hid attr = open_attribute(object, key, context);
  Hid type = make(H5Aget_type(attr.get()), H5Tclose, context);
  const auto cls = H5Tget_class(type.get());
  PAIRPOSE_CHECK((cls == H5T_FLOAT || cls == H5T_INTEGER) && n_elements(attr.get(), context) == 1,
                 context << ": attribute " << key << " is not a number");
  double value = 0;
  check(H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &value), context + ": attribute " + key);
  return value;
}

std::string read_string_attribute(hid_t object, const std::string& key,
                                  const std::string& context) {
  Hid attr = open_attribute(object, key, context);
  const std::string what = context + ": attribute " + key;
  PAIRPOSE_CHECK(n_elements(attr.get(), what) == 1, what << " is not a single string");
  return read_strings(attr.get(), 1, what)[0];
}

std::vector<std::string> read_string_list_attribute(hid_t object, const std::string& key,
                                                    const std::string& context) {
  Hid attr = open_attribute(object, key, context);
  const std::string what = context + ": attribute " + key;
  return read_strings(attr.get(), n_elements(attr.get(), what), what);
}

namespace {
herr_t collect_name(hid_t, const char* name, const H5A_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}
} // namespace

std::vector<std::string> attribute_names(hid_t object) {
  std::vector<std::string> names;
  hsize_t index = 0;
  check(H5Aiterate2(object, H5_INDEX_NAME, H5_ITER_INC, &index, collect_name, &names),
        "cannot list attributes");
  return names;
}

bool is_string_attribute(hid_t object, const std::string& key) {
  if (H5Aexists(object, key.c_str()) <= 0) return false;
  Hid attr = make(H5Aopen(object, key.c_str(), H5P_DEFAULT), H5Aclose, key);
  Hid type = make(H5Aget_type(attr.get()), H5Tclose, key);
  return H5Tget_class(type.get()) == H5T_STRING;
}

std::vector<std::int64_t> dims(hid_t dataset) {
  Hid space = make(H5Dget_space(dataset), H5Sclose, "dataspace");
  const int rank = H5Sget_simple_extent_ndims(space.get());
  check(rank, "dataspace");
  std::vector<hsize_t> d(static_cast<std::size_t>(rank));
  check(H5Sget_simple_extent_dims(space.get(), d.data(), nullptr), "dataspace");
  return std::vector<std::int64_t>(d.begin(), d.end());
}

void transfer_rows(hid_t dataset, hid_t mem_type, std::int64_t first, std::int64_t n_rows,
                   void* buffer, Direction direction, hid_t dxpl, MPI_Comm comm,
                   const std::string& context, std::int64_t round_bytes) {
  const std::vector<std::int64_t> shape = dims(dataset);
  std::int64_t row_elems = 1;
  for (std::size_t a = 1; a < shape.size(); ++a)
    row_elems *= shape[a];
  const auto elem_bytes = static_cast<std::int64_t>(H5Tget_size(mem_type));
  const std::int64_t row_bytes = std::max<std::int64_t>(1, row_elems * elem_bytes);
  const std::int64_t per_round = std::max<std::int64_t>(1, round_bytes / row_bytes);
  const std::int64_t n_rounds = mpi::all_max((n_rows + per_round - 1) / per_round, comm);
  std::vector<hsize_t> start(shape.size(), 0), count(shape.begin(), shape.end());
  for (std::int64_t r = 0; r < n_rounds; ++r) {
    const std::int64_t done = r * per_round;
    const std::int64_t k = std::clamp<std::int64_t>(n_rows - done, 0, per_round);
    Hid file_space = make(H5Dget_space(dataset), H5Sclose, context);
    const hsize_t n_mem = static_cast<hsize_t>(std::max<std::int64_t>(1, k * row_elems));
    Hid mem_space = make(H5Screate_simple(1, &n_mem, nullptr), H5Sclose, context);
    if (k > 0) {
      start[0] = static_cast<hsize_t>(first + done);
      count[0] = static_cast<hsize_t>(k);
      check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr,
                                count.data(), nullptr),
            context);
    } else {
      check(H5Sselect_none(file_space.get()), context);
      check(H5Sselect_none(mem_space.get()), context);
    }
    static double dummy = 0; // HDF5 wants a non-null buffer even for an empty selection
    char* ptr =
        k > 0 ? static_cast<char*>(buffer) + done * row_bytes : reinterpret_cast<char*>(&dummy);
    if (direction == Direction::write)
      check(H5Dwrite(dataset, mem_type, mem_space.get(), file_space.get(), dxpl, ptr),
            context + ": write failed");
    else
      check(H5Dread(dataset, mem_type, mem_space.get(), file_space.get(), dxpl, ptr),
            context + ": read failed");
  }
}

} // namespace pairpose::io::h5
