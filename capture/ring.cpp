// Hold/store ring: see ring.hpp for the protocol. Invariants kept here:
//  - the store buffer (store_) is always owned by the producer: pgen_[i] == consumer_gen[i];
//  - buffers are published alternately (0, 1, 0, ...) and consumed in the same order, so at most
//    one buffer is with the consumer at any time and packet order is preserved;
//  - every counter is written by the producer only (relaxed stores; the publication of a buffer
//    and finish() are release stores, so a consumer that saw them sees the counters too).
// Tested in tests/capture/ring_test.cpp.
#include "capture/ring.hpp"

#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <new>

namespace bpf::capture {
namespace {

constexpr size_t kCacheLine = 64;

// Shared futexes (not FUTEX_PRIVATE): the mapping may be shared with a forked process.
void futex_wait(std::atomic<uint32_t>* addr, uint32_t expected, int timeout_ms) {
  timespec ts{};
  timespec* tsp = nullptr;
  if (timeout_ms >= 0) {
    ts.tv_sec = timeout_ms / 1000;
    ts.tv_nsec = static_cast<long>(timeout_ms % 1000) * 1'000'000;
    tsp = &ts;
  }
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAIT, expected, tsp, nullptr, 0);
}
void futex_wake(std::atomic<uint32_t>* addr) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

}  // namespace

// bpf_zbuf_header, one per buffer: the producer's and the consumer's generation on their own
// cache lines, plus the length and packet count the producer fills before publishing.
struct BufferHeader {
  alignas(kCacheLine) std::atomic<uint32_t> producer_gen{0};  // bzh_kernel_gen
  uint32_t len = 0;                                           // bzh_kernel_len
  uint32_t count = 0;
  alignas(kCacheLine) std::atomic<uint32_t> consumer_gen{0};  // bzh_user_gen
};

struct Ring::Control {
  BufferHeader buf[2];
  // Consumer wake-ups: bumped on every publication and on finish.
  alignas(kCacheLine) std::atomic<uint32_t> publish_seq{0};
  std::atomic<uint32_t> consumer_waiting{0};
  // Producer wake-ups (blocking mode): bumped on every release.
  alignas(kCacheLine) std::atomic<uint32_t> release_seq{0};
  std::atomic<uint32_t> producer_waiting{0};
  alignas(kCacheLine) std::atomic<uint32_t> rotate_request{0};
  std::atomic<uint32_t> finished{0};
  alignas(kCacheLine) std::atomic<uint64_t> received{0};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> rejected{0};
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> dropped{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> rotations{0};
};

Result<std::unique_ptr<Ring>> Ring::create(const Options& opts) {
  Diagnostics diags;
  if (opts.buffer_bytes < 4096 || opts.buffer_bytes > (1u << 30)) {
    diags.error("ring buffer size must be between 4 KiB and 1 GiB");
    return diags;
  }
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t cap = (opts.buffer_bytes + page - 1) / page * page;
  const size_t ctl_len = (sizeof(Control) + page - 1) / page * page;
  const size_t len = ctl_len + 2 * cap;
  void* map = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) {
    diags.error(std::string("cannot map the capture ring: ") + std::strerror(errno));
    return diags;
  }
  std::unique_ptr<Ring> r(new Ring());
  r->map_ = map;
  r->map_len_ = len;
  r->ctl_ = new (map) Control();
  r->buf_[0] = static_cast<uint8_t*>(map) + ctl_len;
  r->buf_[1] = r->buf_[0] + cap;
  r->cap_ = cap;
  r->opts_ = opts;
  return r;
}

Ring::~Ring() {
  if (map_ != nullptr) {
    ctl_->~Control();
    munmap(map_, map_len_);
  }
}

