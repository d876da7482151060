// Synthetic H.264 Annex-B access units for chunkizer tests: only NAL headers
// matter to the chunkizer, so payload bytes are filler.
#pragma once

#include <string>

namespace partyhub::test {

inline std::string nal(unsigned char header, std::size_t bodyBytes, bool fourByteStartCode = true) {
  std::string s = fourByteStartCode ? std::string("\0\0\0\1", 4) : std::string("\0\0\1", 3);
  s.push_back(static_cast<char>(header));
  s.append(bodyBytes, '\x5A');
  return s;
}
inline std::string sps() { return nal(0x67, 8); }
inline std::string pps() { return nal(0x68, 4); }
inline std::string idr(std::size_t bytes = 100) { return nal(0x65, bytes); }
inline std::string slice(std::size_t bytes = 50) { return nal(0x41, bytes, false); }
inline std::string keyAu(std::size_t bytes = 100) { return sps() + pps() + idr(bytes); }

}  // namespace partyhub::test
