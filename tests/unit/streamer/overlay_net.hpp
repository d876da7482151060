// A tiny in-memory network of overlay nodes for the unit tests: instant,
// lossless (unless `drop` says otherwise) delivery under a manual clock.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>

#include "core/overlay/node.hpp"

namespace partyhub::streamer::overlay::testing {

struct Net {
  std::map<PeerId, std::unique_ptr<Node>> nodes;
  std::deque<std::tuple<PeerId, PeerId, Message>> inFlight;  // from, to, message
  std::map<PeerId, std::set<std::uint64_t>> delivered;
  std::map<std::uint64_t, int> sourceSends;
  std::int64_t now = 0;
  std::function<bool(PeerId, PeerId, const Message&)> drop;  // a lossy link, when set
  // Tick a node only when it asks to be (Node::nextTickUs), as the streamer
  // does, rather than at every tickAll (as the simulator does).
  bool tickOnDemand = false;
  std::uint64_t ticks = 0;

  void apply(PeerId from, NodeActions& out) {
    for (auto& [to, m] : out.sends) {
      if (from == 1 && m.type == MsgType::kChunk) ++sourceSends[m.chunk->seq()];
      if (drop && drop(from, to, m)) continue;
      inFlight.emplace_back(from, to, std::move(m));
    }
    for (const Delivery& d : out.delivered) delivered[from].insert(d.chunk->seq());
    out.clear();
  }
  void drain() {
    NodeActions out;
    while (!inFlight.empty()) {
      auto [from, to, m] = std::move(inFlight.front());
      inFlight.pop_front();
      auto it = nodes.find(to);
      if (it == nodes.end()) continue;
      it->second->onMessage(from, m, now, out);
      apply(to, out);
    }
  }
  void tickAll() {
    NodeActions out;
    for (auto& [id, n] : nodes) {
      if (tickOnDemand && now < n->nextTickUs()) continue;
      ++ticks;
      n->onTick(now, out);
      apply(id, out);
    }
    drain();
  }
};

inline std::unique_ptr<Net> makeNet(const std::string& scheduler, int peers, std::uint32_t sourceCopies = 3) {
  auto net = std::make_unique<Net>();
  for (PeerId id = 1; id <= static_cast<PeerId>(peers) + 1; ++id) {
    NodeConfig c;
    c.scheduler = scheduler;
    c.isSource = id == 1;
    c.sourceCopies = sourceCopies;
    c.uploadKbps = id == 1 ? 5000 : 3000;
    c.neighbours = 4;
    net->nodes.emplace(id, std::make_unique<Node>(id, c, id * 7919));
  }
  NodeActions out;
  for (auto& [id, n] : net->nodes) {
    n->join(id == 1 ? std::vector<PeerId>{} : std::vector<PeerId>{1, id > 2 ? id - 1 : (peers >= 2 ? 3 : 1)}, 0, out);
    net->apply(id, out);
  }
  net->drain();
  return net;
}

// `afterChunk(i)`, when given, runs after chunk i has spread and before the
// ticks that follow it (what it sends is delivered first).
inline void stream(Net& net, int chunks, int first = 0, const std::function<void(int)>& afterChunk = {}) {
  NodeActions out;
  for (int i = first; i < first + chunks; ++i) {
    // 30 chunks/s of ~4 KB, with ticks every 10 ms in between.
    auto c = std::make_shared<v1::Chunk>();
    c->set_seq(static_cast<std::uint64_t>(i));
    c->set_payload(std::string(4000, 'v'));
    net.nodes.at(1)->onLocalChunk(c, net.now, out);
    net.apply(1, out);
    net.drain();
    if (afterChunk) {
      afterChunk(i);
      net.drain();
    }
    for (int t = 0; t < 3; ++t) {
      net.now += 11'111;
      net.tickAll();
    }
  }
  for (int t = 0; t < 100; ++t) {  // let repairs finish
    net.now += 10'000;
    net.tickAll();
  }
}

}  // namespace partyhub::streamer::overlay::testing
