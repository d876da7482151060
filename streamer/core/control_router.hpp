// Where a control request (keyframe, bitrate) goes: to the local source when
// we are the channel's source streamer, else upstream, to the peer the
// channel's chunks come from, else (nothing seen yet) to every peer we know
// but the sender. Keyframe requests pass at most once per gap per channel:
// many players see the same loss, and the limit stops a request circling in a
// mesh. Pure.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "peer_actions.hpp"

namespace partyhub::streamer {

class ControlRouter {
 public:
  explicit ControlRouter(std::int64_t keyframeGapUs) : mGapUs(keyframeGapUs) {}

  /// `from` is 0 for a local player. `upstream` 0 when unknown.
  void route(const v1::Control& control, std::uint32_t defaultChannel, PeerId from, std::int64_t nowUs,
             bool isSource, PeerId upstream, const std::vector<PeerId>& known, RelayActions& out);

  [[nodiscard]] std::uint64_t forwarded() const { return mForwarded; }
  [[nodiscard]] std::uint64_t suppressed() const { return mSuppressed; }
  [[nodiscard]] std::uint64_t refused() const { return mRefused; }  // mute requests not ours to pass on

 private:
  std::int64_t mGapUs;
  std::map<std::uint32_t, std::int64_t> mLastKeyframeUs;
  std::uint64_t mForwarded = 0;
  std::uint64_t mSuppressed = 0;
  std::uint64_t mRefused = 0;
};

}  // namespace partyhub::streamer
