#pragma once
/// @file files.hpp
/// Output files appear under their final name only once complete: write to `temporary()`, then
/// `commit()` renames. An OutputFile destroyed before commit (an exception) removes the
/// temporary. For files written collectively, every rank constructs the OutputFile with the same
/// path and calls commit(comm): rank 0 renames after a barrier.
#include <mpi.h>
#include <string>

namespace pairpose {

class OutputFile {
public:
  explicit OutputFile(std::string final_path);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  const std::string& final_path() const { return final_; }
  /// The name to write to: the final name with ".part" appended (the same on every rank).
  const std::string& temporary() const { return temp_; }
  /// Renames the temporary to the final name (replacing any older file).
  void commit();
  /// Collective form: barrier, rank 0 renames, barrier.
  void commit(MPI_Comm comm);

private:
  std::string final_, temp_;
  bool committed_ = false;
  bool owner_ = true; // the rank that removes the temporary on failure
};

/// Whole content of a text or binary file; throws naming the file when it cannot be read.
std::string read_file(const std::string& path);
/// Writes `content` to `path` through a temporary and a rename.
void write_file_atomic(const std::string& path, const std::string& content);
bool file_exists(const std::string& path);
/// Folder part of a path ("" for a bare name), without the trailing slash.
std::string parent_folder(const std::string& path);
/// `name` resolved relative to `folder` unless it is absolute.
std::string join_path(const std::string& folder, const std::string& name);
/// Creates the folder that would hold `path` (and its parents) if missing.
void make_parent_folders(const std::string& path);

} // namespace pairpose
