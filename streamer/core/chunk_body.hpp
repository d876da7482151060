// Chunk bodies over UDP, keyed by the chunk rather than by the message: the
// framing cut-through forwarding needs (docs/overlay-notes.md, "Cut-through
// forwarding"). A chunk copy is a small copy header (its per-copy fields,
// an ordinary message) and the body, the serialized v1::Chunk, which is the
// same from every sender: its datagrams are named by (channel, seq, index),
// so a relay passes each on byte for byte as it lands, and a receiver fills
// one body from any sender's datagrams (transport/cut_through.hpp).
// Pure, bounded however hostile the input, garbage counted.
//
// Datagram layout (network byte order), beside fragmenter.hpp's:
//   0  'P'       magic
//   1  version << 4 | kBodyFlag   (version 2, flag 2)
//   2  channel   u32
//   6  seq       u64
//  14  index     u16, 0-based
//  16  count     u16, datagrams in the body (1..kMaxBodyDatagrams)
//  18  payload   every datagram but the last carries exactly kMaxBodyPayload
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fragmenter.hpp"

namespace partyhub::streamer {

inline constexpr std::uint8_t kBodyFlag = 2;
inline constexpr std::size_t kBodyHeader = 18;
inline constexpr std::size_t kMaxBodyPayload = kMaxDatagram - kBodyHeader;
inline constexpr std::size_t kMaxBodyDatagrams = 256;  // bodies up to ~300 KB (a chunk is a frame or a few)

struct BodyKey {
  std::uint32_t channel = 0;
  std::uint64_t seq = 0;
  bool operator==(const BodyKey&) const = default;
};
struct BodyKeyHash {
  std::size_t operator()(const BodyKey& k) const noexcept {
    return std::hash<std::uint64_t>{}(k.seq * 0x9E3779B97F4A7C15ull ^ k.channel);
  }
};

/// Cuts `body` into datagrams (appended to `out`). False, adding nothing,
/// when it is empty or larger than kMaxBodyDatagrams datagrams hold.
bool cutBody(BodyKey key, std::string_view body, std::vector<std::string>& out);
/// Whether `datagram` is framed as a body datagram (the rest of it unchecked).
bool isBodyDatagram(std::string_view datagram);

struct BodyStoreConfig {
  std::size_t maxBodies = 512;
  std::size_t maxBytes = 16 * 1024 * 1024;
  std::int64_t timeoutUs = 1'000'000;  // a body not whole this long after its first datagram fails
  std::int64_t keepUs = 1'000'000;     // a whole body is kept this long, to relay and repair from
};

struct BodyStats {
  std::uint64_t datagrams = 0;
  std::uint64_t garbage = 0;     // not our framing, or inconsistent with the body's other datagrams
  std::uint64_t duplicates = 0;  // a datagram held already (two senders' copies overlap)
  std::uint64_t whole = 0;       // bodies completed
  std::uint64_t failed = 0;      // bodies not whole in time
  std::uint64_t evicted = 0;     // dropped to stay within the bounds
};

/// The bodies lately coming in or held whole, their datagrams as they came
/// (to pass on unchanged), and who each is to be relayed to.
class BodyStore {
 public:
  explicit BodyStore(BodyStoreConfig config = {});

  struct Fed {
    enum class What : std::uint8_t { kGarbage, kDuplicate, kNew, kWhole } what = What::kGarbage;
    BodyKey key;
    std::uint16_t index = 0;
    /// kNew and kWhole: the peers following the body, to pass the datagram on
    /// to (valid until the store next changes).
    const std::vector<std::uint64_t>* followers = nullptr;
  };
  /// Feeds one body datagram, from whichever sender.
  Fed onDatagram(std::string_view datagram, std::int64_t nowUs);

  /// `peer` is to get the body's datagrams: those held now are appended to
  /// `now` (to send at once), the rest come back in Fed::followers as they
  /// land. False when the body is unknown (nothing of it came yet).
  bool follow(BodyKey key, std::uint64_t peer, std::vector<const std::string*>& now);
  /// The body, once whole (empty otherwise).
  [[nodiscard]] std::string whole(BodyKey key) const;
  [[nodiscard]] bool isWhole(BodyKey key) const;
  /// When the body's last datagram came (-1: nothing of it held).
  [[nodiscard]] std::int64_t lastUs(BodyKey key) const;
  /// Datagram `index` as it came, if held (to answer a repair request).
  [[nodiscard]] const std::string* datagram(BodyKey key, std::uint16_t index) const;
  /// The indices missing below the highest one seen (all, once `stalled`).
  void missing(BodyKey key, bool stalled, std::vector<std::uint16_t>& out) const;

  /// Forgets whole bodies past keepUs; bodies not whole past timeoutUs fail
  /// and are appended to `failed` (the overlay pulls them another way).
  void expire(std::int64_t nowUs, std::vector<BodyKey>& failed);

  [[nodiscard]] const BodyStats& stats() const { return mStats; }
  [[nodiscard]] std::size_t bodies() const { return mBodies.size(); }
  [[nodiscard]] std::size_t bytes() const { return mBytes; }

 private:
  struct Body {
    std::vector<std::string> datagrams;  // as they came; empty when not yet
    std::uint16_t count = 0;
    std::uint16_t received = 0;
    std::uint16_t highest = 0;
    std::int64_t firstUs = 0;
    std::int64_t lastUs = 0;
    std::int64_t wholeUs = -1;  // -1: not whole yet
    std::size_t bytes = 0;
    std::vector<std::uint64_t> followers;
  };
  Body* find(BodyKey key);
  [[nodiscard]] const Body* find(BodyKey key) const;
  /// Room for `bytes` more within the bounds, the oldest bodies dropped.
  void makeRoom(std::size_t bytes);
  void erase(BodyKey key);

  BodyStoreConfig mConfig;
  BodyStats mStats;
  std::unordered_map<BodyKey, Body, BodyKeyHash> mBodies;
  struct Arrival {
    BodyKey key;
    std::int64_t firstUs;  // the body's, to tell a body gone from a new one of the same key
  };
  std::deque<Arrival> mOrder;  // by first arrival (entries of bodies gone are skipped)
  [[nodiscard]] bool current(const Arrival& a) const {
    const Body* b = find(a.key);
    return b != nullptr && b->firstUs == a.firstUs;
  }
  std::size_t mBytes = 0;
};

}  // namespace partyhub::streamer
