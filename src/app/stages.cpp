// The table of stages. A stage module provides declare_<stage>(Schema&) and run_<stage>(ctx);
// add one #include and one row here, in pipeline order.
#include "pairpose/app/cli.hpp"
#include "pairpose/reconstruct/stage.hpp"
#include "pairpose/simulate/molmap.hpp"

namespace pairpose::app {

const std::vector<Stage>& stages() {
  static const std::vector<Stage> table = {
      // {"name", "one-line summary", declare_fn, run_fn},
      {"phantom", "Synthetic density map: anisotropic Gaussian blobs from a seed",
       simulate::declare_phantom, simulate::run_phantom},
      {"molmap", "Density map from an atomic model (PDB/mmCIF), Chimera-style Gaussians",
       simulate::declare_molmap, simulate::run_molmap},
      {"reconstruct", "Direct Fourier inversion of oriented particles into a map and half-maps",
       reconstruct::declare_reconstruct, reconstruct::run_reconstruct},
  };
  return table;
}

} // namespace pairpose::app
