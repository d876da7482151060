#include "chunkizer.hpp"

#include "h264_bitstream.hpp"

namespace partyhub::source {

Chunkizer::Chunkizer(ChunkizerConfig config) : mConfig(config) {}

std::vector<v1::Chunk> Chunkizer::push(const EncodedFrame& frame) {
  std::vector<v1::Chunk> out;
  if (frame.data.empty()) {
    ++mStats.emptyFrames;
    return out;
  }
  if (muted(frame.kind)) {
    ++mStats.mutedFrames;
    return out;
  }
  if (frame.kind == v1::MEDIA_KIND_AUDIO) {
    pushAudio(frame, out);
  } else {
    pushVideo(frame, out);
  }
  return out;
}

std::vector<v1::Chunk> Chunkizer::setMuted(v1::MediaKind kind, bool muted) {
  std::vector<v1::Chunk> out;
  if (kind == v1::MEDIA_KIND_AUDIO) {
    if (muted && mAudio) emit(*mAudio, out);
    mAudioMuted = muted;
    return out;
  }
  if (muted && mVideo) emit(*mVideo, out);
  if (mVideoMuted && !muted) mSeenAnchor = false;  // the frames in between were never sent
  mVideoMuted = muted;
  return out;
}

std::vector<v1::Chunk> Chunkizer::flush() {
  std::vector<v1::Chunk> out;
  if (mVideo) emit(*mVideo, out);
  if (mAudio) emit(*mAudio, out);
  return out;
}

bool Chunkizer::isKeyframe(const EncodedFrame& frame, std::string& missingParamSets) {
  if (frame.codec == v1::CODEC_VP8) return isVp8Keyframe(frame.data);
  if (frame.codec != v1::CODEC_H264) return false;
  const H264AccessUnitInfo info = analyzeH264(frame.data);
  if (info.sps) mSps = info.spsBytes;
  if (info.pps) mPps = info.ppsBytes;
  if (!info.idr) return false;
  // An anchor must be decodable on its own: prepend the parameter sets the
  // encoder sent earlier if this IDR does not carry them.
  if (!info.sps && !mSps.empty()) missingParamSets += mSps;
  if (!info.pps && !mPps.empty()) missingParamSets += mPps;
  return true;
}

void Chunkizer::pushVideo(const EncodedFrame& frame, std::vector<v1::Chunk>& out) {
  ++mStats.videoFrames;
  std::string prefix;
  const bool key = isKeyframe(frame, prefix);
  if (!key && !mSeenAnchor) {
    ++mStats.framesBeforeFirstAnchor;
    return;
  }
  if (key) {
    mSeenAnchor = true;
    ++mGopId;
    if (mVideo) emit(*mVideo, out);  // a keyframe always starts a chunk
    if (!prefix.empty()) ++mStats.parameterSetsInserted;
  }
  if (mVideo) {
    const auto& c = mVideo->chunk;
    const bool full = mVideo->frames >= mConfig.maxVideoFramesPerChunk ||
                      c.payload().size() + frame.data.size() > mConfig.maxChunkBytes ||
                      c.duration_us() + frame.durationUs > mConfig.maxVideoChunkUs;
    if (full) emit(*mVideo, out);
  }
  if (!mVideo) {
    mVideo.emplace();
    start(*mVideo, frame, key);
  }
  append(*mVideo, frame, prefix);
  if (mVideo->frames >= mConfig.maxVideoFramesPerChunk) emit(*mVideo, out);
}

void Chunkizer::pushAudio(const EncodedFrame& frame, std::vector<v1::Chunk>& out) {
  ++mStats.audioFrames;
  if (!mAudio) {
    mAudio.emplace();
    start(*mAudio, frame, true);
  }
  append(*mAudio, frame);
  if (mAudio->chunk.duration_us() >= mConfig.audioChunkUs ||
      mAudio->chunk.payload().size() >= mConfig.maxChunkBytes) {
    emit(*mAudio, out);
  }
}

void Chunkizer::start(Pending& pending, const EncodedFrame& frame, bool anchor) {
  v1::Chunk& c = pending.chunk;
  c.set_channel_id(mConfig.channelId);
  c.set_kind(frame.kind);
  c.set_codec(frame.codec);
  c.set_anchor(anchor);
  c.set_capture_us(frame.captureUs);
  if (frame.kind == v1::MEDIA_KIND_VIDEO) {
    c.set_media_seq(mVideoSeq++);
    c.set_gop_id(mGopId);
    c.set_width(mConfig.width);
    c.set_height(mConfig.height);
  } else {
    c.set_media_seq(mAudioSeq++);
    c.set_sample_rate(mConfig.sampleRate);
    c.set_channels(mConfig.channels);
  }
}

void Chunkizer::append(Pending& pending, const EncodedFrame& frame, std::string_view prefix) {
  v1::Chunk& c = pending.chunk;
  c.mutable_payload()->append(prefix);
  c.mutable_payload()->append(frame.data);
  c.add_frame_sizes(static_cast<std::uint32_t>(prefix.size() + frame.data.size()));
  c.set_duration_us(c.duration_us() + frame.durationUs);
  ++pending.frames;
}

void Chunkizer::emit(Pending& pending, std::vector<v1::Chunk>& out) {
  ++mStats.chunks;
  if (pending.chunk.anchor()) ++mStats.anchors;
  out.push_back(std::move(pending.chunk));
  if (mVideo && &pending == &*mVideo) {
    mVideo.reset();
  } else {
    mAudio.reset();
  }
}

}  // namespace partyhub::source
