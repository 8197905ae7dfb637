// Capture threads: source -> filter -> hold/store ring. See capture.hpp for the contract.
// Invariants: each ring has exactly one producer (its capture thread) and one consumer (the
// application thread); a capture thread always calls Ring::finish() before it exits, so the
// consumer sees every stored packet and then kEnd; counters are only final after that.
// Tested in tests/capture/capture_test.cpp and tests/capture/live_test.cpp.
#include "capture/capture.hpp"

#include "capture/ebpf_attach.hpp"

#include <net/if.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <mutex>

#include "capture/context.hpp"

namespace bpf::capture {

struct Capture::Thread {
  std::unique_ptr<Source> source;
  std::unique_ptr<Ring> ring;
  std::thread thread;
  bool ended = false;  // consumer side: kEnd seen
  std::mutex error_mu;
  std::string error;
  SourceCounters counters;
};

Result<std::unique_ptr<Capture>> Capture::open_file(const std::string& path, const CaptureOptions& opts) {
  auto src = capture::open_file(path, opts.nano);
  if (!src.ok()) return src.diagnostics();
  std::unique_ptr<Capture> c(new Capture());
  c->opts_ = opts;
  c->opts_.fanout = 1;
  c->linktype_ = (*src)->linktype();
  c->linktype_ext_ = (*src)->linktype_ext();
  c->source_snaplen_ = (*src)->snaplen();
  c->nano_ = (*src)->nano();
  auto t = std::make_unique<Thread>();
  t->source = src.take();
  c->threads_.push_back(std::move(t));
  return c;
}

Result<std::unique_ptr<Capture>> Capture::open_live(const std::string& iface, const CaptureOptions& opts) {
  Diagnostics d;
  if (if_nametoindex(iface.c_str()) == 0) {
    d.error(iface + ": no such network interface");
    return d;
  }
  if (opts.fanout < 1 || opts.fanout > 64) {
    d.error("fanout must be between 1 and 64");
    return d;
  }
  std::unique_ptr<Capture> c(new Capture());
  c->opts_ = opts;
  c->iface_ = iface;
  c->live_ = true;
  return c;
}

Capture::~Capture() {
  if (ebpf_fd_ >= 0) close(ebpf_fd_);  // the sockets keep their own reference
  stop();
  for (auto& t : threads_)
    if (t->thread.joinable()) {
      // Unblock a file producer waiting for space: drain whatever is left.
      Batch b;
      while (!t->ended) {
        const Ring::Wait w = t->ring->next(b, 10);
        if (w == Ring::Wait::kBatch) t->ring->release(b);
        if (w == Ring::Wait::kEnd) t->ended = true;
      }
      t->thread.join();
    }
}

Diagnostics Capture::set_filter(const vm::VerifiedProgram& prog, jit::Engine engine) {
  Diagnostics d;
  if (started_) {
    d.error("set_filter after start");
    return d;
  }
  auto f = jit::Filter::compile(prog, engine);
  if (!f.ok()) return f.diagnostics();
  filter_.emplace(f.take());
  uses_context_ = prog.facts().uses_ancillary || prog.facts().uses_negative_offsets;
  kernel_filter_.clear();
  return d;
}

// What a filter that runs in the kernel needs: a live capture and Linux semantics.
Diagnostics Capture::kernel_side(const vm::VerifiedProgram& prog, const char* what) const {
  Diagnostics d;
  if (!live_)
    d.error(std::string("the ") + what + " needs a live capture (-i); files are filtered in user space");
  else if (prog.target() != vm::Target::kLinux)
    d.error(std::string("the ") + what + " needs a program verified for Linux (--semantics linux)");
  return d;
}

Diagnostics Capture::set_kernel_filter(const vm::VerifiedProgram& prog) {
  Diagnostics d = kernel_side(prog, "kernel filter");
  if (d.has_errors()) return d;
  kernel_filter_.assign(prog.insns().begin(), prog.insns().end());
  filter_.reset();
  if (ebpf_fd_ >= 0) close(ebpf_fd_), ebpf_fd_ = -1;
  return d;
}

Diagnostics Capture::set_ebpf_filter(const vm::VerifiedProgram& prog) {
  Diagnostics d = kernel_side(prog, "eBPF filter");
  if (d.has_errors()) return d;
  auto fd = load_ebpf_socket_filter(prog);
  if (!fd.ok()) return fd.diagnostics();
  if (ebpf_fd_ >= 0) close(ebpf_fd_);
  ebpf_fd_ = *fd;
  kernel_filter_.clear();
  filter_.reset();
  return d;
}

const char* Capture::filter_engine_name() const {
  if (ebpf_fd_ >= 0) return "ebpf";
  if (!kernel_filter_.empty()) return "kernel";
  if (!filter_) return "none";
  return jit::engine_name(filter_->engine()).data();
}

Diagnostics Capture::start() {
  Diagnostics d;
  if (started_) {
    d.error("capture already started");
    return d;
  }
  Ring::Options ro;
  ro.buffer_bytes = opts_.buffer_bytes;
  ro.timeout_ns = opts_.timeout_ns;
  ro.immediate = opts_.immediate;
  ro.block_when_full = !live_;
  ro.packed = opts_.packed;
  if (live_) {
    LiveOptions lo;
    lo.snaplen = opts_.snaplen;
    lo.promiscuous = opts_.promiscuous;
    lo.kernel_filter = kernel_filter_;
    lo.bpf_prog_fd = ebpf_fd_;
    lo.lock_filter = opts_.lock_filter;
    lo.nano = opts_.nano;
    lo.block_timeout_ms = std::max<uint32_t>(1, uint32_t(opts_.timeout_ns / 2'000'000u));
    if (opts_.fanout > 1) lo.fanout_group = uint16_t((getpid() ^ reinterpret_cast<uintptr_t>(this)) & 0xffff) | 1;
    for (unsigned i = 0; i < opts_.fanout; ++i) {
      auto src = capture::open_live(iface_, lo);
      if (!src.ok()) return src.diagnostics();
      auto t = std::make_unique<Thread>();
      t->source = src.take();
      threads_.push_back(std::move(t));
    }
    linktype_ = threads_.front()->source->linktype();
    nano_ = opts_.nano;
  }
  for (auto& t : threads_) {
    auto ring = Ring::create(ro);
    if (!ring.ok()) return ring.diagnostics();
    t->ring = ring.take();
  }
  started_ = true;
  for (auto& t : threads_) t->thread = std::thread([this, tp = t.get()] { run(*tp); });
  return d;
}

void Capture::run(Thread& t) {
  std::vector<Frame> frames;
  std::vector<jit::PacketView> views;
  std::vector<uint32_t> verdicts;
  std::vector<uint8_t> vlan_frame;
  const uint32_t snaplen = std::max<uint32_t>(opts_.snaplen, 1);
  while (!stop_.load(std::memory_order_relaxed)) {
    const Source::Status st = t.source->read(frames, 50);
    const size_t n = frames.size();
    if (n != 0) {
      verdicts.assign(n, snaplen);
      if (filter_) {
        if (uses_context_) {
          for (size_t i = 0; i < n; ++i) {
            const vm::Context ctx = make_context(frames[i], linktype_);
            verdicts[i] = filter_->run(frames[i].data, frames[i].caplen, frames[i].wirelen, ctx);
          }
        } else {
          views.resize(n);
          for (size_t i = 0; i < n; ++i) views[i] = {frames[i].data, frames[i].caplen, frames[i].wirelen};
          filter_->run_batch(views, verdicts.data());
        }
      }
      uint64_t rejected = 0;
      for (size_t i = 0; i < n; ++i) {
        const Frame& f = frames[i];
        if (verdicts[i] == 0) {
          ++rejected;
          continue;
        }
        const uint32_t keep = std::min({f.caplen, verdicts[i], snaplen});
        if (f.vlan_present && linktype_ == 1 && f.caplen >= 12) {
          // The kernel stripped the 802.1Q tag into tpacket3_hdr (the filter ran on the packet
          // without it, as the kernel's does); put it back in the stored copy, as libpcap does
          // (pcap-linux.c, VLAN_TAG_LEN), so files and summaries show the frame as sent.
          vlan_frame.assign(f.data, f.data + 12);
          vlan_frame.insert(vlan_frame.end(), {uint8_t(f.vlan_tpid >> 8), uint8_t(f.vlan_tpid),
                                               uint8_t(f.vlan_tci >> 8), uint8_t(f.vlan_tci)});
          vlan_frame.insert(vlan_frame.end(), f.data + 12, f.data + f.caplen);
          t.ring->push(f.ts, vlan_frame.data(), std::min<uint32_t>(keep + 4, snaplen), f.wirelen + 4);
          continue;
        }
        t.ring->push(f.ts, f.data, keep, f.wirelen);
      }
      if (rejected != 0) t.ring->count_rejected(rejected);
    }
    t.ring->tick();
    if (st == Source::Status::kEnd) break;
    if (st == Source::Status::kError) {
      std::lock_guard<std::mutex> lock(t.error_mu);
      t.error = t.source->error();
      break;
    }
  }
  {
    std::lock_guard<std::mutex> lock(t.error_mu);
    t.counters = t.source->counters();
  }
  t.ring->finish();
}

Ring::Wait Capture::next(Batch& out, int timeout_ms) {
  if (!started_) return Ring::Wait::kEnd;
  const size_t n = threads_.size();
  if (n == 1) {
    Thread& t = *threads_.front();
    if (t.ended) return Ring::Wait::kEnd;
    const Ring::Wait w = t.ring->next(out, timeout_ms);
    if (w == Ring::Wait::kEnd) t.ended = true;
    last_ring_ = 0;
    return w;
  }
  // Several rings (fanout): take the next ready one in round-robin order; when none is ready,
  // sleep a little on one of them (its futex), then look at all again.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    bool all_ended = true;
    size_t waitable = n;
    for (size_t k = 0; k < n; ++k) {
      const size_t i = (next_ring_ + k) % n;
      Thread& t = *threads_[i];
      if (t.ended) continue;
      all_ended = false;
      if (waitable == n) waitable = i;
      const Ring::Wait w = t.ring->next(out, 0);
      if (w == Ring::Wait::kBatch) {
        last_ring_ = i;
        next_ring_ = (i + 1) % n;
        return w;
      }
      if (w == Ring::Wait::kEnd) t.ended = true;
    }
    if (all_ended) return Ring::Wait::kEnd;
    if (timeout_ms >= 0 && std::chrono::steady_clock::now() >= deadline) return Ring::Wait::kTimeout;
    const Ring::Wait w = threads_[waitable]->ring->next(out, 2);
    if (w == Ring::Wait::kBatch) {
      last_ring_ = waitable;
      next_ring_ = (waitable + 1) % n;
      return w;
    }
    if (w == Ring::Wait::kEnd) threads_[waitable]->ended = true;
  }
}

void Capture::release(Batch& b) { threads_[last_ring_]->ring->release(b); }

void Capture::stop() { stop_.store(true, std::memory_order_relaxed); }

CaptureStats Capture::stats() const {
  CaptureStats s;
  for (const auto& t : threads_) {
    if (!t->ring) continue;
    const RingStats r = t->ring->stats();
    s.received += r.received;
    s.accepted += r.accepted;
    s.rejected += r.rejected;
    s.delivered += r.delivered;
    s.dropped += r.dropped;
    s.bytes += r.bytes;
    std::lock_guard<std::mutex> lock(t->error_mu);
    s.kernel_drops += t->counters.kernel_drops;
  }
  return s;
}

bool Capture::require_direction() {
  if (live_ || threads_.size() != 1 || started_) return false;
  return threads_.front()->source->require_direction();
}

double Capture::progress() const {
  if (live_ || threads_.empty()) return -1;
  return threads_.front()->source->progress();
}

std::string Capture::error() const {
  for (const auto& t : threads_) {
    std::lock_guard<std::mutex> lock(t->error_mu);
    if (!t->error.empty()) return t->error;
  }
  return {};
}

}  // namespace bpf::capture
