#pragma once
// The two halves of `pairpose evaluate` (stage.hpp): orientations against the truth, and maps
// (half-map FSC, alignment to a reference and FSC against it). Not part of the API.
#include <memory>
#include <string>

#include "pairpose/config/params.hpp"
#include "pairpose/core/stage.hpp"
#include "pairpose/evaluate/orientation_error.hpp"

namespace pairpose::evaluate::detail {

/// Declares the map parameters ([evaluate] map, half_maps, reference, alignment, ...).
void declare_map_parameters(config::Schema& s);

/// Runs the map part (collective over ctx.comm: every rank reads the maps, the alignment search is
/// split across ranks; rank 0 computes the FSCs and writes the aligned map and the plot tables
/// into `plot_folder` when it is not empty). `fit` is the physical-error fit of the orientation
/// part, or null without one. Returns, on rank 0, the JSON members to add to the summary
/// ("" on the other ranks).
std::string evaluate_maps(StageContext& ctx, const PhysicalError* fit,
                          const std::string& plot_folder);

} // namespace pairpose::evaluate::detail
