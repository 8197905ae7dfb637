#!/usr/bin/env bash
# The demo behind `make demo`, on files that ship in examples/:
#  1. assemble an example program and print it in two formats (bpfc);
#  2. verify a program and show the verifier's report;
#  3. compile a tcpdump expression and print it as `tcpdump -d` does;
#  4. filter a capture with bpfdump on every built engine, with counters and speed;
#  5. a 1,000-host block list read with -F: compiled to a search that fits the kernel's limit;
#  6. diagnostics of a multi-line filter file, located by line and column;
#  7. filter insight: an equivalence proof, a distinguishing packet, a trace, a drawing;
#  8. the eBPF translation for XDP;
#  9. many filters in one program: a rule file classifies a capture (PACKET_FANOUT_CBPF-ready);
# 10. link types beyond Ethernet (802.11 radiotap, Cisco HDLC with IS-IS) and VXLAN.
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
bin=$build/bin

step() { printf '\n== %s\n' "$*"; }

step "examples/arp.bpf"
cat examples/arp.bpf
step "bpfc examples/arp.bpf                (C array, like tcpdump -dd)"
"$bin/bpfc" examples/arp.bpf
step "bpfc -f xt_bpf examples/arp.bpf      (bpf_asm / iptables -m bpf --bytecode)"
"$bin/bpfc" -f xt_bpf examples/arp.bpf
step "bpfc --check -V examples/tcp_port_22.bpf   (verifier report on stderr)"
"$bin/bpfc" --check -V examples/tcp_port_22.bpf 2>&1 | tail -n 6
step "bpfc -e 'tcp port 80 or udp port 53' -d   (like tcpdump -d)"
"$bin/bpfc" -e 'tcp port 80 or udp port 53' -d
step "bpfdump -r examples/sample.pcap 'tcp port 80 or udp port 53'"
"$bin/bpfdump" -r examples/sample.pcap 'tcp port 80 or udp port 53'
for engine in interp asmjit llvm; do
  if "$bin/bpfdump" -r examples/sample.pcap --engine "$engine" --bench 1 'ip' >/dev/null 2>&1; then
    step "bpfdump --engine $engine --bench 2000 'tcp port 22 or ip6'"
    "$bin/bpfdump" -r examples/sample.pcap --engine "$engine" --bench 2000 'tcp port 22 or ip6' | tail -n 1
  fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk 'BEGIN { x = 7; for (i = 0; i < 1000; i++) { x = (x * 1103515245 + 12345) % 2147483648;
       printf "%shost 10.%d.%d.%d\n", (i ? "or " : ""), int(x / 65536) % 256, int(x / 256) % 256, x % 256 } }' \
  > "$tmp/blocklist"
step "bpfc -F blocklist -f ddd   (1,000 hosts; libpcap's program for such a list has 5,759 instructions)"
start=$(date +%s%N)
"$bin/bpfc" -F "$tmp/blocklist" -f ddd > "$tmp/blocklist.ddd"
end=$(date +%s%N)
echo "$(head -n 1 "$tmp/blocklist.ddd") instructions in $(( (end - start) / 1000000 )) ms (process included)"
"$bin/bpfc" --check -x ddd "$tmp/blocklist.ddd" && echo "the Linux verifier rules accept it (<= 4096)"
"$bin/bpfdump" -r examples/sample.pcap -F "$tmp/blocklist" --stats 2>&1 | grep -E "^(received|accepted|rejected):"
printf 'ip and\n# web servers\n  (tcp port 80 or tcp port 99999)\n' > "$tmp/filter"
step "bpfc -F filter   (an error on line 3)"
cat "$tmp/filter"
"$bin/bpfc" -F "$tmp/filter" || true
step "bpfc --equiv -e tcp -e 'ip proto 6 or ip6 proto 6'   (a proof, Z3)"
"$bin/bpfc" --equiv -e tcp -e 'ip proto 6 or ip6 proto 6' || true
step "bpfc --equiv -e 'vlan and ip' -e 'ether[12:2] = 0x8100 and ether[16:2] = 0x800'   (a witness)"
"$bin/bpfc" --equiv -e 'vlan and ip' -e 'ether[12:2] = 0x8100 and ether[16:2] = 0x800' | head -n 4 || true
step "bpfdump -r examples/sample.pcap --trace 0 'tcp port 80'   (every executed instruction)"
"$bin/bpfdump" -r examples/sample.pcap --trace 0 'tcp port 80' | head -n 8 || true
step "bpfc -e 'tcp port 80' -f ebpf --hook xdp   (the eBPF translation; -f elf loads with ip/tc)"
"$bin/bpfc" -e 'tcp port 80' -f ebpf --hook xdp | head -n 8 || true
step "bpfc -e 'tcp port 22' -f dot   (Graphviz; pipe to dot -Tsvg)"
"$bin/bpfc" -e 'tcp port 22' -f dot | head -n 6 || true
step "bpfdump -r examples/sample.pcap --classify examples/rules.txt --stats   (first matching rule)"
"$bin/bpfdump" -r examples/sample.pcap --classify examples/rules.txt --stats 2>&1 \
  | grep -E "^(rule|no rule)" || true
echo "one program of $("$bin/bpfc" --classify examples/rules.txt -f ddd | head -n 1) instructions for $(grep -cv '^\(#\|$\)' examples/rules.txt) rules"
step "bpfc -l IEEE802_11_RADIO -e 'type mgt subtype beacon' -d   (radiotap length read from the packet)"
"$bin/bpfc" -l IEEE802_11_RADIO -e 'type mgt subtype beacon' -d | head -n 6 || true
step "bpfc -l C_HDLC -e 'isis and l1' -d   (IS-IS over Cisco HDLC), and VXLAN"
"$bin/bpfc" -l C_HDLC -e 'isis and l1' -d | head -n 4 || true
echo "vxlan 100 and tcp port 80: $("$bin/bpfc" -e 'vxlan 100 and tcp port 80' | wc -l) instructions"
