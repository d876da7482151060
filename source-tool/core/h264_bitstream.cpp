#include "h264_bitstream.hpp"

namespace partyhub::source {

namespace {

// Position of the next start code (00 00 01) at or after `from`, and its length
// (3, or 4 when preceded by a zero byte); npos when none.
std::size_t findStartCode(std::string_view data, std::size_t from, std::size_t& length) {
  for (std::size_t i = from; i + 2 < data.size(); ++i) {
    if (data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1) {
      if (i > from && data[i - 1] == 0) {
        length = 4;
        return i - 1;
      }
      length = 3;
      return i;
    }
  }
  return std::string_view::npos;
}

}  // namespace

std::vector<NalUnit> splitAnnexB(std::string_view data) {
  std::vector<NalUnit> units;
  std::size_t scLen = 0;
  std::size_t start = findStartCode(data, 0, scLen);
  while (start != std::string_view::npos) {
    const std::size_t payload = start + scLen;
    std::size_t nextLen = 0;
    std::size_t next = findStartCode(data, payload, nextLen);
    const std::size_t end = next == std::string_view::npos ? data.size() : next;
    if (payload < end) {
      NalUnit unit;
      unit.type = static_cast<std::uint8_t>(data[payload]) & 0x1Fu;
      unit.bytes = data.substr(start, end - start);
      units.push_back(unit);
    }
    start = next;
    scLen = nextLen;
  }
  return units;
}

H264AccessUnitInfo analyzeH264(std::string_view accessUnit) {
  H264AccessUnitInfo info;
  for (const NalUnit& nal : splitAnnexB(accessUnit)) {
    switch (static_cast<H264NalType>(nal.type)) {
      case H264NalType::kIdrSlice: info.idr = true; break;
      case H264NalType::kSps:
        info.sps = true;
        info.spsBytes = std::string(nal.bytes);
        break;
      case H264NalType::kPps:
        info.pps = true;
        info.ppsBytes = std::string(nal.bytes);
        break;
      default: break;
    }
  }
  return info;
}

}  // namespace partyhub::source
