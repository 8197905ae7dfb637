#!/usr/bin/env python3
"""Writes cases/test_bpf.cases: classic-BPF tests of Linux lib/test_bpf.c in our format.

Each entry keeps the kernel test's name, program (as assembly), packet data and its
{ packet length, expected value } pairs. test_bpf builds an skb of `len` bytes whose first bytes
are the test data (zero-padded), protocol ETH_P_IP, pkt_type SKB_TYPE = 3, mark 0x1234aaaa, hash
0x1234aaab, queue 123, vlan_tci 0xffff, vlan present, dev ifindex 577, type 588, and the network
header at min(len, ETH_HLEN) — hence the context below. Expected values are the kernel's. Where
the BSD rule set (libpcap bpf_filter) gives another value it is stated separately; the runner
checks every BSD value against libpcap itself. Tests on fragmented skbs (FLAG_SKB_FRAG) have no
equivalent here (our packets are one linear buffer) and are not carried over.
Re-run after editing: python3 tests/conformance/gen_test_bpf.py > tests/conformance/cases/test_bpf.cases
"""

MAX_K = 0xffffffff
CTX = ("protocol=0x800 pkttype=3 mark=0x1234aaaa rxhash=0x1234aaab queue=123 vlan_tci=0xffff "
       "vlan_present=1 ifindex=577 hatype=588")

def sparse(d):
    n = max(d) + 1
    return [d.get(i, 0) for i in range(n)]

IND_DATA = sparse({0x3c: 0x25, 0x3d: 0x05, 0x3e: 0x19, 0x3f: 0x82})
FF_DATA = sparse({0x3c: 0xff, 0x3d: 0xff, 0x3e: 0xff, 0x3f: 0xff})
SEQ_DATA = sparse({0x1c: 0xaa, 0x1d: 0x55, 0x1e: 0xbb, 0x1f: 0x66, 0x20: 0xcc, 0x21: 0x77,
                   0x22: 0xdd, 0x23: 0x88, 0x24: 0xee, 0x25: 0x99, 0x26: 0xff, 0x27: 0xaa})
TCP22 = [0x10, 0xbf, 0x48, 0xd6, 0x43, 0xd6, 0x3c, 0x07, 0x54, 0x43, 0xe5, 0x76, 0x08, 0x00,
         0x45, 0x10, 0x00, 0x64, 0x75, 0xb5, 0x40, 0x00, 0x40, 0x06, 0xad, 0x2e,
         0x0a, 0x01, 0x01, 0x95, 0x0a, 0x01, 0x02, 0x0a, 0xc2, 0x24, 0x00, 0x16]

# (name, target, asm, data, [(len, linux_expect, bsd_expect)])   bsd_expect None = same
T = []
def t(name, asm, data, runs, target="both"):
    T.append((name, target, asm, data, runs))

t("TAX", """ld #1
tax
ld #2
add x
neg
tax
ld #len
add x
tax
ldb [x + 1]
ret a""", [10, 20, 30, 40, 50], [(2, 10, 0), (3, 20, None), (4, 30, None)])
t("TXA", "ldx #len\ntxa\nadd x\nret a", [10, 20, 30, 40, 50], [(1, 2, None), (3, 6, None), (4, 8, None)])
t("ADD_SUB_MUL_K", "ld #1\nadd #2\nldx #3\nsub x\nadd #0xffffffff\nmul #3\nret a", [], [(0, 0xfffffffd, None)])
t("DIV_MOD_KX", """ld #8
div #2
tax
ld #0xffffffff
div x
tax
ld #0xffffffff
div #0x70000000
tax
ld #0xffffffff
mod x
tax
ld #0xffffffff
mod #0x70000000
add x
ret a""", [], [(0, 0x20000000, None)])
t("AND_OR_LSH_K", "ld #0xff\nand #0xf0\nlsh #27\ntax\nld #0xf\nor #0xf0\nadd x\nret a", [],
  [(0, 0x800000ff, None), (1, 0x800000ff, None)])
t("LD_IMM_0", "ld #0\njeq #0, one, zero\nzero: ret #0\none: ret #1", [], [(1, 1, None)])
t("LD_IND", "ldx #len\nldh [x + 0xffffffff]\nret #1", [], [(1, 0, None), (10, 0, None), (60, 0, None)])
t("LD_ABS", "ld [1000]\nret #1", [], [(1, 0, None), (10, 0, None), (60, 0, None)])
t("LD_ABS_LL", "ldb [-2097152]\ntax\nldb [-2097151]\nadd x\nret a", [1, 2, 3], [(1, 0, None), (2, 3, 0)])
t("LD_IND_LL", "ld #-2097153\nldx #len\nadd x\ntax\nldb [x + 0]\nret a", [1, 2, 3, 0xff],
  [(1, 1, 0), (3, 3, 0), (4, 0xff, 0)])
