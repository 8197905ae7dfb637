// Packet sources and the pcap sink.
//
// A Source hands out packets in groups (`Frames`), as views that stay valid until the next
// read(): a classic pcap file through our reader (up to 256 records per group, views into its
// buffer), any other pcap/pcapng input through libpcap (one packet per group: libpcap reuses its
// buffer), or
// a live interface through an AF_PACKET socket with a TPACKET_V3 mmap ring (one ring block per
// group; the block is handed back to the kernel at the next read(), i.e. as soon as the capture
// thread has filtered and stored its packets).
//
// Errors are values: a missing or corrupt file, a truncated record, a nonexistent interface or a
// refused socket option come back as a message (read() returns kError and error() says why; the
// packets read before stay counted). Nothing throws. An input is opened once (pipes, FIFOs and
// /dev/stdin work as files do), and a file that shrinks while it is read ends like a truncated
// file (never a fault: it is read with pread, not mapped).
//
// The live source can carry a kernel filter (SO_ATTACH_FILTER, optionally SO_LOCK_FILTER): the
// program is attached before the socket is bound, so no unfiltered packet ever enters the ring.
//
// Tested in tests/capture/source_test.cpp (files, round trips, corrupt and truncated input) and
// tests/capture/live_test.cpp (veth pair in a network namespace, root only).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "capture/ring.hpp"
#include "vm/diagnostic.hpp"
#include "vm/insn.hpp"

namespace bpf::capture {

// One packet from a source, with the metadata a Linux socket filter can load (ancillary data).
// A packet's direction as its capture file records it (pcapng epb_flags, capture/pcapng_direction.hpp).
enum class Direction : uint8_t { kUnknown = 0, kInbound = 1, kOutbound = 2 };

struct Frame {
  const uint8_t* data = nullptr;
  uint32_t caplen = 0;
  uint32_t wirelen = 0;
  Timestamp ts;  // resolution: Source::nano()
  // Live capture only (0 for files): sockaddr_ll / tpacket3_hdr fields.
  uint16_t protocol = 0;  // ethertype, host order
  uint8_t pkttype = 0;    // PACKET_HOST, PACKET_BROADCAST, ...
  uint8_t vlan_present = 0;
  uint16_t vlan_tci = 0;
  uint16_t vlan_tpid = 0;
  uint32_t ifindex = 0;
  uint16_t hatype = 0;
  uint32_t rxhash = 0;
  uint32_t net_offset = 0;  // network header offset in data (tp_net - tp_mac)
  bool live = false;        // the fields above are filled
  // Files: the direction a pcapng record states (kUnknown elsewhere).
  Direction direction = Direction::kUnknown;
};

struct SourceCounters {
  uint64_t kernel_packets = 0;  // live: packets the kernel passed to the socket (after its filter)
  uint64_t kernel_drops = 0;    // live: packets the kernel lost because the mmap ring was full
};

class Source {
 public:
  enum class Status { kOk, kEnd, kError };
  virtual ~Source() = default;
  // Replaces `out` with the next group of packets (possibly empty on a timeout). Views stay
  // valid until the next call.
  virtual Status read(std::vector<Frame>& out, int timeout_ms) = 0;
  virtual int linktype() const = 0;
  // Files: the upper bits of the header's link type (the FCS length, LT_LINKTYPE_EXT), as
  // libpcap's pcap_datalink_ext; what a copy of the file should declare with linktype().
  virtual uint32_t linktype_ext() const { return 0; }
  virtual uint32_t snaplen() const = 0;
  // Timestamp fractions are nanoseconds (else microseconds).
  virtual bool nano() const = 0;
  virtual SourceCounters counters() { return {}; }
  // Fraction of the input consumed (0..1), -1 when unknown (live, pipes). Any thread.
  virtual double progress() const { return -1; }
  const std::string& error() const { return error_; }
  // Files whose records may state each packet's direction (pcapng files, scanned beside
  // libpcap): from now on a record that does not is an error (the filter reads the direction).
  // False when this source cannot know any packet's direction.
  virtual bool require_direction() { return false; }

 protected:
  std::string error_;
};

// A pcap or pcapng file, "-" for stdin, opened once (FIFOs and pipes too). Timestamps in
// microseconds (as tcpdump reads by default; nanosecond files scaled down as libpcap does) or,
// with `nano`, nanoseconds.
Result<std::unique_ptr<Source>> open_file(const std::string& path, bool nano = false);

// Why tcpdump refuses captures of this DLT (libpcap's filter compiler does not know it: "unknown
// data link type 999 (min 104, max 289)"), empty when the link type is known.
std::string unknown_linktype(int dlt);

struct LiveOptions {
  uint32_t snaplen = 262144;
  bool promiscuous = false;
  // TPACKET_V3 ring: block_bytes * blocks bytes, a block is retired to user space when full or
  // after block_timeout_ms.
  uint32_t block_bytes = 1u << 20;
  uint32_t blocks = 32;
  uint32_t block_timeout_ms = 10;
  // PACKET_FANOUT group (0: none). Sockets opened with the same group id share the traffic.
  uint16_t fanout_group = 0;
  // The kernel filter: attached before bind() when non-empty.
  std::vector<vm::Insn> kernel_filter;
  // Or a loaded eBPF socket filter (capture/ebpf_attach.hpp): attached with SO_ATTACH_BPF before
  // bind() when >= 0 (the socket takes its own reference).
  int bpf_prog_fd = -1;
  bool lock_filter = false;  // SO_LOCK_FILTER after attaching
  // Timestamps in nanoseconds (else microseconds, truncated: tcpdump's default for live
  // captures and the files it writes).
  bool nano = false;
};

Result<std::unique_ptr<Source>> open_live(const std::string& iface, const LiveOptions& opts);

// Writes classic pcap (host byte order, as tcpdump -w; microsecond magic 0xa1b2c3d4, or
// 0xa1b23c4d with `nano`), "-" = stdout. Timestamps are written raw. The header's link type is
// the DLT's LINKTYPE with `linktype_ext` (Source::linktype_ext, the FCS bits) or'ed in.
// Buffered; close() flushes and reports a write error. Records are written whole or not at all
// when the buffer is flushed, so a file ended by Ctrl-C is complete.
class PcapWriter {
 public:
  static Result<std::unique_ptr<PcapWriter>> open(const std::string& path, int linktype,
                                                  uint32_t snaplen, bool nano = false,
                                                  uint32_t linktype_ext = 0);
  ~PcapWriter();
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;

  void write(Timestamp ts, const uint8_t* data, uint32_t caplen, uint32_t wirelen);
  // Writes the first `max` packets of a hold buffer straight from the ring (writev, no copy):
  // a ring record header {sec, frac, caplen, wirelen} is a pcap record header. Returns the number
  // written. The batch's timestamps must have this writer's resolution.
  size_t write_batch(const Batch& batch, size_t max);
  bool flush();
  // Flushes and closes; false (and error()) on a write error.
  bool close();
  const std::string& error() const { return error_; }
  // errno of the first failed write (EPIPE: the reader of a pipe went away), 0 if none.
  int error_number() const { return errno_; }

 private:
  PcapWriter() = default;
  int fd_ = -1;
  bool own_fd_ = false;
  std::vector<uint8_t> buf_;
  size_t used_ = 0;
  std::string error_;
  int errno_ = 0;
};

}  // namespace bpf::capture
