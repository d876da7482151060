// The web GUI's media: a member's stream, tapped from the streamer that
// serves that member's channel to local players (the daemon subscribes like
// a player does), framed for the browser, which decodes it with WebCodecs.
//
// A record, big-endian:
//   u32 length of the rest of the record
//   u8  kind (1 video, 2 audio)   u8 codec (1 H.264 Annex B, 2 VP8, 3 Opus)
//   u8  flags (bit 0: anchor)     u8 reserved
//   i64 capture_us (wall clock, µs)   u32 media_seq   u32 duration_us
//   u16 frames, then u32 size of each frame, then the frames
// A record of length 0 is a keep-alive (sent while no media flows), skipped.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <zmq.hpp>

#include "partyhub/v1/chunk.pb.h"

namespace partyhub::controller {

/// Appends `chunk` to `out` as one record. Pure.
void frameChunk(const v1::Chunk& chunk, std::string& out);
/// Appends a keep-alive (a record of length 0).
inline void appendKeepAlive(std::string& out) { out.append(4, '\0'); }

/// Asks the streamer at `endpoint` (a players' endpoint) for a keyframe on
/// `channel`, as a player does; it travels upstream to the source, which the
/// streamers and the source rate-limit. A socket of its own (the feeds' are
/// their threads'): connects, sends, and lingers up to 500 ms to deliver.
void requestKeyframe(zmq::context_t& ctx, const std::string& endpoint, std::uint32_t channel, const std::string& reason);

class MediaFeed {
 public:
  MediaFeed(zmq::context_t& ctx, const std::string& endpoint, std::uint32_t channel);

  /// Waits up to `timeout` for chunks and appends their records to `out`;
  /// renews the subscription every second (streamers drop silent players).
  void poll(std::chrono::milliseconds timeout, std::string& out);
  [[nodiscard]] std::uint64_t chunks() const { return mChunks; }

 private:
  void subscribe();

  zmq::socket_t mSocket;
  std::uint32_t mChannel;
  std::int64_t mLastSubscribeUs = 0;
  std::uint64_t mChunks = 0;
};

}  // namespace partyhub::controller
