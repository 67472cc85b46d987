// The table of stages. A stage module provides declare_<stage>(Schema&) and run_<stage>(ctx);
// add one #include and one row here, in pipeline order.
#include "learn_plugin.hpp"
#include "pairpose/app/cli.hpp"
#include "pairpose/app/report.hpp"
#include "pairpose/evaluate/stage.hpp"
#include "pairpose/gauge/stage.hpp"
#include "pairpose/pairs/stage.hpp"
#include "pairpose/reconstruct/stage.hpp"
#include "pairpose/recover/stage.hpp"
#include "pairpose/refine/stage.hpp"
#include "pairpose/simulate/molmap.hpp"
#include "pairpose/simulate/stage.hpp"

namespace pairpose::app {

const std::vector<Stage>& stages() {
  static const std::vector<Stage> table = {
      // {"name", "one-line summary", declare_fn, run_fn},
      {"phantom", "Synthetic density map: anisotropic Gaussian blobs from a seed",
       simulate::declare_phantom, simulate::run_phantom},
      {"molmap", "Density map from an atomic model (PDB/mmCIF), Chimera-style Gaussians",
       simulate::declare_molmap, simulate::run_molmap},
      {"simulate", "Projections of maps (Fourier slice, RELION's CTF, noise) to a dataset",
       simulate::declare_simulate, simulate::run_simulate},
#ifdef PAIRPOSE_HAVE_LEARN
      {"train", "Distance network d_hat(p_i, p_j) ~ d_q on all pairs of each batch (LibTorch)",
       declare_train, run_train, true},
      {"embed", "Per-particle embeddings of a trained network, written into the dataset",
       declare_embed, run_embed, true},
#endif
      {"pairs", "Pair set and estimated distances (exact, exact+noise, euclidean, embedding)",
       pairs::declare_pairs, pairs::run_pairs},
      {"recover", "Orientations from pairwise distances: init + distributed Riemannian refinement",
       recover::declare_recover, recover::run_recover},
      {"gauge", "Left factor and transpose of recovered orientations from images (common lines)",
       gauge::declare_gauge, gauge::run_gauge},
      {"refine", "Local refinement of orientations against gold-standard half-maps (matching)",
       refine::declare_refine, refine::run_refine},
      {"evaluate",
       "Orientation error against the truth; map FSC (half-maps, aligned reference); plots",
       evaluate::declare_evaluate, evaluate::run_evaluate},
      {"reconstruct", "Direct Fourier inversion of oriented particles into a map and half-maps",
       reconstruct::declare_reconstruct, reconstruct::run_reconstruct},
      {"report", "One self-contained HTML page of a run: stages, timings, results, plots",
       declare_report, run_report},
  };
  return table;
}

} // namespace pairpose::app
