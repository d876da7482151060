#include <doctest/doctest.h>

#include <stdexcept>

#include "partyhub/common/media_spec.hpp"

using partyhub::parseMediaSpec;

TEST_CASE("kinds with and without arguments") {
  struct Case {
    const char* text;
    const char* kind;
    const char* argument;
  };
  const Case cases[] = {
      {"test", "test", ""},
      {"v4l2", "v4l2", ""},
      {"v4l2:/dev/video2", "v4l2", "/dev/video2"},
      {"file:/tmp/a:b.mkv", "file", "/tmp/a:b.mkv"},
      {"pipeline:videotestsrc ! videoconvert", "pipeline", "videotestsrc ! videoconvert"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    const auto spec = parseMediaSpec("--video", c.text, {"test", "v4l2", "file", "pipeline", "none"},
                                     {"file", "pipeline"});
    CHECK(spec.kind == c.kind);
    CHECK(spec.argument == c.argument);
  }
}

TEST_CASE("unknown kinds and missing arguments are clear errors") {
  CHECK_THROWS_WITH_AS(parseMediaSpec("--video", "webcam", {"test", "none"}, {}),
                       "--video: unknown kind 'webcam' in 'webcam' (expected test|none)", std::invalid_argument);
  CHECK_THROWS_WITH_AS(parseMediaSpec("--video", "file", {"file"}, {"file"}),
                       "--video: 'file' needs an argument, e.g. file:...", std::invalid_argument);
}
