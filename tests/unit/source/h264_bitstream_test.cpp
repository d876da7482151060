#include <doctest/doctest.h>

#include "core/h264_bitstream.hpp"
#include "h264_test_data.hpp"

using namespace partyhub::source;
namespace t = partyhub::test;

TEST_CASE("splits NAL units with 3- and 4-byte start codes") {
  const std::string au = t::sps() + t::pps() + t::idr(10) + t::slice(5);
  const auto units = splitAnnexB(au);
  REQUIRE(units.size() == 4);
  CHECK(units[0].type == 7);
  CHECK(units[1].type == 8);
  CHECK(units[2].type == 5);
  CHECK(units[3].type == 1);
  CHECK(units[0].bytes == t::sps());
  CHECK(units[3].bytes == t::slice(5));
}

TEST_CASE("access unit analysis") {
  struct Case {
    std::string au;
    bool idr, sps, pps;
  };
  const Case cases[] = {
      {t::keyAu(), true, true, true},
      {t::idr(), true, false, false},
      {t::slice(), false, false, false},
      {t::sps() + t::pps(), false, true, true},
      {"", false, false, false},
      {"garbage without start codes", false, false, false},
  };
  for (const Case& c : cases) {
    const auto info = analyzeH264(c.au);
    CHECK(info.idr == c.idr);
    CHECK(info.sps == c.sps);
    CHECK(info.pps == c.pps);
  }
  CHECK(analyzeH264(t::keyAu()).spsBytes == t::sps());
}

TEST_CASE("VP8 keyframe flag") {
  CHECK(isVp8Keyframe(std::string("\x10\x02\x00", 3)));   // bit 0 clear: key frame
  CHECK_FALSE(isVp8Keyframe(std::string("\x11\x02\x00", 3)));
  CHECK_FALSE(isVp8Keyframe(""));
}
