// partyhub-streamer's command line: every option, its default and its check.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "partyhub/common/run_options.hpp"
#include "transport/link_emulator.hpp"

namespace partyhub::streamer {

struct Options {
  std::string name = "streamer";
  std::string listen = "0.0.0.0:7000";
  std::vector<std::string> peers;
  std::string sourceEndpoint;
  std::string playersEndpoint = "ipc:///tmp/partyhub-players.ipc";
  std::uint32_t channel = 1;
  std::string overlay;  // empty: first-version relay to --peer; else a scheduler name
  bool shared = false;  // every channel over one signalling overlay (the shared layout)
  std::uint32_t relayUploadKbps = 0;  // shared: each joined channel's budget (0: --upload-kbps)
  std::vector<std::string> bootstrap;
  std::uint32_t uploadKbps = 20000;
  bool estimateUpload = false;  // the budget from its chunks' one-way delays, uploadKbps its ceiling
  bool cutThrough = true;       // chunk copies as a header and body datagrams relayed as they land
  std::uint32_t sourceCopies = 3;
  std::uint32_t overlaySize = 64;
  std::size_t neighbours = 10;
  double pullAfterMs = 40;
  std::string altoNetworkMap, altoCostMap;
  LinkEmulation emulation;
  RunOptions run;
};

/// Declares every option of partyhub-streamer on `app`, bound to `o`.
void addOptions(CLI::App& app, Options& o);

}  // namespace partyhub::streamer
