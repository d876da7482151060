// UDP framing between streamers: a message (a serialized PeerMessage) is cut
// into datagrams of at most 1200 bytes (safe under any path MTU, as QUIC and
// WebRTC assume) and put back together on the other side. Loss, duplicates,
// reordering and garbage are expected: they are counted and dropped, and the
// reassembler's memory is bounded however hostile the input. Pure: `now` is a
// parameter.
//
// Datagram layout (network byte order). Most messages fit one datagram (audio
// chunks, acknowledgements, gossip): they pay two bytes of framing.
//   0  'P'       magic
//   1  version << 4 | flags   (version 2; flag 1: the whole message is here)
// A whole message:
//   2  payload   1 .. kMaxSinglePayload bytes
// A fragment of a larger one:
//   2  msg id    u16, per sender (wraps; partial messages live for a second)
//   4  index     u16, 0-based
//   6  count     u16, fragments in the message (2..kMaxFragments)
//   8  payload   every fragment but the last carries exactly kMaxFragmentPayload
// A duplicated whole-message datagram is not recognised here: the overlay
// counts duplicate chunks itself, and every other message is idempotent.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace partyhub::streamer {

inline constexpr std::size_t kMaxDatagram = 1200;
inline constexpr std::size_t kSingleHeader = 2;
inline constexpr std::size_t kFragmentHeader = 8;
inline constexpr std::size_t kMaxSinglePayload = kMaxDatagram - kSingleHeader;
inline constexpr std::size_t kMaxFragmentPayload = kMaxDatagram - kFragmentHeader;
inline constexpr std::size_t kMaxFragments = 2048;  // messages up to ~2.4 MB
inline constexpr std::size_t kMaxMessage = kMaxFragments * kMaxFragmentPayload;

/// The fragments a message of `bytes` too large for one datagram is cut into.
[[nodiscard]] constexpr std::size_t fragmentCount(std::size_t bytes) {
  return (bytes + kMaxFragmentPayload - 1) / kMaxFragmentPayload;
}

/// Cuts `message` into datagrams (appended to `out`); the low 16 bits of
/// `msgId` name a message of several. Returns false, adding nothing, when
/// the message is empty or larger than kMaxMessage.
bool fragment(std::string_view message, std::uint32_t msgId, std::vector<std::string>& out);

struct ReassemblyStats {
  std::uint64_t datagrams = 0;
  std::uint64_t garbage = 0;             // not our framing, or inconsistent
  std::uint64_t duplicates = 0;          // fragment seen before (of a message of several)
  std::uint64_t messages = 0;            // completed
  std::uint64_t expired = 0;             // incomplete when their time ran out
  std::uint64_t evicted = 0;             // dropped to stay within the memory bound
  std::uint64_t nacked = 0;              // fragments asked for again
};

struct ReassemblerConfig {
  std::size_t maxPartialMessages = 256;
  std::size_t maxPartialBytes = 16 * 1024 * 1024;
  std::int64_t timeoutUs = 1'000'000;
  std::size_t rememberCompleted = 4096;  // to recognise late duplicates
  // Fragment repair: a missing fragment is asked for again (a NACK) as soon
  // as a later fragment of its message shows it was skipped, or when the
  // message has stalled this long; again after nackRepeatUs, at most
  // maxNacks times. A lost fragment then costs a round trip, not a resend
  // of the whole message after the overlay's acknowledgement timeout.
  std::int64_t stallUs = 20'000;
  std::int64_t nackRepeatUs = 80'000;
  int maxNacks = 3;
};

/// Fragments to send again: message `msgId` from `sender`, these indices.
struct FragmentNack {
  std::uint64_t sender = 0;
  std::uint32_t msgId = 0;
  std::vector<std::uint16_t> indices;
};

class Reassembler {
 public:
  explicit Reassembler(ReassemblerConfig config = {});

  /// Feeds one datagram from `sender`; returns a message when it completes one.
  std::optional<std::string> onDatagram(std::uint64_t sender, std::string_view datagram, std::int64_t nowUs);
  /// Drops partial messages older than the timeout.
  void expire(std::int64_t nowUs);
  /// The fragments to ask for again now (see ReassemblerConfig::stallUs).
  void takeNacks(std::int64_t nowUs, std::vector<FragmentNack>& out);

  /// When the first datagram of the message onDatagram last returned came
  /// (its own arrival, for a message of one).
  [[nodiscard]] std::int64_t firstArrivalUs() const { return mFirstArrivalUs; }
  [[nodiscard]] const ReassemblyStats& stats() const { return mStats; }
  [[nodiscard]] std::size_t partialMessages() const { return mPartial.size(); }
  [[nodiscard]] std::size_t partialBytes() const { return mPartialBytes; }
  [[nodiscard]] std::size_t gaps() const { return mGaps; }

 private:
  struct Key {
    std::uint64_t sender;
    std::uint32_t msgId;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept {
      return std::hash<std::uint64_t>{}(k.sender * 0x9E3779B97F4A7C15ull ^ k.msgId);
    }
  };
  struct Partial {
    std::string data;            // sized to count * kMaxFragmentPayload
    std::vector<bool> have;
    std::uint16_t count = 0;
    std::uint16_t received = 0;
    std::size_t lastSize = 0;    // payload size of the last fragment, once seen
    std::int64_t firstUs = 0;
    std::int64_t lastUs = 0;     // last fragment received
    std::uint16_t highest = 0;   // highest index received
    std::uint16_t nackedUpTo = 0;  // indices below this were asked for on a gap
    bool gap = false;            // a skipped fragment to ask for at once
    std::int64_t lastNackUs = 0;
    int nacks = 0;
  };

  void rememberCompleted(const Key& key);
  void erasePartial(std::unordered_map<Key, Partial, KeyHash>::iterator it);
  void evictOldest();

  ReassemblerConfig mConfig;
  ReassemblyStats mStats;
  std::unordered_map<Key, Partial, KeyHash> mPartial;
  std::size_t mPartialBytes = 0;
  std::unordered_set<Key, KeyHash> mCompleted;
  std::deque<Key> mCompletedOrder;
  std::size_t mGaps = 0;  // partials with a gap not asked for yet
  std::int64_t mFirstArrivalUs = 0;
};

/// The datagrams we sent lately, by message id, for fragment repair. Bounded
/// in bytes and age; a message sent to several peers is kept once.
class SentCache {
 public:
  explicit SentCache(std::size_t maxBytes = 8 * 1024 * 1024, std::int64_t maxAgeUs = 500'000)
      : mMaxBytes(maxBytes), mMaxAgeUs(maxAgeUs) {}

  /// Keeps the datagrams of a multi-fragment message (single datagrams are
  /// never asked for: a lost one is the overlay's to repair).
  void remember(std::uint32_t msgId, std::vector<std::string> datagrams, std::int64_t nowUs);
  /// The datagram `index` of `msgId`, if still kept.
  [[nodiscard]] const std::string* find(std::uint32_t msgId, std::uint16_t index) const;
  [[nodiscard]] std::size_t bytes() const { return mBytes; }

 private:
  struct Entry {
    std::uint32_t msgId;
    std::int64_t atUs;
    std::vector<std::string> datagrams;
    std::size_t bytes;
  };
  std::size_t mMaxBytes;
  std::int64_t mMaxAgeUs;
  std::deque<Entry> mEntries;  // oldest first
  std::unordered_map<std::uint32_t, std::size_t> mIndex;  // msgId -> sequence number of its entry
  std::size_t mFirstSeq = 0;   // sequence number of mEntries.front()
  std::size_t mBytes = 0;
};

}  // namespace partyhub::streamer
