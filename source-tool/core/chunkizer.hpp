// The media-aware chunkizer (PeerStreamer's idea, tuned for conferencing):
// encoded frames in, chunks out. A chunk holds whole frames only; a video
// keyframe always starts a new chunk, marked as an anchor and carrying SPS/PPS;
// by default one video access unit per chunk (lowest latency), optionally
// several up to a frame/size/duration limit; Opus frames are packed up to a
// chunk duration. Pure: no clock, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "partyhub/v1/chunk.pb.h"

namespace partyhub::source {

struct EncodedFrame {
  v1::MediaKind kind = v1::MEDIA_KIND_VIDEO;
  v1::Codec codec = v1::CODEC_H264;
  std::string_view data;
  std::int64_t captureUs = 0;  // wall clock
  std::uint32_t durationUs = 0;
};

struct ChunkizerConfig {
  std::uint32_t channelId = 0;
  std::uint32_t maxVideoFramesPerChunk = 1;
  std::uint32_t maxChunkBytes = 512 * 1024;
  std::uint32_t maxVideoChunkUs = 200'000;
  std::uint32_t audioChunkUs = 20'000;
  // Stream parameters copied into every chunk for the player's caps.
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::uint32_t sampleRate = 48000;
  std::uint32_t channels = 1;
};

struct ChunkizerStats {
  std::uint64_t videoFrames = 0;
  std::uint64_t audioFrames = 0;
  std::uint64_t chunks = 0;
  std::uint64_t anchors = 0;
  std::uint64_t framesBeforeFirstAnchor = 0;  // undecodable, dropped
  std::uint64_t parameterSetsInserted = 0;    // SPS/PPS prepended to an IDR
  std::uint64_t emptyFrames = 0;
  std::uint64_t mutedFrames = 0;              // dropped while their kind was muted
};

class Chunkizer {
 public:
  explicit Chunkizer(ChunkizerConfig config);

  /// Feeds one encoded frame; returns the chunks it completed (usually 0 or 1,
  /// 2 when a keyframe closes a pending multi-frame chunk).
  std::vector<v1::Chunk> push(const EncodedFrame& frame);
  /// Emits whatever is pending (end of stream).
  std::vector<v1::Chunk> flush();
  /// Camera or microphone off: frames of `kind` are dropped before they get a
  /// sequence number, so players see a pause, not a loss. Video comes back on
  /// a keyframe (the caller asks the encoder for one). Returns what it
  /// completed of the kind's pending chunk.
  std::vector<v1::Chunk> setMuted(v1::MediaKind kind, bool muted);
  [[nodiscard]] bool muted(v1::MediaKind kind) const {
    return kind == v1::MEDIA_KIND_AUDIO ? mAudioMuted : mVideoMuted;
  }

  [[nodiscard]] const ChunkizerStats& stats() const { return mStats; }
  [[nodiscard]] const ChunkizerConfig& config() const { return mConfig; }

 private:
  struct Pending {
    v1::Chunk chunk;
    std::uint32_t frames = 0;
  };

  void pushVideo(const EncodedFrame& frame, std::vector<v1::Chunk>& out);
  void pushAudio(const EncodedFrame& frame, std::vector<v1::Chunk>& out);
  void start(Pending& pending, const EncodedFrame& frame, bool anchor);
  static void append(Pending& pending, const EncodedFrame& frame, std::string_view prefix = {});
  void emit(Pending& pending, std::vector<v1::Chunk>& out);
  bool isKeyframe(const EncodedFrame& frame, std::string& missingParamSets);

  ChunkizerConfig mConfig;
  ChunkizerStats mStats;
  bool mVideoMuted = false;
  bool mAudioMuted = false;
  std::optional<Pending> mVideo;
  std::optional<Pending> mAudio;
  std::uint64_t mVideoSeq = 0;
  std::uint64_t mAudioSeq = 0;
  std::uint64_t mGopId = 0;
  bool mSeenAnchor = false;
  std::string mSps;
  std::string mPps;
};

}  // namespace partyhub::source
