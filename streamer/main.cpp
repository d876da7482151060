// partyhub-streamer: one node of a channel's P2P overlay. Takes chunks from a
// local source (when it is the channel's source streamer), exchanges them with
// peer streamers over UDP, and serves any number of local players.
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <map>
#include <random>
#include <span>

#include <CLI/CLI.hpp>

#include "core/bundle.hpp"
#include "core/fragmenter.hpp"
#include "core/relay.hpp"
#include "options.hpp"
#include "partyhub/common/clock.hpp"
#include "partyhub/common/event_loop.hpp"
#include "partyhub/common/logging.hpp"
#include "partyhub/common/process.hpp"
#include "partyhub/common/run_options.hpp"
#include "partyhub/common/zmq_util.hpp"
#include "partyhub/v1/local.pb.h"
#include "transport/cut_through.hpp"
#include "transport/overlay_adapter.hpp"
#include "transport/peer_link.hpp"
#include "transport/shared_overlay.hpp"

using namespace partyhub;
using namespace partyhub::streamer;

namespace {

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}


class StreamerApp {
 public:
  StreamerApp(const Options& o, RelayConfig relayConfig, std::optional<OverlayAdapterConfig> overlayConfig)
      : mOptions(o), mLog(logger("streamer")), mUdp(o.listen),
        mLink(mUdp, mLoop,
              o.emulation.enabled() ? std::make_unique<LinkEmulator>(o.emulation, static_cast<std::uint64_t>(wallNowUs()))
                                    : nullptr),
        mRelay(std::move(relayConfig)), mPlayers(mCtx, zmq::socket_type::router) {
    if (overlayConfig) {
      const PeerId self = resolvePeer(o.listen);
      if ((self >> 16) == 0) throw std::invalid_argument("--overlay needs a concrete --listen address (peers gossip it)");
      const std::uint64_t seed = self ^ static_cast<PeerId>(wallNowUs());
      if (o.shared) {
        SharedOverlayConfig sc;
        sc.ownChannel = o.sourceEndpoint.empty() ? 0 : o.channel;
        sc.own = overlayConfig->node;
        sc.relay = overlayConfig->node;
        if (o.relayUploadKbps > 0) sc.relay.uploadKbps = o.relayUploadKbps;
        sc.bootstrap = overlayConfig->bootstrap;
        sc.membership = overlayConfig->node.membership;
        sc.uploadKbps = o.uploadKbps;
        sc.keyframeRequestGapUs = overlayConfig->keyframeRequestGapUs;
        mOverlay = std::make_unique<SharedOverlay>(self, std::move(sc), seed);
      } else {
        mOverlay = std::make_unique<OverlayAdapter>(self, std::move(*overlayConfig), seed);
      }
    }
    mCutSink.send = [this](PeerId to, std::string_view d, bool resent) {
      const std::int64_t now = wallNowUs();
      mLink.sendBody(to, d, now);
      if (resent) mOverlay->chargeUplink(d.size(), now);  // the pacer counts it as sent
    };
    mCutSink.message = [this](PeerId to, const v1::PeerMessage& m) { mLink.send({&to, 1}, m, wallNowUs()); };
    mCutSink.complete = [this](PeerId from, v1::PeerMessage&& m) {
      mOverlay->onChunkComplete(from, std::move(m), wallNowUs(), mActions);
    };
    mCutSink.failed = [this](PeerId from, std::uint32_t channel, std::uint64_t seq) {
      mOverlay->onChunkFailed(from, channel, seq, wallNowUs(), mActions);
    };
    mPlayers.set(zmq::sockopt::linger, 0);
    mPlayers.set(zmq::sockopt::sndhwm, 2000);
    bindOrThrow(mPlayers, o.playersEndpoint);
    if (!o.sourceEndpoint.empty()) {
      mSource.emplace(mCtx, zmq::socket_type::router);
      mSource->set(zmq::sockopt::linger, 0);
      bindOrThrow(*mSource, o.sourceEndpoint);
    }
  }

