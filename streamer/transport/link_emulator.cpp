#include "link_emulator.hpp"

#include <algorithm>

namespace partyhub::streamer {

LinkEmulator::LinkEmulator(LinkEmulation config, std::uint64_t seed) : mConfig(config), mRng(seed) {}

bool LinkEmulator::submit(PeerId to, std::string datagram, std::int64_t nowUs) {
  std::int64_t departUs = nowUs;
  if (mConfig.uploadKbps > 0) {
    // The uplink serialises: this datagram leaves once those before it have.
    const std::int64_t start = std::max(nowUs, mLinkFreeUs);
    if (start - nowUs > mConfig.maxQueueUs) {
      ++mStats.overflow;
      return false;
    }
    const auto bits = static_cast<std::int64_t>(datagram.size() + 28) * 8;  // + IPv4 and UDP headers
    departUs = start + bits * 1000 / static_cast<std::int64_t>(mConfig.uploadKbps);
    mLinkFreeUs = departUs;
  }
  // Lost on the way: it still used the uplink.
  if (mConfig.loss > 0 && std::uniform_real_distribution<double>(0, 1)(mRng) < mConfig.loss) {
    ++mStats.lost;
    return false;
  }
  mQueue.push_back({departUs + static_cast<std::int64_t>(mConfig.delayMs * 1000), to, std::move(datagram)});
  return true;
}

void LinkEmulator::due(std::int64_t nowUs, std::vector<std::pair<PeerId, std::string>>& out) {
  while (!mQueue.empty() && mQueue.front().dueUs <= nowUs) {
    out.emplace_back(mQueue.front().to, std::move(mQueue.front().datagram));
    mQueue.pop_front();
    ++mStats.sent;
  }
}

}  // namespace partyhub::streamer
