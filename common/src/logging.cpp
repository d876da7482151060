#include "partyhub/common/logging.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace partyhub {

void setupLogging(const std::string& level, const std::string& processName) {
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::set_pattern("%H:%M:%S.%e " + processName + " %n %^%l%$: %v");
}

std::shared_ptr<spdlog::logger> logger(const std::string& area) {
  if (auto existing = spdlog::get(area)) return existing;
  auto created = spdlog::stderr_color_mt(area);
  created->set_level(spdlog::get_level());
  return created;
}

}  // namespace partyhub
