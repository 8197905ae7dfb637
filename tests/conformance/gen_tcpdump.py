#!/usr/bin/env python3
"""Writes cases/tcpdump.cases: classic tcpdump programs on hand-built frames.

Programs are libpcap's own output (`tcpdump -dd -y EN10MB EXPR`, optimised, snaplen 262144),
turned into our assembly with `bpfc --disasm -x c`. The expected verdicts are NOT computed by
libpcap: each expression has a predicate below written from pcap-filter(7), and the runner then
checks that libpcap's bpf_filter agrees with every expectation (BSD rule set) and that every
engine does too (both rule sets).
Run from the repository root with a built bpfc:
    python3 tests/conformance/gen_tcpdump.py build/bin/bpfc > tests/conformance/cases/tcpdump.cases
"""
import struct
import subprocess
import sys

BPFC = sys.argv[1] if len(sys.argv) > 1 else "build/bin/bpfc"
ACCEPT = 262144


def ip4(a):
    return bytes(int(x) for x in a.split("."))


class Frame:
    def __init__(self, name, data, wirelen=None, **props):
        self.name = name
        self.data = data
        self.wirelen = wirelen if wirelen is not None else len(data)
        self.p = props


def eth(dst, ethertype, payload, vlan=None):
    src = bytes([0x00, 0x11, 0x22, 0x33, 0x44, 0x55])
    hdr = dst + src
    if vlan is not None:
        hdr += struct.pack("!HH", 0x8100, vlan)
    return hdr + struct.pack("!H", ethertype) + payload


UNI = bytes([0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee])
BCAST = b"\xff" * 6


def tcp(sport, dport, flags, payload=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, flags, 1024, 0, 0) + payload


def udp(sport, dport, payload=b""):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def icmp():
    return struct.pack("!BBHI", 8, 0, 0, 0x12345678)


def ipv4(proto, src, dst, l4, frag=0, options=b""):
    ihl = 5 + len(options) // 4
    total = ihl * 4 + len(l4)
    return struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total, 1, frag, 64, proto, 0,
                       ip4(src), ip4(dst)) + options + l4


def ipv6(nh, l4):
    src = bytes(15) + b"\x01"
    dst = bytes([0xfe, 0x80]) + bytes(13) + b"\x02"
    return struct.pack("!IHBB", 0x60000000, len(l4), nh, 64) + src + dst + l4


def arp(spa, tpa):
    return struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + UNI + ip4(spa) + bytes(6) + ip4(tpa)


F = []
def frame(name, data, wirelen=None, **p):
    F.append(Frame(name, data, wirelen, **p))

frame("tcp4_ssh_syn", eth(UNI, 0x800, ipv4(6, "10.0.0.1", "10.0.0.2", tcp(40000, 22, 0x02))),
      v4=1, proto=6, sport=40000, dport=22, syn=1, src="10.0.0.1", dst="10.0.0.2", payload=0)
frame("tcp4_http_ack_data", eth(UNI, 0x800, ipv4(6, "192.168.1.7", "93.184.216.34", tcp(51000, 80, 0x10, b"GET / HTTP/1.0\r\n\r\n"))),
      v4=1, proto=6, sport=51000, dport=80, src="192.168.1.7", dst="93.184.216.34", payload=18)
frame("tcp4_https_fin", eth(UNI, 0x800, ipv4(6, "10.0.0.9", "192.168.1.1", tcp(443, 50000, 0x11))),
      v4=1, proto=6, sport=443, dport=50000, fin=1, src="10.0.0.9", dst="192.168.1.1", payload=0)
frame("tcp4_ssh_ip_options", eth(UNI, 0x800, ipv4(6, "172.16.0.1", "10.0.0.1", tcp(22, 1025, 0x18, b"xyz"), options=b"\x01\x01\x01\x00")),
      v4=1, proto=6, sport=22, dport=1025, src="172.16.0.1", dst="10.0.0.1", payload=3)
