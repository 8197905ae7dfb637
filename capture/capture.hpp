// The capture API for applications (bpfdump is one): open a source, set a filter, start, then
// iterate batches of packet views until the end.
//
//   auto cap = bpf::capture::Capture::open_live("eth0", opts);       // or open_file("x.pcap", opts)
//   cap->set_filter(verified_program, bpf::jit::Engine::kAuto);      // or set_kernel_filter(...)
//   cap->start();
//   bpf::capture::Batch b;
//   while (cap->next(b, 100) != bpf::capture::Ring::Wait::kEnd) {
//     for (const bpf::capture::Packet& p : b) use(p);                // views, no copies
//     cap->release(b);
//   }
//
// Threads: one capture thread per source (files: one; live: `fanout` sockets in one
// PACKET_FANOUT group, one thread each). Each capture thread reads a group of packets from its
// source, runs the filter on them (user-space engines: jit::Filter::run_batch, or run() per packet
// with its ancillary context when the program uses ancillary loads; kernel: already filtered
// before the socket ring), clips each accepted packet to min(caplen, verdict, snaplen) and stores
// it in its own hold/store ring (capture/ring.hpp). The application thread consumes the rings.
// Files never drop (the capture thread waits for the consumer); live capture drops and counts.
//
// Statistics reconcile exactly once the capture has ended: received = accepted + rejected,
// accepted = delivered + dropped; kernel_drops (live) counts packets the kernel lost before any
// user-space filter saw them. With the kernel filter, rejected packets never reach user space
// and are not counted (received = accepted).
//
// Expressions are compiled by the caller (compiler::compile_expression, then the verifier):
// capture/ sits downstream of jit/ and vm/ only (../shared/ARCHITECTURE.md).
// Tested in tests/capture/capture_test.cpp (files) and tests/capture/live_test.cpp (veth).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "capture/ring.hpp"
#include "capture/source.hpp"
#include "jit/engine.hpp"
#include "vm/diagnostic.hpp"
#include "vm/program.hpp"

namespace bpf::capture {

struct CaptureOptions {
  uint32_t snaplen = 262144;
  bool promiscuous = false;
  unsigned fanout = 1;                 // live: capture threads in one PACKET_FANOUT group
  size_t buffer_bytes = 4u << 20;      // each half of each hold/store ring
  uint64_t timeout_ns = 50'000'000;    // hand over a partly filled buffer after this long
  bool immediate = false;              // hand over every packet at once
  bool lock_filter = false;            // kernel filter: SO_LOCK_FILTER
  bool nano = false;                   // nanosecond timestamps (else microseconds, as tcpdump)
  bool packed = false;                 // ring records unpadded (Ring::Options::packed): for -w
};

struct CaptureStats {
  uint64_t received = 0;
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  uint64_t delivered = 0;
  uint64_t dropped = 0;       // accepted, but the hold/store ring was full
  uint64_t bytes = 0;         // captured bytes delivered
  uint64_t kernel_drops = 0;  // live: lost in the kernel's mmap ring
};

class Capture {
 public:
  static Result<std::unique_ptr<Capture>> open_file(const std::string& path, const CaptureOptions& opts = {});
  static Result<std::unique_ptr<Capture>> open_live(const std::string& iface, const CaptureOptions& opts = {});
  ~Capture();
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

  // Before start(). A user-space filter runs in the capture thread(s).
  Diagnostics set_filter(const vm::VerifiedProgram& prog, jit::Engine engine = jit::Engine::kAuto);
  // Live only: the program runs in the kernel (SO_ATTACH_FILTER). Needs a Linux-target program.
  Diagnostics set_kernel_filter(const vm::VerifiedProgram& prog);
  // Live only: the program's eBPF translation (jit/ebpf/, socket hook) runs in the kernel
  // (SO_ATTACH_BPF): any length. Needs a Linux-target program and CAP_BPF.
  Diagnostics set_ebpf_filter(const vm::VerifiedProgram& prog);

  // Opens the live sockets (errors: interface, permissions, the kernel refusing the filter) and
  // starts the capture thread(s).
  Diagnostics start();
  // Consumer side (one thread): see Ring::next / Ring::release. Release each batch before the
  // next call to next().
  Ring::Wait next(Batch& out, int timeout_ms);
  void release(Batch& b);
  // Asks the capture threads to stop; next() keeps returning what they stored, then kEnd.
  void stop();

  // Files: see Source::require_direction (before start()).
  bool require_direction();
  int linktype() const { return linktype_; }
  // Files: the FCS bits of the header's link type (Source::linktype_ext), for PcapWriter::open.
  uint32_t linktype_ext() const { return linktype_ext_; }
  // Packet timestamps are in nanoseconds (else microseconds).
  bool nano() const { return nano_; }
  uint32_t snaplen() const { return opts_.snaplen; }
  // Files: the snap length in the file header (what a copy of the file should declare).
  uint32_t source_snaplen() const { return source_snaplen_; }
  // Files: fraction of the file read so far (0..1), for progress bars; -1 if unknown.
  double progress() const;
  const char* filter_engine_name() const;
  CaptureStats stats() const;
  // The first source error (e.g. a truncated file), empty if none.
  std::string error() const;

 private:
  struct Thread;
  Capture() = default;
  void run(Thread& t);
  Diagnostics kernel_side(const vm::VerifiedProgram& prog, const char* what) const;

  CaptureOptions opts_;
  std::string iface_;
  std::vector<std::unique_ptr<Thread>> threads_;
  std::optional<jit::Filter> filter_;
  bool uses_context_ = false;
  std::vector<vm::Insn> kernel_filter_;
  int ebpf_fd_ = -1;  // the loaded eBPF translation, attached to every live socket
  int linktype_ = 1;
  uint32_t linktype_ext_ = 0;
  uint32_t source_snaplen_ = 262144;
  bool nano_ = false;
  bool live_ = false;
  bool started_ = false;
  std::atomic<bool> stop_{false};
  size_t next_ring_ = 0;  // fanout: where the round-robin search starts
  size_t last_ring_ = 0;  // the ring of the batch last returned by next()
};

}  // namespace bpf::capture