  int run() {
    mLoop.addFd(mUdp.fd(), [this] { onUdp(); });
    auto playersWatch = mLoop.addZmq(mPlayers, [this] { onPlayerMessage(); });
    mPlayersWatch = playersWatch.get();
    std::unique_ptr<EventLoop::ZmqWatch> sourceWatch;
    if (mSource) {
      sourceWatch = mLoop.addZmq(*mSource, [this] { onSourceMessage(); });
      mSourceWatch = sourceWatch.get();
    }
    mLoop.addTimer(std::chrono::milliseconds(100), [this] {
      housekeeping(wallNowUs());
      return true;
    });
    if (mOverlay) {
      // The core's clock (gossip, buffer-map batches, acks, pulls, repushes):
      // an alarm at the core's next piece of work, set again after every
      // event (see scheduleTick); the paced uplink wakes it sooner when it
      // drains (armUplink). A regular 10 ms tick, as the simulator's, woke
      // each of a conference's many streamers 100 times a second, most of
      // them for nothing.
      mTickAlarm = mLoop.addAlarm([this] {
        const std::int64_t now = wallNowUs();
        mLastTickUs = now;
        if (mLink.partialMessages() > 0) mLink.requestFragments(now);
        mCut.onTick(now, mCutSink);  // body repairs, and bodies that failed
        mOverlay->onTick(now, mActions);
        apply();
      });
      mOverlay->start(wallNowUs(), mActions);
      apply();
    }
    scheduleRun(mLoop, mOptions.run, [this] { printStats(); });
    mLog->info("listening on UDP port {}, players at {}{}", mUdp.localPort(), mOptions.playersEndpoint,
               mSource ? ", source at " + mOptions.sourceEndpoint : std::string());
    mLoop.run();
    if (mOverlay) {
      mOverlay->stop(wallNowUs(), mActions);  // graceful leave
      apply();
    }
    printStats();
    mLog->info("stopped");
    return 0;
  }

 private:
  void onUdp() {
    const std::int64_t now = wallNowUs();
    mLink.drain([&](PeerId from, std::string_view datagram) {
      if (mOverlay && isBodyDatagram(datagram)) {  // cut-through: passed on as it lands
        mCut.onBodyDatagram(from, datagram, now, mCutSink);
        apply();
        return;
      }
      v1::PeerMessage msg;
      if (!mLink.receive(from, datagram, now, msg)) return;
      const std::int64_t firstArrival = mLink.firstArrivalUs();
      if (msg.has_bundle()) {
        for (v1::PeerMessage& inner : *msg.mutable_bundle()->mutable_messages()) {
          if (inner.has_bundle()) {
            mLink.countMalformed();  // bundles do not nest
            continue;
          }
          onPeerMessage(from, std::move(inner), now, firstArrival);
        }
      } else {
        onPeerMessage(from, std::move(msg), now, firstArrival);
      }
      apply();
    });
  }

  void onPeerMessage(PeerId from, v1::PeerMessage&& msg, std::int64_t now, std::int64_t firstArrival) {
    if (msg.has_nack() && msg.nack().body()) {
      if (mOverlay) mCut.onNack(from, msg.nack(), mCutSink);
    } else if (msg.has_nack()) {
      const std::size_t resent = mLink.resend(from, msg.nack(), now);
      if (mOverlay && resent > 0) mOverlay->chargeUplink(resent, now);  // the pacer counts it as sent
    } else if (mOverlay) {
      // A header whose body comes apart: the overlay hears of the chunk now
      // (or of it whole, if its body came first).
      if (msg.has_chunk() && msg.chunk().body_follows() &&
          mCut.onHeader(from, msg, now) == CutThrough::Header::kRefused) {
        return;
      }
      mOverlay->onPeerMessage(from, std::move(msg), now, mActions, firstArrival);
    } else {
      mRelay.onPeerMessage(from, msg, now, mActions);
    }
  }

  void onSourceMessage() {
    auto received = recvMessage(*mSource, true);
    if (!received) return;
    v1::SourceToStreamer msg;
    if (!msg.ParseFromString(received->body) || (!msg.has_chunk() && !msg.has_hello())) {
      ++mLocalMalformed;
      return;
    }
    const bool first = mSourceIds.empty();
    mSourceIds[received->routingId] = wallNowUs();
    if (first) {
      // What players asked of the source before it was up (a joiner's
      // keyframe request, most often): it is wanted still.
      for (const v1::Control& control : mHeldForSource) toSource(control);
      mHeldForSource.clear();
    }
    if (msg.has_chunk()) {
      if (mOverlay) {
        mOverlay->onLocalChunk(msg.chunk(), wallNowUs(), mActions);
      } else {
        mRelay.onLocalChunk(msg.chunk(), wallNowUs(), mActions);
      }
      apply();
    }
  }

