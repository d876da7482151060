// What a streamer sends its peers, by message kind ("video", "audio" for
// chunks; "have", "gossip", ... for overlay messages; "bundle", "nack",
// "resent" for the framing's own): where the signalling goes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "partyhub/v1/peer.pb.h"
#include "partyhub/v1/stats.pb.h"

namespace partyhub::streamer {

/// A message's kind, as the statistics name it.
std::string messageKind(const v1::PeerMessage& m);

class TrafficCounts {
 public:
  /// `m` went to `peers` peers, `framed` bytes each on the wire. A bundle's
  /// messages count in their own kinds (their encoded size), its framing
  /// as "bundle".
  void sent(const v1::PeerMessage& m, std::size_t framed, std::size_t peers);
  /// A datagram the framing sent on its own (a NACK, a fragment resent).
  void sentDatagram(const char* kind, std::size_t bytes);
  /// A chunk body's datagram (cut-through forwarding), as "body": its
  /// framing is overhead, the rest payload (with the chunk's own fields,
  /// a few bytes a chunk, which a body datagram cannot tell apart).
  void sentBody(std::size_t bytes, std::size_t framing);

  /// bytes_out_by_message, payload_bytes_out_by_message,
  /// messages_out_by_message and payload_bytes_out.
  void fill(v1::StreamerStats& s) const;

 private:
  struct Count {
    std::uint64_t bytes = 0;
    std::uint64_t payloadBytes = 0;  // media among them (chunks)
    std::uint64_t messages = 0;
  };
  std::map<std::string, Count> mByKind;
};

}  // namespace partyhub::streamer
