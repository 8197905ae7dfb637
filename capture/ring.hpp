// The hold/store double-buffer ring of BSD bpf(4), in shared memory, without a lock.
//
// One producer (a capture thread) appends accepted packets to the *store* buffer: each record is
// a 16-byte header (timestamp, caplen, wirelen) followed by the bytes, padded to 8
// (BPF_WORDALIGN in FreeBSD's bpf.c). When the store buffer is full, when its oldest packet is
// older than the timeout, when the consumer asks for a rotation, or after every packet in
// immediate mode, store and hold swap: the full buffer is handed to the consumer, which reads the
// whole of it in place (Batch gives views into the shared memory, nothing is copied) and hands it
// back with release().
//
// Ownership follows FreeBSD's zero-copy buffers (sys/net/bpf_zerocopy.c, struct bpf_zbuf_header):
// each buffer carries a producer generation (bzh_kernel_gen) and a consumer generation
// (bzh_user_gen). The consumer owns a buffer exactly when the two differ; the producer publishes
// by bumping its generation with release ordering, the consumer acknowledges by copying it into
// its own with release ordering; each side reads the other's with acquire ordering. Nothing is
// synchronised per packet: one release store per buffer. Waiting (consumer for data, producer
// in blocking mode for space) uses a futex on a sequence counter, woken only when a waiter says
// it sleeps.
//
// When the store buffer is full and the hold buffer is still with the consumer, a live producer
// drops the packet and counts it (BSD's bd_dcount); a file producer may instead block (back
// pressure) so replaying a file loses nothing.
//
// Counters reconcile exactly: received = accepted + rejected (the filter's verdicts, counted by
// the capture thread), accepted = delivered + dropped (delivered = stored in a buffer, and every
// stored packet reaches the consumer once the producer has finished).
//
// Tested in tests/capture/ring_test.cpp (10M+ packets, checksummed, slow and fast consumers, a
// consumer in another process).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "vm/diagnostic.hpp"

namespace bpf::capture {

// A capture time exactly as the source gave it (pcap record header, tpacket3_hdr): seconds and
// fraction in the source's resolution (microseconds, or nanoseconds when the source says nano()).
// Kept raw, never normalised, so that copying a file is bit-exact even for the out-of-range
// values libpcap passes through (fraction >= 1 s, seconds past 2038).
struct Timestamp {
  uint32_t sec = 0;
  uint32_t frac = 0;
  friend bool operator==(const Timestamp&, const Timestamp&) = default;
};

// One packet as the consumer sees it: a view into a hold buffer, valid until release().
struct Packet {
  Timestamp ts;
  uint32_t caplen = 0;     // bytes present at data
  uint32_t wirelen = 0;    // length on the wire
  const uint8_t* data = nullptr;
};

// The record header stored in front of each packet in a buffer.
struct RecordHeader {
  Timestamp ts;
  uint32_t caplen;
  uint32_t wirelen;
};
static_assert(sizeof(RecordHeader) == 16);
// Records start at multiples of kRecordAlign (as BPF_WORDALIGN does in bpf(4)), unless the ring
// is packed (Ring::Options::packed: align 1): then a buffer is exactly a pcap record stream.
inline constexpr size_t kRecordAlign = 8;
constexpr size_t record_size(uint32_t caplen, size_t align = kRecordAlign) {
  return (sizeof(RecordHeader) + caplen + align - 1) & ~(align - 1);
}

struct RingStats {
  uint64_t received = 0;   // packets the capture thread saw
  uint64_t accepted = 0;   // the filter kept them
  uint64_t rejected = 0;   // the filter dropped them
  uint64_t delivered = 0;  // stored in a buffer (reach the consumer)
  uint64_t dropped = 0;    // accepted but both buffers were full
  uint64_t bytes = 0;      // captured bytes delivered (sum of caplen)
  uint64_t rotations = 0;  // buffers handed to the consumer
};

// A whole hold buffer, iterated in place.
class Batch {
 public:
  class Iterator {
   public:
    Iterator(const uint8_t* p, size_t align) : p_(p), align_(align) {}
    Packet operator*() const {
      RecordHeader h;
      std::memcpy(&h, p_, sizeof h);
      return Packet{h.ts, h.caplen, h.wirelen, p_ + sizeof(RecordHeader)};
    }
    Iterator& operator++() {
      uint32_t caplen;
      std::memcpy(&caplen, p_ + offsetof(RecordHeader, caplen), sizeof caplen);
      p_ += record_size(caplen, align_);
      return *this;
    }
    bool operator!=(const Iterator& o) const { return p_ != o.p_; }
    bool operator==(const Iterator& o) const { return p_ == o.p_; }

