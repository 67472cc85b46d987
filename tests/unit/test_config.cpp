#define BOOST_TEST_MODULE config
#include "pairpose_test.hpp"

#include "pairpose/config/params.hpp"
#include <functional>
#include "pairpose/core/error.hpp"

#include "pairpose/config/params.hpp"

using namespace pairpose;
using namespace pairpose::config;

namespace {
std::vector<Schema> schemas() {
  Schema s("simulate", "test stage");
  s.integer("n_particles", 100, 1, 1e9, "count");
  s.real("snr", 0.1, 0.0, 1e6, "signal to noise");
  s.boolean("ctf", false, "apply CTF");
  s.string("output", "out.h5", "output");
  s.choice("orientations", "full", {"full", "half", "quarter"}, "view range");
  s.string_list("maps", {"a.mrc"}, "maps");
  Schema r("recover", "other");
  r.integer("seed", 1, 0, 1e18, "seed");
  return {s, r};
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
} // namespace

BOOST_AUTO_TEST_CASE(defaults_file_then_overrides) {
  auto all = schemas();
  auto file = ParameterFile::parse("[simulate]\nn_particles = 5\nsnr = 2\nmaps = [\"x\", \"y\"]\n",
                                   "p.toml");
  validate(file, all);
  auto p = resolve(all[0], file, {parse_override("simulate.snr=0.5"),
                                  parse_override("simulate.output=run/out.h5"),
                                  parse_override("recover.seed=7")});
  BOOST_TEST(p.integer("n_particles") == 5);
  BOOST_TEST(p.real("snr") == 0.5);
  BOOST_TEST(p.boolean("ctf") == false);
  BOOST_TEST(p.string("output") == "run/out.h5");
  BOOST_TEST(p.string_list("maps").size() == 2u);
  BOOST_TEST(p.to_toml().find("snr = 0.5") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(errors_name_file_line_and_key) {
  auto all = schemas();
  auto m = message_of([&] { validate(ParameterFile::parse("[simulate]\n\nsnrr = 1\n", "p.toml"), all); });
  BOOST_TEST(m.find("p.toml:3") != std::string::npos, m);
  BOOST_TEST(m.find("snrr") != std::string::npos, m);
  m = message_of([&] { validate(ParameterFile::parse("[simulate]\nsnr = \"high\"\n", "p.toml"), all); });
  BOOST_TEST(m.find("p.toml:2") != std::string::npos, m);
  BOOST_TEST(m.find("expected real") != std::string::npos, m);
  m = message_of([&] { validate(ParameterFile::parse("[simulate]\nn_particles = 0\n", "p.toml"), all); });
  BOOST_TEST(m.find("out of range") != std::string::npos, m);
  m = message_of([&] { validate(ParameterFile::parse("[simulat]\nx = 1\n", "p.toml"), all); });
  BOOST_TEST(m.find("simulat") != std::string::npos, m);
  m = message_of([&] { validate(ParameterFile::parse("[simulate]\nn_particles = 2.5\n", "p.toml"), all); });
  BOOST_TEST(m.find("expected integer") != std::string::npos, m);
  m = message_of([&] { validate(ParameterFile::parse("[simulate]\norientations = \"north\"\n", "p.toml"), all); });
  BOOST_TEST(m.find("full | half | quarter") != std::string::npos, m);
  m = message_of([&] { ParameterFile::parse("[simulate\n", "bad.toml"); });
  BOOST_TEST(m.find("bad.toml:1") != std::string::npos, m);
  m = message_of([&] { validate_overrides({parse_override("simulate.snr=abc")}, all); });
  BOOST_TEST(m.find("simulate.snr") != std::string::npos, m);
  m = message_of([&] { validate_overrides({parse_override("simulate.nope=1")}, all); });
  BOOST_TEST(m.find("unknown key 'nope'") != std::string::npos, m);
  m = message_of([&] { parse_override("novalue"); });
  BOOST_TEST(m.find("section.key=value") != std::string::npos, m);
  m = message_of([&] { ParameterFile::load("/nonexistent/params.toml"); });
  BOOST_TEST(m.find("/nonexistent/params.toml") != std::string::npos, m);
  // A labelled section [simulate-test] points to its stage's help, not to a "simulate-test" stage.
  Schema labelled("simulate-test", "labelled section");
  labelled.integer("n_particles", 100, 1, 1e9, "count");
  m = message_of([&] { validate(ParameterFile::parse("[simulate-test]\nsnr = 1\n", "p.toml"), {labelled}); });
  BOOST_TEST(m.find("(see pairpose simulate --help)") != std::string::npos, m);
  m = message_of([&] { resolve(labelled, ParameterFile::parse("[simulate-test]\nsnr = 1\n", "p.toml"), {}); });
  BOOST_TEST(m.find("(see pairpose simulate --help)") != std::string::npos, m);
}

BOOST_AUTO_TEST_CASE(help_and_markdown_list_every_key) {
  auto all = schemas();
  for (const auto& e : all[0].entries()) {
    BOOST_TEST(all[0].help_text().find(e.key) != std::string::npos);
    BOOST_TEST(all[0].markdown().find("`" + e.key + "`") != std::string::npos);
  }
}
