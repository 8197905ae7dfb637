/* bpfc's C API: compile pcap-filter(7) expressions or classic BPF assembly, verify programs, and
 * run them with any engine, shaped after libpcap's pcap_compile / bpf_filter so that a libpcap
 * user can switch by changing a few lines (the contract is ../shared/API.md; manual page bpfc(3)).
 *
 * Promises: every function that can fail returns 0 or a pointer, or -1 / NULL with every
 * diagnostic, newline separated, in `errbuf` (BPFC_ERRBUF_SIZE bytes, always NUL-terminated,
 * truncated at a line boundary when it does not fit). No function prints, exits, throws or
 * aborts; out of memory is an error return. Every function is safe to call from several threads
 * on different objects, and one bpfc_filter may be run from several threads at once.
 * `struct bpfc_program` has the layout of libpcap's `struct bpf_program` (and its instructions
 * that of `struct sock_filter` / `struct bpf_insn`), so a program can be handed to
 * pcap_setfilter / pcap_offline_filter by a cast, and freed by either bpfc_program_free or
 * pcap_freecode (the instructions come from malloc).
 * C99, usable from C++. Tested by tests/api/ (unit tests, layout asserts against <pcap/bpf.h>)
 * and tests/install/ (examples/embed/ built against an installed tree). */
#ifndef BPFC_BPFC_H
#define BPFC_BPFC_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define BPFC_API __attribute__((visibility("default")))
#else
#define BPFC_API
#endif

#define BPFC_ERRBUF_SIZE 512

/* Verification rules and run-time semantics: Linux socket filters or BSD bpf_validate. */
enum { BPFC_TARGET_LINUX = 0, BPFC_TARGET_BSD = 1 };

struct bpfc_insn {          /* == struct sock_filter, struct bpf_insn */
  uint16_t code;
  uint8_t jt, jf;
  uint32_t k;
};
struct bpfc_program {       /* == libpcap's struct bpf_program */
  unsigned int len;
  struct bpfc_insn *insns;
};

/* Compiles a pcap-filter(7) expression for link type `dlt` (a DLT_* value, e.g. 1 = EN10MB);
 * an accepting packet returns `snaplen` (0: 262144, as tcpdump). `optimize` is the level 0-2
 * (bpfc -O; libpcap's 1 = the same optimiser structure, 2 adds redundant load elimination). */
BPFC_API int bpfc_compile(struct bpfc_program *out, const char *expr, int dlt,
                          unsigned int snaplen, int optimize, char *errbuf);
/* Compiles a classifier (bpfc --classify): `rules` holds one pcap-filter(7) expression per line
 * (blank lines and lines starting with '#' skipped); the program returns the number (1, 2, ...)
 * of the first rule that accepts the packet, 0 when none does; each rule keeps its libpcap
 * verdict on every packet whose captured length is its wire length. Errors name LINE:COL of
 * the rule, all of them. */
BPFC_API int bpfc_compile_rules(struct bpfc_program *out, const char *rules, int dlt,
                                int optimize, char *errbuf);
/* Assembles bpf_asm / netsniff-ng bpfc syntax. */
BPFC_API int bpfc_assemble(struct bpfc_program *out, const char *source, char *errbuf);
/* 0 if the verifier of `target` accepts the program (warnings are not errors). */
BPFC_API int bpfc_verify(const struct bpfc_program *prog, int target, char *errbuf);
/* Frees the instructions and sets len = 0, insns = NULL; NULL is allowed. */
BPFC_API void bpfc_program_free(struct bpfc_program *prog);

typedef struct bpfc_filter bpfc_filter;    /* a verified, compiled filter */
/* Verifies `prog` for `target` and compiles it with `engine`: NULL or "auto", "interp",
 * "asmjit", "llvm". The filter does not refer to `prog` afterwards. */
BPFC_API bpfc_filter *bpfc_filter_new(const struct bpfc_program *prog, const char *engine,
                                      int target, char *errbuf);
/* The program's return value for one packet: bytes to keep, 0 = drop. */
BPFC_API unsigned int bpfc_filter_run(const bpfc_filter *f, const unsigned char *pkt,
                                      unsigned int caplen, unsigned int wirelen);
/* verdicts[i] = bpfc_filter_run(f, pkts[i], caplens[i], wirelens[i]) for i < n. */
BPFC_API void bpfc_filter_run_batch(const bpfc_filter *f, const unsigned char *const *pkts,
                                    const unsigned int *caplens, const unsigned int *wirelens,
                                    unsigned int n, unsigned int *verdicts);
/* The engine the filter runs with ("interp", "asmjit", "llvm"): what "auto" chose. */
BPFC_API const char *bpfc_filter_engine(const bpfc_filter *f);
BPFC_API void bpfc_filter_free(bpfc_filter *f);
/* "bpfc MAJOR.MINOR", a static string. */
BPFC_API const char *bpfc_version(void);

#ifdef __cplusplus
}
#endif

#endif /* BPFC_BPFC_H */
