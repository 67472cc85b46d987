#pragma once
/// @file fuzz_common.hpp
/// Helpers shared by the fuzz targets (tests/fuzz/fuzz_<reader>.cpp). A target defines
/// LLVMFuzzerTestOneInput; it is linked either with libFuzzer (PAIRPOSE_FUZZ=ON, clang) or with
/// replay_main.cpp, which feeds it every file of a corpus folder (the ctest entries
/// fuzz_replay_<reader>, run in every build).
///
/// The contract checked: a reader given any bytes either succeeds or throws pairpose::Error. Any
/// other exception escapes the target and ends the process (libFuzzer reports it as a crash), as
/// do sanitizer findings, crashes and out-of-memory.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "pairpose/core/error.hpp"

namespace pairpose::fuzz {

/// A scratch folder of this process (in /dev/shm when it exists, which keeps the per-input file
/// writes off the disk), created on first use and removed at a normal exit.
inline const std::string& scratch() {
  // Never destroyed, so that the exit handler removing it can still read the name.
  static const std::string* folder = [] {
    const char* base = std::getenv("TMPDIR");
    std::string root = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (base ? base : "/tmp");
    auto* name = new std::string(root + "/pairpose-fuzz-XXXXXX");
    if (!mkdtemp(name->data())) std::abort();
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(scratch(), ignored);
    });
    return name;
  }();
  return *folder;
}

/// Writes the input to `scratch()/name` and returns the path (for readers that take a path).
inline std::string write_input(const std::string& name, const std::uint8_t* data,
                               std::size_t size) {
  const std::string path = scratch() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) std::abort();
  return path;
}

/// Runs `f`; pairpose::Error is the expected way to refuse input and is swallowed.
template <class F> void expect_success_or_error(F&& f) {
  try {
    f();
  } catch (const pairpose::Error&) {
  }
}

} // namespace pairpose::fuzz
