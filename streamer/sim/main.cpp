// partyhub-sim: runs the streamer's overlay core with thousands of peers in
// one process, seeded and reproducible. Prints a table; --json writes results.
#include <cstdlib>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>
#include <unistd.h>

#include "simulator.hpp"

using namespace partyhub::streamer::sim;

int main(int argc, char** argv) {
  // Thousands of nodes' tables are far more memory than the TLB covers, and
  // each event touches another node: with the heap in transparent huge pages
  // (which this kernel gives on request only) the simulator runs ~10%
  // faster. glibc takes the request as a tunable read at start-up, so the
  // process starts itself again with it (and carries on without if it
  // cannot, or if the caller set tunables of its own). The heap is not
  // given back while the run lasts, nor grown in small steps: each new
  // huge page is zeroed by the kernel, and trimming then growing again
  // zeroed the same pages over (1-2 % of a run).
  if (std::getenv("GLIBC_TUNABLES") == nullptr) {
    setenv("GLIBC_TUNABLES",
           "glibc.malloc.hugetlb=1:glibc.malloc.trim_threshold=4294967295:glibc.malloc.top_pad=268435456", 1);
    execv("/proc/self/exe", argv);
    unsetenv("GLIBC_TUNABLES");
  }
  Scenario s;
  std::string json;
  CLI::App app{"partyhub-sim: the overlay core at scale, over a simulated network"};
  app.add_option("--peers", s.peers, "Peers besides the source")->check(CLI::Range(1, 100000));
  app.add_option("--seconds", s.seconds, "Simulated seconds")->check(CLI::Range(3.0, 3600.0));
  app.add_option("--warmup", s.warmupS, "Seconds before chunks are measured");
  app.add_option("--settled-from", s.settledS, "Chunks injected from this second on also make the settled delay");
  app.add_option("--scheduler", s.scheduler, "push | offer-accept | tree");
  app.add_option("--stripes", s.stripes, "The tree scheduler's stripes (one tree each)")->check(CLI::Range(1, 64));
  app.add_option("--tree-utilisation", s.treeUtilisation, "Share of a peer's upload its tree children may take")
      ->check(CLI::Range(0.1, 1.0));
  app.add_option("--seed", s.seed);
  app.add_option("--chunk-rate", s.chunkRate, "Chunks per second");
  app.add_option("--stream-kbps", s.streamKbps);
  app.add_option("--upload-mean", s.uploadMeanX, "Mean upload capacity, in stream rates");
  app.add_option("--poor-fraction", s.poorFraction, "Share of peers with poor upload");
  app.add_option("--poor-upload", s.poorX, "Their upload, in stream rates");
  app.add_option("--source-upload", s.sourceUploadX, "The source's upload, in stream rates");
  app.add_option("--latency-min-ms", s.latencyMinMs);
  app.add_option("--latency-max-ms", s.latencyMaxMs);
  app.add_option("--loss", s.loss, "Datagram loss probability")->check(CLI::Range(0.0, 0.5));
  app.add_flag("!--no-fragment-repair", s.fragmentRepair,
               "Lost fragments of a message of several are not asked for again (the streamer asks)");
  app.add_option("--churn", s.churnPerMin, "Share of peers leaving (and as many joining) per minute");
  app.add_option("--source-copies", s.sourceCopies);
  app.add_option("--neighbours", s.neighbours);
  app.add_option("--close-share", s.closeShare, "Share of the chosen neighbours that are the closest found (by RTT)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--tick-ms", s.tickMs, "Each peer's tick period")->check(CLI::Range(1.0, 100.0));
  app.add_option("--max-queue-delay-ms", s.maxQueueDelayMs, "Queueing delay a peer lets its uplink hold (the streamer's is 4)")
      ->check(CLI::Range(0.0, 100.0));
  app.add_option("--have-broadcast-ms", s.haveBroadcastMs, "Buffer maps to all neighbours at most this often (acks every tick)");
  app.add_option("--pull-after-ms", s.pullAfterMs, "A chunk a neighbour has is pulled after this");
  app.add_flag("--cut-through,!--store-and-forward", s.cutThrough,
               "Relays pass a chunk's datagrams on as they land, as the streamer does (the default), or store "
               "and forward whole chunks");
  app.add_option("--overlay-size-x", s.overlaySizeX, "The source's push budget, in group sizes");
  app.add_option("--json", json, "Write the result as JSON here");
  bool timeline = false;
  app.add_flag("--timeline", timeline, "Print delivery and delay per second of injections, warm-up included");
  CLI11_PARSE(app, argc, argv);
  Result r;
  try {
    r = run(s);
  } catch (const std::exception& e) {
    std::cerr << "partyhub-sim: " << e.what() << "\n";
    return 2;
  }
  std::cout << "peers " << r.peers << " scheduler " << s.scheduler << " seed " << s.seed << "\n"
            << "  delivery within 1 s: min " << r.minDeliveryRatio1s << " mean " << r.meanDeliveryRatio1s
            << " (" << r.survivors << " peers measured)\n"
            << "  delay ms: p50 " << r.delay.percentileMs(0.5) << " p95 " << r.delay.percentileMs(0.95) << " p99 "
            << r.delay.percentileMs(0.99) << " max " << r.delay.maxMs() << "\n"
            << "  lower bound " << r.lowerBoundMs << " ms (chunk upload " << r.chunkUploadMs << " ms), p99/bound "
            << r.delay.percentileMs(0.99) / r.lowerBoundMs << "; for cut-through relays " << r.lowerBoundCutThroughMs
            << " ms, p99/bound " << r.delay.percentileMs(0.99) / r.lowerBoundCutThroughMs << "\n"
            << "  settled (chunks injected from " << s.settledS << " s on): p50 " << r.settledDelay.percentileMs(0.5)
            << " p99 " << r.settledDelay.percentileMs(0.99) << " ms, p99/bound "
            << r.settledDelay.percentileMs(0.99) / r.lowerBoundMs << "\n"
            << "  pulled " << r.pulledShare << " of receptions; by push alone p50 " << r.pushedDelay.percentileMs(0.5)
            << " p99 " << r.pushedDelay.percentileMs(0.99) << " ms\n"
            << "  hops mean " << r.meanHops << " max " << r.maxHops << ", duplicates " << r.duplicateRatio
            << ", signalling overhead " << r.signallingOverhead << ", upload use " << r.meanUploadUse << "\n"
            << "  chunks sent " << r.chunksSent << " received " << r.received << " requests " << r.requests
            << " stale dropped " << r.staleDropped << " repushes " << r.repushes << " fragment repairs "
            << r.fragmentRepairs << "\n"
            << "  per hop, ms: waits at the relay " << r.hop.firstCopyWaitMs << " (first copy), "
            << r.hop.laterCopyWaitMs << " (later copies), " << r.hop.answerWaitMs << " (pull answers); uplink queue "
            << r.hop.uplinkQueueMs << ", transmission " << r.hop.transmissionMs << ", latency " << r.hop.latencyMs
            << "\n";
  std::cout << "  from the delay's p50 / p90 / p99 on, mean hops and pulled share:";
  for (const double q : {0.5, 0.9, 0.99}) {
    const DelayBin b = r.tail.from(r.delay.percentileMs(q));
    std::cout << (q == 0.5 ? " " : " / ") << b.meanHops() << " " << b.pulledShare();
  }
  std::cout << "\n  " << r.events << " events in " << r.wallS << " s wall\n";
  const std::size_t worst = std::min<std::size_t>(5, r.perPeer.size());
  if (worst > 0) std::cout << "  worst peers (delivery within 1 s, upload kbit/s, ms from the source, upload use, neighbours, pulls):\n";
  for (std::size_t i = 0; i < worst; ++i) {
    const PeerResult& p = r.perPeer[i];
    std::cout << "    #" << p.index << "  " << p.deliveryRatio1s << "  " << p.uploadKbps << "  " << p.latencyToSourceMs
              << "  " << p.uploadUse << "  " << p.neighbours << "  " << p.requests << "\n";
  }
  if (timeline) {
    std::cout << "  per second from the first chunk (delivery within 1 s, p50, p99, p99 of pushes ms, mean hops, pulled"
                 " share; tree: parent changes, orphaned, refused, displaced, home moves, stripes without a parent at its"
                 " end):\n";
    for (std::size_t i = 0; i < r.timeline.size(); ++i) {
      const Second& t = r.timeline[i];
      std::cout << "    " << i << "  " << t.deliveryRatio1s << "  " << t.p50Ms << "  " << t.p99Ms << "  " << t.pushedP99Ms
                << "  " << t.meanHops << "  " << t.pulledShare << "  " << t.parentChanges
                << " " << t.orphaned << " " << t.refused << " " << t.displaced << " " << t.homeMoves << " "
                << t.parentless << "\n";
    }
  }
  if (!json.empty()) {
    std::ofstream out(json);
    out << "{\"n_peers\":" << r.peers << ",\"scheduler\":\"" << s.scheduler << "\",\"seed\":" << s.seed
        << ",\"min_peer_delivery_ratio_1s\":" << r.minDeliveryRatio1s
        << ",\"mean_peer_delivery_ratio_1s\":" << r.meanDeliveryRatio1s << ",\"p50_delay_ms\":"
        << r.delay.percentileMs(0.5) << ",\"p95_delay_ms\":" << r.delay.percentileMs(0.95)
        << ",\"p99_delay_ms\":" << r.delay.percentileMs(0.99) << ",\"max_delay_ms\":" << r.delay.maxMs()
        << ",\"lower_bound_ms\":" << r.lowerBoundMs << ",\"ratio_to_bound\":"
        << r.delay.percentileMs(0.99) / r.lowerBoundMs << ",\"settled_from_s\":" << s.settledS
        << ",\"settled_p50_delay_ms\":" << r.settledDelay.percentileMs(0.5)
        << ",\"settled_p99_delay_ms\":" << r.settledDelay.percentileMs(0.99) << ",\"settled_ratio_to_bound\":"
        << r.settledDelay.percentileMs(0.99) / r.lowerBoundMs
        << ",\"lower_bound_cut_through_ms\":" << r.lowerBoundCutThroughMs
        << ",\"ratio_to_cut_through_bound\":" << r.delay.percentileMs(0.99) / r.lowerBoundCutThroughMs
        << ",\"settled_ratio_to_cut_through_bound\":" << r.settledDelay.percentileMs(0.99) / r.lowerBoundCutThroughMs
        << ",\"pulled_share\":" << r.pulledShare
        << ",\"pushed_p50_delay_ms\":" << r.pushedDelay.percentileMs(0.5)
        << ",\"pushed_p99_delay_ms\":" << r.pushedDelay.percentileMs(0.99) << ",\"mean_hops\":" << r.meanHops
        << ",\"duplicate_ratio\":" << r.duplicateRatio << ",\"signalling_overhead\":" << r.signallingOverhead
        << ",\"upload_use\":" << r.meanUploadUse << ",\"survivors\":" << r.survivors << ",\"sim_wall_s\":" << r.wallS
        << ",\"fragment_repairs\":" << r.fragmentRepairs << ",\"events\":" << r.events
        << ",\"per_hop_ms\":{\"first_copy_wait\":" << r.hop.firstCopyWaitMs << ",\"later_copy_wait\":"
        << r.hop.laterCopyWaitMs << ",\"pull_answer_wait\":" << r.hop.answerWaitMs << ",\"uplink_queue\":"
        << r.hop.uplinkQueueMs << ",\"transmission\":" << r.hop.transmissionMs << ",\"latency\":" << r.hop.latencyMs
        << "},\"by_delay\":[";
    // What the slow receptions have in common: from each delay on, their
    // share of all, mean hops and pulled share.
    const double all = static_cast<double>(std::max<std::uint64_t>(1, r.delay.count()));
    bool firstBand = true;
    for (const double q : {0.0, 0.5, 0.9, 0.99, 0.999}) {
      const double fromMs = q == 0 ? 0 : r.delay.percentileMs(q);
      const DelayBin b = r.tail.from(fromMs);
      out << (firstBand ? "" : ",") << "{\"from_quantile\":" << q << ",\"from_ms\":" << fromMs
          << ",\"share\":" << static_cast<double>(b.count) / all << ",\"mean_hops\":" << b.meanHops()
          << ",\"pulled_share\":" << b.pulledShare() << "}";
      firstBand = false;
    }
    out << "],\"timeline\":[";
    for (std::size_t i = 0; i < r.timeline.size(); ++i) {
      const Second& t = r.timeline[i];
      out << (i ? "," : "") << "{\"second\":" << i << ",\"delivery_ratio_1s\":" << t.deliveryRatio1s
          << ",\"p50_delay_ms\":" << t.p50Ms << ",\"p99_delay_ms\":" << t.p99Ms
          << ",\"pushed_p99_delay_ms\":" << t.pushedP99Ms << ",\"mean_hops\":" << t.meanHops
          << ",\"pulled_share\":" << t.pulledShare << ",\"tree_parent_changes\":"
          << t.parentChanges << ",\"tree_orphaned\":" << t.orphaned << ",\"tree_refused\":" << t.refused
          << ",\"tree_displaced\":" << t.displaced << ",\"tree_home_moves\":" << t.homeMoves << ",\"tree_parentless\":" << t.parentless << "}";
    }
    out << "],\"peers\":[";
    for (std::size_t i = 0; i < r.perPeer.size(); ++i) {
      const PeerResult& p = r.perPeer[i];
      out << (i ? "," : "") << "{\"peer\":" << p.index << ",\"delivery_ratio_1s\":" << p.deliveryRatio1s
          << ",\"upload_kbps\":" << p.uploadKbps << ",\"latency_to_source_ms\":" << p.latencyToSourceMs
          << ",\"upload_use\":" << p.uploadUse << ",\"neighbours\":" << p.neighbours << ",\"pulls\":" << p.requests
          << ",\"duplicates\":" << p.duplicates << "}";
    }
    out << "]}\n";
  }
  return 0;
}
