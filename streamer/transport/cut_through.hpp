// Cut-through forwarding between streamers (docs/overlay-notes.md, "Cut-through
// forwarding"): a chunk copy goes as a header (the PeerMessage without the
// payload, PeerChunk.body_follows) and the chunk's body in datagrams keyed by
// the chunk (chunk_body.hpp). A relay's core hears of the chunk at its
// header (Message::coming) and decides its copies then; each copy's header
// goes at once and the body's datagrams follow as they land. Missing body
// datagrams are asked of the header's sender (FragmentNack.body), and a
// header lost while its body came is asked of the body's sender
// (FragmentNack.header): a relay that never heard of a chunk would leave its
// whole subtree to pull it. Pure: the streamer hands datagrams in and sends
// what comes out.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/chunk_body.hpp"
#include "core/relay.hpp"
#include "partyhub/v1/peer.pb.h"

namespace partyhub::streamer {

struct CutThroughConfig {
  BodyStoreConfig store;
  std::int64_t stallUs = 20'000;      // a coming body silent this long has its missing datagrams asked for
  std::int64_t nackRepeatUs = 80'000;
  int maxNacks = 3;
};

struct CutThroughStats {
  std::uint64_t headers = 0;         // copies told by a header, the body to come
  std::uint64_t relayed = 0;         // body datagrams passed on as they landed
  std::uint64_t completed = 0;       // told chunks whose body came whole
  std::uint64_t failed = 0;          // told chunks whose body did not
  std::uint64_t nacked = 0;          // body datagrams asked for again
  std::uint64_t resent = 0;          // body datagrams sent again on request
  std::uint64_t unsendable = 0;      // copies of a chunk whose body we no longer have
  std::uint64_t refused = 0;         // headers dropped: too many bodies awaited already
  std::uint64_t headersAsked = 0;    // headers asked for: a body came without one
  std::uint64_t headersResent = 0;   // headers sent again on such a request
};

class CutThrough {
 public:
  /// Where datagrams and events go: the streamer's UDP path and its overlay.
  struct Sink {
    std::function<void(PeerId to, std::string_view datagram, bool resent)> send;
    /// A header's chunk is whole: `msg` is the header with the body in.
    std::function<void(PeerId from, v1::PeerMessage&& msg)> complete;
    std::function<void(PeerId from, std::uint32_t channel, std::uint64_t seq)> failed;
    /// An ordinary message to send (a NACK), framed by the caller.
    std::function<void(PeerId to, const v1::PeerMessage& msg)> message;
  };

  explicit CutThrough(CutThroughConfig config = {});

  /// A chunk copy to send (the overlay's): as a header and the body, if we
  /// send cut-through (`wanted`) or must (the chunk is still coming to us:
  /// we hold no payload to send it whole); `msg` is made the header. False:
  /// send it as it is (untouched).
  bool send(v1::PeerMessage& msg, const std::vector<PeerId>& to, bool wanted, std::int64_t nowUs,
            const Sink& sink);
  /// A body datagram, from whoever (`from`: asked for the header if none comes).
  void onBodyDatagram(PeerId from, std::string_view datagram, std::int64_t nowUs, const Sink& sink);
  /// A header (PeerChunk.body_follows) from `from`: its body is already
  /// whole (`msg` then carries it: an ordinary chunk), or it comes (the
  /// overlay is told the chunk is coming), or it is refused: more bodies
  /// are awaited than kMaxComing (a flood of headers), drop it.
  enum class Header : std::uint8_t { kWhole, kComing, kRefused };
  Header onHeader(PeerId from, v1::PeerMessage& msg, std::int64_t nowUs);
  static constexpr std::size_t kMaxComing = 1024;  // ~30 s of a 30 chunk/s stream's bodies at once
  /// A peer asks for body datagrams again, or for a header it lost.
  void onNack(PeerId from, const v1::FragmentNack& nack, const Sink& sink);
  /// Asks for what coming bodies miss and for headers bodies came without,
  /// fails bodies not whole in time.
  void onTick(std::int64_t nowUs, const Sink& sink);

  /// Bodies told of by a header and not whole yet, or come without one (the
  /// caller ticks while any).
  [[nodiscard]] std::size_t coming() const { return mComing.size() + mHeadless.size(); }
  [[nodiscard]] const CutThroughStats& stats() const { return mStats; }
  [[nodiscard]] const BodyStats& bodyStats() const { return mStore.stats(); }

 private:
  struct Coming {
    PeerId from = 0;
    v1::PeerMessage header;
    std::int64_t sinceUs = 0;
    std::int64_t lastNackUs = 0;
    int nacks = 0;
    std::vector<PeerId> waiting;  // copies sent before any of the body came: its followers once it does
  };
  /// A body that began to come with no header (lost, or behind it).
  struct Headless {
    PeerId from = 0;
    std::int64_t sinceUs = 0;
    std::int64_t lastAskUs = 0;
    int asks = 0;
  };
  /// The headers we sent of a chunk, and to whom, for a receiver that lost one.
  struct Sent {
    v1::PeerMessage header;
    std::vector<PeerId> to;
    std::int64_t atUs = 0;
  };
  void askHeaders(std::int64_t nowUs, const Sink& sink);
  /// Asks the body's sender for what it misses: below the highest datagram
  /// come (a gap), or all of it once `stalled`; not more often than the
  /// repeat allows, nor more than maxNacks times.
  void askMissing(BodyKey key, Coming& c, std::int64_t nowUs, bool stalled, const Sink& sink);
  static BodyKey keyOf(const v1::PeerMessage& msg) { return {msg.channel(), msg.chunk().chunk().seq()}; }
  /// The datagram is in the store: pass it on to the body's followers, and
  /// tell the overlay (if `tell`) when it completes a chunk it was told of.
  void landed(const BodyStore::Fed& fed, std::string_view datagram, const Sink& sink, bool tell);
  /// Fills the header's chunk from the store's whole body.
  bool fill(v1::PeerMessage& msg) const;

  CutThroughConfig mConfig;
  BodyStore mStore;
  std::unordered_map<BodyKey, Coming, BodyKeyHash> mComing;
  std::unordered_map<BodyKey, Headless, BodyKeyHash> mHeadless;  // at most kMaxComing
  std::unordered_map<BodyKey, std::vector<Sent>, BodyKeyHash> mSent;  // kept store.keepUs
  std::deque<BodyKey> mSentOrder;  // mSent's entries in the order sent: the oldest expire first
  CutThroughStats mStats;
  std::vector<std::string> mScratch;
  std::vector<const std::string*> mHeld;
  std::vector<std::uint16_t> mMissing;
  std::vector<BodyKey> mFailed;
};

}  // namespace partyhub::streamer
