#!/usr/bin/env bash
# Installs the Debian 12 packages bpfc needs, only those missing. Safe to run again.
# Used by `make demo` and `make test` (so CI and fresh machines need nothing else).
set -euo pipefail

pkgs=(
  g++ make cmake pkg-config re2c bison
  libasmjit-dev llvm-16-dev libpcap-dev
  libbpf-dev  # tests/ebpf: libbpf loads the ELF output (jit/ebpf)
  libgtest-dev libgmock-dev libbenchmark-dev
  iproute2 tcpdump
  groff-base  # tests/man: man pages render without warnings
  netsniff-ng  # its bpfc: reference assembler for tests/asm/bpf_asm_diff_test.cpp
  libz3-dev  # analysis/: bpfc --equiv (Z3 over bit-vectors)
  graphviz  # tests/analysis: `dot -Tsvg` renders every `bpfc -f dot` output
)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
