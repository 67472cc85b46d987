#include "learn_plugin.hpp"

#ifdef PAIRPOSE_HAVE_LEARN
#include "pairpose/core/error.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

namespace pairpose::app {
namespace {

using DeclareFn = void (*)(config::Schema&);
using RunFn = void (*)(StageContext&);

struct LearnPlugin {
  DeclareFn declare_train = nullptr, declare_embed = nullptr;
  RunFn run_train = nullptr, run_embed = nullptr;
};

std::vector<std::string> candidate_paths() {
  std::vector<std::string> paths;
  if (const char* env = std::getenv("PAIRPOSE_LEARN_PLUGIN"); env && *env) paths.push_back(env);
  std::error_code error;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) paths.push_back((exe.parent_path() / "libpairpose_learn.so").string());
  paths.push_back(PAIRPOSE_LEARN_PLUGIN);
  return paths;
}

template <class Fn> Fn symbol(void* handle, const char* name, const std::string& path) {
  void* address = dlsym(handle, name);
  PAIRPOSE_CHECK(address != nullptr, "learn plugin " << path << " has no entry point " << name);
  return reinterpret_cast<Fn>(address);
}

LearnPlugin load() {
  std::string tried;
  for (const auto& path : candidate_paths()) {
    std::error_code error;
    if (!std::filesystem::exists(path, error)) {
      tried += "\n  " + path + ": no such file";
      continue;
    }
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      tried += "\n  " + path + ": " + dlerror();
      continue;
    }
    LearnPlugin p;
    p.declare_train = symbol<DeclareFn>(handle, "pairpose_learn_declare_train", path);
    p.run_train = symbol<RunFn>(handle, "pairpose_learn_run_train", path);
    p.declare_embed = symbol<DeclareFn>(handle, "pairpose_learn_declare_embed", path);
    p.run_embed = symbol<RunFn>(handle, "pairpose_learn_run_embed", path);
    return p;
  }
  throw Error("the train and embed stages need the LibTorch plugin libpairpose_learn.so, which "
              "could not be loaded (set PAIRPOSE_LEARN_PLUGIN to its path):" +
              tried);
}

const LearnPlugin& plugin() {
  static std::once_flag once;
  static LearnPlugin p;
  std::call_once(once, [] { p = load(); });
  return p;
}

} // namespace

void declare_train(config::Schema& schema) { plugin().declare_train(schema); }
void run_train(StageContext& ctx) { plugin().run_train(ctx); }
void declare_embed(config::Schema& schema) { plugin().declare_embed(schema); }
void run_embed(StageContext& ctx) { plugin().run_embed(ctx); }

} // namespace pairpose::app
#endif
