#include "fragmenter.hpp"

#include <algorithm>

namespace partyhub::streamer {

namespace {

constexpr std::uint8_t kMagic = 'P';
constexpr std::uint8_t kVersion = 2;
constexpr std::uint8_t kWhole = 1;  // flag: the message is this datagram's payload

void putU16(std::string& s, std::uint16_t v) {
  s.push_back(static_cast<char>(v >> 8));
  s.push_back(static_cast<char>(v & 0xFF));
}
std::uint16_t getU16(std::string_view s, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<std::uint8_t>(s[at]) << 8) | static_cast<std::uint8_t>(s[at + 1]));
}

}  // namespace

bool fragment(std::string_view message, std::uint32_t msgId, std::vector<std::string>& out) {
  if (message.empty() || message.size() > kMaxMessage) return false;
  if (message.size() <= kMaxSinglePayload) {
    std::string d;
    d.reserve(kSingleHeader + message.size());
    d.push_back(static_cast<char>(kMagic));
    d.push_back(static_cast<char>(kVersion << 4 | kWhole));
    d.append(message);
    out.push_back(std::move(d));
    return true;
  }
  const std::size_t count = fragmentCount(message.size());
  for (std::size_t i = 0; i < count; ++i) {
    const std::string_view piece = message.substr(i * kMaxFragmentPayload, kMaxFragmentPayload);
    std::string d;
    d.reserve(kFragmentHeader + piece.size());
    d.push_back(static_cast<char>(kMagic));
    d.push_back(static_cast<char>(kVersion << 4));
    putU16(d, static_cast<std::uint16_t>(msgId));
    putU16(d, static_cast<std::uint16_t>(i));
    putU16(d, static_cast<std::uint16_t>(count));
    d.append(piece);
    out.push_back(std::move(d));
  }
  return true;
}

Reassembler::Reassembler(ReassemblerConfig config) : mConfig(config) {}

std::optional<std::string> Reassembler::onDatagram(std::uint64_t sender, std::string_view d, std::int64_t nowUs) {
  ++mStats.datagrams;
  if (d.size() <= kSingleHeader || d.size() > kMaxDatagram || static_cast<std::uint8_t>(d[0]) != kMagic ||
      static_cast<std::uint8_t>(d[1]) >> 4 != kVersion || (static_cast<std::uint8_t>(d[1]) & ~(kVersion << 4 | kWhole)) != 0) {
    ++mStats.garbage;
    return std::nullopt;
  }
  if ((static_cast<std::uint8_t>(d[1]) & kWhole) != 0) {  // audio and control messages: the common case
    ++mStats.messages;
    mFirstArrivalUs = nowUs;
    return std::string(d.substr(kSingleHeader));
  }
  if (d.size() <= kFragmentHeader) {
    ++mStats.garbage;
    return std::nullopt;
  }
  const Key key{sender, getU16(d, 2)};
  const std::uint16_t index = getU16(d, 4);
  const std::uint16_t count = getU16(d, 6);
  const std::string_view payload = d.substr(kFragmentHeader);
  const bool last = index + 1 == count;
  if (count < 2 || count > kMaxFragments || index >= count ||
      (!last && payload.size() != kMaxFragmentPayload)) {
    ++mStats.garbage;
    return std::nullopt;
  }
  if (mCompleted.count(key) != 0) {
    ++mStats.duplicates;
    return std::nullopt;
  }

  auto it = mPartial.find(key);
  if (it == mPartial.end()) {
    const std::size_t bytes = static_cast<std::size_t>(count) * kMaxFragmentPayload;
    while (!mPartial.empty() && (mPartial.size() >= mConfig.maxPartialMessages ||
                                 mPartialBytes + bytes > mConfig.maxPartialBytes)) {
      evictOldest();
    }
    if (bytes > mConfig.maxPartialBytes) {
      ++mStats.evicted;
      return std::nullopt;
    }
    Partial p;
    p.data.resize(bytes);
    p.have.assign(count, false);
    p.count = count;
    p.firstUs = nowUs;
    p.lastUs = nowUs;
    mPartialBytes += bytes;
    it = mPartial.emplace(key, std::move(p)).first;
  }
  Partial& p = it->second;
  if (p.count != count) {
    ++mStats.garbage;
    return std::nullopt;
  }
  if (p.have[index]) {
    ++mStats.duplicates;
    return std::nullopt;
  }
  p.have[index] = true;
  ++p.received;
  p.lastUs = nowUs;
  if (index > p.highest) {
    // A later fragment overtook earlier ones: on one path, they are lost.
    if (!p.gap) {
      for (std::uint16_t j = std::max(p.nackedUpTo, p.highest); j < index && !p.gap; ++j) p.gap = !p.have[j];
      if (p.gap) ++mGaps;
    }
    p.highest = index;
  }
  std::copy(payload.begin(), payload.end(), p.data.begin() + static_cast<std::ptrdiff_t>(index * kMaxFragmentPayload));
  if (last) p.lastSize = payload.size();
  if (p.received < p.count) return std::nullopt;

  std::string message = std::move(p.data);
  message.resize(static_cast<std::size_t>(p.count - 1) * kMaxFragmentPayload + p.lastSize);
  mFirstArrivalUs = p.firstUs;
  erasePartial(it);
  rememberCompleted(key);
  ++mStats.messages;
  return message;
}