t("LD_ABS_NET", "ldb [-1048576]\ntax\nldb [-1048575]\nadd x\nret a", [0] * 14 + [1, 2, 3],
  [(15, 0, None), (16, 3, 0)])
t("LD_IND_NET", "ld #-1048591\nldx #len\nadd x\ntax\nldb [x + 0]\nret a", [0] * 14 + [1, 2, 3],
  [(14, 0, None), (15, 1, 0), (17, 3, 0)])
t("LD_PKTTYPE", """ld #type
jeq #3, a, fail
a: ld #type
jeq #3, b, fail
b: ld #type
jeq #3, c, fail
c: ret a
fail: ret #1""", [], [(1, 3, None), (10, 3, None)], "linux")
t("LD_MARK", "ld #mark\nret a", [], [(1, 0x1234aaaa, None), (10, 0x1234aaaa, None)], "linux")
t("LD_RXHASH", "ld #rxhash\nret a", [], [(1, 0x1234aaab, None), (10, 0x1234aaab, None)], "linux")
t("LD_QUEUE", "ld #queue\nret a", [], [(1, 123, None), (10, 123, None)], "linux")
t("LD_PROTOCOL", """ldb [1]
jeq #20, ok1, drop
drop: ret #0
ok1: ld #proto
tax
ldb [2]
jeq #30, ok2, drop2
drop2: ret #0
ok2: txa
ret a""", [10, 20, 30], [(10, 0x800, None), (100, 0x800, None)], "linux")
t("LD_VLAN_TAG", "ld #vlan_tci\nret a", [], [(1, 0xffff, None), (10, 0xffff, None)], "linux")
t("LD_VLAN_TAG_PRESENT", "ld #vlan_avail\nret a", [], [(1, 1, None), (10, 1, None)], "linux")
t("LD_IFINDEX", "ld #ifidx\nret a", [], [(1, 577, None), (10, 577, None)], "linux")
t("LD_HATYPE", "ld #hatype\nret a", [], [(1, 588, None), (10, 588, None)], "linux")
t("LD_CPU", "ld #cpu\ntax\nld #cpu\nsub x\nret a", [], [(1, 0, None), (10, 0, None)], "linux")
t("LD_NLATTR", "ldx #2\ntxa\nldx #3\nld #nla\nret a", [0xff, 0xff, 4, 0, 2, 0, 4, 0, 3, 0],
  [(4, 0, None), (20, 6, None)], "linux")
t("LD_NLATTR_NEST", "ld #2\nldx #3\nld #nlan\n" + "ld #2\nld #nlan\n" * 7 + "ret a",
  [0xff, 0xff, 12, 0, 1, 0, 4, 0, 2, 0, 4, 0, 3, 0], [(4, 0, None), (20, 10, None)], "linux")
t("LD_ANC_XOR", "ld #10\nldx #300\nld #alu_xor_x\nret a", [], [(4, 10 ^ 300, None), (20, 10 ^ 300, None)], "linux")
t("SPILL_FILL", """ldx #len
ld #2
rsh #1
xor x
st M[1]
xor #0x80000000
st M[2]
stx M[15]
ldx M[1]
ld M[2]
xor x
ldx M[15]
xor x
ret a""", [], [(1, 0x80000001, None), (2, 0x80000002, None), (60, 0x80000000 ^ 60, None)])
t("JEQ", "ldx #len\nldb [2]\njeq x, t, f\nt: ret #1\nf: ret #0xffffffff", [3, 3, 3, 3, 3],
  [(1, 0, None), (3, 1, None), (4, MAX_K, None)])
t("JGT", "ldx #len\nldb [2]\njgt x, t, f\nt: ret #1\nf: ret #0xffffffff", [4, 4, 4, 3, 3],
  [(2, 0, None), (3, 1, None), (4, MAX_K, None)])
t("JGE (jt 0), test 1", "ldx #len\nldb [2]\njge x, t, f\nt: ret #1\nf: ret #0xffffffff", [4, 4, 4, 3, 3],
  [(2, 0, None), (3, 1, None), (4, 1, None)])
t("JGE (jt 0), test 2", "ldx #len\nldb [2]\njge x, t, f\nt: ret #1\nf: ret #0xffffffff", [4, 4, 5, 3, 3],
  [(4, 1, None), (5, 1, None), (6, MAX_K, None)])
