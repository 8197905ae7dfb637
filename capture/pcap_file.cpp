// pcap/pcapng files, and the classic pcap writer.
//
// Every input is opened once, by us (open(2), or fd 0 for "-"): pipes, FIFOs, /dev/stdin and
// process substitution are read exactly like files, and a file that changes while it is read is
// never reopened by name. Classic pcap in a regular file is read by our own reader (below);
// anything else (pcapng, other versions, pipes) goes to libpcap through the same descriptor
// (pcap_fopen_offline_with_tstamp_precision), micro as tcpdump by default, or nano, one packet
// per read() (libpcap reuses its buffer); a pcapng regular file's packet directions are scanned
// beside it (pcapng_direction.hpp). libpcap's messages ("truncated dump file; tried to read
// ...") are passed on as is, and our reader writes the same ones.
//
// A file that shrinks while it is read (another process truncating it) ends the read like a
// truncated file: every whole record before the cut is delivered, then an error. Nothing is
// mapped, so nothing can fault (a mapping of a file that shrinks raises SIGBUS on the pages past
// its new end, in whatever code touches them: the filter, a JIT's code, the consumer).
//
// Writing is our own (the format is 24 + 16 bytes of headers, pcap-savefile(5)): one buffer of
// 1 MiB flushed with write(2), the timestamps as read, the magic in host byte order and the link
// type with its FCS bits: exactly what `tcpdump -w` writes for the same records.
// Tested in tests/capture/source_test.cpp and tests/capture/reader_test.cpp.
#include <fcntl.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "capture/pcapng_direction.hpp"
#include "capture/source.hpp"

namespace bpf::capture {
namespace {

int precision(bool nano) { return nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO; }

// DLT_ values (what pcap_datalink returns) that differ from the LINKTYPE_ value a file header
// holds: libpcap's dlt_to_linktype (pcap-common.c), which pcap_dump_open applies too.
uint32_t linktype_for_file(int dlt) {
  switch (dlt) {
    case 11: return 100;  // DLT_ATM_RFC1483
    case 12: return 101;  // DLT_RAW (Linux, most BSDs)
    case 14: return 101;  // DLT_RAW (OpenBSD)
    case 15: return 102;  // DLT_SLIP_BSDOS
    case 16: return 103;  // DLT_PPP_BSDOS
    case 19: return 106;  // DLT_ATM_CLIP
    case 17: return 117;  // DLT_PFLOG (OpenBSD numbering)
    case 18: return 246;  // DLT_PFSYNC (OpenBSD numbering)
    default: return static_cast<uint32_t>(dlt);
  }
}

// The upper bits of a header's link type (LT_LINKTYPE_EXT, pcap-common.h): the FCS length.
constexpr uint32_t kLinktypeExtMask = 0xfc000000u;

class FileSource final : public Source {
 public:
  FileSource(pcap_t* p, uint64_t size, bool nano, uint64_t pos = 24,
             std::unique_ptr<PcapngDirections> dirs = nullptr)
      : p_(p), size_(size), nano_(nano), pos_(pos), dirs_(std::move(dirs)) {}
  ~FileSource() override { pcap_close(p_); }

