// The player's pipeline description and its H.264 decoder choice (real
// GStreamer registry: the decoders install-deps.sh installs).
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "media/player_pipeline.hpp"

using namespace partyhub;
using partyhub::player::chooseH264Decoder;
using partyhub::player::PlayerPipeline;
using partyhub::player::PlayerPipelineConfig;

TEST_CASE("the H.264 decoder: openh264 when installed, libav on request, an unknown name refused in words") {
  CHECK(chooseH264Decoder("auto") == "openh264dec");
  CHECK(chooseH264Decoder("openh264") == "openh264dec");
  CHECK(chooseH264Decoder("libav").rfind("avdec_h264 ", 0) == 0);
  try {
    (void)chooseH264Decoder("ffmpeg");
    FAIL("an unknown decoder was accepted");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("'ffmpeg'") != std::string::npos);
  }
}

TEST_CASE("the description decodes with the chosen decoder, VP8 with vp8dec") {
  PlayerPipelineConfig c;
  c.videoSink = {"fake", ""};
  c.audioSink = {"fake", ""};
  c.h264Decoder = chooseH264Decoder("openh264");
  const std::string h264 = PlayerPipeline::describe(c, v1::CODEC_H264, true);
  CHECK(h264.find("h264parse ! openh264dec ! ") != std::string::npos);
  CHECK(h264.find("opusdec") != std::string::npos);
  const std::string vp8 = PlayerPipeline::describe(c, v1::CODEC_VP8, false);
  CHECK(vp8.find("vp8dec") != std::string::npos);
  CHECK(vp8.find("opusdec") == std::string::npos);
}

// Whether GStreamer has loaded the plugin (not merely listed it in its registry).
bool loaded(const char* plugin) {
  GstPlugin* p = gst_registry_find_plugin(gst_registry_get(), plugin);
  if (p == nullptr) return false;
  const bool yes = gst_plugin_is_loaded(p) != FALSE;
  gst_object_unref(p);
  return yes;
}

TEST_CASE("the warm-up loads both codecs' decoders before any pipeline starts, and shuts down cleanly") {
  PlayerPipelineConfig c;
  c.videoSink = {"fake", ""};
  c.audioSink = {"fake", ""};
  c.h264Decoder = chooseH264Decoder("libav");  // finds the factory, loads nothing
  {
    PlayerPipeline p(c, {}, {}, {});
    p.warmUp();
    p.warmUp();  // a second call starts nothing more
    CHECK_FALSE(p.started());
  }  // the destructor joins the warm-up thread (this test hangs if it does not)
  CHECK(loaded("libav"));  // avdec_h264
  CHECK(loaded("vpx"));    // vp8dec
  CHECK(loaded("opus"));   // opusdec
}
