// The table of stages. A stage module provides declare_<stage>(Schema&) and run_<stage>(ctx);
// add one #include and one row here, in pipeline order.
#include "pairpose/app/cli.hpp"

namespace pairpose::app {

const std::vector<Stage>& stages() {
  static const std::vector<Stage> table = {
      // {"name", "one-line summary", declare_fn, run_fn},
  };
  return table;
}

} // namespace pairpose::app