  void onPlayerMessage() {
    auto received = recvMessage(mPlayers, true);
    if (!received) return;
    v1::PlayerToStreamer msg;
    if (!msg.ParseFromString(received->body) || msg.msg_case() == v1::PlayerToStreamer::MSG_NOT_SET) {
      ++mLocalMalformed;
      return;
    }
    const std::int64_t now = wallNowUs();
    switch (msg.msg_case()) {
      case v1::PlayerToStreamer::kSubscribe:
        if (mSubscribers.emplace(received->routingId, Subscriber{now, msg.subscribe().channel_id()}).second) {
          mLog->info("player '{}' subscribed (channel {})", msg.subscribe().name(), msg.subscribe().channel_id());
        } else {
          mSubscribers[received->routingId] = Subscriber{now, msg.subscribe().channel_id()};
        }
        break;
      case v1::PlayerToStreamer::kUnsubscribe: mSubscribers.erase(received->routingId); break;
      case v1::PlayerToStreamer::kControl:
        if (mOverlay) {
          auto sub = mSubscribers.find(received->routingId);
          mOverlay->onPlayerControl(sub == mSubscribers.end() ? 0 : sub->second.channel, msg.control(), now,
                                    mActions);
        } else {
          mRelay.onPlayerControl(msg.control(), now, mActions);
        }
        apply();
        break;
      case v1::PlayerToStreamer::kStatsRequest: {
        v1::StreamerToPlayer reply;
        *reply.mutable_stats() = stats();
        (void)sendProtoTo(mPlayers, received->routingId, reply);
        mPlayersWatch->poke();
        break;
      }
      default: break;
    }
  }

  // The overlay's paced uplink is backlogged: wake the core when it drains.
  void armUplink() {
    const std::int64_t waitUs = mOverlay->uplinkFreeAtUs() - wallNowUs();
    if (waitUs <= 0) return;
    armOnce(mUplinkArmed, waitUs, [this] {
      mOverlay->onUplinkFree(wallNowUs(), mActions);
      apply();
    });
  }

  // A one-shot timer `waitUs` from now (rounded up to the loop's
  // milliseconds), unless `armed` says one is pending already.
  void armOnce(bool& armed, std::int64_t waitUs, std::function<void()> fire) {
    if (armed) return;
    armed = true;
    const auto ms = std::chrono::milliseconds((std::max<std::int64_t>(0, waitUs) + 999) / 1000);
    mLoop.addTimer(ms, [&armed, fire = std::move(fire)] {
      armed = false;
      fire();
      return false;
    });
  }

  void apply() {
    const std::int64_t now = wallNowUs();
    if (mOverlay) {
      // Chunk copies as a header and body datagrams (--cut-through, or a
      // chunk still coming to us), before the small messages are bundled.
      std::erase_if(mActions.toPeers, [&](RelayActions::Send& send) {
        return send.message.has_chunk() && mCut.send(send.message, send.peers, mOptions.cutThrough, now, mCutSink);
      });
    }
    bundleSmallMessages(mActions.toPeers, 256, kMaxSinglePayload);
    for (const auto& send : mActions.toPeers) mLink.send(send.peers, send.message, now);
    if (mOverlay) armUplink();
    if (!mActions.toPlayers.empty() && !mSubscribers.empty()) {
      // A streamer of several channels serves each player the channel it
      // subscribed to (0: all); one of a single channel serves every player.
      const bool filter = mOverlay && mOverlay->carriesSeveralChannels();
      for (v1::Chunk& chunk : mActions.toPlayers) {
        v1::StreamerToPlayer out;
        out.set_allocated_chunk(&chunk);
        const std::string bytes = out.SerializeAsString();
        (void)out.release_chunk();
        for (const auto& [id, sub] : mSubscribers) {
          if (filter && sub.channel != 0 && sub.channel != chunk.channel_id()) continue;
          if (!sendBytesTo(mPlayers, id, bytes)) continue;
          if (mChunksToPlayers++ == 0) {
            mLog->debug("first chunk to players: channel {} seq {}, {:.1f} ms after capture", chunk.channel_id(),
                        chunk.seq(), static_cast<double>(now - chunk.capture_us()) / 1000.0);
          }
        }
      }
      mPlayersWatch->poke();
    }
    if (mSource) {
      for (const v1::Control& control : mActions.toSource) toSource(control);
    }
    mActions.clear();
    scheduleTick(now);
  }

