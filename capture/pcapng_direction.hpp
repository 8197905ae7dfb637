// The direction of each packet of a pcapng file, which libpcap's reader does not expose
// (libpcap 1.10 sf-pcapng.c reads the Enhanced Packet Block's options and drops them).
//
// pcapng (draft-ietf-opsawg-pcapng, 4.3.1): the EPB option epb_flags (code 2, 32 bits) carries
// the direction in its bits 0-1 (00 not known, 01 inbound, 10 outbound); the obsolete Packet
// Block's pack_flags (code 2) has the same layout; a Simple Packet Block has none. A scanner
// walks the file's blocks with pread(2) beside libpcap (the descriptor's offset is never moved),
// through a read-ahead window of kWindow bytes: one pread per window, not one per block
// and yields one direction per packet block, in file order: libpcap returns exactly one packet
// per EPB, SPB and PB, or stops with an error, and skips every other block, so the n-th packet
// libpcap returns is the n-th packet block. Only regular files can be scanned (a pipe is read
// once, by libpcap). A block the scanner cannot parse ends the scan: every later packet's
// direction is "not known".
// Tested in tests/capture/pcapng_direction_test.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "capture/source.hpp"

namespace bpf::capture {

class PcapngDirections {
 public:
  // A scanner for the regular file open on `fd` (size bytes), or null when it does not start
  // with a pcapng Section Header Block. `fd` stays the caller's.
  static std::unique_ptr<PcapngDirections> open(int fd, uint64_t size);
  // The direction of the next packet block.
  Direction next();

 private:
  PcapngDirections(int fd, uint64_t size) : fd_(fd), size_(size) {}
  // n bytes at file offset off, from the window (refilled from off when they are not in it) or,
  // for a block bigger than the window, read into block_; null past the end or on error.
  const uint8_t* view(uint64_t off, size_t n);
  bool pread_all(uint64_t off, uint8_t* dst, size_t n) const;
  uint32_t u32(const uint8_t* p) const;
  uint16_t u16(const uint8_t* p) const;
  // The flags option of a packet block of `len` bytes at off_ (EPB or PB: caplen at body + 12).
  Direction flags_of_block(uint32_t len);

  int fd_;
  uint64_t size_;
  uint64_t off_ = 0;
  bool swapped_ = false;
  bool broken_ = false;
  static constexpr size_t kWindow = 256u << 10;
  std::vector<uint8_t> win_;  // file bytes [win_off_, win_off_ + win_.size())
  uint64_t win_off_ = 0;
  std::vector<uint8_t> block_;
};

}  // namespace bpf::capture
