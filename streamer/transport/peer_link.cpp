#include "transport/peer_link.hpp"

#include <random>

#include "core/chunk_body.hpp"
#include "partyhub/common/clock.hpp"

namespace partyhub::streamer {

PeerLink::PeerLink(UdpSocket& udp, EventLoop& loop, std::unique_ptr<LinkEmulator> emulator)
    : mUdp(udp), mEmulator(std::move(emulator)),
      mNextMsgId(static_cast<std::uint16_t>(std::random_device{}())) {
  if (mEmulator) {
    mEmulatorAlarm = loop.addAlarm([this] {
      mEmulatorArmedForUs = -1;
      mDue.clear();
      const std::int64_t now = wallNowUs();
      mEmulator->due(now, mDue);
      for (const auto& [peer, d] : mDue) sendNow(peer, d);
      armEmulator(now);
    });
  }
}

void PeerLink::drain(const std::function<void(PeerId from, std::string_view datagram)>& onDatagram) {
  mUdp.drain([&](PeerId from, std::string_view datagram) {
    ++mDatagramsIn;
    mBytesIn += datagram.size();
    onDatagram(from, datagram);
  });
}

bool PeerLink::receive(PeerId from, std::string_view datagram, std::int64_t nowUs, v1::PeerMessage& out) {
  auto message = mReassembler.onDatagram(from, datagram, nowUs);
  if (mReassembler.gaps() > 0) requestFragments(nowUs);
  if (!message) return false;
  if (!out.ParseFromString(*message)) {
    ++mMalformed;
    return false;
  }
  return true;
}

void PeerLink::send(std::span<const PeerId> peers, const v1::PeerMessage& m, std::int64_t nowUs) {
  mScratch.clear();
  const std::uint16_t id = mNextMsgId++;
  if (!fragment(m.SerializeAsString(), id, mScratch)) {
    ++mSendErrors;
    return;
  }
  std::size_t framed = 0;
  for (const std::string& d : mScratch) framed += d.size();
  mTraffic.sent(m, framed, peers.size());
  for (PeerId peer : peers) {
    for (const std::string& d : mScratch) transmit(peer, d, nowUs);
  }
  mSent.remember(id, std::move(mScratch), nowUs);
}

void PeerLink::sendBody(PeerId to, std::string_view datagram, std::int64_t nowUs) {
  mTraffic.sentBody(datagram.size(), kBodyHeader);
  transmit(to, datagram, nowUs);
}

std::size_t PeerLink::resend(PeerId to, const v1::FragmentNack& nack, std::int64_t nowUs) {
  std::size_t bytes = 0;
  for (std::uint32_t i : nack.indices()) {
    if (i > 0xFFFF) continue;
    const std::string* d = mSent.find(nack.msg_id(), static_cast<std::uint16_t>(i));
    if (d == nullptr) continue;
    ++mFragmentsResent;
    mTraffic.sentDatagram("resent", d->size());
    transmit(to, *d, nowUs);
    bytes += d->size();
  }
  return bytes;
}

void PeerLink::requestFragments(std::int64_t nowUs) {
  mNacks.clear();
  mReassembler.takeNacks(nowUs, mNacks);
  for (const FragmentNack& n : mNacks) {
    v1::PeerMessage out;
    out.mutable_nack()->set_msg_id(n.msgId);
    for (std::uint16_t i : n.indices) out.mutable_nack()->add_indices(i);
    // Not kept for repair: a lost NACK is asked again by the stall, not answered.
    mScratch.clear();
    if (!fragment(out.SerializeAsString(), mNextMsgId++, mScratch)) continue;
    for (const std::string& d : mScratch) {
      mTraffic.sentDatagram("nack", d.size());
      transmit(n.sender, d, nowUs);
    }
  }
}

void PeerLink::transmit(PeerId to, std::string_view datagram, std::int64_t nowUs) {
  if (!mEmulator) {
    sendNow(to, datagram);
    return;
  }
  (void)mEmulator->submit(to, std::string(datagram), nowUs);  // drops are counted there
  armEmulator(nowUs);
}

void PeerLink::sendNow(PeerId to, std::string_view datagram) {
  if (mUdp.sendTo(to, datagram)) {
    ++mDatagramsOut;
    mBytesOut += datagram.size();
  } else {
    ++mSendErrors;
  }
}

void PeerLink::armEmulator(std::int64_t nowUs) {
  if (mEmulator->idle()) return;
  const std::int64_t due = mEmulator->nextDueUs();
  // The queue is in due order, so a datagram submitted behind others is due
  // no sooner: the alarm is set again only when it would fire later.
  if (mEmulatorArmedForUs >= 0 && mEmulatorArmedForUs <= due) return;
  mEmulatorArmedForUs = due;
  mEmulatorAlarm->in(due - nowUs);
}

void PeerLink::fill(v1::StreamerStats& s) const {
  const ReassemblyStats& f = mReassembler.stats();
  s.set_datagrams_in(mDatagramsIn);
  s.set_datagrams_out(mDatagramsOut);
  s.set_bytes_in(mBytesIn);
  s.set_bytes_out(mBytesOut);
  s.set_datagrams_garbage(f.garbage);
  s.set_messages_malformed(mMalformed);
  s.set_fragments_duplicate(f.duplicates);
  s.set_messages_incomplete_expired(f.expired);
  s.set_messages_evicted(f.evicted);
  s.set_send_errors(mSendErrors);
  s.set_fragments_nacked(f.nacked);
  s.set_fragments_resent(mFragmentsResent);
  mTraffic.fill(s);
  if (mEmulator) s.set_emulation_dropped(mEmulator->stats().lost + mEmulator->stats().overflow);
}

}  // namespace partyhub::streamer