t("JGE", """ldx #len
ldb [x + 0xffffffff]
jge #1, a, r10
r10: ret #10
a: jge #2, b, r20
r20: ret #20
b: jge #3, c, r30
r30: ret #30
c: jge #4, d, r40
r40: ret #40
d: ret #0xffffffff""", [1, 2, 3, 4, 5], [(1, 20, 0), (3, 40, 0), (5, MAX_K, 0)])
t("JSET", """ja j1
j1: ja j3
ja j3
j3: ja j4
j4: ldx #len
txa
sub #4
tax
ld [x + 0]
jset #1, r10, n1
r10: ret #10
n1: jset #0x80000000, r20, n2
r20: ret #20
n2: jset #0xffffff, n3, r30a
r30a: ret #30
n3: jset #0xffffff, n4, r30b
r30b: ret #30
n4: jset #0xffffff, n5, r30c
r30c: ret #30
n5: jset #0xffffff, n6, r30d
r30d: ret #30
n6: jset #0xffffff, n7, r30e
r30e: ret #30
n7: ret #0xffffffff""", [0, 0xaa, 0x55, 1], [(4, 10, None), (5, 20, None), (6, MAX_K, None)])
t("tcpdump port 22", """ldh [12]
jeq #0x86dd, v6, v4
v6: ldb [20]
jeq #0x84, p6, c6
c6: jeq #0x6, p6, u6
u6: jeq #0x11, p6, drop
p6: ldh [54]
jeq #22, keep, d6
d6: ldh [56]
jeq #22, keep, drop
v4: jeq #0x0800, i4, drop
i4: ldb [23]
jeq #0x84, p4, c4
c4: jeq #0x6, p4, u4
u4: jeq #0x11, p4, drop
p4: ldh [20]
jset #0x1fff, drop, f4
f4: ldxb 4*([14]&0xf)
ldh [x + 14]
jeq #22, keep, d4
d4: ldh [x + 16]
jeq #22, keep, drop
keep: ret #0xffff
drop: ret #0""", TCP22, [(10, 0, None), (30, 0, None), (100, 65535, None)])
t("tcpdump complex", """ldh [12]
jeq #0x86dd, drop, v4
v4: jeq #0x800, tcp, drop
tcp: ldb [23]
jeq #0x6, frag, drop
frag: ldh [20]
jset #0x1fff, drop, p1
p1: ldxb 4*([14]&0xf)
ldh [x + 14]
jeq #22, len, p2
p2: ldh [x + 16]
jeq #22, len, drop
len: ldh [16]
st M[1]
ldb [14]
and #0xf
lsh #2
.insn 0x07, 0, 0, 5
ld M[1]
sub x
st M[5]
ldxb 4*([14]&0xf)
ldb [x + 26]
and #0xf0
rsh #2
.insn 0x07, 0, 0, 9
ld M[5]
jeq x, drop, size
size: ld #len
jgt #0x73, keep, big
big: jge #0xfc23ac00, drop, keep
keep: ret #0xffff
drop: ret #0""", TCP22, [(10, 0, None), (30, 0, None), (100, 65535, None)])
t("RET_A", "txa\nret a", [], [(1, 0, None), (10, 0, None)])
t("INT: div_k_0 is rejected, div x by 0 returns 0 (test_bpf 'DIV_KX' style)", "ld #10\nldx #0\ndiv x\nret #1", [], [(1, 0, None)])
t("LD_IND byte default X", "ldb [x + 1]\nret a", sparse({1: 0x42}), [(0x40, 0x42, None)])
t("LD_IND byte positive offset", "ldx #0x3e\nldb [x + 1]\nret a", IND_DATA, [(0x40, 0x82, None)])
t("LD_IND byte negative offset", "ldx #0x3e\nldb [x + -1]\nret a", IND_DATA, [(0x40, 0x05, 0)])
t("LD_IND byte positive offset, all ff", "ldx #0x3e\nldb [x + 1]\nret a", FF_DATA, [(0x40, 0xff, None)])
t("LD_IND byte positive offset, out of bounds", "ldx #0x3e\nldb [x + 1]\nret a", IND_DATA, [(0x3f, 0, None)])
t("LD_IND byte negative offset, out of bounds", "ldx #0x3e\nldb [x + -0x3f]\nret a", IND_DATA, [(0x3f, 0, None)])
t("LD_IND byte negative offset, multiple calls", """ldx #0x3b
ldb [x + -2097151]
ldb [x + -2097150]
ldb [x + -2097149]
ldb [x + -2097148]
ret a""", IND_DATA, [(0x40, 0x82, 0)])
t("LD_IND halfword positive offset", "ldx #0x20\nldh [x + 2]\nret a", SEQ_DATA, [(0x40, 0xdd88, None)])
t("LD_IND halfword negative offset", "ldx #0x20\nldh [x + -2]\nret a", SEQ_DATA, [(0x40, 0xbb66, 0)])
t("LD_IND halfword unaligned", "ldx #0x20\nldh [x + -1]\nret a", SEQ_DATA, [(0x40, 0x66cc, 0)])
t("LD_IND halfword positive offset, all ff", "ldx #0x3d\nldh [x + 1]\nret a", FF_DATA, [(0x40, 0xffff, None)])
t("LD_IND halfword positive offset, out of bounds", "ldx #0x3e\nldh [x + 1]\nret a", IND_DATA, [(0x3f, 0, None)])
t("LD_IND halfword negative offset, out of bounds", "ldx #0x3e\nldh [x + -0x3f]\nret a", IND_DATA, [(0x3f, 0, None)])
t("LD_IND word positive offset", "ldx #0x20\nld [x + 4]\nret a", SEQ_DATA, [(0x40, 0xee99ffaa, None)])
t("LD_IND word negative offset", "ldx #0x20\nld [x + -4]\nret a", SEQ_DATA, [(0x40, 0xaa55bb66, 0)])
t("LD_IND word unaligned (addr & 3 == 2)", "ldx #0x20\nld [x + -2]\nret a", SEQ_DATA, [(0x40, 0xbb66cc77, 0)])
t("LD_IND word unaligned (addr & 3 == 1)", "ldx #0x20\nld [x + -3]\nret a", SEQ_DATA, [(0x40, 0x55bb66cc, 0)])
t("LD_IND word unaligned (addr & 3 == 3)", "ldx #0x20\nld [x + -1]\nret a", SEQ_DATA, [(0x40, 0x66cc77dd, 0)])
t("LD_IND word positive offset, all ff", "ldx #0x3b\nld [x + 1]\nret a", FF_DATA, [(0x40, 0xffffffff, None)])
t("LD_IND word positive offset, out of bounds", "ldx #0x3e\nld [x + 1]\nret a", IND_DATA, [(0x3f, 0, None)])
t("LD_IND word negative offset, out of bounds", "ldx #0x3e\nld [x + -0x3f]\nret a", IND_DATA, [(0x3f, 0, None)])
t("LD_ABS byte", "ldb [0x20]\nret a", SEQ_DATA, [(0x40, 0xcc, None)])
t("LD_ABS byte positive offset, all ff", "ldb [0x3f]\nret a", FF_DATA, [(0x40, 0xff, None)])
t("LD_ABS byte positive offset, out of bounds", "ldb [0x3f]\nret a", IND_DATA, [(0x3f, 0, None)])
t("LD_ABS byte negative offset, in bounds", "ldb [-2097089]\nret a", IND_DATA, [(0x40, 0x82, 0)])
t("LD_ABS byte negative offset, out of bounds", "ldb [-2097089]\nret a", IND_DATA, [(0x3f, 0, None)])
t("LD_ABS halfword", "ldh [0x22]\nret a", SEQ_DATA, [(0x40, 0xdd88, None)])
t("LD_ABS halfword unaligned", "ldh [0x25]\nret a", SEQ_DATA, [(0x40, 0x99ff, None)])
t("LD_ABS halfword positive offset, out of bounds", "ldh [0x3f]\nret a", IND_DATA, [(0x3f, 0, None)])
t("LD_ABS halfword negative offset, in bounds", "ldh [-2097090]\nret a", IND_DATA, [(0x40, 0x1982, 0)])
t("LD_ABS word", "ld [0x1c]\nret a", SEQ_DATA, [(0x40, 0xaa55bb66, None)])
t("LD_ABS word unaligned (addr & 3 == 2)", "ld [0x22]\nret a", SEQ_DATA, [(0x40, 0xdd88ee99, None)])
t("LD_ABS word unaligned (addr & 3 == 1)", "ld [0x21]\nret a", SEQ_DATA, [(0x40, 0x77dd88ee, None)])
t("LD_ABS word unaligned (addr & 3 == 3)", "ld [0x23]\nret a", SEQ_DATA, [(0x40, 0x88ee99ff, None)])
t("LD_ABS word positive offset, out of bounds", "ld [0x3f]\nret a", IND_DATA, [(0x3f, 0, None)])
t("LD_ABS word negative offset, in bounds", "ld [-2097092]\nret a", IND_DATA, [(0x40, 0x25051982, 0)])

out = ["# Generated by tests/conformance/gen_test_bpf.py from Linux lib/test_bpf.c (classic tests).",
       "# Do not edit by hand.", ""]
for name, target, asm, data, runs in T:
    out.append("case test_bpf: " + name)
    if target != "both":
        out.append("target " + target)
    out.append("program")
    out += ["    " + l for l in asm.split("\n")]
    out.append("end")
    for ln, lin, bsd in runs:
        p = (list(data) + [0] * ln)[:ln]
        out.append("packet " + " ".join("%02x" % b for b in p))
        out.append("context " + CTX + " net_offset=%d" % min(ln, 14))
        if target == "linux" or bsd is None or bsd == lin:
            out.append("expect %d" % lin if target != "linux" or True else "")
        else:
            out.append("expect linux %d" % lin)
            out.append("expect bsd %d" % bsd)
    out.append("")
print("\n".join(out))