  Status read(std::vector<Frame>& out, int timeout_ms) override {
    out.clear();
    if (size_ == 0 && !readable(timeout_ms)) return Status::kOk;  // a pipe with nothing yet
    pcap_pkthdr* h = nullptr;
    const u_char* data = nullptr;
    const int rc = pcap_next_ex(p_, &h, &data);
    if (rc == 1) {
      Frame f;
      f.data = data;
      f.caplen = h->caplen;
      f.wirelen = h->len;
      // Raw header values (tv_usec holds nanoseconds with PCAP_TSTAMP_PRECISION_NANO).
      f.ts = Timestamp{static_cast<uint32_t>(h->ts.tv_sec), static_cast<uint32_t>(h->ts.tv_usec)};
      if (dirs_) f.direction = dirs_->next();
      if (require_direction_ && f.direction == Direction::kUnknown) {
        error_ = "packet " + std::to_string(packets_) + " of the file does not record its " +
                 "direction (no epb_flags direction bits), which the filter reads";
        return Status::kError;
      }
      ++packets_;
      out.push_back(f);
      // Approximate position (record header + data) for progress(); exact for classic pcap.
      pos_.store(pos_.load(std::memory_order_relaxed) + 16 + h->caplen, std::memory_order_relaxed);
      return Status::kOk;
    }
    if (rc == PCAP_ERROR_BREAK) return Status::kEnd;
    error_ = pcap_geterr(p_);
    return Status::kError;
  }
  int linktype() const override { return pcap_datalink(p_); }
  uint32_t linktype_ext() const override { return static_cast<uint32_t>(pcap_datalink_ext(p_)) & kLinktypeExtMask; }
  uint32_t snaplen() const override { return static_cast<uint32_t>(pcap_snapshot(p_)); }
  bool nano() const override { return nano_; }
  bool require_direction() override {
    require_direction_ = dirs_ != nullptr;
    return require_direction_;
  }
  double progress() const override {
    if (size_ == 0) return -1;
    return std::min(1.0, double(pos_.load(std::memory_order_relaxed)) / double(size_));
  }

 private:
  // Pipes and terminals (`-r -`): wait at most timeout_ms for input, so the capture thread can
  // notice a stop request instead of blocking in fread. Data already in the FILE buffer counts
  // (glibc's public _IO_read_ptr/_IO_read_end fields, <bits/types/struct_FILE.h>). A poll() cut
  // short by a signal (-1, EINTR) is "nothing yet": the signal may be the stop request, and the
  // caller looks at its stop flag before it calls again (reading would block until input came).
  bool readable(int timeout_ms) const {
    FILE* fp = pcap_file(p_);
    if (fp == nullptr || fp->_IO_read_ptr < fp->_IO_read_end) return true;
    pollfd pfd{fileno(fp), POLLIN, 0};
    const int rc = poll(&pfd, 1, timeout_ms);
    return rc > 0 || (rc < 0 && errno != EINTR);  // other poll errors: the read reports them
  }

  pcap_t* p_;
  uint64_t size_;
  bool nano_;
  std::atomic<uint64_t> pos_;
  std::unique_ptr<PcapngDirections> dirs_;  // pcapng regular files: directions beside libpcap
  bool require_direction_ = false;
  uint64_t packets_ = 0;
};

// libpcap on a descriptor we opened; `fd` is consumed (closed on failure too). The FILE starts
// at `offset` (after the header has been read from the start of the file).
Result<std::unique_ptr<FileSource>> libpcap_source(int fd, const std::string& path, uint64_t size,
                                                   bool nano, uint64_t offset = 0,
                                                   bool scan_directions = false) {
  Diagnostics d;
  FILE* fp = offset != 0 && lseek(fd, 0, SEEK_SET) != 0 ? nullptr : fdopen(fd, "rb");
  if (fp == nullptr) {
    d.error(path + ": " + std::strerror(errno));
    ::close(fd);
    return d;
  }
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_fopen_offline_with_tstamp_precision(fp, precision(nano), err);
  if (p == nullptr) {
    std::fclose(fp);  // libpcap leaves the FILE to its caller on failure
    d.error(path + ": " + err);
    return d;
  }
  if (offset != 0 && fseeko(fp, off_t(offset), SEEK_SET) != 0) {
    d.error(path + ": " + std::strerror(errno));
    pcap_close(p);
    return d;
  }
  // A pcapng regular file read from its start: its records' directions, scanned beside libpcap.
  std::unique_ptr<PcapngDirections> dirs;
  if (size != 0 && offset == 0 && scan_directions) dirs = PcapngDirections::open(fd, size);
  return std::make_unique<FileSource>(p, size, nano, offset != 0 ? offset : 24, std::move(dirs));
}

// Classic pcap files that are regular files: read with pread(2) into one buffer, up to kBatch
// records per read() (the frames point into the buffer; it is refilled only when a read()
// finds no whole record left in it, i.e. after the previous batch's views are dead). Only what
// is certain to be read the same way by libpcap takes this path: version 2.4, either byte order,
// micro or nano magic, a link type whose DLT equals its LINKTYPE (or RAW), with or without FCS
// bits, a header snap length in 1..262144, and records whose caplen does not exceed it. At the
// first record with a larger caplen, reading continues through libpcap from that record on
// (same descriptor), so its errors and quirks are libpcap's own; a record cut short by the end
// of the file gets libpcap's message, written here.
// Measured against the mapping this replaced (mmap, page tables filled by a second thread,
// frames pointing into the mapping), 262 MB in the page cache, `bpfdump -r F -w OUT EXPR`, best
// of 10 interleaved runs, on a machine with other builds running: `tcp port 80 or udp` 0.104-
// 0.184 s against 0.119-0.216 s (5 series; the mapping won one), `tcp port 22 and host 10.0.0.3`
// 0.074-0.096 against 0.101-0.122, no filter 0.200-0.249 against 0.220-0.252: the copy out of
// the page cache costs no more than filling the page tables did, and a mapping cannot survive
// its file shrinking.
class PcapReader final : public Source {
 public:
  static constexpr size_t kBatch = 256;
  static constexpr size_t kChunk = size_t(256) << 10;          // one pread
  // kChunk + one whole record left over, in whole pages (aligned_alloc wants a multiple).
  static constexpr size_t kCapacity = (kChunk + 16 + 262144 + 4095) & ~size_t(4095);

