#define BOOST_TEST_MODULE core_parse
#include "pairpose_test.hpp"

#include <limits>

#include "pairpose/core/error.hpp"
#include "pairpose/core/parse.hpp"

using namespace pairpose;

BOOST_AUTO_TEST_CASE(numbers_are_read_whole) {
  BOOST_TEST(parse_int64("42", "x") == 42);
  BOOST_TEST(parse_int64(" -7\n", "x") == -7);
  BOOST_TEST(parse_int64("+3", "x") == 3);
  BOOST_TEST(parse_uint64("18446744073709551615", "x") ==
             std::numeric_limits<std::uint64_t>::max());
  BOOST_TEST(parse_double("0.125", "x") == 0.125);
  BOOST_TEST(parse_double("-1e-3", "x") == -1e-3);
  BOOST_TEST(parse_double("inf", "x") == std::numeric_limits<double>::infinity());
}

BOOST_AUTO_TEST_CASE(damaged_text_is_an_error_naming_the_field) {
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string m = message([] { parse_int64("12abc", "run.ckpt: step"); });
  BOOST_TEST(m.find("run.ckpt: step") != std::string::npos);
  BOOST_TEST(m.find("'12abc'") != std::string::npos);
  BOOST_CHECK_THROW(parse_int64("", "x"), Error);
  BOOST_CHECK_THROW(parse_int64("1.5", "x"), Error);
  BOOST_CHECK_THROW(parse_int64("99999999999999999999", "x"), Error);
  BOOST_CHECK_THROW(parse_uint64("-1", "x"), Error);
  BOOST_CHECK_THROW(parse_double("nan", "x"), Error);
  BOOST_CHECK_THROW(parse_double("1e400", "x"), Error);
  BOOST_CHECK_THROW(parse_double("0x", "x"), Error);
}
