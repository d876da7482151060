#include "control_router.hpp"

namespace partyhub::streamer {

void ControlRouter::route(const v1::Control& control, std::uint32_t defaultChannel, PeerId from, std::int64_t nowUs,
                          bool isSource, PeerId upstream, const std::vector<PeerId>& known, RelayActions& out) {
  if (control.has_mute()) {
    // Only the participant's own controller may mute its source: from a
    // local player of the source streamer, never relayed from a peer.
    if (isSource && from == 0) {
      out.toSource.push_back(control);
    } else {
      ++mRefused;
    }
    return;
  }
  if (control.has_keyframe()) {
    const std::uint32_t channel = control.keyframe().channel_id() != 0 ? control.keyframe().channel_id() : defaultChannel;
    auto& last = mLastKeyframeUs[channel];
    if (last != 0 && nowUs - last < mGapUs) {
      ++mSuppressed;
      return;
    }
    last = nowUs;
    ++mForwarded;
  }
  if (isSource) {
    out.toSource.push_back(control);
    return;
  }
  RelayActions::Send send;
  *send.message.mutable_control() = control;
  if (upstream != 0 && upstream != from) {
    send.peers.push_back(upstream);
  } else {
    for (PeerId p : known) {
      if (p != from) send.peers.push_back(p);
    }
  }
  if (!send.peers.empty()) out.toPeers.push_back(std::move(send));
}

}  // namespace partyhub::streamer
