#include "alto.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace partyhub::streamer::overlay {

namespace {

using nlohmann::json;

json parseJson(const std::string& text, const char* what) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw std::invalid_argument(std::string("ALTO ") + what + ": not JSON: " + e.what());
  }
}

std::pair<std::uint32_t, int> parseCidr(const std::string& cidr) {
  const auto slash = cidr.find('/');
  const std::string addr = cidr.substr(0, slash);
  int length = 32;
  if (slash != std::string::npos) {
    try {
      std::size_t used = 0;
      length = std::stoi(cidr.substr(slash + 1), &used);
      if (used != cidr.size() - slash - 1) throw std::invalid_argument("trailing");
    } catch (const std::exception&) {
      throw std::invalid_argument("ALTO network map: bad prefix '" + cidr + "'");
    }
  }
  in_addr a{};
  if (inet_pton(AF_INET, addr.c_str(), &a) != 1 || length < 0 || length > 32) {
    throw std::invalid_argument("ALTO network map: bad prefix '" + cidr + "'");
  }
  return {ntohl(a.s_addr), length};
}

}  // namespace

AltoCostMap AltoCostMap::parse(const std::string& networkMapJson, const std::string& costMapJson) {
  AltoCostMap map;
  const json net = parseJson(networkMapJson, "network map");
  if (!net.is_object() || !net.contains("network-map") || !net["network-map"].is_object()) {
    throw std::invalid_argument("ALTO network map: no \"network-map\" object");
  }
  for (const auto& [pid, entry] : net["network-map"].items()) {
    if (!entry.is_object()) throw std::invalid_argument("ALTO network map: PID '" + pid + "' is not an object");
    if (!entry.contains("ipv4")) continue;  // IPv6-only PIDs: our peers are IPv4
    if (!entry["ipv4"].is_array()) throw std::invalid_argument("ALTO network map: PID '" + pid + "': ipv4 is not a list");
    for (const auto& cidr : entry["ipv4"]) {
      if (!cidr.is_string()) throw std::invalid_argument("ALTO network map: PID '" + pid + "': prefix is not a string");
      const auto [network, length] = parseCidr(cidr.get<std::string>());
      const std::uint32_t mask = length == 0 ? 0 : ~std::uint32_t{0} << (32 - length);
      map.mPrefixes.push_back({network & mask, mask, length, pid});
    }
  }
  std::stable_sort(map.mPrefixes.begin(), map.mPrefixes.end(),
                   [](const Prefix& a, const Prefix& b) { return a.length > b.length; });

  const json cost = parseJson(costMapJson, "cost map");
  if (!cost.is_object() || !cost.contains("cost-map") || !cost["cost-map"].is_object()) {
    throw std::invalid_argument("ALTO cost map: no \"cost-map\" object");
  }
  if (cost.contains("meta") && cost["meta"].contains("cost-type")) {
    const json& type = cost["meta"]["cost-type"];
    const std::string mode = type.value("cost-mode", "numerical");
    if (mode != "numerical" && mode != "ordinal") {
      throw std::invalid_argument("ALTO cost map: unsupported cost-mode '" + mode + "'");
    }
  }
  for (const auto& [src, row] : cost["cost-map"].items()) {
    if (!row.is_object()) throw std::invalid_argument("ALTO cost map: row '" + src + "' is not an object");
    for (const auto& [dst, c] : row.items()) {
      if (!c.is_number()) throw std::invalid_argument("ALTO cost map: cost " + src + " -> " + dst + " is not a number");
      map.mCosts[src][dst] = c.get<double>();
    }
  }
  return map;
}

std::optional<std::string> AltoCostMap::pidOf(std::uint32_t ipv4) const {
  for (const Prefix& p : mPrefixes) {
    if ((ipv4 & p.mask) == p.network) return p.pid;
  }
  return std::nullopt;
}

std::optional<double> AltoCostMap::cost(PeerId from, PeerId to) const {
  const auto a = pidOf(static_cast<std::uint32_t>(from >> 16));
  const auto b = pidOf(static_cast<std::uint32_t>(to >> 16));
  if (!a || !b) return std::nullopt;
  auto row = mCosts.find(*a);
  if (row == mCosts.end()) return std::nullopt;
  auto c = row->second.find(*b);
  if (c == row->second.end()) return std::nullopt;
  return c->second;
}

}  // namespace partyhub::streamer::overlay
