#include "cut_through.hpp"

#include <algorithm>

namespace partyhub::streamer {

CutThrough::CutThrough(CutThroughConfig config) : mConfig(config), mStore(config.store) {}

bool CutThrough::fill(v1::PeerMessage& msg) const {
  const std::string body = mStore.whole(keyOf(msg));
  return !body.empty() && msg.mutable_chunk()->mutable_chunk()->ParseFromString(body);
}

void CutThrough::landed(const BodyStore::Fed& fed, std::string_view datagram, const Sink& sink, bool tell) {
  if (fed.followers != nullptr) {
    for (PeerId peer : *fed.followers) {
      sink.send(peer, datagram, false);
      ++mStats.relayed;
    }
  }
  auto it = mComing.find(fed.key);
  if (it != mComing.end() && !it->second.waiting.empty()) {
    // The body's first datagram: the copies sent before it follow it now.
    for (PeerId peer : it->second.waiting) {
      mHeld.clear();
      mStore.follow(fed.key, peer, mHeld);
      for (const std::string* d : mHeld) sink.send(peer, *d, false);
      mStats.relayed += mHeld.size();
    }
    it->second.waiting.clear();
  }
  if (fed.what != BodyStore::Fed::What::kWhole) return;
  if (it == mComing.end()) return;  // no header yet (it finds the body whole), or not told
  Coming c = std::move(it->second);
  mComing.erase(it);
  if (!tell) return;
  if (!fill(c.header)) {
    ++mStats.failed;  // a body that is no chunk: garbage from some sender
    sink.failed(c.from, fed.key.channel, fed.key.seq);
    return;
  }
  ++mStats.completed;
  sink.complete(c.from, std::move(c.header));
}

bool CutThrough::send(v1::PeerMessage& msg, const std::vector<PeerId>& to, bool wanted, std::int64_t nowUs,
                      const Sink& sink) {
  if (!msg.has_chunk()) return false;
  const BodyKey key = keyOf(msg);
  v1::PeerChunk& pc = *msg.mutable_chunk();
  const std::size_t payload = pc.chunk().payload().size();
  if (payload > 0) {
    if (!wanted) return false;
    if (!mStore.isWhole(key)) {  // (a chunk's copies after its first find its body here)
      const std::string body = pc.chunk().SerializeAsString();
      if (body.size() <= kMaxBodyPayload) return false;  // one datagram: nothing to pass on early
      // Ours (we are its source, or it came whole): into the store, the
      // datagrams a partial body of it missed going to its followers.
      mScratch.clear();
      if (!cutBody(key, body, mScratch)) return false;
      for (const std::string& d : mScratch) {
        const BodyStore::Fed fed = mStore.onDatagram(d, nowUs);
        if (fed.what == BodyStore::Fed::What::kNew || fed.what == BodyStore::Fed::What::kWhole) {
          landed(fed, d, sink, false);  // the overlay holds it whole already
        }
      }
    }
    pc.set_payload_bytes(static_cast<std::uint32_t>(payload));
  }
  // Coming to us, nothing of its body in yet: its copies follow its first datagram.
  Coming* waiting = nullptr;
  if (mStore.lastUs(key) < 0) {
    auto it = mComing.find(key);
    if (it == mComing.end()) {
      ++mStats.unsendable;  // its body gone (failed or forgotten): the receiver pulls it
      return true;
    }
    waiting = &it->second;
  }
  // The message becomes the header: it names the chunk (its seq, and its
  // capture time, which the injection time is sent against); the rest of
  // the chunk is the body's.
  v1::Chunk& named = *pc.mutable_chunk();
  const std::uint64_t seq = named.seq();
  const std::int64_t captureUs = named.capture_us();
  named.Clear();
  named.set_seq(seq);
  named.set_capture_us(captureUs);
  pc.set_body_follows(true);
  mSent[key].push_back(Sent{msg, to, nowUs});
  mSentOrder.push_back(key);
  for (PeerId peer : to) {
    sink.message(peer, msg);
    if (waiting != nullptr) {
      waiting->waiting.push_back(peer);
      continue;
    }
    mHeld.clear();
    mStore.follow(key, peer, mHeld);
    for (const std::string* d : mHeld) sink.send(peer, *d, false);
  }
  return true;
}

void CutThrough::onBodyDatagram(PeerId from, std::string_view datagram, std::int64_t nowUs, const Sink& sink) {
  const BodyStore::Fed fed = mStore.onDatagram(datagram, nowUs);
  if (fed.what != BodyStore::Fed::What::kNew && fed.what != BodyStore::Fed::What::kWhole) return;
  // The first of a body we were told nothing of: its header is lost or
  // behind it. Asked of its sender if it does not come soon (onTick).
  auto coming = mComing.find(fed.key);
  if (coming == mComing.end() && mHeadless.size() < kMaxComing) mHeadless.try_emplace(fed.key, Headless{from, nowUs});
  // A gap below it: asked for at once, as the reassembler does (not at the
  // next tick: the body's followers below us wait for it too).
  if (coming != mComing.end() && fed.what == BodyStore::Fed::What::kNew) askMissing(fed.key, coming->second, nowUs, false, sink);
  landed(fed, datagram, sink, true);
}

CutThrough::Header CutThrough::onHeader(PeerId from, v1::PeerMessage& msg, std::int64_t nowUs) {
  const BodyKey key = keyOf(msg);
  mHeadless.erase(key);
  if (mStore.isWhole(key) && fill(msg)) return Header::kWhole;
  if (mComing.size() >= kMaxComing && mComing.count(key) == 0) {
    ++mStats.refused;
    return Header::kRefused;
  }
  ++mStats.headers;
  mComing.try_emplace(key, Coming{from, msg, nowUs, 0, 0, {}});
  return Header::kComing;
}

void CutThrough::onNack(PeerId from, const v1::FragmentNack& nack, const Sink& sink) {
  const BodyKey key{nack.channel(), nack.seq()};
  if (nack.header()) {
    // Only a header we sent it (the latest, if several): nobody learns of
    // chunks, or gets copies, by asking.
    auto sent = mSent.find(key);
    if (sent == mSent.end()) return;
    for (auto it = sent->second.rbegin(); it != sent->second.rend(); ++it) {
      if (std::find(it->to.begin(), it->to.end(), from) == it->to.end()) continue;
      sink.message(from, it->header);
      ++mStats.headersResent;
      return;
    }
    return;
  }
  mHeld.clear();
  if (nack.indices().empty()) {
    // Nothing of it came: all we hold, and the rest as it lands.
    mStore.follow(key, from, mHeld);
    for (const std::string* d : mHeld) sink.send(from, *d, true);
    mStats.resent += mHeld.size();
    return;
  }
  bool lacking = false;
  for (std::uint32_t i : nack.indices()) {
    const std::string* d = i <= 0xFFFF ? mStore.datagram(key, static_cast<std::uint16_t>(i)) : nullptr;
    if (d == nullptr) {
      lacking = true;
      continue;
    }
    sink.send(from, *d, true);
    ++mStats.resent;
  }
  // What we miss ourselves goes to it as it lands.
  if (lacking) mStore.follow(key, from, mHeld);
}

void CutThrough::askHeaders(std::int64_t nowUs, const Sink& sink) {
  for (auto it = mHeadless.begin(); it != mHeadless.end();) {
    Headless& h = it->second;
    // Its body gone, or asked enough. (A header that comes takes the entry
    // out: onHeader.)
    if (mStore.lastUs(it->first) < 0 || h.asks >= mConfig.maxNacks) {
      it = mHeadless.erase(it);
      continue;
    }
    if (nowUs - h.sinceUs >= mConfig.stallUs && (h.asks == 0 || nowUs - h.lastAskUs >= mConfig.nackRepeatUs)) {
      v1::PeerMessage ask;
      auto* n = ask.mutable_nack();
      n->set_body(true);
      n->set_header(true);
      n->set_channel(it->first.channel);
      n->set_seq(it->first.seq);
      h.lastAskUs = nowUs;
      ++h.asks;
      ++mStats.headersAsked;
      sink.message(h.from, ask);
    }
    ++it;
  }
}

void CutThrough::onTick(std::int64_t nowUs, const Sink& sink) {
  mFailed.clear();
  mStore.expire(nowUs, mFailed);
  // A chunk's headers are in its entry in the order sent, as mSentOrder has
  // them all: the oldest of all is the first of its chunk's.
  while (!mSentOrder.empty()) {
    auto it = mSent.find(mSentOrder.front());
    if (it != mSent.end()) {
      if (nowUs - it->second.front().atUs <= mConfig.store.keepUs) break;
      it->second.erase(it->second.begin());
      if (it->second.empty()) mSent.erase(it);
    }
    mSentOrder.pop_front();
  }
  askHeaders(nowUs, sink);
  for (auto it = mComing.begin(); it != mComing.end();) {
    const BodyKey key = it->first;
    Coming& c = it->second;
    const std::int64_t last = mStore.lastUs(key);
    const bool gone = std::find(mFailed.begin(), mFailed.end(), key) != mFailed.end() ||
                      (last < 0 && nowUs - c.sinceUs > mConfig.store.timeoutUs);
    if (gone) {
      ++mStats.failed;
      sink.failed(c.from, key.channel, key.seq);
      it = mComing.erase(it);
      continue;
    }
    ++it;
    askMissing(key, c, nowUs, nowUs - std::max(last, c.sinceUs) >= mConfig.stallUs, sink);
  }
}

void CutThrough::askMissing(BodyKey key, Coming& c, std::int64_t nowUs, bool stalled, const Sink& sink) {
  if (c.nacks >= mConfig.maxNacks || (c.nacks > 0 && nowUs - c.lastNackUs < mConfig.nackRepeatUs)) return;
  mMissing.clear();
  mStore.missing(key, stalled, mMissing);
  // A gap (a later datagram came): what is missing below it; a stall, all
  // that is missing (everything, when nothing came).
  if (mMissing.empty() && !(stalled && mStore.lastUs(key) < 0)) return;
  v1::PeerMessage nack;
  auto* n = nack.mutable_nack();
  n->set_body(true);
  n->set_channel(key.channel);
  n->set_seq(key.seq);
  for (std::uint16_t i : mMissing) n->add_indices(i);
  c.lastNackUs = nowUs;
  ++c.nacks;
  mStats.nacked += mMissing.empty() ? 1 : mMissing.size();
  sink.message(c.from, nack);
}

}  // namespace partyhub::streamer
