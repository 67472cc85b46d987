#pragma once
// Common set-up for pairpose's Boost.Test executables: MPI is initialised once for the whole
// executable (a unit test runs as a singleton MPI job), and helpers locate shared test data.
// Include this after defining BOOST_TEST_MODULE.
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <mpi.h>
#include <string>

namespace pairpose::testing {

struct MpiFixture {
  MpiFixture() {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) MPI_Init(nullptr, nullptr);
  }
  ~MpiFixture() {
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (!finalised) MPI_Finalize();
  }
};

/// Path of a file in ../shared/data, or "" when the folder or file is absent.
inline std::string shared_data(const std::string& name) {
  const char* env = std::getenv("PAIRPOSE_SHARED_DATA");
  const std::string folder = env ? env : PAIRPOSE_SHARED_DATA;
  const std::string path = folder + "/" + name;
  return std::filesystem::exists(path) ? path : std::string();
}

/// A fresh scratch folder for one test, below the current directory.
inline std::string scratch_folder(const std::string& name) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const std::string path = "scratch_" + name;
  if (rank == 0) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  return path;
}

/// Boost.Test precondition: the test is reported as skipped when `name` is not in shared data.
struct needs_shared_data {
  std::string name;
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
    boost::test_tools::assertion_result r(!shared_data(name).empty());
    if (!r) r.message() << "skipped: ../shared/data/" << name << " is absent";
    return r;
  }
};

} // namespace pairpose::testing

using PairposeMpiFixture = pairpose::testing::MpiFixture;
BOOST_TEST_GLOBAL_FIXTURE(PairposeMpiFixture);
