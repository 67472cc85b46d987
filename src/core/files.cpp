#include "pairpose/core/files.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "pairpose/core/error.hpp"
#include "pairpose/core/mpi.hpp"

namespace pairpose {

OutputFile::OutputFile(std::string final_path)
    : final_(std::move(final_path)), temp_(final_ + ".part") {
  make_parent_folders(final_);
}

OutputFile::~OutputFile() {
  if (!committed_ && owner_) std::remove(temp_.c_str());
}

void OutputFile::commit() {
  PAIRPOSE_CHECK(std::rename(temp_.c_str(), final_.c_str()) == 0,
                 "cannot rename " << temp_ << " to " << final_ << ": " << std::strerror(errno));
  committed_ = true;
}

void OutputFile::commit(MPI_Comm comm) {
  MPI_Barrier(comm);
  std::string err;
  if (mpi::comm_rank(comm) == 0) {
    if (std::rename(temp_.c_str(), final_.c_str()) != 0)
      err = "cannot rename " + temp_ + " to " + final_ + ": " + std::strerror(errno);
  } else {
    owner_ = false;
  }
  mpi::agree_or_throw(err, comm);
  committed_ = true;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  PAIRPOSE_CHECK(in, path << ": cannot open for reading: " << std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file_atomic(const std::string& path, const std::string& content) {
  OutputFile out(path);
  {
    std::ofstream f(out.temporary(), std::ios::binary);
    PAIRPOSE_CHECK(f, out.temporary() << ": cannot open for writing: " << std::strerror(errno));
    f.write(content.data(), static_cast<std::streamsize>(content.size()));
    PAIRPOSE_CHECK(f.good(), out.temporary() << ": write failed");
  }
  out.commit();
}

// The error_code overload: a path the system refuses (too long, a component not a folder, no
// permission) is reported as absent instead of throwing std::filesystem_error (found by fuzzing
// the STAR reader, tests/fuzz/corpus/star/crash-long-image-name.star).
bool file_exists(const std::string& path) {
  std::error_code error;
  return std::filesystem::exists(path, error);
}

std::string parent_folder(const std::string& path) {
  return std::filesystem::path(path).parent_path().string();
}

std::string join_path(const std::string& folder, const std::string& name) {
  if (name.empty() || name[0] == '/' || folder.empty()) return name;
  return (std::filesystem::path(folder) / name).string();
}

void make_parent_folders(const std::string& path) {
  const auto parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  PAIRPOSE_CHECK(!ec, parent.string() << ": cannot create folder: " << ec.message());
}

} // namespace pairpose
