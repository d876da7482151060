#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <stdexcept>

#include "core/overlay/alto.hpp"
#include "core/overlay/node.hpp"

using namespace partyhub::streamer::overlay;

namespace {

// RFC 7285 §5.1-style maps: two PIDs inside the ISP, the rest of the world.
const char* kNetworkMap = R"({
  "meta": {"vtag": {"resource-id": "my-network-map", "tag": "1"}},
  "network-map": {
    "near": {"ipv4": ["10.1.0.0/16"]},
    "also-near": {"ipv4": ["10.2.0.0/16", "10.2.3.0/24"]},
    "world": {"ipv4": ["0.0.0.0/0"], "ipv6": ["::/0"]}
  }})";
const char* kCostMap = R"({
  "meta": {"dependent-vtags": [{"resource-id": "my-network-map", "tag": "1"}],
           "cost-type": {"cost-mode": "numerical", "cost-metric": "routingcost"}},
  "cost-map": {
    "near": {"near": 1, "also-near": 2, "world": 50},
    "also-near": {"near": 2, "also-near": 1, "world": 50}
  }})";

std::uint32_t ip(const char* dotted) {
  in_addr a{};
  inet_pton(AF_INET, dotted, &a);
  return ntohl(a.s_addr);
}
PeerId peer(const char* dotted, std::uint16_t port = 7000) { return static_cast<PeerId>(ip(dotted)) << 16 | port; }

}  // namespace

TEST_CASE("ALTO maps: PIDs by longest prefix, costs between peers") {
  const AltoCostMap m = AltoCostMap::parse(kNetworkMap, kCostMap);
  CHECK(m.pids() == 2);
  CHECK(m.pidOf(ip("10.1.2.3")) == "near");
  CHECK(m.pidOf(ip("10.2.3.4")) == "also-near");
  CHECK(m.pidOf(ip("192.0.2.1")) == "world");
  CHECK(m.cost(peer("10.1.0.1"), peer("10.1.9.9")) == 1.0);
  CHECK(m.cost(peer("10.1.0.1"), peer("10.2.0.1")) == 2.0);
  CHECK(m.cost(peer("10.1.0.1"), peer("192.0.2.1")) == 50.0);
  CHECK_FALSE(m.cost(peer("192.0.2.1"), peer("10.1.0.1")).has_value());  // no row for "world"
}

TEST_CASE("ALTO maps: malformed input is refused with a clear error") {
  struct Case {
    const char* net;
    const char* cost;
    const char* says;
  };
  const Case cases[] = {
      {"{", kCostMap, "not JSON"},
      {R"({"nope": {}})", kCostMap, "no \"network-map\""},
      {R"({"network-map": {"a": {"ipv4": ["10.0.0.0/33"]}}})", kCostMap, "bad prefix"},
      {R"({"network-map": {"a": {"ipv4": ["ten/8"]}}})", kCostMap, "bad prefix"},
      {R"({"network-map": {"a": {"ipv4": "10.0.0.0/8"}}})", kCostMap, "not a list"},
      {kNetworkMap, R"({"cost-map": {"a": {"b": "cheap"}}})", "not a number"},
      {kNetworkMap, R"({"meta": {"cost-type": {"cost-mode": "bogus"}}, "cost-map": {}})", "cost-mode"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.says);
    try {
      (void)AltoCostMap::parse(c.net, c.cost);
      FAIL("accepted");
    } catch (const std::invalid_argument& e) {
      CHECK(std::string(e.what()).find(c.says) != std::string::npos);
    }
  }
}

TEST_CASE("with an ALTO map, the close half of the neighbourhood is the cheapest peers") {
  auto alto = std::make_shared<const AltoCostMap>(AltoCostMap::parse(kNetworkMap, kCostMap));
  NodeConfig c;
  c.neighbours = 2;  // one close one (by ALTO cost), then the best-provisioned
  c.alto = alto;
  Node n(peer("10.1.0.1"), c, 1);
  NodeActions out;
  // Six far peers with more upload, two near ones. Without the map nothing is
  // known to be close (no RTT measured) and both slots go to far, rich peers;
  // with it, the cheapest peer takes the close slot.
  std::vector<PeerId> boot;
  for (int i = 1; i <= 6; ++i) boot.push_back(peer(("192.0.2." + std::to_string(i)).c_str()));
  boot.push_back(peer("10.1.5.5"));
  boot.push_back(peer("10.2.5.5"));
  n.join(boot, 0, out);
  for (PeerId p : boot) {
    Message hello;
    hello.type = MsgType::kGossip;
    hello.uploadKbps = (p >> 16) == ip("10.1.5.5") || (p >> 16) == ip("10.2.5.5") ? 500 : 5000;
    hello.peers = {Descriptor{p, 0, hello.uploadKbps}};  // gossip carries the sender's own descriptor
    n.onMessage(p, hello, 1'000, out);
  }
  for (std::int64_t t = 1'000; t < 1'500'000; t += 100'000) n.onTick(t, out);  // within the peer timeout
  const auto& nb = n.neighbours();
  CHECK(nb.size() == 2);
  CHECK(std::find(nb.begin(), nb.end(), peer("10.1.5.5")) != nb.end());  // cost 1
  CHECK(std::find(nb.begin(), nb.end(), peer("10.2.5.5")) == nb.end());  // cost 2: beaten by rich far peers
}
