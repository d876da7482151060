// The streamer's datagram path (transport/peer_link.hpp) between two real UDP
// sockets on loopback: framing, a lost fragment asked for and resent, bad
// datagrams counted, and the emulated link's delay kept by its alarm.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "partyhub/common/clock.hpp"
#include "transport/peer_link.hpp"

using namespace partyhub;
using namespace partyhub::streamer;

namespace {

struct End {
  UdpSocket udp{"127.0.0.1:0"};
  PeerLink link;
  PeerId id;
  End(EventLoop& loop, std::unique_ptr<LinkEmulator> emulator = nullptr)
      : link(udp, loop, std::move(emulator)), id(resolvePeer("127.0.0.1:" + std::to_string(udp.localPort()))) {}
};

/// Reads `end`'s socket until `want` datagrams came or a second passed.
std::vector<std::string> receiveDatagrams(End& end, std::size_t want) {
  std::vector<std::string> got;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (got.size() < want && std::chrono::steady_clock::now() < until) {
    end.link.drain([&](PeerId, std::string_view d) { got.emplace_back(d); });
    if (got.size() < want) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return got;
}

v1::PeerMessage chunkOf(std::size_t bytes) {
  v1::PeerMessage m;
  m.set_channel(7);
  auto* c = m.mutable_chunk()->mutable_chunk();
  c->set_seq(42);
  std::string payload(bytes, '\0');
  for (std::size_t i = 0; i < bytes; ++i) payload[i] = static_cast<char>(i * 13);
  c->set_payload(payload);
  return m;
}

}  // namespace

TEST_CASE("a message of several datagrams whose fragment is lost arrives whole after one NACK and one resend") {
  EventLoop loop;
  End a(loop), b(loop);
  const v1::PeerMessage sent = chunkOf(5000);
  a.link.send({&b.id, 1}, sent, 0);
  std::vector<std::string> datagrams = receiveDatagrams(b, 5);
  REQUIRE(datagrams.size() == 5);
  // The second is lost: the third shows the gap, and the NACK goes at once.
  v1::PeerMessage whole;
  CHECK_FALSE(b.link.receive(a.id, datagrams[0], 1000, whole));
  CHECK_FALSE(b.link.receive(a.id, datagrams[2], 1000, whole));
  std::vector<std::string> nack = receiveDatagrams(a, 1);
  REQUIRE(nack.size() == 1);
  v1::PeerMessage ask;
  REQUIRE(a.link.receive(b.id, nack[0], 2000, ask));
  REQUIRE(ask.has_nack());
  CHECK(ask.nack().indices_size() == 1);
  CHECK(a.link.resend(b.id, ask.nack(), 2000) == datagrams[1].size());
  std::vector<std::string> resent = receiveDatagrams(b, 1);
  REQUIRE(resent.size() == 1);
  CHECK(resent[0] == datagrams[1]);
  CHECK_FALSE(b.link.receive(a.id, resent[0], 3000, whole));
  CHECK_FALSE(b.link.receive(a.id, datagrams[3], 3000, whole));
  REQUIRE(b.link.receive(a.id, datagrams[4], 3000, whole));
  CHECK(whole.SerializeAsString() == sent.SerializeAsString());
  CHECK(b.link.partialMessages() == 0);

  v1::StreamerStats sa, sb;
  a.link.fill(sa);
  b.link.fill(sb);
  CHECK(sa.datagrams_out() == 6);
  CHECK(sa.fragments_resent() == 1);
  CHECK(sa.datagrams_in() == 1);
  CHECK(sb.fragments_nacked() == 1);
  CHECK(sb.datagrams_in() == 6);
  CHECK(sb.datagrams_out() == 1);
  // A NACK for fragments never kept sends nothing.
  v1::FragmentNack unknown;
  unknown.set_msg_id(ask.nack().msg_id() + 1);
  unknown.add_indices(0);
  unknown.add_indices(70000);
  CHECK(a.link.resend(b.id, unknown, 4000) == 0);
}

TEST_CASE("a peer link counts garbage datagrams and messages that do not parse, and delivers nothing for them") {
  EventLoop loop;
  End a(loop), b(loop);
  v1::PeerMessage out;
  CHECK_FALSE(b.link.receive(a.id, "not a datagram of ours", 0, out));
  // Well framed, but its bytes are no PeerMessage (an unterminated field).
  std::vector<std::string> framed;
  REQUIRE(fragment(std::string("\x0a\xff\xff", 3), 9, framed));
  REQUIRE(framed.size() == 1);
  CHECK_FALSE(b.link.receive(a.id, framed[0], 0, out));
  b.link.countMalformed();
  v1::StreamerStats s;
  b.link.fill(s);
  CHECK(s.datagrams_garbage() == 1);
  CHECK(s.messages_malformed() == 2);
}

TEST_CASE("through the emulated link a message arrives no sooner than its delay, without anyone polling") {
  EventLoop loop;
  LinkEmulation slow;
  slow.delayMs = 40;
  End a(loop, std::make_unique<LinkEmulator>(slow, 1)), b(loop);
  const std::int64_t sentUs = wallNowUs();
  a.link.send({&b.id, 1}, chunkOf(3000), sentUs);
  std::vector<std::string> early;
  b.link.drain([&](PeerId, std::string_view d) { early.emplace_back(d); });
  CHECK(early.empty());
  // Only the loop runs: the link's alarm sends the datagrams when due.
  std::int64_t arrivedUs = -1;
  std::size_t got = 0;
  loop.addFd(b.udp.fd(), [&] {
    b.link.drain([&](PeerId, std::string_view) {
      if (++got == 3) {
        arrivedUs = wallNowUs();
        loop.quit();
      }
    });
  });
  loop.addTimer(std::chrono::milliseconds(2000), [&] {
    loop.quit();
    return false;
  });
  loop.run();
  REQUIRE(got == 3);
  CHECK(arrivedUs - sentUs >= 40'000);
  CHECK(arrivedUs - sentUs < 1'000'000);
}