  ~PcapReader() override {
    if (fd_ >= 0) ::close(fd_);
  }

  // The reader, or the descriptor back (fd_out) when the file is not eligible.
  static std::unique_ptr<PcapReader> open(int fd, const std::string& path, uint64_t size, bool nano) {
    uint8_t hdr[24];
    if (size < 24 || pread(fd, hdr, 24, 0) != 24) return nullptr;
    std::unique_ptr<PcapReader> s(new PcapReader());
    if (!s->parse_header(hdr)) return nullptr;
    s->buf_.reset(static_cast<uint8_t*>(std::aligned_alloc(4096, kCapacity)));
    if (!s->buf_) return nullptr;
    s->fd_ = fd;
    s->size_ = size;
    s->path_ = path;
    s->want_nano_ = nano;
    return s;
  }

  Status read(std::vector<Frame>& out, int timeout_ms) override {
    if (fallback_) {
      const Status st = fallback_->read(out, timeout_ms);
      if (st == Status::kError) error_ = fallback_->error();
      return st;
    }
    out.clear();
    bool oversized = false;
    for (;;) {
      while (out.size() < kBatch) {
        const size_t avail = end_ - pos_;
        if (avail < 16) break;
        uint32_t h[4];
        std::memcpy(h, buf_.get() + pos_, 16);
        if (swapped_)
          for (uint32_t& v : h) v = __builtin_bswap32(v);
        const uint32_t caplen = h[2];
        if (caplen > snaplen_) {
          oversized = true;
          break;
        }
        if (avail - 16 < caplen) break;
        Frame f;
        f.data = buf_.get() + pos_ + 16;
        f.caplen = caplen;
        f.wirelen = h[3];
        f.ts = Timestamp{h[0], scale(h[1])};
        out.push_back(f);
        pos_ += 16 + caplen;
      }
      if (!out.empty() || oversized || eof_) break;
      // No whole record left: the previous batch is dead (out was empty on entry), refill.
      if (!fill()) return Status::kError;
    }
    consumed_.store(buf_off_ + pos_, std::memory_order_relaxed);
    if (!out.empty()) return Status::kOk;
    if (oversized) return switch_to_libpcap(out, timeout_ms);
    return end_of_file();
  }
  int linktype() const override { return dlt_; }
  uint32_t linktype_ext() const override { return ext_; }
  uint32_t snaplen() const override { return snaplen_; }
  bool nano() const override { return want_nano_; }
  double progress() const override {
    return std::min(1.0, double(consumed_.load(std::memory_order_relaxed)) / double(size_));
  }

