// Just enough H.264 Annex-B parsing for a media-aware chunkizer: find NAL
// units, tell IDR access units, and keep the parameter sets (SPS/PPS) so an
// anchor chunk always carries what a decoder needs to start there.
// Reference: ITU-T H.264 §7.3.1 (NAL unit syntax), Annex B (byte stream).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace partyhub::source {

enum class H264NalType : std::uint8_t {
  kSlice = 1,
  kIdrSlice = 5,
  kSei = 6,
  kSps = 7,
  kPps = 8,
  kAud = 9,
};

struct NalUnit {
  std::uint8_t type = 0;      // nal_unit_type, 5 bits
  std::string_view bytes;     // including its start code
};

/// Splits an Annex-B buffer into NAL units (3- or 4-byte start codes).
/// Bytes before the first start code are ignored.
std::vector<NalUnit> splitAnnexB(std::string_view data);

struct H264AccessUnitInfo {
  bool idr = false;
  bool sps = false;
  bool pps = false;
  std::string spsBytes;  // with start code; empty when absent
  std::string ppsBytes;
};

H264AccessUnitInfo analyzeH264(std::string_view accessUnit);

/// VP8 frame tag (RFC 6386 §9.1): bit 0 of the first byte is 0 on key frames.
inline bool isVp8Keyframe(std::string_view frame) {
  return !frame.empty() && (static_cast<std::uint8_t>(frame[0]) & 0x01u) == 0;
}

}  // namespace partyhub::source