uint64_t Ring::now_ns() const {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

bool Ring::try_rotate() {
  if (count_ == 0) return true;
  const uint32_t other = store_ ^ 1u;
  BufferHeader& o = ctl_->buf[other];
  if (o.consumer_gen.load(std::memory_order_acquire) != pgen_[other]) return false;  // held
  BufferHeader& s = ctl_->buf[store_];
  s.len = static_cast<uint32_t>(off_);
  s.count = count_;
  store_counter(ctl_->rotations, load_counter(ctl_->rotations) + 1);
  // Publish: everything written into the buffer and the counters happen-before the consumer's
  // acquire load of producer_gen.
  s.producer_gen.store(++pgen_[store_], std::memory_order_release);
  store_ = other;
  off_ = 0;
  count_ = 0;
  ctl_->rotate_request.store(0, std::memory_order_relaxed);
  // Dekker pair with next(): bump the sequence, then look for a sleeper (both seq_cst).
  ctl_->publish_seq.fetch_add(1, std::memory_order_seq_cst);
  if (ctl_->consumer_waiting.load(std::memory_order_seq_cst) != 0) futex_wake(&ctl_->publish_seq);
  return true;
}

void Ring::wait_for_space() {
  // The store buffer is full and the hold buffer is with the consumer: sleep until released.
  for (;;) {
    const uint32_t seq = ctl_->release_seq.load(std::memory_order_seq_cst);
    if (try_rotate()) return;
    ctl_->producer_waiting.store(1, std::memory_order_seq_cst);
    if (ctl_->release_seq.load(std::memory_order_seq_cst) == seq) futex_wait(&ctl_->release_seq, seq, 100);
    ctl_->producer_waiting.store(0, std::memory_order_relaxed);
  }
}

bool Ring::push(Timestamp ts, const uint8_t* data, uint32_t caplen, uint32_t wirelen) {
  store_counter(ctl_->received, load_counter(ctl_->received) + 1);
  store_counter(ctl_->accepted, load_counter(ctl_->accepted) + 1);
  caplen = static_cast<uint32_t>(std::min<size_t>(caplen, cap_ - sizeof(RecordHeader) - kRecordAlign));
  const size_t need = record_size(caplen, opts_.packed ? 1 : kRecordAlign);
  if (off_ + need > cap_ && !try_rotate()) {
    if (!opts_.block_when_full) {
      store_counter(ctl_->dropped, load_counter(ctl_->dropped) + 1);
      return false;
    }
    wait_for_space();
  }
  uint8_t* p = buf_[store_] + off_;
  const RecordHeader h{ts, caplen, wirelen};
  std::memcpy(p, &h, sizeof h);
  std::memcpy(p + sizeof h, data, caplen);
  if (count_ == 0 && opts_.timeout_ns != 0) store_first_ns_ = now_ns();
  off_ += need;
  ++count_;
  store_counter(ctl_->delivered, load_counter(ctl_->delivered) + 1);
  store_counter(ctl_->bytes, load_counter(ctl_->bytes) + caplen);
  if (opts_.immediate) try_rotate();
  return true;
}

void Ring::count_rejected(uint64_t n) {
  store_counter(ctl_->rejected, load_counter(ctl_->rejected) + n);
  store_counter(ctl_->received, load_counter(ctl_->received) + n);
}

void Ring::tick() {
  if (count_ == 0) return;
  if (ctl_->rotate_request.load(std::memory_order_relaxed) != 0 ||
      (opts_.timeout_ns != 0 && now_ns() - store_first_ns_ >= opts_.timeout_ns))
    try_rotate();
}

void Ring::finish() {
  if (count_ != 0 && !try_rotate()) wait_for_space();
  ctl_->finished.store(1, std::memory_order_release);
  ctl_->publish_seq.fetch_add(1, std::memory_order_seq_cst);
  futex_wake(&ctl_->publish_seq);
}

Ring::Wait Ring::next(Batch& out, int timeout_ms) {
  const uint64_t deadline = timeout_ms >= 0 ? now_ns() + uint64_t(timeout_ms) * 1'000'000u : 0;
  for (;;) {
    const uint32_t seq = ctl_->publish_seq.load(std::memory_order_seq_cst);
    BufferHeader& b = ctl_->buf[next_];
    const uint32_t gen = b.producer_gen.load(std::memory_order_acquire);
    if (gen != b.consumer_gen.load(std::memory_order_relaxed)) {
      out.data_ = buf_[next_];
      out.len_ = b.len;
      out.count_ = b.count;
      out.align_ = opts_.packed ? 1 : kRecordAlign;
      out.index_ = next_;
      out.gen_ = gen;
      return Wait::kBatch;
    }
    if (ctl_->finished.load(std::memory_order_acquire) != 0) {
      // finish() published its last buffer before setting `finished`: check once more.
      if (b.producer_gen.load(std::memory_order_acquire) != b.consumer_gen.load(std::memory_order_relaxed))
        continue;
      return Wait::kEnd;
    }
    int wait_ms = -1;
    if (timeout_ms >= 0) {
      const uint64_t now = now_ns();
      if (now >= deadline) return Wait::kTimeout;
      wait_ms = static_cast<int>(std::max<uint64_t>(1, (deadline - now) / 1'000'000u));
    }
    ctl_->consumer_waiting.store(1, std::memory_order_seq_cst);
    if (ctl_->publish_seq.load(std::memory_order_seq_cst) == seq)
      futex_wait(&ctl_->publish_seq, seq, wait_ms);
    ctl_->consumer_waiting.store(0, std::memory_order_relaxed);
  }
}

void Ring::release(Batch& b) {
  ctl_->buf[b.index_].consumer_gen.store(b.gen_, std::memory_order_release);
  next_ = b.index_ ^ 1u;
  b = Batch{};
  ctl_->release_seq.fetch_add(1, std::memory_order_seq_cst);
  if (ctl_->producer_waiting.load(std::memory_order_seq_cst) != 0) futex_wake(&ctl_->release_seq);
}

void Ring::request_rotate() { ctl_->rotate_request.store(1, std::memory_order_relaxed); }

bool Ring::finished() const { return ctl_->finished.load(std::memory_order_acquire) != 0; }

RingStats Ring::stats() const {
  RingStats s;
  s.received = load_counter(ctl_->received);
  s.accepted = load_counter(ctl_->accepted);
  s.rejected = load_counter(ctl_->rejected);
  s.delivered = load_counter(ctl_->delivered);
  s.dropped = load_counter(ctl_->dropped);
  s.bytes = load_counter(ctl_->bytes);
  s.rotations = load_counter(ctl_->rotations);
  return s;
}

}  // namespace bpf::capture
