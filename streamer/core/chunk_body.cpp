#include "chunk_body.hpp"

#include <algorithm>

namespace partyhub::streamer {

namespace {

constexpr std::uint8_t kMagic = 'P';
constexpr std::uint8_t kVersion = 2;

void putBig(std::string& s, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
std::uint64_t getBig(std::string_view s, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = v << 8 | static_cast<std::uint8_t>(s[at + static_cast<std::size_t>(i)]);
  return v;
}

}  // namespace

bool isBodyDatagram(std::string_view d) {
  return d.size() >= 2 && static_cast<std::uint8_t>(d[0]) == kMagic &&
         static_cast<std::uint8_t>(d[1]) == (kVersion << 4 | kBodyFlag);
}

bool cutBody(BodyKey key, std::string_view body, std::vector<std::string>& out) {
  if (body.empty() || body.size() > kMaxBodyDatagrams * kMaxBodyPayload) return false;
  const std::size_t count = (body.size() + kMaxBodyPayload - 1) / kMaxBodyPayload;
  for (std::size_t i = 0; i < count; ++i) {
    const std::string_view piece = body.substr(i * kMaxBodyPayload, kMaxBodyPayload);
    std::string d;
    d.reserve(kBodyHeader + piece.size());
    d.push_back(static_cast<char>(kMagic));
    d.push_back(static_cast<char>(kVersion << 4 | kBodyFlag));
    putBig(d, key.channel, 4);
    putBig(d, key.seq, 8);
    putBig(d, i, 2);
    putBig(d, count, 2);
    d.append(piece);
    out.push_back(std::move(d));
  }
  return true;
}

BodyStore::BodyStore(BodyStoreConfig config) : mConfig(config) {}

BodyStore::Body* BodyStore::find(BodyKey key) {
  auto it = mBodies.find(key);
  return it == mBodies.end() ? nullptr : &it->second;
}

const BodyStore::Body* BodyStore::find(BodyKey key) const {
  auto it = mBodies.find(key);
  return it == mBodies.end() ? nullptr : &it->second;
}

void BodyStore::erase(BodyKey key) {
  auto it = mBodies.find(key);
  if (it == mBodies.end()) return;
  mBytes -= it->second.bytes;
  mBodies.erase(it);
}

void BodyStore::makeRoom(std::size_t bytes) {
  while (!mOrder.empty() && (mBodies.size() >= mConfig.maxBodies || mBytes + bytes > mConfig.maxBytes)) {
    const Arrival oldest = mOrder.front();
    mOrder.pop_front();
    if (!current(oldest)) continue;  // gone already
    ++mStats.evicted;
    erase(oldest.key);
  }
}

BodyStore::Fed BodyStore::onDatagram(std::string_view d, std::int64_t nowUs) {
  ++mStats.datagrams;
  Fed fed;
  if (d.size() <= kBodyHeader || d.size() > kMaxDatagram || !isBodyDatagram(d)) {
    ++mStats.garbage;
    return fed;
  }
  fed.key = {static_cast<std::uint32_t>(getBig(d, 2, 4)), getBig(d, 6, 8)};
  fed.index = static_cast<std::uint16_t>(getBig(d, 14, 2));
  const auto count = static_cast<std::uint16_t>(getBig(d, 16, 2));
  const std::size_t payload = d.size() - kBodyHeader;
  const bool last = fed.index + 1 == count;
  if (count == 0 || count > kMaxBodyDatagrams || fed.index >= count || (!last && payload != kMaxBodyPayload)) {
    ++mStats.garbage;
    return fed;
  }
  Body* b = find(fed.key);
  if (b == nullptr) {
    makeRoom(d.size());
    b = &mBodies[fed.key];
    b->datagrams.resize(count);
    b->count = count;
    b->firstUs = nowUs;
    mOrder.push_back({fed.key, nowUs});
  } else if (b->count != count) {
    ++mStats.garbage;  // another body's count for the same chunk: one of them lies
    return fed;
  }
  std::string& slot = b->datagrams[fed.index];
  if (!slot.empty()) {
    ++mStats.duplicates;
    fed.what = Fed::What::kDuplicate;
    return fed;
  }
  slot.assign(d);
  b->lastUs = nowUs;
  b->bytes += d.size();
  mBytes += d.size();
  ++b->received;
  b->highest = std::max(b->highest, fed.index);
  fed.followers = &b->followers;
  if (b->received < b->count) {
    fed.what = Fed::What::kNew;
    return fed;
  }
  b->wholeUs = nowUs;
  ++mStats.whole;
  fed.what = Fed::What::kWhole;
  return fed;
}

bool BodyStore::follow(BodyKey key, std::uint64_t peer, std::vector<const std::string*>& now) {
  Body* b = find(key);
  if (b == nullptr) return false;
  for (const std::string& d : b->datagrams) {
    if (!d.empty()) now.push_back(&d);
  }
  if (b->wholeUs < 0 && std::find(b->followers.begin(), b->followers.end(), peer) == b->followers.end()) {
    b->followers.push_back(peer);
  }
  return true;
}

std::int64_t BodyStore::lastUs(BodyKey key) const {
  const Body* b = find(key);
  return b == nullptr ? -1 : b->lastUs;
}

bool BodyStore::isWhole(BodyKey key) const {
  const Body* b = find(key);
  return b != nullptr && b->wholeUs >= 0;
}

std::string BodyStore::whole(BodyKey key) const {
  std::string body;
  const Body* b = find(key);
  if (b == nullptr || b->wholeUs < 0) return body;
  for (const std::string& d : b->datagrams) body.append(d, kBodyHeader);
  return body;
}

const std::string* BodyStore::datagram(BodyKey key, std::uint16_t index) const {
  const Body* b = find(key);
  if (b == nullptr || index >= b->datagrams.size() || b->datagrams[index].empty()) return nullptr;
  return &b->datagrams[index];
}

void BodyStore::missing(BodyKey key, bool stalled, std::vector<std::uint16_t>& out) const {
  const Body* b = find(key);
  if (b == nullptr) return;
  const std::size_t upTo = stalled ? b->count : b->highest;
  for (std::size_t i = 0; i < upTo; ++i) {
    if (b->datagrams[i].empty()) out.push_back(static_cast<std::uint16_t>(i));
  }
}

void BodyStore::expire(std::int64_t nowUs, std::vector<BodyKey>& failed) {
  for (auto it = mBodies.begin(); it != mBodies.end();) {
    const Body& b = it->second;
    const bool done = b.wholeUs >= 0 ? nowUs - b.wholeUs > mConfig.keepUs : nowUs - b.firstUs > mConfig.timeoutUs;
    if (!done) {
      ++it;
      continue;
    }
    if (b.wholeUs < 0) {
      ++mStats.failed;
      failed.push_back(it->first);
    }
    mBytes -= b.bytes;
    it = mBodies.erase(it);
  }
  // The order's stale entries, from the front (the rest go as they reach it).
  while (!mOrder.empty() && !current(mOrder.front())) mOrder.pop_front();
}

}  // namespace partyhub::streamer