frame("tcp4_ssh_fragment", eth(UNI, 0x800, ipv4(6, "10.0.0.1", "10.0.0.2", tcp(40000, 22, 0x02), frag=0x0010)),
      v4=1, proto=6, frag=1, src="10.0.0.1", dst="10.0.0.2")
frame("udp4_dns", eth(UNI, 0x800, ipv4(17, "192.168.1.2", "8.8.8.8", udp(33333, 53, b"\x12\x34\x01\x00"))),
      v4=1, proto=17, sport=33333, dport=53, src="192.168.1.2", dst="8.8.8.8")
frame("udp4_port_22", eth(UNI, 0x800, ipv4(17, "10.1.1.1", "10.1.1.2", udp(22, 22))),
      v4=1, proto=17, sport=22, dport=22, src="10.1.1.1", dst="10.1.1.2")
frame("icmp4_echo", eth(BCAST, 0x800, ipv4(1, "10.0.0.1", "255.255.255.255", icmp())),
      v4=1, proto=1, src="10.0.0.1", dst="255.255.255.255", bcast=1)
frame("tcp6_ssh", eth(UNI, 0x86dd, ipv6(6, tcp(50000, 22, 0x02))), v6=1, proto=6, sport=50000, dport=22, syn=1)
frame("udp6_dns", eth(UNI, 0x86dd, ipv6(17, udp(53, 40000))), v6=1, proto=17, sport=53, dport=40000)
frame("arp_who_has_10_0_0_1", eth(BCAST, 0x806, arp("10.0.0.2", "10.0.0.1")), arp=1, bcast=1, src="10.0.0.2", dst="10.0.0.1")
frame("arp_other", eth(BCAST, 0x806, arp("172.16.5.5", "172.16.5.6")), arp=1, bcast=1, src="172.16.5.5", dst="172.16.5.6")
frame("vlan_tcp4_ssh", eth(UNI, 0x8100 and 0x800, ipv4(6, "10.0.0.1", "10.0.0.2", tcp(40000, 22, 0x02)), vlan=5),
      vlan=1, inner_v4=1)
big = eth(UNI, 0x800, ipv4(6, "10.0.0.1", "10.0.0.2", tcp(40000, 22, 0x18, b"A" * 120)))
frame("tcp4_ssh_big_snapped_to_40", big[:40], wirelen=len(big), v4=1, proto=6, snapped=40, src="10.0.0.1", dst="10.0.0.2")
frame("tcp4_ssh_big", big, v4=1, proto=6, sport=40000, dport=22, src="10.0.0.1", dst="10.0.0.2", payload=120)
frame("runt_10_bytes", bytes(range(10)), runt=1)


def L4(f):  # transport fields visible (not a fragment, not snapped before them)
    return not f.p.get("frag") and "sport" in f.p


def port(f, n):
    return L4(f) and (f.p.get("sport") == n or f.p.get("dport") == n)


