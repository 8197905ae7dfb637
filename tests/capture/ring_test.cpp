// Stress and protocol tests of the hold/store ring (capture/ring.hpp).
//
// A producer thread pushes millions of packets of random sizes whose bytes are derived from
// their sequence number and carry a position-weighted checksum; a consumer thread reads the
// batches in place and checks every packet: checksum, lengths, timestamp, strictly increasing
// sequence. Gaps in the sequence are losses, and their sum must equal the ring's `dropped`
// counter exactly; the counters must reconcile (accepted = delivered + dropped, received =
// accepted + rejected) and the consumer must have seen exactly `delivered` packets.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "capture/ring.hpp"

namespace bpf::capture {
namespace {

constexpr size_t kPool = 1 << 16;
constexpr uint32_t kMinLen = 16, kMaxLen = 400;

const std::vector<uint8_t>& pool() {
  static const std::vector<uint8_t> p = [] {
    std::vector<uint8_t> v(kPool + kMaxLen);
    std::mt19937_64 rng(42);
    for (auto& b : v) b = static_cast<uint8_t>(rng());
    return v;
  }();
  return p;
}

uint32_t checksum(const uint8_t* p, uint32_t n) {
  uint32_t h = 0;
  for (uint32_t i = 0; i < n; ++i) h += uint32_t(p[i]) * (i + 1);
  return h;
}

// Packet `seq`: [0,8) seq, [8,12) checksum of [12,len), then pool bytes at a seq-derived offset.
uint32_t make_packet(uint64_t seq, uint32_t len, uint8_t* out) {
  std::memcpy(out + 12, pool().data() + (seq * 2654435761u) % kPool, len - 12);
  const uint32_t sum = checksum(out + 12, len - 12);
  std::memcpy(out, &seq, 8);
  std::memcpy(out + 8, &sum, 4);
  return len;
}

struct Outcome {
  uint64_t seen = 0;
  uint64_t gaps = 0;
  uint64_t corrupt = 0;
  uint64_t batches = 0;
  int64_t last = -1;
  RingStats stats;
};

Outcome run(uint64_t n, const Ring::Options& opts, int consumer_sleep_us, uint64_t rejected_every) {
  auto ring_or = Ring::create(opts);
  EXPECT_TRUE(ring_or.ok());
  Ring& ring = **ring_or;
  Outcome out;
  std::thread consumer([&] {
    int64_t last = -1;
    Batch b;
    for (;;) {
      const Ring::Wait w = ring.next(b, 100);
      if (w == Ring::Wait::kEnd) break;
      if (w == Ring::Wait::kTimeout) continue;
      ++out.batches;
      for (const Packet& p : b) {
        uint64_t seq;
        uint32_t sum;
        std::memcpy(&seq, p.data, 8);
        std::memcpy(&sum, p.data + 8, 4);
        const bool ok = p.caplen >= kMinLen && p.caplen <= kMaxLen &&
                        p.wirelen == p.caplen + seq % 7 && p.ts == Timestamp{uint32_t(seq), 7} &&
                        int64_t(seq) > last && checksum(p.data + 12, p.caplen - 12) == sum;
        if (!ok) {
          ++out.corrupt;
          continue;
        }
        out.gaps += seq - uint64_t(last + 1);
        last = int64_t(seq);
        ++out.seen;
      }
      ring.release(b);
      if (consumer_sleep_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(consumer_sleep_us));
    }
    out.last = last;
  });
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> len(kMinLen, kMaxLen);
  std::vector<uint8_t> pkt(kMaxLen);
  uint64_t rejected = 0;
  for (uint64_t seq = 0; seq < n; ++seq) {
    if (rejected_every != 0 && seq % rejected_every == 0) {
      // A filtered-out packet: counted, never stored (the sequence stays dense over accepted
      // packets, so a gap is always a loss).
      ++rejected;
      ring.count_rejected(1);
    }
    const uint32_t l = make_packet(seq, len(rng), pkt.data());
    ring.push(Timestamp{uint32_t(seq), 7}, pkt.data(), l, l + uint32_t(seq % 7));
    if ((seq & 1023) == 0) ring.tick();
  }
  ring.finish();
  consumer.join();
  out.stats = ring.stats();
  EXPECT_EQ(out.stats.rejected, rejected);
  return out;
}

void check_reconciles(const Outcome& o, uint64_t n) {
  EXPECT_EQ(o.corrupt, 0u);
  EXPECT_EQ(o.stats.accepted, n);
  EXPECT_EQ(o.stats.received, o.stats.accepted + o.stats.rejected);
  EXPECT_EQ(o.stats.accepted, o.stats.delivered + o.stats.dropped);
  EXPECT_EQ(o.seen, o.stats.delivered);
  // Every loss is counted: the gaps in the sequence, plus the packets missing after the last one
  // seen, are exactly the dropped packets.
  EXPECT_EQ(o.seen + o.stats.dropped, n);
  EXPECT_EQ(o.gaps + (n - 1 - uint64_t(o.last)), o.stats.dropped);
}

TEST(Ring, TenMillionPacketsFastConsumer) {
  constexpr uint64_t kN = 10'000'000;
  Ring::Options opts;
  opts.buffer_bytes = 1 << 20;
  const Outcome o = run(kN, opts, 0, 1000);
  check_reconciles(o, kN);
  EXPECT_GT(o.batches, 100u);
  std::printf("fast consumer: delivered %llu dropped %llu batches %llu\n",
              (unsigned long long)o.stats.delivered, (unsigned long long)o.stats.dropped,
              (unsigned long long)o.batches);
}

TEST(Ring, TenMillionPacketsSlowConsumerDropsAndCountsEveryLoss) {
  constexpr uint64_t kN = 10'000'000;
  Ring::Options opts;
  opts.buffer_bytes = 64 << 10;
  const Outcome o = run(kN, opts, 300, 0);
  check_reconciles(o, kN);
  EXPECT_GT(o.stats.dropped, 0u) << "a consumer sleeping 300us per 64 KiB batch must lose packets";
  EXPECT_GT(o.seen, 0u);
  std::printf("slow consumer: delivered %llu dropped %llu batches %llu\n",
              (unsigned long long)o.stats.delivered, (unsigned long long)o.stats.dropped,
              (unsigned long long)o.batches);
}

TEST(Ring, BlockingProducerLosesNothing) {
  constexpr uint64_t kN = 3'000'000;
  Ring::Options opts;
  opts.buffer_bytes = 64 << 10;
  opts.block_when_full = true;
  const Outcome o = run(kN, opts, 20, 0);
  check_reconciles(o, kN);
  EXPECT_EQ(o.stats.dropped, 0u);
  EXPECT_EQ(o.seen, kN);
  EXPECT_EQ(o.gaps, 0u);
}

// The buffers and their control block are MAP_SHARED: a consumer in another process (fork) reads
// the same hold buffers in place, with the same generation protocol and shared futexes.
TEST(Ring, ConsumerInAnotherProcess) {
  constexpr uint64_t kN = 1'000'000;
  Ring::Options opts;
  opts.buffer_bytes = 256 << 10;
  opts.block_when_full = true;
  auto r = Ring::create(opts);
  ASSERT_TRUE(r.ok());
  Ring& ring = **r;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {  // consumer process: verify every packet, report (seen, corrupt) through the pipe
    uint64_t result[2] = {0, 0};
    int64_t last = -1;
    Batch b;
    for (;;) {
      const Ring::Wait w = ring.next(b, 100);
      if (w == Ring::Wait::kEnd) break;
      if (w != Ring::Wait::kBatch) continue;
      for (const Packet& p : b) {
        uint64_t seq;
        uint32_t sum;
        std::memcpy(&seq, p.data, 8);
        std::memcpy(&sum, p.data + 8, 4);
        const bool ok = int64_t(seq) == last + 1 && checksum(p.data + 12, p.caplen - 12) == sum;
        ++result[ok ? 0 : 1];
        last = int64_t(seq);
      }
      ring.release(b);
    }
    (void)!write(fds[1], result, sizeof result);
    _exit(0);
  }
  std::mt19937 rng(3);
  std::uniform_int_distribution<uint32_t> len(kMinLen, kMaxLen);
  std::vector<uint8_t> pkt(kMaxLen);
  for (uint64_t seq = 0; seq < kN; ++seq) {
    const uint32_t l = make_packet(seq, len(rng), pkt.data());
    ring.push(Timestamp{uint32_t(seq), 0}, pkt.data(), l, l);
  }
  ring.finish();
  uint64_t result[2] = {0, 0};
  ASSERT_EQ(read(fds[0], result, sizeof result), ssize_t(sizeof result));
  int status = 0;
  waitpid(pid, &status, 0);
  close(fds[0]);
  close(fds[1]);
  EXPECT_EQ(result[0], kN);
  EXPECT_EQ(result[1], 0u);
  EXPECT_EQ(ring.stats().delivered, kN);
}

TEST(Ring, ImmediateModeHandsOverEachPacket) {
  Ring::Options opts;
  opts.buffer_bytes = 64 << 10;
  opts.immediate = true;
  opts.timeout_ns = 0;
  auto r = Ring::create(opts);
  ASSERT_TRUE(r.ok());
  Ring& ring = **r;
  uint8_t pkt[64] = {1, 2, 3};
  ASSERT_TRUE(ring.push(Timestamp{5, 0}, pkt, 64, 64));
  Batch b;
  ASSERT_EQ(ring.next(b, 0), Ring::Wait::kBatch);
  EXPECT_EQ(b.count(), 1u);
  EXPECT_EQ((*b.begin()).ts.sec, 5u);
  EXPECT_EQ((*b.begin()).data[2], 3);
  // While the consumer holds buffer 0, packets accumulate in the store buffer.
  ASSERT_TRUE(ring.push(Timestamp{6, 0}, pkt, 64, 64));
  ASSERT_TRUE(ring.push(Timestamp{7, 0}, pkt, 64, 64));
  ring.release(b);
  EXPECT_EQ(ring.next(b, 0), Ring::Wait::kTimeout) << "nothing rotates until the producer runs";
  ASSERT_TRUE(ring.push(Timestamp{8, 0}, pkt, 64, 64));  // rotates now that the hold buffer is free
  ASSERT_EQ(ring.next(b, 0), Ring::Wait::kBatch);
  EXPECT_EQ(b.count(), 3u);
  uint64_t want = 6;
  for (const Packet& p : b) EXPECT_EQ(p.ts.sec, want++);
  ring.release(b);
  ring.finish();
  EXPECT_EQ(ring.next(b, 0), Ring::Wait::kEnd);
}

TEST(Ring, TimeoutAndRotateRequest) {
  Ring::Options opts;
  opts.buffer_bytes = 1 << 20;
  opts.timeout_ns = 20'000'000;
  auto r = Ring::create(opts);
  ASSERT_TRUE(r.ok());
  Ring& ring = **r;
  uint8_t pkt[100] = {};
  ring.push(Timestamp{1, 0}, pkt, 100, 100);
  ring.tick();
  Batch b;
  EXPECT_EQ(ring.next(b, 0), Ring::Wait::kTimeout);
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  ring.tick();
  ASSERT_EQ(ring.next(b, 0), Ring::Wait::kBatch);
  EXPECT_EQ(b.count(), 1u);
  ring.release(b);
  ring.push(Timestamp{2, 0}, pkt, 100, 100);
  ring.request_rotate();
  ring.tick();
  ASSERT_EQ(ring.next(b, 0), Ring::Wait::kBatch);
  EXPECT_EQ((*b.begin()).ts.sec, 2u);
  ring.release(b);
  const RingStats s = ring.stats();
  EXPECT_EQ(s.delivered, 2u);
  EXPECT_EQ(s.bytes, 200u);
}

TEST(Ring, OversizedPacketIsClippedNotOverflowing) {
  Ring::Options opts;
  opts.buffer_bytes = 4096;
  auto r = Ring::create(opts);
  ASSERT_TRUE(r.ok());
  Ring& ring = **r;
  std::vector<uint8_t> big(10000, 0xab);
  ASSERT_TRUE(ring.push(Timestamp{1, 0}, big.data(), 10000, 10000));
  ring.finish();
  Batch b;
  ASSERT_EQ(ring.next(b, 0), Ring::Wait::kBatch);
  const Packet p = *b.begin();
  EXPECT_LT(p.caplen, 4096u);
  EXPECT_EQ(p.wirelen, 10000u);
  EXPECT_EQ(p.data[p.caplen - 1], 0xab);
}

// A packed ring stores records back to back: a hold buffer is exactly the pcap record stream
// of its packets (what PcapWriter::write_batch hands to the kernel in one piece).
TEST(Ring, PackedRecordsAreAPcapRecordStream) {
  Ring::Options o;
  o.buffer_bytes = 1 << 16;
  o.packed = true;
  o.timeout_ns = 0;
  auto ring = Ring::create(o);
  ASSERT_TRUE(ring.ok());
  std::vector<uint8_t> expect;
  for (uint32_t i = 0; i < 50; ++i) {
    std::vector<uint8_t> pkt(13 + i * 7 % 61, uint8_t(i));
    const uint32_t h[4] = {1000 + i, i, uint32_t(pkt.size()), uint32_t(pkt.size()) + 3};
    expect.insert(expect.end(), reinterpret_cast<const uint8_t*>(h),
                  reinterpret_cast<const uint8_t*>(h) + 16);
    expect.insert(expect.end(), pkt.begin(), pkt.end());
    ASSERT_TRUE((*ring)->push(Timestamp{1000 + i, i}, pkt.data(), uint32_t(pkt.size()),
                              uint32_t(pkt.size()) + 3));
  }
  (*ring)->finish();
  Batch b;
  ASSERT_EQ((*ring)->next(b, 1000), Ring::Wait::kBatch);
  EXPECT_TRUE(b.packed());
  EXPECT_EQ(b.count(), 50u);
  ASSERT_EQ(b.size_bytes(), expect.size());
  EXPECT_EQ(std::vector<uint8_t>(b.bytes(), b.bytes() + b.size_bytes()), expect);
  uint32_t i = 0;
  for (const Packet& p : b) {  // and iteration still walks every record
    EXPECT_EQ(p.ts.sec, 1000 + i);
    EXPECT_EQ(p.caplen, 13 + i * 7 % 61);
    EXPECT_EQ(p.data[0], uint8_t(i));
    ++i;
  }
  EXPECT_EQ(i, 50u);
}

TEST(Ring, RejectsSillySizes) {
  Ring::Options opts;
  opts.buffer_bytes = 100;
  EXPECT_FALSE(Ring::create(opts).ok());
}

}  // namespace
}  // namespace bpf::capture
