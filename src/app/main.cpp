// pairpose's entry point: the one place that names MPI_COMM_WORLD. Errors are caught here,
// printed by the failing rank, and the job is aborted so that no rank waits in a collective.
#include <cstdio>
#include <exception>
#include <mpi.h>
#include <petscsys.h>
#include <string>
#include <vector>

#include "pairpose/app/cli.hpp"
#include "pairpose/core/error.hpp"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  PetscOptionsSetValue(nullptr, "-no_signal_handler", "true");
  if (PetscInitializeNoArguments() != 0) {
    std::fprintf(stderr, "pairpose: error: PETSc failed to initialise\n");
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const std::vector<std::string> args(argv + 1, argv + argc);
  int code = 0;
  try {
    code = pairpose::app::run_command_line(args, MPI_COMM_WORLD);
  } catch (const pairpose::CollectiveError& e) {
    if (rank == 0) std::fprintf(stderr, "pairpose: error: %s\n", e.what());
    code = 1;
  } catch (const std::exception& e) {
    if (size > 1) {
      std::fprintf(stderr, "pairpose: error on rank %d: %s\n", rank, e.what());
      std::fflush(stderr);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    std::fprintf(stderr, "pairpose: error: %s\n", e.what());
    code = 1;
  }
  PetscFinalize();
  MPI_Finalize();
  return code;
}
