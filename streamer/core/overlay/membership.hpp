// Gossip-based peer sampling, Cyclon-style (Voulgaris et al., "CYCLON:
// Inexpensive Membership Management for Unstructured P2P Overlays", 2005):
// a bounded view of peer descriptors; every period the oldest entry is
// contacted and a few descriptors are swapped with it. Failure detection is
// passive: a peer not heard from within the timeout leaves the view. Pure.
#pragma once

#include <climits>
#include <cstdint>
#include <random>
#include <vector>

#include "message.hpp"
#include "partyhub/common/flat_map.hpp"

namespace partyhub::streamer::overlay {

struct MembershipConfig {
  std::size_t viewSize = 24;
  std::size_t shuffleLength = 8;
  std::int64_t periodUs = 500'000;
  std::int64_t joinRetryUs = 100'000;  // shuffle period until someone answers
  std::int64_t peerTimeoutUs = 4'000'000;
};

class Membership {
 public:
  Membership(PeerId self, std::uint32_t selfUploadKbps, MembershipConfig config);

  /// Seeds the view with bootstrap peers; returns the first shuffle to send.
  std::vector<std::pair<PeerId, Message>> join(const std::vector<PeerId>& bootstrap, std::int64_t nowUs);
  /// Periodic shuffle (at most one per period) and timeouts.
  std::vector<std::pair<PeerId, Message>> onTick(std::int64_t nowUs, std::mt19937_64& rng);
  /// When onTick next has work: the next shuffle (timeouts are checked then).
  [[nodiscard]] std::int64_t nextTickUs() const { return mNextShuffleUs; }
  /// Gossip, gossip replies and leaves; returns a reply to send, if any.
  std::vector<std::pair<PeerId, Message>> onMessage(PeerId from, const Message& m, std::int64_t nowUs,
                                                    std::mt19937_64& rng);
  /// Any message from `from` proves it alive (and tells its upload, if known).
  void heard(PeerId from, std::int64_t nowUs, std::uint32_t uploadKbps = 0);
  void forget(PeerId peer);
  /// We asked `peer`, known only by hearsay, for an answer: if none comes
  /// within the timeout it leaves the view (gossip may name peers that do
  /// not exist).
  void expect(PeerId peer, std::int64_t nowUs);
  /// `from` traded with us (a chunk, a buffer map...: anything but gossip).
  /// Kept here, beside what we know of the peer (already in the cache: a
  /// table of its own in the node cost the simulator a cache miss a message).
  void traded(PeerId from, std::int64_t nowUs) { mKnown[from].tradedUs = nowUs; }
  void forgetTrade(PeerId peer);
  /// Our upload as our gossip tells it (an estimated budget moves).
  void setSelfUpload(std::uint32_t kbps) { mSelfUpload = kbps; }
  [[nodiscard]] std::uint32_t selfUpload() const { return mSelfUpload; }
  /// The peers that traded with us and are alive, with when they last did;
  /// those no longer alive are forgotten as traders and added to `gone`.
  void traders(std::int64_t nowUs, std::vector<std::pair<std::int64_t, PeerId>>& alive, std::vector<PeerId>& gone);

  [[nodiscard]] const std::vector<Descriptor>& view() const { return mView; }
  [[nodiscard]] std::uint32_t uploadOf(PeerId peer) const;
  /// How many peers we keep anything of (view, traders, hearsay not yet forgotten).
  [[nodiscard]] std::size_t knownCount() const { return mKnown.size(); }
  [[nodiscard]] bool alive(PeerId peer, std::int64_t nowUs) const;
  /// When we last heard from `peer` (any message); 0 if never.
  [[nodiscard]] std::int64_t lastHeard(PeerId peer) const {
    auto it = mKnown.find(peer);
    return it == mKnown.end() || it->second.heardUs == kNever ? 0 : it->second.heardUs;
  }

 private:
  static constexpr std::int64_t kNever = INT64_MIN;
  static constexpr std::int64_t kForgetAfter = 10;  // timeouts after which a silent peer is forgotten
  // What we know of a peer, in one table: every message costs one lookup
  // (the simulator runs thousands of these; lookups were its hot spot).
  struct Known {
    std::int64_t heardUs = kNever;
    std::int64_t tradedUs = kNever;
    std::uint32_t uploadKbps = 0;
  };

  Message shuffleMessage(MsgType type, std::mt19937_64& rng, PeerId exclude, bool includeSelf);
  /// Takes `from`'s gossip into the view (bounded: see the definition).
  void merge(PeerId from, const std::vector<Descriptor>& incoming);
  /// Puts `d` in the view (or makes its entry young again); may overfill it.
  void mergeOne(Descriptor d);
  void trimView();
  /// Drops what we know of peers out of the view that we never heard from,
  /// or not for kForgetAfter timeouts.
  void forgetSilent(std::int64_t nowUs);
  /// Records a message from `from`; the reference lasts until mKnown grows.
  Known& touch(PeerId from, std::int64_t nowUs, std::uint32_t uploadKbps);

  PeerId mSelf;
  std::uint32_t mSelfUpload;
  MembershipConfig mConfig;
  std::vector<Descriptor> mView;
  partyhub::FlatMap<Known> mKnown;
  std::int64_t mNextShuffleUs = 0;
  bool mHeardAnyone = false;
  std::vector<PeerId> mBootstrap;  // tried again whenever the view empties
};

}  // namespace partyhub::streamer::overlay
