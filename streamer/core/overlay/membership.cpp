#include "membership.hpp"

#include <algorithm>

namespace partyhub::streamer::overlay {

Membership::Membership(PeerId self, std::uint32_t selfUploadKbps, MembershipConfig config)
    : mSelf(self), mSelfUpload(selfUploadKbps), mConfig(config) {}

std::vector<std::pair<PeerId, Message>> Membership::join(const std::vector<PeerId>& bootstrap, std::int64_t nowUs) {
  std::vector<std::pair<PeerId, Message>> out;
  std::mt19937_64 none(0);
  mBootstrap.clear();
  for (PeerId b : bootstrap) {
    if (b == mSelf) continue;
    mBootstrap.push_back(b);
    mergeOne(Descriptor{b, 0, 0});
    mKnown[b].heardUs = nowUs;  // give it a full timeout to answer
    out.emplace_back(b, shuffleMessage(MsgType::kGossip, none, b, true));
  }
  mNextShuffleUs = nowUs + std::min(mConfig.periodUs, mConfig.joinRetryUs);
  return out;
}

void Membership::heard(PeerId from, std::int64_t nowUs, std::uint32_t uploadKbps) { (void)touch(from, nowUs, uploadKbps); }

Membership::Known& Membership::touch(PeerId from, std::int64_t nowUs, std::uint32_t uploadKbps) {
  mHeardAnyone = true;
  Known& k = mKnown[from];
  k.heardUs = nowUs;
  if (uploadKbps != 0) k.uploadKbps = uploadKbps;
  return k;
}

void Membership::expect(PeerId peer, std::int64_t nowUs) {
  auto it = mKnown.find(peer);
  if (it != mKnown.end() && it->second.heardUs == kNever) it->second.heardUs = nowUs;
}

void Membership::forget(PeerId peer) {
  mView.erase(std::remove_if(mView.begin(), mView.end(), [&](const Descriptor& d) { return d.id == peer; }),
              mView.end());
  auto it = mKnown.find(peer);
  if (it != mKnown.end()) it->second.heardUs = kNever;
}

void Membership::forgetSilent(std::int64_t nowUs) {
  // Every peer gossip ever named stayed, in every node: the whole overlay.
  // Out of the view, a peer never heard from is hearsay (gossip names it
  // again, with its upload, if it is still about); one heard from, its last
  // word is kept long after its timeout: gossip may bring a crashed peer
  // back into the view, and that time is what drops it again at once.
  for (auto it = mKnown.begin(); it != mKnown.end();) {
    const bool silent = it->second.heardUs == kNever || nowUs - it->second.heardUs > kForgetAfter * mConfig.peerTimeoutUs;
    const PeerId id = it->first;
    if (silent && std::none_of(mView.begin(), mView.end(), [id](const Descriptor& d) { return d.id == id; })) {
      it = mKnown.erase(it);
    } else {
      ++it;
    }
  }
}

std::uint32_t Membership::uploadOf(PeerId peer) const {
  auto it = mKnown.find(peer);
  return it == mKnown.end() ? 0 : it->second.uploadKbps;
}

void Membership::forgetTrade(PeerId peer) {
  auto it = mKnown.find(peer);
  if (it != mKnown.end()) it->second.tradedUs = kNever;
}

void Membership::traders(std::int64_t nowUs, std::vector<std::pair<std::int64_t, PeerId>>& aliveOnes,
                         std::vector<PeerId>& gone) {
  for (auto& [id, k] : mKnown) {
    if (k.tradedUs == kNever) continue;
    if (k.heardUs != kNever && nowUs - k.heardUs <= mConfig.peerTimeoutUs) {
      aliveOnes.emplace_back(k.tradedUs, id);
    } else {
      k.tradedUs = kNever;
      gone.push_back(id);
    }
  }
}

bool Membership::alive(PeerId peer, std::int64_t nowUs) const {
  auto it = mKnown.find(peer);
  return it != mKnown.end() && it->second.heardUs != kNever && nowUs - it->second.heardUs <= mConfig.peerTimeoutUs;
}

Message Membership::shuffleMessage(MsgType type, std::mt19937_64& rng, PeerId exclude, bool includeSelf) {
  Message m;
  m.type = type;
  m.uploadKbps = mSelfUpload;
  if (includeSelf) m.peers.push_back(Descriptor{mSelf, 0, mSelfUpload});
  std::vector<Descriptor> pool;
  for (const Descriptor& d : mView) {
    if (d.id != exclude) pool.push_back(d);
  }
  std::shuffle(pool.begin(), pool.end(), rng);
  for (const Descriptor& d : pool) {
    if (m.peers.size() >= mConfig.shuffleLength) break;
    m.peers.push_back(d);
  }
  return m;
}

void Membership::mergeOne(Descriptor d) {
  if (d.id == mSelf || d.id == 0) return;
  auto it = std::find_if(mView.begin(), mView.end(), [&](const Descriptor& v) { return v.id == d.id; });
  if (it != mView.end()) {
    it->age = std::min(it->age, d.age);
    if (d.uploadKbps != 0) it->uploadKbps = d.uploadKbps;
    return;
  }
  mView.push_back(d);
}

void Membership::merge(PeerId from, const std::vector<Descriptor>& incoming) {
  // What one message may add is bounded (any member may send anything): a
  // shuffle's worth of descriptors, and a peer's upload believed only from
  // the peer itself. Made-up peers claiming a large upload were otherwise
  // the first chosen as neighbours, and pushed to in vain.
  std::size_t taken = 0;
  for (Descriptor d : incoming) {
    if (d.id == mSelf || d.id == 0) continue;
    if (++taken > mConfig.shuffleLength) break;
    Known& k = mKnown[d.id];
    if (d.id == from && d.uploadKbps != 0) k.uploadKbps = d.uploadKbps;
    d.uploadKbps = k.uploadKbps;
    mergeOne(d);
  }
  trimView();
}

void Membership::trimView() {
  // Keep the youngest entries: old ones are likelier to be gone.
  if (mView.size() > mConfig.viewSize) {
    // A stable sort by age, by insertion: the view is sorted but for the few
    // entries a merge appended or made younger, so this is near-linear and
    // allocates nothing (std::stable_sort's buffer and merges were 3 % of
    // the simulator's instructions).
    for (std::size_t i = 1; i < mView.size(); ++i) {
      const Descriptor d = mView[i];
      std::size_t j = i;
      for (; j > 0 && d.age < mView[j - 1].age; --j) mView[j] = mView[j - 1];
      mView[j] = d;
    }
    mView.resize(mConfig.viewSize);
  }
}

std::vector<std::pair<PeerId, Message>> Membership::onTick(std::int64_t nowUs, std::mt19937_64& rng) {
  std::vector<std::pair<PeerId, Message>> out;
  if (nowUs < mNextShuffleUs) return out;
  // Failure detection, once a period (timeouts are many periods long): drop
  // peers silent for too long.
  mView.erase(std::remove_if(mView.begin(), mView.end(),
                             [&](const Descriptor& d) {
                               auto it = mKnown.find(d.id);
                               return it != mKnown.end() && it->second.heardUs != kNever &&
                                      nowUs - it->second.heardUs > mConfig.peerTimeoutUs;
                             }),
              mView.end());
  forgetSilent(nowUs);
  // Until anyone has answered, the bootstrap peer may just not be up yet:
  // try again soon rather than a whole period later.
  mNextShuffleUs = nowUs + (mHeardAnyone ? mConfig.periodUs : std::min(mConfig.periodUs, mConfig.joinRetryUs));
  if (mView.empty()) {
    // Everyone we knew went silent (or never answered: a bootstrap peer
    // that is busy sheds its answers): the bootstrap peers again, each with
    // a full timeout, rather than an empty view for good.
    for (PeerId b : mBootstrap) {
      mergeOne(Descriptor{b, 0, 0});
      mKnown[b].heardUs = nowUs;
    }
    mNextShuffleUs = nowUs + std::min(mConfig.periodUs, mConfig.joinRetryUs);
    if (mView.empty()) return out;
  }
  for (Descriptor& d : mView) ++d.age;
  auto oldest = std::max_element(mView.begin(), mView.end(),
                                 [](const Descriptor& a, const Descriptor& b) { return a.age < b.age; });
  const PeerId target = oldest->id;
  Known& t = mKnown[target];
  if (t.heardUs == kNever) t.heardUs = nowUs;
  out.emplace_back(target, shuffleMessage(MsgType::kGossip, rng, target, true));
  return out;
}

std::vector<std::pair<PeerId, Message>> Membership::onMessage(PeerId from, const Message& m, std::int64_t nowUs,
                                                              std::mt19937_64& rng) {
  std::vector<std::pair<PeerId, Message>> out;
  const Known& k = touch(from, nowUs, m.uploadKbps);  // valid until mKnown grows (merge may add peers)
  switch (m.type) {
    case MsgType::kGossip:
      out.emplace_back(from, shuffleMessage(MsgType::kGossipReply, rng, from, true));
      merge(from, m.peers);
      break;
    case MsgType::kGossipReply: merge(from, m.peers); break;
    case MsgType::kLeave: forget(from); break;
    default:
      // A peer that trades with us is alive: into the view, young.
      mergeOne(Descriptor{from, 0, k.uploadKbps});
      trimView();
      break;
  }
  return out;
}

}  // namespace partyhub::streamer::overlay
