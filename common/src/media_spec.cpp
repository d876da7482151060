#include "partyhub/common/media_spec.hpp"

#include <algorithm>
#include <stdexcept>
#include <string_view>

namespace partyhub {

MediaSpec parseMediaSpec(const std::string& what, const std::string& text,
                         std::initializer_list<const char*> allowed,
                         std::initializer_list<const char*> needsArgument) {
  MediaSpec spec;
  const auto colon = text.find(':');
  spec.kind = text.substr(0, colon);
  if (colon != std::string::npos) spec.argument = text.substr(colon + 1);

  auto in = [&](std::initializer_list<const char*> list) {
    return std::any_of(list.begin(), list.end(),
                       [&](const char* k) { return std::string_view(k) == spec.kind; });
  };
  if (!in(allowed)) {
    std::string list;
    for (const char* k : allowed) list += std::string(list.empty() ? "" : "|") + k;
    throw std::invalid_argument(what + ": unknown kind '" + spec.kind + "' in '" + text +
                                "' (expected " + list + ")");
  }
  if (in(needsArgument) && spec.argument.empty()) {
    throw std::invalid_argument(what + ": '" + spec.kind + "' needs an argument, e.g. " +
                                spec.kind + ":...");
  }
  return spec;
}

}  // namespace partyhub
