#include "options.hpp"

namespace partyhub::streamer {

void addOptions(CLI::App& app, Options& o) {
  app.add_option("--name", o.name, "Name in logs and statistics");
  app.add_option("--listen", o.listen, "UDP HOST:PORT to bind for peer traffic");
  app.add_option("--peer", o.peers, "Peer streamer HOST:PORT (repeatable)");
  app.add_option("--source", o.sourceEndpoint,
                 "ZeroMQ endpoint to bind for a local source; makes this the channel's source streamer");
  app.add_option("--players", o.playersEndpoint, "ZeroMQ endpoint to bind for players and statistics");
  app.add_option("--channel", o.channel, "Channel id");
  app.add_option("--overlay", o.overlay,
                 "Run the epidemic overlay with this scheduler (push | offer-accept | tree) instead of relaying to "
                 "--peer")
      ->check(CLI::IsMember({"push", "offer-accept", "tree"}));
  app.add_option("--bootstrap", o.bootstrap, "Overlay: a peer to join through, HOST:PORT (repeatable)");
  auto* shared = app.add_flag("--shared", o.shared,
                              "Overlay: carry every channel of the group over one signalling overlay (the shared "
                              "layout): our own --channel from --source, and each channel a peer sends us; players "
                              "choose theirs by channel id");
  app.add_option("--relay-upload-kbps", o.relayUploadKbps,
                 "Shared: upload budget of each channel joined (default: --upload-kbps)")
      ->check(CLI::Range(64u, 10'000'000u))
      ->needs(shared);
  app.add_option("--upload-kbps", o.uploadKbps, "Overlay: upload budget")->check(CLI::Range(64u, 10'000'000u));
  app.add_flag("--estimate-upload", o.estimateUpload,
               "Overlay: estimate the upload budget from its chunks' one-way delays (a queue in the uplink), "
               "--upload-kbps its ceiling");
  app.add_flag("--cut-through,!--store-and-forward", o.cutThrough,
               "Overlay: send chunk copies as a header and the body's datagrams, which relays pass on as they "
               "land (the default; every streamer takes them either way), or whole");
  app.add_option("--source-copies", o.sourceCopies, "Overlay: copies the source injects")->check(CLI::Range(1u, 16u));
  app.add_option("--overlay-size", o.overlaySize, "Overlay: about how many peers the channel has")
      ->check(CLI::Range(1u, 1'000'000u));
  app.add_option("--neighbours", o.neighbours, "Overlay: target neighbourhood size")->check(CLI::Range(1, 200));
  app.add_option("--pull-after-ms", o.pullAfterMs,
                 "Overlay: pull a chunk a neighbour has and we miss after this long (conference groups are "
                 "small and players' playout delays short: pull early)")
      ->check(CLI::Range(1.0, 10000.0));
  auto* alto = app.add_option("--alto-network-map", o.altoNetworkMap,
                              "Overlay: an ALTO (RFC 7285) network map, JSON file; with --alto-cost-map, "
                              "neighbours of low ALTO cost are preferred")
                   ->check(CLI::ExistingFile);
  app.add_option("--alto-cost-map", o.altoCostMap, "Overlay: the ALTO cost map, JSON file")
      ->check(CLI::ExistingFile)
      ->needs(alto);
  alto->needs(app.get_option("--alto-cost-map"));
  auto* emu = app.add_option_group("Link emulation", "Shape this streamer's outgoing peer traffic (for tests; "
                                                    "this kernel has no netem)");
  emu->add_option("--emulate-delay-ms", o.emulation.delayMs, "One-way delay added to every datagram")
      ->check(CLI::Range(0.0, 5000.0));
  emu->add_option("--emulate-loss", o.emulation.loss, "Share of datagrams dropped at random")
      ->check(CLI::Range(0.0, 1.0));
  emu->add_option("--emulate-upload-kbps", o.emulation.uploadKbps, "Uplink rate (tail drop beyond 200 ms of queue)")
      ->check(CLI::Range(0u, 10'000'000u));
  addRunOptions(app, o.run);
}

}  // namespace partyhub::streamer
