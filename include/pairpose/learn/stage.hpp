#pragma once
/// @file stage.hpp
/// The `train` and `embed` stages (method.md §7).
///
/// `pairpose train`: trains a DistanceNetwork (network.hpp) on all pairs of each batch
/// (trainer.hpp), data-parallel over the ranks, from a dataset written by `pairpose simulate`
/// (source = "dataset") or from projections simulated online from a list of maps (source =
/// "simulate"; fresh orientations, shifts, CTFs and noise every batch). Every `validate_every`
/// steps the loss on all pairs of a held-out set is computed; the best model so far is written
/// to `output` (a model file: architecture, preprocessing, parameters, training source and maps,
/// validation figures, provenance). With `patience` > 0 training stops after that many
/// validations without improvement. Checkpoints (network + optimiser + step + history) are
/// written every `checkpoint_every` steps; `resume = true` continues from the checkpoint (same
/// architecture and optimiser, else an error). With `plots` set, rank 0 writes CSV tables there
/// (history.csv: step, loss, learning rate; validation.csv: step, loss, rmse, mean_abs;
/// pairs.csv: d_q, d_hat over held-out pairs) and draws them with scripts/plot_train.py when the
/// environment variable PAIRPOSE_SCRIPTS names the scripts folder.
///
/// `pairpose embed`: the unit embedding of every particle of a dataset (each rank its block),
/// written as rows `embedding/vectors` (N × D, float64) for the `pairs` stage's `embedding`
/// source, whose distance 2·acos(clip(cos, 0, 1)) is the network's head. The images are
/// preprocessed as recorded in the model file; `image_size` other than the model's is an error.
#include "pairpose/config/params.hpp"
#include "pairpose/core/stage.hpp"

namespace pairpose::learn {

void declare_train(config::Schema& schema);
void run_train(StageContext& ctx);

void declare_embed(config::Schema& schema);
void run_embed(StageContext& ctx);

} // namespace pairpose::learn