E = [
    ("ip", lambda f: f.p.get("v4")),
    ("ip6", lambda f: f.p.get("v6")),
    ("arp", lambda f: f.p.get("arp")),
    ("tcp", lambda f: f.p.get("proto") == 6),  # ip proto 6, fragments included
    ("tcp port 22", lambda f: f.p.get("proto") == 6 and port(f, 22)),
    ("udp port 53", lambda f: f.p.get("proto") == 17 and port(f, 53)),
    ("port 22", lambda f: f.p.get("proto") in (6, 17) and port(f, 22)),
    ("host 10.0.0.1", lambda f: (f.p.get("v4") or f.p.get("arp")) and "10.0.0.1" in (f.p.get("src"), f.p.get("dst"))),
    ("net 192.168.1.0/24", lambda f: (f.p.get("v4") or f.p.get("arp")) and any(str(f.p.get(k, "")).startswith("192.168.1.") for k in ("src", "dst"))),
    ("tcp[tcpflags] & (tcp-syn|tcp-fin) != 0", lambda f: f.p.get("v4") and f.p.get("proto") == 6 and L4(f) and (f.p.get("syn") or f.p.get("fin"))),
    ("vlan and ip", lambda f: f.p.get("vlan") and f.p.get("inner_v4")),
    ("ip6 and udp", lambda f: f.p.get("v6") and f.p.get("proto") == 17),
    ("icmp", lambda f: f.p.get("v4") and f.p.get("proto") == 1),
    ("ether broadcast", lambda f: f.p.get("bcast")),
    ("greater 100", lambda f: f.wirelen >= 100),
    ("less 64", lambda f: f.wirelen <= 64),
    ("ip[6:2] & 0x1fff != 0", lambda f: f.p.get("v4") and f.p.get("frag")),
    ("tcp and (((ip[2:2] - ((ip[0]&0xf)<<2)) - ((tcp[12]&0xf0)>>2)) != 0)",
     lambda f: f.p.get("v4") and f.p.get("proto") == 6 and L4(f) and f.p.get("payload", 0) != 0),
]


def program(expr):
    c = subprocess.run(["tcpdump", "-dd", "-y", "EN10MB", expr], capture_output=True, text=True, check=True).stdout
    asm = subprocess.run([BPFC, "--disasm", "-x", "c", "-"], input=c, capture_output=True, text=True, check=True).stdout
    return asm


def verdict(f, pred):
    if f.p.get("runt") or f.p.get("snapped"):
        # Snapped/runt frames: only predicates decided by headers inside the captured bytes
        # hold; these frames are listed explicitly below.
        return None
    return ACCEPT if pred(f) else 0


# Explicit verdicts for truncated frames (reasoned per expression: a load past caplen drops).
SNAPPED = {  # expr -> (snapped_to_40, runt_10_bytes)
    "ip": (ACCEPT, 0), "ip6": (0, 0), "arp": (0, 0), "tcp": (ACCEPT, 0),
    "tcp port 22": (0, 0),            # ports at 34..37 inside 40 bytes? dport at 36: read ok
    "udp port 53": (0, 0), "port 22": (0, 0), "host 10.0.0.1": (ACCEPT, 0),
    "net 192.168.1.0/24": (0, 0), "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0": (0, 0),
    "vlan and ip": (0, 0), "ip6 and udp": (0, 0), "icmp": (0, 0), "ether broadcast": (0, 0),
    "greater 100": (ACCEPT, 0), "less 64": (0, ACCEPT), "ip[6:2] & 0x1fff != 0": (0, 0),
    "tcp and (((ip[2:2] - ((ip[0]&0xf)<<2)) - ((tcp[12]&0xf0)>>2)) != 0)": (0, 0),
}
# tcp port 22 on the 40-byte snap: sport at 34, dport at 36 are captured -> accept.
SNAPPED["tcp port 22"] = (ACCEPT, 0)
SNAPPED["port 22"] = (ACCEPT, 0)
# tcp flags at 47 are past 40 bytes -> drop; payload test reads tcp[12] at 46 -> drop.

out = ["# Generated by tests/conformance/gen_tcpdump.py: libpcap-compiled tcpdump programs on",
       "# hand-built frames; expectations from pcap-filter(7), checked against libpcap by the runner.",
       "# Do not edit by hand.", ""]
for expr, pred in E:
    out.append("case tcpdump '%s'" % expr)
    out.append("program")
    out += ["    " + l for l in program(expr).rstrip("\n").split("\n")]
    out.append("end")
    for f in F:
        v = verdict(f, pred)
        if v is None:
            v = SNAPPED[expr][0 if f.p.get("snapped") else 1]
        out.append("# " + f.name)
        out.append("packet " + f.data.hex(" "))
        if f.wirelen != len(f.data):
            out.append("wirelen %d" % f.wirelen)
        out.append("expect %d" % v)
    out.append("")
print("\n".join(out))
