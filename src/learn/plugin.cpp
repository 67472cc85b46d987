// The entry points by which the pairpose executable reaches the learn stages after loading this
// library with dlopen (src/app/learn_plugin.cpp): plain C names, looked up with dlsym.
#include "pairpose/learn/stage.hpp"

extern "C" {

void pairpose_learn_declare_train(pairpose::config::Schema& schema) {
  pairpose::learn::declare_train(schema);
}
void pairpose_learn_run_train(pairpose::StageContext& ctx) { pairpose::learn::run_train(ctx); }
void pairpose_learn_declare_embed(pairpose::config::Schema& schema) {
  pairpose::learn::declare_embed(schema);
}
void pairpose_learn_run_embed(pairpose::StageContext& ctx) { pairpose::learn::run_embed(ctx); }

} // extern "C"