void Reassembler::expire(std::int64_t nowUs) {
  for (auto it = mPartial.begin(); it != mPartial.end();) {
    if (nowUs - it->second.firstUs > mConfig.timeoutUs) {
      ++mStats.expired;
      auto doomed = it++;
      erasePartial(doomed);
    } else {
      ++it;
    }
  }
}

void Reassembler::takeNacks(std::int64_t nowUs, std::vector<FragmentNack>& out) {
  for (auto& [key, p] : mPartial) {
    const bool stalled = nowUs - p.lastUs >= mConfig.stallUs;
    if (p.nacks >= mConfig.maxNacks || !(p.gap || stalled)) continue;
    if (p.lastNackUs != 0 && nowUs - p.lastNackUs < mConfig.nackRepeatUs) continue;
    FragmentNack nack{key.sender, key.msgId, {}};
    // On a gap, only below the highest fragment seen (the rest may be on
    // its way); once stalled, everything missing.
    const std::uint16_t upTo = stalled ? p.count : p.highest;
    for (std::uint16_t j = 0; j < upTo; ++j) {
      if (!p.have[j]) nack.indices.push_back(j);
    }
    if (p.gap) --mGaps;
    p.gap = false;
    p.nackedUpTo = p.highest;
    if (nack.indices.empty()) continue;
    p.lastNackUs = nowUs;
    ++p.nacks;
    mStats.nacked += nack.indices.size();
    out.push_back(std::move(nack));
  }
}

void SentCache::remember(std::uint32_t msgId, std::vector<std::string> datagrams, std::int64_t nowUs) {
  if (datagrams.size() < 2) return;
  while (!mEntries.empty() && (nowUs - mEntries.front().atUs > mMaxAgeUs || mBytes > mMaxBytes)) {
    mBytes -= mEntries.front().bytes;
    auto it = mIndex.find(mEntries.front().msgId);
    if (it != mIndex.end() && it->second == mFirstSeq) mIndex.erase(it);
    mEntries.pop_front();
    ++mFirstSeq;
  }
  std::size_t bytes = 0;
  for (const std::string& d : datagrams) bytes += d.size();
  mIndex[msgId] = mFirstSeq + mEntries.size();
  mEntries.push_back({msgId, nowUs, std::move(datagrams), bytes});
  mBytes += bytes;
}

const std::string* SentCache::find(std::uint32_t msgId, std::uint16_t index) const {
  auto it = mIndex.find(msgId);
  if (it == mIndex.end()) return nullptr;
  const Entry& e = mEntries[it->second - mFirstSeq];
  return index < e.datagrams.size() ? &e.datagrams[index] : nullptr;
}

void Reassembler::rememberCompleted(const Key& key) {
  if (mConfig.rememberCompleted == 0) return;
  if (!mCompleted.insert(key).second) return;
  mCompletedOrder.push_back(key);
  while (mCompletedOrder.size() > mConfig.rememberCompleted) {
    mCompleted.erase(mCompletedOrder.front());
    mCompletedOrder.pop_front();
  }
}

void Reassembler::erasePartial(std::unordered_map<Key, Partial, KeyHash>::iterator it) {
  mPartialBytes -= static_cast<std::size_t>(it->second.count) * kMaxFragmentPayload;
  if (it->second.gap) --mGaps;
  mPartial.erase(it);
}

void Reassembler::evictOldest() {
  auto oldest = std::min_element(mPartial.begin(), mPartial.end(), [](const auto& a, const auto& b) {
    return a.second.firstUs < b.second.firstUs;
  });
  ++mStats.evicted;
  erasePartial(oldest);
}

}  // namespace partyhub::streamer