 private:
  PcapReader() = default;

  bool parse_header(const uint8_t* hdr) {
    uint32_t magic;
    std::memcpy(&magic, hdr, 4);
    switch (magic) {
      case 0xa1b2c3d4u: break;
      case 0xa1b23c4du: file_nano_ = true; break;
      case 0xd4c3b2a1u: swapped_ = true; break;
      case 0x4d3cb2a1u: swapped_ = file_nano_ = true; break;
      default: return false;  // pcapng or not a capture: libpcap decides
    }
    uint16_t major, minor;
    uint32_t snap, link;
    std::memcpy(&major, hdr + 4, 2);
    std::memcpy(&minor, hdr + 6, 2);
    std::memcpy(&snap, hdr + 16, 4);
    std::memcpy(&link, hdr + 20, 4);
    if (swapped_) {
      major = __builtin_bswap16(major);
      minor = __builtin_bswap16(minor);
      snap = __builtin_bswap32(snap);
      link = __builtin_bswap32(link);
    }
    if (major != 2 || minor != 4 || snap == 0 || snap > 262144) return false;
    ext_ = link & kLinktypeExtMask;  // LT_LINKTYPE_EXT: libpcap's linktype_ext
    switch (link & ~kLinktypeExtMask) {  // LINKTYPE_ -> DLT_ where libpcap maps them (pcap-common.c)
      case 0: case 1: case 105: case 113: case 127: case 228: case 229: case 276: dlt_ = int(link & ~kLinktypeExtMask); break;
      case 101: dlt_ = 12; break;  // LINKTYPE_RAW -> DLT_RAW
      default: return false;
    }
    snaplen_ = snap;
    return true;
  }

  // Moves the unread tail to the front and reads up to kChunk more bytes. False on a read error.
  bool fill() {
    const size_t keep = end_ - pos_;
    if (pos_ != 0) std::memmove(buf_.get(), buf_.get() + pos_, keep);
    buf_off_ += pos_;
    pos_ = 0;
    end_ = keep;
    for (;;) {
      const ssize_t n = pread(fd_, buf_.get() + end_, std::min(kChunk, kCapacity - end_), off_t(buf_off_ + end_));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        error_ = std::string("error reading dump file: ") + std::strerror(errno);
        return false;
      }
      if (n == 0) eof_ = true;
      end_ += size_t(n);
      return true;
    }
  }

  // No whole record left and the file ends: cleanly at a record boundary, or with libpcap's
  // messages for a cut record (sf-pcap.c). A file that is now shorter than what was read (it
  // shrank under us) is truncated too, even when the cut falls on a record boundary.
  Status end_of_file() {
    const size_t left = end_ - pos_;
    const uint64_t read_to = buf_off_ + end_;
    struct stat st{};
    char msg[160];
    if (fstat(fd_, &st) == 0 && uint64_t(st.st_size) < read_to) {
      std::snprintf(msg, sizeof msg, "truncated dump file; the file shrank to %lld bytes while it was read (at byte %llu)",
                    static_cast<long long>(st.st_size), static_cast<unsigned long long>(read_to));
    } else if (left == 0) {
      return Status::kEnd;
    } else if (left < 16) {
      std::snprintf(msg, sizeof msg, "truncated dump file; tried to read 16 header bytes, only got %zu", left);
    } else {
      uint32_t caplen;
      std::memcpy(&caplen, buf_.get() + pos_ + 8, 4);
      if (swapped_) caplen = __builtin_bswap32(caplen);
      std::snprintf(msg, sizeof msg, "truncated dump file; tried to read %u captured bytes, only got %zu", caplen, left - 16);
    }
    error_ = msg;
    return Status::kError;
  }

