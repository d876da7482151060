#include <doctest/doctest.h>

#include "core/bundle.hpp"

using namespace partyhub;
using namespace partyhub::streamer;

namespace {

RelayActions::Send have(PeerId to, std::uint32_t channel, std::uint64_t seq) {
  RelayActions::Send s;
  s.peers = {to};
  s.message.set_channel(channel);
  s.message.mutable_overlay()->set_type(v1::OverlayMessage::HAVE);
  s.message.mutable_overlay()->add_seqs(seq);
  return s;
}

RelayActions::Send chunk(std::vector<PeerId> to, std::uint64_t seq) {
  RelayActions::Send s;
  s.peers = std::move(to);
  s.message.mutable_chunk()->mutable_chunk()->set_seq(seq);
  s.message.mutable_chunk()->mutable_chunk()->set_payload(std::string(1000, 'x'));
  return s;
}

}  // namespace

TEST_CASE("bundling: small messages for one peer share a datagram, everything else goes as it was") {
  std::vector<RelayActions::Send> sends;
  sends.push_back(chunk({7}, 1));     // never bundled
  sends.push_back(have(7, 11, 1));    // 7 has two small ones: bundled
  sends.push_back(have(8, 11, 1));    // 8 has one: left alone
  sends.push_back(have(7, 12, 5));
  sends.push_back(chunk({7, 8}, 2));  // several peers: left alone
  bundleSmallMessages(sends, 256, 1188);
  REQUIRE(sends.size() == 4);
  // The sends that stay keep their order and their peers (none lost on the way).
  CHECK(sends[0].message.has_chunk());
  CHECK(sends[0].peers == std::vector<PeerId>{7});
  CHECK(sends[1].message.has_overlay());
  CHECK(sends[1].peers == std::vector<PeerId>{8});
  CHECK(sends[2].message.has_chunk());
  CHECK(sends[2].peers == std::vector<PeerId>{7, 8});
  const auto& b = sends[3];
  CHECK(b.peers == std::vector<PeerId>{7});
  REQUIRE(b.message.has_bundle());
  REQUIRE(b.message.bundle().messages_size() == 2);
  CHECK(b.message.bundle().messages(0).channel() == 11);  // each keeps its channel
  CHECK(b.message.bundle().messages(1).channel() == 12);
  CHECK(b.message.bundle().messages(1).overlay().seqs(0) == 5);
}

TEST_CASE("bundling: a batch too big for one datagram becomes several bundles, each within the limit") {
  std::vector<RelayActions::Send> sends;
  for (std::uint64_t i = 0; i < 200; ++i) sends.push_back(have(3, static_cast<std::uint32_t>(i + 1), 1'000'000 + i));
  bundleSmallMessages(sends, 256, 1188);
  CHECK(sends.size() > 1);
  int messages = 0;
  for (const auto& s : sends) {
    REQUIRE(s.message.has_bundle());
    CHECK(s.message.ByteSizeLong() <= 1188);
    messages += s.message.bundle().messages_size();
  }
  CHECK(messages == 200);
}

TEST_CASE("bundling: nothing to share leaves the batch untouched") {
  std::vector<RelayActions::Send> sends;
  sends.push_back(have(1, 11, 1));
  sends.push_back(have(2, 11, 1));
  bundleSmallMessages(sends, 256, 1188);
  REQUIRE(sends.size() == 2);
  CHECK(sends[0].peers == std::vector<PeerId>{1});
  CHECK(sends[1].peers == std::vector<PeerId>{2});
}
