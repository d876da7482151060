// ALTO (RFC 7285) network and cost maps: what an ISP's ALTO server says about
// which peers are close. The network map groups address prefixes into PIDs;
// the cost map gives a cost from each PID to each other. Neighbour selection
// prefers peers of low cost (then low RTT), keeping traffic inside the ISP.
// Parsing only: reading files or fetching from a server is the caller's job.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "message.hpp"

namespace partyhub::streamer::overlay {

class AltoCostMap {
 public:
  /// Parses an RFC 7285 network map (`{"network-map": {PID: {"ipv4": [CIDR, ...]}}}`)
  /// and a cost map (`{"meta": {"cost-type": {"cost-mode": "numerical"|"ordinal", ...}},
  /// "cost-map": {PID: {PID: cost}}}`). Throws std::invalid_argument naming what is wrong.
  static AltoCostMap parse(const std::string& networkMapJson, const std::string& costMapJson);

  /// The PID of an IPv4 address (host byte order) by longest prefix match.
  [[nodiscard]] std::optional<std::string> pidOf(std::uint32_t ipv4) const;
  /// The cost from peer `from` to peer `to` (PeerIds are IPv4 << 16 | port);
  /// nullopt when either address or the pair is not in the maps.
  [[nodiscard]] std::optional<double> cost(PeerId from, PeerId to) const;
  [[nodiscard]] std::size_t pids() const { return mCosts.size(); }

 private:
  struct Prefix {
    std::uint32_t network;
    std::uint32_t mask;
    int length;
    std::string pid;
  };
  std::vector<Prefix> mPrefixes;  // longest first
  std::map<std::string, std::map<std::string, double>> mCosts;
};

}  // namespace partyhub::streamer::overlay