   private:
    const uint8_t* p_;
    size_t align_;
  };

  Batch() = default;
  Iterator begin() const { return Iterator(data_, align_); }
  Iterator end() const { return Iterator(data_ + len_, align_); }
  // The records as stored (header, data, padding to the ring's alignment), in place.
  const uint8_t* bytes() const { return data_; }
  // Whether records follow each other without padding (a packed ring): bytes() is then exactly
  // a pcap-savefile record stream.
  bool packed() const { return align_ == 1; }
  uint32_t count() const { return count_; }
  uint32_t size_bytes() const { return len_; }
  bool empty() const { return count_ == 0; }

 private:
  friend class Ring;
  const uint8_t* data_ = nullptr;
  uint32_t len_ = 0;
  uint32_t count_ = 0;
  uint32_t index_ = 0;  // which buffer
  uint32_t gen_ = 0;    // producer generation it was published with
  uint8_t align_ = kRecordAlign;
};

class Ring {
 public:
  struct Options {
    size_t buffer_bytes = 4u << 20;      // each of the two buffers (BSD: bpf_bufsize)
    uint64_t timeout_ns = 50'000'000;    // rotate a non-empty store buffer this old (0 = never)
    bool immediate = false;              // rotate after every packet when the hold is free
    bool block_when_full = false;        // producer waits for the consumer instead of dropping
    // No padding between records: a buffer is a pcap record stream that a file writer hands to
    // the kernel in one piece (packet data is then not 8-byte aligned; readers memcpy headers).
    bool packed = false;
  };

  enum class Wait { kBatch, kTimeout, kEnd };

  // Maps the two buffers and the control block (MAP_SHARED: survives fork()).
  static Result<std::unique_ptr<Ring>> create(const Options& opts);
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // ---- producer side (one thread) ----
  // Stores one accepted packet (counted as accepted); false if it was dropped. caplen is clipped
  // to what a buffer can hold.
  bool push(Timestamp ts, const uint8_t* data, uint32_t caplen, uint32_t wirelen);
  // Counts packets the filter saw / rejected (received = accepted + rejected).
  void count_rejected(uint64_t n);
  // Rotates if the store buffer is older than the timeout or the consumer asked; call it
  // whenever the producer wakes up (after each source batch, on poll timeouts).
  void tick();
  // Hands the last packets over (waiting for the consumer if needed) and marks the end.
  void finish();

  // ---- consumer side (one thread) ----
  // Waits up to timeout_ms (-1: forever) for a full hold buffer. kEnd once the producer has
  // finished and every buffer has been consumed.
  Wait next(Batch& out, int timeout_ms = -1);
  // Returns the buffer to the producer; the views of `b` are invalid afterwards.
  void release(Batch& b);
  // Asks the producer to rotate at its next tick even if the store buffer is not full
  // (FreeBSD's BIOCROTZBUF).
  void request_rotate();

  // Either side: a consistent-enough snapshot (exact once finish() has returned).
  RingStats stats() const;
  size_t buffer_bytes() const { return cap_; }
  bool finished() const;

 private:
  struct Control;
  Ring() = default;
  static uint64_t load_counter(const std::atomic<uint64_t>& c) {
    return c.load(std::memory_order_relaxed);
  }
  static void store_counter(std::atomic<uint64_t>& c, uint64_t v) {
    c.store(v, std::memory_order_relaxed);
  }
  bool try_rotate();
  void wait_for_space();
  uint64_t now_ns() const;

  void* map_ = nullptr;
  size_t map_len_ = 0;
  Control* ctl_ = nullptr;
  uint8_t* buf_[2] = {nullptr, nullptr};
  size_t cap_ = 0;
  Options opts_;

  // producer-local state (never read by the consumer)
  uint32_t store_ = 0;
  size_t off_ = 0;
  uint32_t count_ = 0;
  uint32_t pgen_[2] = {0, 0};
  uint64_t store_first_ns_ = 0;

  // consumer-local state
  uint32_t next_ = 0;
};

}  // namespace bpf::capture
