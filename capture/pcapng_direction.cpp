// PcapngDirections: see pcapng_direction.hpp.
#include "capture/pcapng_direction.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace bpf::capture {
namespace {
constexpr uint32_t kShb = 0x0A0D0D0A, kPb = 2, kSpb = 3, kEpb = 6;
constexpr uint32_t kByteOrderMagic = 0x1A2B3C4D;
constexpr uint16_t kOptEnd = 0, kOptFlags = 2;
// libpcap's INITIAL_MAX_BLOCKSIZE: a bigger block is an error there, so the scan ends too.
constexpr uint32_t kMaxBlock = 16u << 20;
}  // namespace

std::unique_ptr<PcapngDirections> PcapngDirections::open(int fd, uint64_t size) {
  std::unique_ptr<PcapngDirections> s(new PcapngDirections(fd, size));
  uint8_t hdr[12];
  uint32_t type;
  if (!s->read_at(0, hdr, sizeof hdr)) return nullptr;
  std::memcpy(&type, hdr, 4);
  if (type != kShb) return nullptr;
  return s;
}

bool PcapngDirections::read_at(uint64_t off, void* dst, size_t n) const {
  if (off + n > size_) return false;
  auto* p = static_cast<uint8_t*>(dst);
  while (n > 0) {
    const ssize_t r = pread(fd_, p, n, off_t(off));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    off += uint64_t(r);
    n -= size_t(r);
  }
  return true;
}

uint32_t PcapngDirections::u32(const uint8_t* p) const {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return swapped_ ? __builtin_bswap32(v) : v;
}

uint16_t PcapngDirections::u16(const uint8_t* p) const {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return swapped_ ? __builtin_bswap16(v) : v;
}

Direction PcapngDirections::next() {
  while (!broken_) {
    uint8_t hdr[12];
    if (!read_at(off_, hdr, 8)) break;
    uint32_t type;
    std::memcpy(&type, hdr, 4);  // the SHB's type reads the same in both byte orders
    if (type == kShb) {
      if (!read_at(off_ + 8, hdr + 8, 4)) break;
      uint32_t magic;
      std::memcpy(&magic, hdr + 8, 4);
      if (magic == kByteOrderMagic) swapped_ = false;
      else if (magic == __builtin_bswap32(kByteOrderMagic)) swapped_ = true;
      else break;
    } else {
      type = u32(hdr);
    }
    const uint32_t len = u32(hdr + 4);
    if (len < 12 || len % 4 != 0 || len > kMaxBlock) break;
    Direction d = Direction::kUnknown;
    const bool packet = type == kEpb || type == kPb || type == kSpb;
    if (type == kEpb || type == kPb) d = flags_of_block(len);
    if (broken_) break;
    off_ += len;
    if (packet) return d;
  }
  broken_ = true;
  return Direction::kUnknown;
}

Direction PcapngDirections::flags_of_block(uint32_t len) {
  block_.resize(len);
  if (!read_at(off_, block_.data(), len)) {
    broken_ = true;
    return Direction::kUnknown;
  }
  // Body after the 8-byte header: EPB {interface, ts high, ts low, caplen, len}; PB {interface
  // (16 bits), drops (16 bits), ts high, ts low, caplen, len}: caplen at body + 12 in both.
  const uint32_t end = len - 4;  // the trailer
  if (28 > end) return Direction::kUnknown;
  const uint32_t caplen = u32(block_.data() + 20);
  if (caplen > end - 28) return Direction::kUnknown;
  uint32_t pos = 28 + ((caplen + 3) & ~3u);
  while (pos + 4 <= end) {
    const uint16_t code = u16(block_.data() + pos);
    const uint16_t olen = u16(block_.data() + pos + 2);
    pos += 4;
    if (code == kOptEnd) break;
    const uint32_t padded = (uint32_t(olen) + 3) & ~3u;
    if (padded > end - pos) break;
    if (code == kOptFlags && olen == 4) {
      const uint32_t flags = u32(block_.data() + pos);
      switch (flags & 3u) {
        case 1: return Direction::kInbound;
        case 2: return Direction::kOutbound;
        default: return Direction::kUnknown;
      }
    }
    pos += padded;
  }
  return Direction::kUnknown;
}

}  // namespace bpf::capture