  uint32_t scale(uint32_t frac) const {
    if (file_nano_ == want_nano_) return frac;
    // libpcap's scaling between resolutions (sf-pcap.c: SCALE_UP / SCALE_DOWN) into the long
    // tv_usec, truncated to 32 bits by pcap_dump. The field is read as a signed bpf_int32 from a
    // file in host byte order (fractions >= 2^31 are negative) and as unsigned from a swapped
    // one (SWAPLONG casts to u_int): up, both give the same bits; down, they differ.
    if (want_nano_) return frac * 1000u;
    return swapped_ ? frac / 1000u : static_cast<uint32_t>(static_cast<int32_t>(frac) / 1000);
  }

  // Hands over to libpcap at the current record: a second descriptor on the same open file
  // (dup), header read from its start, then positioned at the record.
  Status switch_to_libpcap(std::vector<Frame>& out, int timeout_ms) {
    const int fd = dup(fd_);
    if (fd < 0) {
      error_ = std::string("dup: ") + std::strerror(errno);
      return Status::kError;
    }
    auto src = libpcap_source(fd, path_, size_, want_nano_, buf_off_ + pos_);
    if (!src.ok()) {
      error_ = src.diagnostics().items().front().message;
      return Status::kError;
    }
    fallback_ = src.take();
    return read(out, timeout_ms);
  }

  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string path_;
  bool swapped_ = false, file_nano_ = false, want_nano_ = false;
  uint32_t snaplen_ = 0, ext_ = 0;
  int dlt_ = 1;
  std::unique_ptr<uint8_t, Free> buf_;
  uint64_t buf_off_ = 24;  // file offset of buf_[0]
  size_t pos_ = 0, end_ = 0;
  bool eof_ = false;
  std::atomic<uint64_t> consumed_{24};
  std::unique_ptr<FileSource> fallback_;
};

}  // namespace

Result<std::unique_ptr<Source>> open_file(const std::string& path, bool nano) {
  const int fd = path == "-" ? fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3) : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    Diagnostics d;
    d.error(path + ": " + std::strerror(errno));
    return d;
  }
  struct stat st{};
  const bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  const uint64_t size = regular ? uint64_t(st.st_size) : 0;
  // stdin may be a file opened at any offset (`-r - <f`): only named files take our reader.
  if (regular && path != "-")
    if (auto fast = PcapReader::open(fd, path, size, nano)) return std::unique_ptr<Source>(std::move(fast));
  auto src = libpcap_source(fd, path, size, nano, 0, regular && path != "-");
  if (!src.ok()) return src.diagnostics();
  return std::unique_ptr<Source>(src.take());
}

std::string unknown_linktype(int dlt) {
  // What tcpdump does: compile a filter (the empty one) for the link type; libpcap's compiler
  // refuses link types it does not know ("unknown data link type 999 (min 104, max 289)").
  pcap_t* p = pcap_open_dead(dlt, 262144);
  if (p == nullptr) return "cannot check link type " + std::to_string(dlt);
  bpf_program prog{};
  std::string why;
  if (pcap_compile(p, &prog, "", 1, PCAP_NETMASK_UNKNOWN) != 0)
    why = pcap_geterr(p);
  else
    pcap_freecode(&prog);
  pcap_close(p);
  return why;
}

// ---- PcapWriter ----

namespace {
struct FileHeader {
  uint32_t magic;
  uint16_t version_major, version_minor;
  int32_t thiszone;
  uint32_t sigfigs, snaplen, linktype;
};
struct RecHeader {
  uint32_t sec, usec, caplen, len;
};
constexpr size_t kWriteBuffer = 1u << 20;

}  // namespace

