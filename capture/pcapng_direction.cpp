// PcapngDirections: see pcapng_direction.hpp.
#include "capture/pcapng_direction.hpp"

#include <unistd.h>

#include <algorithm>
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
  const uint8_t* hdr = s->view(0, 12);
  uint32_t type;
  if (!hdr) return nullptr;
  std::memcpy(&type, hdr, 4);
  if (type != kShb) return nullptr;
  return s;
}

bool PcapngDirections::pread_all(uint64_t off, uint8_t* p, size_t n) const {
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

const uint8_t* PcapngDirections::view(uint64_t off, size_t n) {
  if (off > size_ || n > size_ - off) return nullptr;
  if (off >= win_off_ && off - win_off_ + n <= win_.size()) return win_.data() + (off - win_off_);
  if (n > kWindow) {  // a block bigger than the window (up to kMaxBlock)
    block_.resize(n);
    return pread_all(off, block_.data(), n) ? block_.data() : nullptr;
  }
  win_.resize(size_t(std::min<uint64_t>(kWindow, size_ - off)));
  win_off_ = off;
  if (!pread_all(off, win_.data(), win_.size())) {
    win_.clear();
    return nullptr;
  }
  return win_.data();
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
    // 12 bytes: the header and, for an SHB, its byte-order magic (every block is >= 12).
    const uint8_t* hdr = view(off_, 12);
    if (!hdr) break;
    uint32_t type;
    std::memcpy(&type, hdr, 4);  // the SHB's type reads the same in both byte orders
    if (type == kShb) {
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
  const uint8_t* b = view(off_, len);
  if (!b) {
    broken_ = true;
    return Direction::kUnknown;
  }
  // Body after the 8-byte header: EPB {interface, ts high, ts low, caplen, len}; PB {interface
  // (16 bits), drops (16 bits), ts high, ts low, caplen, len}: caplen at body + 12 in both.
  const uint32_t end = len - 4;  // the trailer
  if (28 > end) return Direction::kUnknown;
  const uint32_t caplen = u32(b + 20);
  if (caplen > end - 28) return Direction::kUnknown;
  uint32_t pos = 28 + ((caplen + 3) & ~3u);
  while (pos + 4 <= end) {
    const uint16_t code = u16(b + pos);
    const uint16_t olen = u16(b + pos + 2);
    pos += 4;
    if (code == kOptEnd) break;
    const uint32_t padded = (uint32_t(olen) + 3) & ~3u;
    if (padded > end - pos) break;
    if (code == kOptFlags && olen == 4) {
      const uint32_t flags = u32(b + pos);
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
