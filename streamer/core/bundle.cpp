#include "bundle.hpp"

#include <map>

namespace partyhub::streamer {

void bundleSmallMessages(std::vector<RelayActions::Send>& sends, std::size_t smallBytes, std::size_t maxBundleBytes) {
  if (sends.size() < 2) return;
  std::map<PeerId, std::vector<std::size_t>> byPeer;
  for (std::size_t i = 0; i < sends.size(); ++i) {
    const auto& m = sends[i].message;
    if (sends[i].peers.size() == 1 && !m.has_chunk() && !m.has_bundle() && m.ByteSizeLong() <= smallBytes) {
      byPeer[sends[i].peers[0]].push_back(i);
    }
  }
  std::vector<bool> bundled(sends.size(), false);
  std::vector<RelayActions::Send> bundles;
  for (auto& [peer, indices] : byPeer) {
    if (indices.size() < 2) continue;
    RelayActions::Send b{{peer}, {}};
    std::size_t size = 0;
    for (std::size_t i : indices) {
      const std::size_t s = sends[i].message.ByteSizeLong() + 3;  // + its field tag and length
      if (size > 0 && size + s + 3 > maxBundleBytes) {  // (+ the bundle's own tag and length)
        bundles.push_back(std::move(b));
        b = RelayActions::Send{{peer}, {}};
        size = 0;
      }
      *b.message.mutable_bundle()->add_messages() = std::move(sends[i].message);
      bundled[i] = true;
      size += s;
    }
    bundles.push_back(std::move(b));
  }
  if (bundles.empty()) return;
  std::size_t kept = 0;
  for (std::size_t i = 0; i < sends.size(); ++i) {
    if (bundled[i]) continue;
    if (kept != i) sends[kept] = std::move(sends[i]);  // a self-move would empty its peer list
    ++kept;
  }
  sends.resize(kept);
  for (auto& b : bundles) sends.push_back(std::move(b));
}

}  // namespace partyhub::streamer
