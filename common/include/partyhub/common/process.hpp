// Process-level helpers shared by the executables.
#pragma once

#include <cstdint>
#include <string>

#include <google/protobuf/message.h>

namespace partyhub {

/// User + system CPU time of this process, µs.
std::uint64_t cpuTimeUs();

/// One-line JSON of a protobuf message (field names as in the .proto).
std::string toJsonLine(const google::protobuf::Message& msg);

/// Documented exit codes of every PartyHub executable.
enum class ExitCode : int {
  kOk = 0,
  kRuntimeError = 1,
  kUsage = 2,      // unknown option or bad value (CLI11 uses this too)
  kStartup = 3,    // a resource could not be opened: endpoint, camera, file, pipeline
};

}  // namespace partyhub
