// The streamer's outgoing traffic by message kind: a chunk's media apart from
// its header, a bundle's messages in their own kinds and its framing apart.
#include <doctest/doctest.h>

#include "transport/traffic_counts.hpp"

using namespace partyhub;
using namespace partyhub::streamer;

TEST_CASE("traffic counts: media and headers by kind, a bundle's messages in their own kinds") {
  TrafficCounts t;
  v1::PeerMessage audio;
  audio.mutable_chunk()->mutable_chunk()->set_codec(v1::CODEC_OPUS);
  audio.mutable_chunk()->mutable_chunk()->set_payload(std::string(80, 'o'));
  t.sent(audio, 112, 3);  // 112 bytes on the wire, to three peers

  v1::PeerMessage bundle;
  for (int i = 0; i < 2; ++i) {
    v1::PeerMessage* have = bundle.mutable_bundle()->add_messages();
    have->mutable_overlay()->set_type(v1::OverlayMessage::HAVE);
    have->mutable_overlay()->add_seqs(1000 + i);
  }
  const std::size_t inner = bundle.bundle().messages(0).ByteSizeLong() + bundle.bundle().messages(1).ByteSizeLong();
  t.sent(bundle, inner + 7, 1);
  t.sentDatagram("nack", 12);

  v1::StreamerStats s;
  t.fill(s);
  CHECK(s.bytes_out_by_message().at("audio") == 336);
  CHECK(s.payload_bytes_out_by_message().at("audio") == 240);
  CHECK(s.messages_out_by_message().at("audio") == 3);
  CHECK(s.bytes_out_by_message().at("have") == inner);
  CHECK(s.messages_out_by_message().at("have") == 2);
  CHECK(s.bytes_out_by_message().at("bundle") == 7);
  CHECK(s.messages_out_by_message().at("bundle") == 1);
  CHECK(s.bytes_out_by_message().at("nack") == 12);
  CHECK(s.payload_bytes_out_by_message().count("have") == 0);
  CHECK(s.payload_bytes_out() == 240);
}
