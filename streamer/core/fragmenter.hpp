// UDP framing between streamers: a message (a serialized PeerMessage) is cut
// into datagrams of at most 1200 bytes (safe under any path MTU, as QUIC and
// WebRTC assume) and put back together on the other side. Loss, duplicates,
// reordering and garbage are expected: they are counted and dropped, and the
// reassembler's memory is bounded however hostile the input. Pure: `now` is a
// parameter.
//
// Datagram layout (network byte order):
//   0  'P' 'H'   magic
//   2  version   (1)
//   3  reserved  (0)
//   4  msg id    u32, per sender
//   8  index     u16, 0-based
//  10  count     u16, fragments in the message (1..kMaxFragments)
//  12  payload   every fragment but the last carries exactly kMaxFragmentPayload
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
inline constexpr std::size_t kFragmentHeader = 12;
inline constexpr std::size_t kMaxFragmentPayload = kMaxDatagram - kFragmentHeader;
inline constexpr std::size_t kMaxFragments = 2048;  // messages up to ~2.4 MB
inline constexpr std::size_t kMaxMessage = kMaxFragments * kMaxFragmentPayload;

/// Cuts `message` into datagrams (appended to `out`). Returns false, adding
/// nothing, when the message is empty or larger than kMaxMessage.
bool fragment(std::string_view message, std::uint32_t msgId, std::vector<std::string>& out);

struct ReassemblyStats {
  std::uint64_t datagrams = 0;
  std::uint64_t garbage = 0;             // not our framing, or inconsistent
  std::uint64_t duplicates = 0;          // fragment seen before
  std::uint64_t messages = 0;            // completed
  std::uint64_t expired = 0;             // incomplete when their time ran out
  std::uint64_t evicted = 0;             // dropped to stay within the memory bound
};

struct ReassemblerConfig {
  std::size_t maxPartialMessages = 256;
  std::size_t maxPartialBytes = 16 * 1024 * 1024;
  std::int64_t timeoutUs = 1'000'000;
  std::size_t rememberCompleted = 4096;  // to recognise late duplicates
};

class Reassembler {
 public:
  explicit Reassembler(ReassemblerConfig config = {});

  /// Feeds one datagram from `sender`; returns a message when it completes one.
  std::optional<std::string> onDatagram(std::uint64_t sender, std::string_view datagram, std::int64_t nowUs);
  /// Drops partial messages older than the timeout.
  void expire(std::int64_t nowUs);

  [[nodiscard]] const ReassemblyStats& stats() const { return mStats; }
  [[nodiscard]] std::size_t partialMessages() const { return mPartial.size(); }
  [[nodiscard]] std::size_t partialBytes() const { return mPartialBytes; }

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
};

}  // namespace partyhub::streamer
