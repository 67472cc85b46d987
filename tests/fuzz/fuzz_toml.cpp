// Fuzz target: TOML parameter files (include/pairpose/config/params.hpp), parsed and validated
// against the schemas of every real stage (app::all_schemas), then resolved section by section,
// as `pairpose <stage> file.toml` does.
#include "fuzz_common.hpp"
#include "pairpose/app/cli.hpp"
#include "pairpose/config/params.hpp"

using namespace pairpose;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<config::Schema> schemas = app::all_schemas();
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_success_or_error([&] {
    const config::ParameterFile file = config::ParameterFile::parse(text, "fuzz.toml");
    file.sections();
    config::validate(file, schemas);
    for (const auto& schema : schemas)
      config::resolve(schema, file, {});
  });
  return 0;
}
