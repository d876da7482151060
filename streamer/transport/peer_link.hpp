// The streamer's datagram path to its peers: UDP, with the link emulator in
// between when a test asks for one (--emulate-*). A message goes out framed
// into datagrams (fragmenter.hpp), which are kept a while for fragment
// repair; incoming datagrams are reassembled into messages, the fragments a
// stalled or gapped message misses are asked of its sender (a NACK), and a
// peer's NACK is answered from what we kept. A cut-through body's datagrams
// (chunk_body.hpp) go out as they are. Counts what goes in and out for the
// streamer's statistics.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/fragmenter.hpp"
#include "partyhub/common/event_loop.hpp"
#include "partyhub/v1/peer.pb.h"
#include "partyhub/v1/stats.pb.h"
#include "transport/link_emulator.hpp"
#include "transport/traffic_counts.hpp"
#include "transport/udp_socket.hpp"

namespace partyhub::streamer {

class PeerLink {
 public:
  /// `emulator`: null for the plain socket. The loop times the emulated
  /// link's deliveries.
  PeerLink(UdpSocket& udp, EventLoop& loop, std::unique_ptr<LinkEmulator> emulator);
  PeerLink(const PeerLink&) = delete;
  PeerLink& operator=(const PeerLink&) = delete;

  /// Reads every datagram waiting on the socket and hands each to `onDatagram`.
  void drain(const std::function<void(PeerId from, std::string_view datagram)>& onDatagram);

  /// A datagram that is no body's: true when it completes a message, then in
  /// `out` (and firstArrivalUs() is its first datagram's arrival). A message
  /// that does not parse is counted (messages_malformed) and dropped.
  bool receive(PeerId from, std::string_view datagram, std::int64_t nowUs, v1::PeerMessage& out);
  [[nodiscard]] std::int64_t firstArrivalUs() const { return mReassembler.firstArrivalUs(); }
  /// Counts a message that parsed but breaks the protocol (a nested bundle).
  void countMalformed() { ++mMalformed; }

  /// `m` framed and sent to each of `peers`, its datagrams kept for repair.
  void send(std::span<const PeerId> peers, const v1::PeerMessage& m, std::int64_t nowUs);
  /// A body datagram (cut-through), sent as it is.
  void sendBody(PeerId to, std::string_view datagram, std::int64_t nowUs);

  /// Answers a peer's NACK with the fragments we kept; the bytes resent
  /// (for the overlay's pacer: they took the uplink).
  std::size_t resend(PeerId to, const v1::FragmentNack& nack, std::int64_t nowUs);
  /// Asks the senders of stalled or gapped messages for what is missing.
  void requestFragments(std::int64_t nowUs);
  /// Messages waiting for fragments (while any, the caller ticks at least every 10 ms).
  [[nodiscard]] std::size_t partialMessages() const { return mReassembler.partialMessages(); }
  /// Drops messages whose fragments stopped coming.
  void expire(std::int64_t nowUs) { mReassembler.expire(nowUs); }

  /// The datagram, byte, framing and traffic counts of the stats.
  void fill(v1::StreamerStats& s) const;

 private:
  void transmit(PeerId to, std::string_view datagram, std::int64_t nowUs);
  void sendNow(PeerId to, std::string_view datagram);
  /// The emulated link's alarm, for its next due datagram.
  void armEmulator(std::int64_t nowUs);

  UdpSocket& mUdp;
  std::unique_ptr<LinkEmulator> mEmulator;
  std::unique_ptr<EventLoop::Alarm> mEmulatorAlarm;
  std::int64_t mEmulatorArmedForUs = -1;  // the due time the alarm is set for (-1: none)
  std::vector<std::pair<PeerId, std::string>> mDue;
  Reassembler mReassembler;
  SentCache mSent;
  std::vector<FragmentNack> mNacks;
  std::vector<std::string> mScratch;
  // Random start: peers remember recent (sender, message id) pairs to drop
  // duplicates, so a streamer restarted on the same address must not reuse
  // the ids it sent before (its messages would be dropped for seconds).
  std::uint16_t mNextMsgId;
  TrafficCounts mTraffic;  // what we send peers, by message kind
  std::uint64_t mDatagramsIn = 0, mDatagramsOut = 0, mBytesIn = 0, mBytesOut = 0;
  std::uint64_t mMalformed = 0, mSendErrors = 0, mFragmentsResent = 0;
};

}  // namespace partyhub::streamer
