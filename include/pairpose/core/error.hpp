#pragma once
/// @file error.hpp
/// The one error idiom of pairpose: inside the library a failed check throws pairpose::Error
/// with a message that names the file, key or index at fault and what was expected. main()
/// catches it, prints it on the failing rank and aborts the job so that no rank waits forever in
/// a collective.
#include <sstream>
#include <stdexcept>
#include <string>

namespace pairpose {

/// Every error pairpose raises on purpose. The message is complete and meant for the user.
class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// An error that every rank of the communicator raised together with the same message (see
/// mpi::agree_or_throw): main() prints it once, on rank 0, and all ranks exit without MPI_Abort.
class CollectiveError : public Error {
public:
  using Error::Error;
};

} // namespace pairpose

/// Always-on check: `PAIRPOSE_CHECK(n > 0, file << ": expected n > 0, got " << n);`
#define PAIRPOSE_CHECK(cond, msg)                                                                  \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      std::ostringstream pairpose_check_os_;                                                       \
      pairpose_check_os_ << msg;                                                                   \
      throw ::pairpose::Error(pairpose_check_os_.str());                                           \
    }                                                                                              \
  } while (0)

/// Unconditional failure with a streamed message.
#define PAIRPOSE_FAIL(msg) PAIRPOSE_CHECK(false, msg)
