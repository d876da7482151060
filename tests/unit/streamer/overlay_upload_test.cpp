// The overlay node's sending side (node_upload.cpp): acknowledgements and
// their timeouts, the paced uplink, what each copy waits, and the share of
// the upload left to answers. In the tiny network of overlay_net.hpp.
#include <doctest/doctest.h>

#include <functional>

#include "overlay_net.hpp"

using namespace partyhub;
using namespace partyhub::streamer::overlay;
using namespace partyhub::streamer::overlay::testing;

namespace {

// A source (1) and two peers whose acknowledgements take `ackDelayUs(now)`
// to come back (the rest 1 ms): a queue the source cannot see.
struct AckNet {
  std::map<PeerId, std::unique_ptr<Node>> nodes;
  std::int64_t now = 0;
  std::function<std::int64_t(std::int64_t)> ackDelayUs;
  std::function<std::int64_t(std::int64_t)> sourceChunkDelayUs = [](std::int64_t) { return 1'000; };
  std::deque<std::tuple<std::int64_t, PeerId, PeerId, Message>> queue;  // due, from, to

  explicit AckNet(std::function<std::int64_t(std::int64_t)> ackDelay, bool estimateUpload = false)
      : ackDelayUs(std::move(ackDelay)) {
    NodeConfig c;
    c.neighbours = 4;
    c.uploadKbps = 20000;
    c.estimateUpload = estimateUpload;
    for (PeerId id = 1; id <= 3; ++id) {
      NodeConfig ci = c;
      ci.isSource = id == 1;
      nodes.emplace(id, std::make_unique<Node>(id, ci, id * 31));
    }
    NodeActions out;
    for (auto& [id, n] : nodes) {
      n->join(id == 1 ? std::vector<PeerId>{} : std::vector<PeerId>{1}, now, out);
      send(id, out);
    }
    run();
    tick(200);  // gossip and probes: everyone knows everyone, round trips measured (one tick)
  }
  void send(PeerId from, NodeActions& out) {
    for (auto& [to, m] : out.sends) {
      const bool ack = m.type == MsgType::kHave && from != 1;
      const bool sourceChunk = m.type == MsgType::kChunk && from == 1;
      queue.emplace_back(now + (ack ? ackDelayUs(now) : sourceChunk ? sourceChunkDelayUs(now) : 1'000), from, to,
                         std::move(m));  // the rest: next tick
    }
    out.clear();
  }
  void run() {
    NodeActions out;
    for (bool any = true; any;) {
      any = false;
      for (std::size_t i = 0; i < queue.size(); ++i) {
        if (std::get<0>(queue[i]) > now) continue;
        auto [due, from, to, m] = std::move(queue[i]);
        queue.erase(queue.begin() + static_cast<std::ptrdiff_t>(i));
        nodes.at(to)->onMessage(from, m, now, out);
        send(to, out);
        any = true;
        break;
      }
    }
  }
  void tick(int times) {
    NodeActions out;
    for (int t = 0; t < times; ++t) {
      now += 10'000;
      for (auto& [id, n] : nodes) {
        n->onTick(now, out);
        send(id, out);
      }
      run();
    }
  }
  // `count` chunks at 30 a second (a tick of 10 ms between them, three ticks each).
  void stream(int from, int count) {
    NodeActions out;
    for (int i = from; i < from + count; ++i) {
      auto chunk = std::make_shared<v1::Chunk>();
      chunk->set_seq(static_cast<std::uint64_t>(i));
      chunk->set_payload(std::string(2000, 'a'));
      nodes.at(1)->onLocalChunk(chunk, now, out);
      send(1, out);
      run();
      tick(3);
    }
  }
};

}  // namespace

TEST_CASE("acknowledgements that come late, not lost, stop being taken for losses") {
  // The peers' probes answer at once, but their acknowledgements take 80 ms
  // (an overloaded machine): a timeout from the probed round trip would give
  // every push up and send it again.
  AckNet net([](std::int64_t) { return 80'000; });
  net.stream(0, 300);  // 10 s
  net.tick(50);
  const NodeStats& s = net.nodes.at(1)->stats();
  MESSAGE("source: " << s.repushes << " pushes repeated, " << s.lateAcks << " acknowledged late");
  CHECK(s.lateAcks >= 1);   // it did take some for lost at first...
  CHECK(s.repushes <= 20);  // ...and learnt: not one repeat per push (600 pushes)
  for (PeerId id = 2; id <= 3; ++id) CHECK(net.nodes.at(id)->stats().duplicates <= 20);
}

TEST_CASE("a burst of late acknowledgements backs the timeout off: its pushes are not all sent again") {
  // Acknowledgements in 1 ms, then for 1 s in 120 ms (a queue filling on the
  // way), then in 1 ms again. The first push of the spike to time out
  // doubles the wait for the others (up to 4x): most of the spike's 60
  // pushes are acknowledged, late, before they would go again.
  const std::int64_t spikeFrom = 5'000'000, spikeTo = 6'000'000;
  AckNet net([&](std::int64_t now) { return now >= spikeFrom && now < spikeTo ? 120'000 : 1'000; });
  net.stream(0, 60);  // 2 s of quick acknowledgements: the estimate is a few ms
  const NodeStats before = net.nodes.at(1)->stats();
  CHECK(before.repushes == 0);
  while (net.now < spikeFrom) net.tick(1);
  net.stream(60, 30);  // the spike's second
  net.stream(90, 30);
  net.tick(50);
  const NodeStats& s = net.nodes.at(1)->stats();
  MESSAGE("in the spike: " << s.repushes << " pushes repeated, " << s.lateAcks << " acknowledged late");
  CHECK(s.lateAcks >= 1);
  CHECK(s.repushes <= 10);  // 6 here; without the backoff 15
  // And when they come in time again, so does the timeout: a real loss is
  // not waited for 4x as long (the last second's pushes were never repeated
  // and never needed to be).
  const std::uint64_t after = s.repushes;
  net.stream(120, 30);
  net.tick(50);
  CHECK(net.nodes.at(1)->stats().repushes == after);
}

TEST_CASE("bytes the transport resends occupy the paced uplink like the node's own sends") {
  NodeConfig c;
  c.uploadKbps = 1000;  // 125 bytes per ms
  Node node(1, c, 1);
  NodeActions out;
  node.join({}, 0, out);
  const std::int64_t before = node.uplinkFreeAtUs();
  node.chargeUplink(12'500, 1'000'000);  // 100 ms of uplink
  CHECK(node.uplinkFreeAtUs() == 1'000'000 + 100'000 - c.maxQueueDelayUs);
  CHECK(node.uplinkFreeAtUs() > before);
  node.chargeUplink(12'500, 1'050'000);  // half of the first drained meanwhile
  CHECK(node.uplinkFreeAtUs() == 1'050'000 + 150'000 - c.maxQueueDelayUs);
}

TEST_CASE("the uplink is waited for only while something waits to go out") {
  auto net = makeNet("push", 4);
  for (int t = 0; t < 50; ++t) {
    net->now += 10'000;
    net->tickAll();
  }
  Node& source = *net->nodes.at(1);
  CHECK_FALSE(source.waitsForUplink());  // nothing to send: no wake-up needed
  auto c = std::make_shared<v1::Chunk>();
  c->set_seq(0);
  c->set_payload(std::string(40'000, 'w'));  // 64 ms of the source's uplink per copy
  NodeActions out;
  source.onLocalChunk(c, net->now, out);
  CHECK(net->sourceSends[0] == 0);
  net->apply(1, out);
  CHECK(net->sourceSends[0] == 1);        // the first copy left at once
  CHECK(source.waitsForUplink());         // the others wait for the uplink
  CHECK(source.uplinkFreeAtUs() > net->now);
  for (int t = 0; t < 50; ++t) {
    net->now += 10'000;
    net->tickAll();
  }
  CHECK(net->sourceSends[0] == 3);  // its k copies, no more
  CHECK_FALSE(source.waitsForUplink());
}

TEST_CASE("wire size: a chunk message costs little more than its payload") {
  Message m;
  m.type = MsgType::kChunk;
  auto c = std::make_shared<v1::Chunk>();
  c->set_seq(123456);
  c->set_payload(std::string(4000, 'x'));
  m.chunk = c;
  m.injectedUs = 1'795'000'000'000'000;
  CHECK(payloadBytes(m) == 4000);
  CHECK(wireBytes(m) > 4000);
  CHECK(wireBytes(m) < 4000 * 1.03);
  Message have;
  have.type = MsgType::kHave;
  have.seqs = {1000, 1001, 1002};
  CHECK(payloadBytes(have) == 0);
  CHECK(wireBytes(have) < 30);
}

TEST_CASE("SeqWindow: marks, slides and forgets") {
  SeqWindow w;
  CHECK_FALSE(w.has(0));
  w.mark(10);
  w.mark(12);
  CHECK(w.has(10));
  CHECK_FALSE(w.has(11));
  CHECK(w.has(12));
  w.mark(10 + SeqWindow::kBits);  // slides: 10 falls out, 12 stays
  CHECK_FALSE(w.has(10));
  CHECK(w.has(12));
  CHECK(w.has(10 + SeqWindow::kBits));
  w.mark(5);  // far too old: ignored
  CHECK_FALSE(w.has(5));
  w.mark(100'000);  // a jump clears everything
  CHECK_FALSE(w.has(12));
  CHECK(w.has(100'000));
}

TEST_CASE("how long each copy waits at the relay is measured: the first copy, later ones, and answers to pulls") {
  NodeConfig c;
  c.uploadKbps = 2000;  // a 4 KB chunk occupies the uplink 16 ms
  c.neighbours = 4;
  Node relay(10, c, 5);
  NodeActions out;
  relay.join({2, 3, 4}, 0, out);
  for (PeerId peer : {3, 4}) {  // they trade with us: neighbours
    Message ping;
    ping.type = MsgType::kPing;
    ping.echoUs = 1;
    relay.onMessage(peer, ping, 500, out);
  }
  out.clear();
  auto chunk = std::make_shared<v1::Chunk>();
  chunk->set_seq(0);
  chunk->set_payload(std::string(4000, 'v'));
  Message push;
  push.type = MsgType::kChunk;
  push.chunk = chunk;
  push.hops = 1;
  push.budget = 3;  // us and two more
  relay.onMessage(2, push, 1'000, out);
  auto chunkSends = [&] {
    std::vector<PeerId> to;
    for (const auto& [peer, m] : out.sends) {
      if (m.type == MsgType::kChunk) to.push_back(peer);
    }
    out.clear();
    return to;
  };
  // The uplink was idle: the first copy leaves at once; the second waits
  // for the first to (nearly) drain.
  CHECK(chunkSends().size() == 1);
  CHECK(relay.stats().firstCopies == 1);
  CHECK(relay.stats().firstCopyWaitUs == 0);
  const std::int64_t freeAt = relay.uplinkFreeAtUs();
  CHECK(freeAt > 10'000);
  relay.onUplinkFree(freeAt, out);
  CHECK(chunkSends().size() == 1);
  CHECK(relay.stats().laterCopies == 1);
  CHECK(relay.stats().laterCopyWaitUs == freeAt - 1'000);
  // A request that comes while the uplink is busy is answered when it frees.
  Message request;
  request.type = MsgType::kRequest;
  request.seqs = {0};
  relay.onMessage(5, request, freeAt + 2'000, out);
  CHECK(chunkSends().empty());
  const std::int64_t answerAt = relay.uplinkFreeAtUs();
  relay.onUplinkFree(answerAt, out);
  CHECK(chunkSends() == std::vector<PeerId>{5});
  CHECK(relay.stats().answers == 1);
  CHECK(relay.stats().answerWaitUs == answerAt - (freeAt + 2'000));
  CHECK(relay.stats().firstCopies + relay.stats().laterCopies == 2);  // an answer is neither
}

TEST_CASE("gossip replies and pongs take at most their share of the upload: the rest are counted and dropped") {
  NodeConfig c;
  c.uploadKbps = 1000;  // 125 kB/s; a tenth: 12.5 kB/s, a 500 ms bucket of 6250 bytes
  c.answerShare = 0.1;
  Node node(1, c, 7);
  NodeActions out;
  Message ping;
  ping.type = MsgType::kPing;
  ping.echoUs = 1;
  // A flash crowd: 2000 probes at once. A pong is a few bytes: a few hundred answered.
  std::size_t pongs = 0;
  for (PeerId p = 2; p < 2002; ++p) node.onMessage(p, ping, 1000, out);
  for (const auto& [to, m] : out.sends) pongs += m.type == MsgType::kPong ? 1 : 0;
  CHECK(pongs > 100);
  CHECK(pongs < 2000);
  CHECK(node.stats().answersShed == 2000 - pongs);
  // Their share refills with time: a second later, a probe is answered again.
  out.clear();
  node.onMessage(5000, ping, 1'001'000, out);
  REQUIRE(out.sends.size() == 1);
  CHECK((out.sends[0].second.type == MsgType::kPong));
}

TEST_CASE("an estimated upload budget falls while the source's uplink queues, and not before or without the option") {
  // Chunks from the source take 1 ms for 5 s (2 s of joining, 2 s of
  // stream), then 150 ms: a queue in its uplink.
  const std::int64_t queueFrom = 5'000'000, queueTo = 8'000'000;
  for (const bool estimate : {false, true}) {
    CAPTURE(estimate);
    AckNet net([](std::int64_t) { return 1'000; }, estimate);
    net.sourceChunkDelayUs = [&](std::int64_t now) { return now >= queueFrom && now < queueTo ? 150'000 : 1'000; };
    Node& source = *net.nodes.at(1);
    net.stream(0, 60);
    while (net.now < queueFrom) net.tick(1);
    // No queue yet: the configured budget, or the estimate's start (the
    // stream, 2 copies of 16 kbit 30 times a second, never waits for it).
    const std::uint32_t clear = source.uploadBudgetKbps();
    CHECK(clear == (estimate ? UploadEstimatorConfig{}.startKbps : 20000u));
    net.stream(60, 60);  // 2 s of the queue
    const std::uint32_t queued = source.uploadBudgetKbps();
    MESSAGE("budget after 2 s of a queue in the uplink: " << queued << " kbit/s");
    if (estimate) {
      CHECK(queued < clear / 3);  // 0.8 every 200 ms once the late chunks are stamped
      CHECK(source.membership().selfUpload() == queued);  // what its gossip tells of it
      CHECK(queued >= UploadEstimatorConfig{}.floorKbps);
    } else {
      CHECK(queued == 20000);
    }
  }
}

TEST_CASE("an estimated upload budget does not fall for acknowledgements that queue on their way back") {
  // The receivers' acknowledgements take 150 ms for 3 s (their own uplinks
  // queue); the source's chunks still come in 1 ms. The receivers stamp
  // when each chunk came: a one-way delay, clear of their queues. (A budget
  // from round trips fell to a quarter here.)
  const std::int64_t queueFrom = 5'000'000, queueTo = 8'000'000;
  AckNet net([&](std::int64_t now) { return now >= queueFrom && now < queueTo ? 150'000 : 1'000; }, true);
  Node& source = *net.nodes.at(1);
  net.stream(0, 60);
  while (net.now < queueFrom) net.tick(1);
  const std::uint32_t clear = source.uploadBudgetKbps();
  net.stream(60, 60);
  CHECK(source.uploadBudgetKbps() == clear);
}

TEST_CASE("a stamped chunk's first arrival goes back on the next HAVE to its sender, once, and an unstamped one's does not") {
  Node node(2, NodeConfig{}, 5);
  NodeActions out;
  const auto chunkFrom = [&](PeerId from, std::uint64_t seq, bool stamp, std::int64_t arrivedUs, std::int64_t now) {
    Message m;
    m.type = MsgType::kChunk;
    auto c = std::make_shared<v1::Chunk>();
    c->set_seq(seq);
    c->set_payload(std::string(3000, 'x'));
    m.chunk = c;
    m.injectedUs = now - 50'000;
    m.hops = 1;
    m.stamp = stamp;
    m.arrivedUs = arrivedUs;
    node.onMessage(from, m, now, out);
  };
  const auto havesTo = [&](PeerId to) {
    std::vector<Message> haves;
    for (const auto& [peer, m] : out.sends) {
      if (peer == to && m.type == MsgType::kHave) haves.push_back(m);
    }
    return haves;
  };
  const auto stamps = [&](PeerId to) {
    std::vector<std::pair<std::uint64_t, std::int64_t>> found;
    for (const auto& [peer, m] : out.sends) {
      if (peer == to && m.type == MsgType::kHave && m.stampRecvUs != 0) found.emplace_back(m.stampSeq, m.stampRecvUs);
    }
    return found;
  };
  chunkFrom(9, 40, true, 1'000'000, 1'004'000);   // its first datagram came 4 ms before the whole
  chunkFrom(9, 40, true, 1'010'000, 1'012'000);   // a duplicate: not its first arrival
  chunkFrom(8, 41, false, 1'013'000, 1'014'000);  // not asked for
  chunkFrom(8, 45, false, 0, 1'150'000);
  for (std::int64_t now = 1'020'000; now < 1'400'000; now += 10'000) node.onTick(now, out);
  // Once, on a HAVE to its sender, the first arrival's; none to the other.
  CHECK(stamps(9) == std::vector<std::pair<std::uint64_t, std::int64_t>>{{40, 1'000'000}});
  CHECK(stamps(8).empty());
  CHECK_FALSE(havesTo(8).empty());
}
