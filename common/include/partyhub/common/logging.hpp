// One named spdlog logger per area ("streamer.udp", "player.media", ...).
#pragma once

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace partyhub {

/// Sets the global level ("trace".."off") and a compact pattern; logs to stderr
/// so stdout stays free for statistics lines.
void setupLogging(const std::string& level, const std::string& processName);

/// The logger for an area, created on first use.
std::shared_ptr<spdlog::logger> logger(const std::string& area);

}  // namespace partyhub