  // The alarm for the core's next tick; at least a millisecond after the
  // last one (a core whose work stays due cannot spin the loop), and every
  // 10 ms while fragmented messages wait for their missing pieces.
  void scheduleTick(std::int64_t now) {
    if (!mTickAlarm) return;
    std::int64_t due = mOverlay->nextTickUs();
    if (mLink.partialMessages() > 0 || mCut.coming() > 0) {
      due = std::min(due, mLastTickUs + overlay::Scheduler::kRegularTickUs);
    }
    due = std::max(due, mLastTickUs + 1'000);
    mTickAlarm->in(due - now);
  }

  // A control for our source, held until the source has spoken when it is
  // not up yet (its socket's address is learnt from its first message).
  void toSource(const v1::Control& control) {
    if (mSourceIds.empty()) {
      if (mHeldForSource.size() < kMaxHeldForSource) mHeldForSource.push_back(control);
      return;
    }
    v1::StreamerToSource out;
    *out.mutable_control() = control;
    for (const auto& [id, seen] : mSourceIds) (void)sendProtoTo(*mSource, id, out);
    mSourceWatch->poke();
  }

  void housekeeping(std::int64_t now) {
    mLink.expire(now);
    if (!mOverlay && mLink.partialMessages() > 0) mLink.requestFragments(now);  // the overlay tick does it otherwise
    for (auto it = mSubscribers.begin(); it != mSubscribers.end();) {
      if (now - it->second.seenUs > 3'000'000) {
        mLog->info("player gone (no renewal for 3 s)");
        it = mSubscribers.erase(it);
      } else {
        ++it;
      }
    }
  }

  v1::Stats stats() const {
    v1::Stats out;
    out.set_wall_us(wallNowUs());
    auto* s = out.mutable_streamer();
    const auto& r = mOverlay ? mOverlay->stats() : mRelay.stats();
    s->set_name(mOptions.name);
    s->set_chunks_from_source(r.chunksFromSource);
    s->set_chunks_from_peers(r.chunksFromPeers);
    s->set_chunks_duplicate(r.duplicates);
    s->set_chunks_to_peers(r.chunksToPeers);
    s->set_chunks_to_players(mChunksToPlayers);
    s->set_local_malformed(mLocalMalformed);
    s->set_players(static_cast<std::uint32_t>(mSubscribers.size()));
    s->set_peers(static_cast<std::uint32_t>(mOverlay ? mOverlay->knownPeers() : mRelay.knownPeers()));
    s->set_keyframe_requests_forwarded(r.keyframeRequestsForwarded);
    s->set_overlay_restarts(r.restarts);
    s->set_repushes(r.repushes);
    s->set_late_acks(r.lateAcks);
    s->set_answers_shed(r.answersShed);
    s->set_implausible_seqs(r.implausibleSeqs);
    s->set_requests_refused(r.requestsRefused);
    s->set_upload_budget_kbps(r.uploadBudgetKbps);
    s->set_tree_parent_changes(r.treeParentChanges);
    s->set_tree_orphaned(r.treeOrphaned);
    s->set_tree_refused(r.treeRefused);
    s->set_tree_displaced(r.treeDisplaced);
    s->set_tree_backfilled(r.treeBackfilled);
    s->set_tree_reasked(r.treeReasked);
    s->set_tree_stale_parents(r.treeStaleParents);
    s->set_tree_home_moves(r.treeHomeMoves);
    s->set_channels(mOverlay ? r.channels : 1);
    const CutThroughStats& cut = mCut.stats();
    s->set_cut_headers(cut.headers);
    s->set_cut_relayed(cut.relayed);
    s->set_cut_completed(cut.completed);
    s->set_cut_failed(cut.failed);
    s->set_cut_nacked(cut.nacked);
    s->set_cut_resent(cut.resent);
    s->set_body_garbage(mCut.bodyStats().garbage);
    s->set_cut_refused(cut.refused);
    s->set_cut_unsendable(cut.unsendable);
    s->set_cut_headers_asked(cut.headersAsked);
    s->set_cut_headers_resent(cut.headersResent);
    mLink.fill(*s);
    s->set_cpu_us(cpuTimeUs());
    *s->mutable_overlay_delay() = r.overlayDelay.summary();
    return out;
  }

  void printStats() {
    const v1::Stats s = stats();
    if (mOptions.run.statsJson) {
      std::cout << toJsonLine(s) << std::endl;
      return;
    }
    const auto& st = s.streamer();
    mLog->info("chunks src {} peers {} dup {} -> peers {} players {} | garbage {} malformed {} | players {}",
               st.chunks_from_source(), st.chunks_from_peers(), st.chunks_duplicate(), st.chunks_to_peers(),
               st.chunks_to_players(), st.datagrams_garbage(), st.messages_malformed() + st.local_malformed(),
               st.players());
  }

  const Options& mOptions;
  std::shared_ptr<spdlog::logger> mLog;
  EventLoop mLoop;
  zmq::context_t mCtx{1};
  UdpSocket mUdp;
  PeerLink mLink;  // framing, fragment repair and the emulated link over mUdp
  Relay mRelay;
  std::unique_ptr<StreamerOverlay> mOverlay;
  CutThrough mCut;  // chunk copies as a header and body datagrams (cut-through forwarding)
  CutThrough::Sink mCutSink;
  RelayActions mActions;
  zmq::socket_t mPlayers;
  std::optional<zmq::socket_t> mSource;
  EventLoop::ZmqWatch* mPlayersWatch = nullptr;
  EventLoop::ZmqWatch* mSourceWatch = nullptr;
  struct Subscriber {
    std::int64_t seenUs;    // last renewal
    std::uint32_t channel;  // what it subscribed to (a streamer of several channels filters)
  };
  std::map<std::string, Subscriber> mSubscribers;  // by routing id
  std::map<std::string, std::int64_t> mSourceIds;
  static constexpr std::size_t kMaxHeldForSource = 16;
  std::vector<v1::Control> mHeldForSource;
  bool mUplinkArmed = false;
  std::unique_ptr<EventLoop::Alarm> mTickAlarm;  // the overlay core's tick
  std::int64_t mLastTickUs = 0;
  std::uint64_t mLocalMalformed = 0, mChunksToPlayers = 0;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"partyhub-streamer: one node of a PartyHub P2P overlay"};
  addOptions(app, o);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (o.shared && o.overlay.empty()) {
    std::cerr << "partyhub-streamer: --shared needs --overlay (push | offer-accept | tree)\n";
    return static_cast<int>(ExitCode::kUsage);
  }
  if (o.shared && o.channel == 0) {
    std::cerr << "partyhub-streamer: --shared: channel 0 is the signalling overlay's; choose another --channel\n";
    return static_cast<int>(ExitCode::kUsage);
  }
  setupLogging(o.run.logLevel, "streamer[" + o.name + "]");
  RelayConfig rc;
  rc.isSource = !o.sourceEndpoint.empty();
  rc.channelId = o.channel;
  try {
    for (const std::string& p : o.peers) rc.peers.push_back(resolvePeer(p));
  } catch (const std::exception& e) {
    std::cerr << "partyhub-streamer: --peer: " << e.what() << "\n";
    return static_cast<int>(ExitCode::kUsage);
  }
  logger("streamer")->info("name={} listen={} peers={} source={} players={} channel={}", o.name, o.listen,
                           o.peers.size(), o.sourceEndpoint.empty() ? "-" : o.sourceEndpoint,
                           o.playersEndpoint, o.channel);
  std::optional<OverlayAdapterConfig> oc;
  if (!o.overlay.empty()) {
    oc.emplace();
    oc->channelId = o.channel;
    oc->node.scheduler = o.overlay;
    oc->node.isSource = rc.isSource;
    oc->node.uploadKbps = o.uploadKbps;
    oc->node.estimateUpload = o.estimateUpload;
    oc->node.sourceCopies = o.sourceCopies;
    oc->node.overlaySizeHint = o.overlaySize;
    oc->node.neighbours = o.neighbours;
    oc->node.pullAfterUs = static_cast<std::int64_t>(o.pullAfterMs * 1000);
    if (!o.altoNetworkMap.empty()) {
      try {
        oc->node.alto = std::make_shared<const overlay::AltoCostMap>(
            overlay::AltoCostMap::parse(readFile(o.altoNetworkMap), readFile(o.altoCostMap)));
      } catch (const std::exception& e) {
        std::cerr << "partyhub-streamer: " << e.what() << "\n";
        return static_cast<int>(ExitCode::kUsage);
      }
      logger("streamer")->info("ALTO: {} PIDs in the cost map", oc->node.alto->pids());
    }
    try {
      for (const std::string& b : o.bootstrap) oc->bootstrap.push_back(resolvePeer(b));
    } catch (const std::exception& e) {
      std::cerr << "partyhub-streamer: --bootstrap: " << e.what() << "\n";
      return static_cast<int>(ExitCode::kUsage);
    }
  }
  try {
    StreamerApp appInstance(o, rc, std::move(oc));
    return appInstance.run();
  } catch (const std::invalid_argument& e) {
    std::cerr << "partyhub-streamer: " << e.what() << "\n";
    return static_cast<int>(ExitCode::kUsage);
  } catch (const std::exception& e) {
    std::cerr << "partyhub-streamer: " << e.what() << "\n";
    return static_cast<int>(ExitCode::kStartup);
  }
}
