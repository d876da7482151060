// "kind[:argument]" strings used on command lines for inputs and sinks:
//   --video test | v4l2[:DEVICE] | file:PATH | pipeline:"DESC" | none
//   --sink  auto | fake | file:PATH | pipeline:"DESC"
#pragma once

#include <initializer_list>
#include <string>

namespace partyhub {

struct MediaSpec {
  std::string kind;      // the word before the first ':'
  std::string argument;  // everything after it (may contain ':')
};

/// Splits and validates `text` against the allowed kinds. `needsArgument`
/// lists kinds whose argument is mandatory. Throws std::invalid_argument with
/// a message that lists what is allowed.
MediaSpec parseMediaSpec(const std::string& what, const std::string& text,
                         std::initializer_list<const char*> allowed,
                         std::initializer_list<const char*> needsArgument);

}  // namespace partyhub
