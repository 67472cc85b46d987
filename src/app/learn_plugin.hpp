#pragma once
/// @file learn_plugin.hpp
/// The learn stages (`train`, `embed`) as seen by the executable. They live in the shared library
/// libpairpose_learn.so, the only code linked with LibTorch, which is loaded on the first call of
/// one of these functions: the other stages start without LibTorch's ~1 s of loading and static
/// initialisation. The library is looked for at $PAIRPOSE_LEARN_PLUGIN, then next to the
/// executable, then at the path it was built to. A library that cannot be loaded is a
/// pairpose::Error naming the paths tried and the loader's message.
#include "pairpose/config/params.hpp"
#include "pairpose/core/stage.hpp"

namespace pairpose::app {

void declare_train(config::Schema& schema);
void run_train(StageContext& ctx);
void declare_embed(config::Schema& schema);
void run_embed(StageContext& ctx);

} // namespace pairpose::app