Result<std::unique_ptr<PcapWriter>> PcapWriter::open(const std::string& path, int linktype,
                                                     uint32_t snaplen, bool nano, uint32_t linktype_ext) {
  std::unique_ptr<PcapWriter> w(new PcapWriter());
  if (path == "-") {
    w->fd_ = STDOUT_FILENO;
  } else {
    w->fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd_ < 0) {
      Diagnostics d;
      d.error(path + ": " + std::strerror(errno));
      return d;
    }
    w->own_fd_ = true;
  }
  w->buf_.resize(kWriteBuffer);
  const FileHeader h{nano ? 0xa1b23c4du : 0xa1b2c3d4u, 2, 4, 0, 0, snaplen,
                     linktype_for_file(linktype) | (linktype_ext & kLinktypeExtMask)};
  std::memcpy(w->buf_.data(), &h, sizeof h);
  w->used_ = sizeof h;
  return w;
}

PcapWriter::~PcapWriter() { close(); }

void PcapWriter::write(Timestamp ts, const uint8_t* data, uint32_t caplen, uint32_t wirelen) {
  const size_t need = sizeof(RecHeader) + caplen;
  if (used_ + need > buf_.size()) {
    flush();
    if (need > buf_.size()) buf_.resize(need);
  }
  const RecHeader r{ts.sec, ts.frac, caplen, wirelen};
  std::memcpy(buf_.data() + used_, &r, sizeof r);
  std::memcpy(buf_.data() + used_ + sizeof r, data, caplen);
  used_ += need;
}

size_t PcapWriter::write_batch(const Batch& batch, size_t max) {
  static_assert(sizeof(RecordHeader) == sizeof(RecHeader), "ring records are pcap records");
  flush();  // keep the order with anything buffered
  std::vector<iovec> iov;
  size_t n = 0;
  if (batch.packed() && batch.count() <= max) {  // the buffer is the record stream: one piece
    if (batch.size_bytes() != 0)
      iov.push_back(iovec{const_cast<uint8_t*>(batch.bytes()), batch.size_bytes()});
    n = batch.count();
  } else {
    iov.reserve(std::min<size_t>(batch.count(), max));
    for (const Packet& p : batch) {
      if (n == max) break;
      const uint8_t* rec = p.data - sizeof(RecordHeader);
      const size_t len = sizeof(RecordHeader) + p.caplen;
      if (!iov.empty() && static_cast<uint8_t*>(iov.back().iov_base) + iov.back().iov_len == rec)
        iov.back().iov_len += len;  // contiguous with the previous record (no padding): merge
      else
        iov.push_back(iovec{const_cast<uint8_t*>(rec), len});
      ++n;
    }
  }
  size_t i = 0;
  while (i < iov.size() && fd_ >= 0 && error_.empty()) {
    const int cnt = static_cast<int>(std::min<size_t>(iov.size() - i, IOV_MAX));
    const ssize_t w = ::writev(fd_, iov.data() + i, cnt);
    if (w < 0) {
      if (errno == EINTR) continue;
      errno_ = errno;
      error_ = std::string("write: ") + std::strerror(errno);
      break;
    }
    // Advance over what was written (a short write leaves a partial iovec).
    size_t left = static_cast<size_t>(w);
    while (left > 0 && i < iov.size()) {
      if (left >= iov[i].iov_len) {
        left -= iov[i].iov_len;
        ++i;
      } else {
        iov[i].iov_base = static_cast<uint8_t*>(iov[i].iov_base) + left;
        iov[i].iov_len -= left;
        left = 0;
      }
    }
  }
  return n;
}

bool PcapWriter::flush() {
  size_t done = 0;
  while (done < used_ && fd_ >= 0) {
    const ssize_t n = ::write(fd_, buf_.data() + done, used_ - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (error_.empty()) {
        errno_ = errno;
        error_ = std::string("write: ") + std::strerror(errno);
      }
      used_ = 0;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  used_ = 0;
  return error_.empty();
}

bool PcapWriter::close() {
  if (fd_ < 0) return error_.empty();
  flush();
  if (own_fd_ && ::close(fd_) != 0 && error_.empty()) {
    errno_ = errno;
    error_ = std::string("close: ") + std::strerror(errno);
  }
  fd_ = -1;
  return error_.empty();
}

}  // namespace bpf::capture
