// Small messages for one peer in one batch go out as one PeerBundle: one
// datagram and one framing header instead of one each. A streamer carrying
// several channels acknowledges and advertises for each of them every tick,
// to the same few peers. Chunks are never bundled (they are big, and their
// fragments are repaired one by one). Pure.
#pragma once

#include <cstddef>
#include <vector>

#include "peer_actions.hpp"

namespace partyhub::streamer {

/// Rewrites `sends`: every message of at most `smallBytes` for a single peer
/// that has at least one other such message in the batch moves into a bundle
/// for that peer (several bundles if they would not fit one datagram of
/// `maxBundleBytes`). Other sends keep their order; bundles come last.
void bundleSmallMessages(std::vector<RelayActions::Send>& sends, std::size_t smallBytes, std::size_t maxBundleBytes);

}  // namespace partyhub::streamer
