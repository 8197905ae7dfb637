#!/usr/bin/env bash
# The bash completions in completion/: sourced into a plain bash (no bash-completion package
# needed), each tool's function is called as bash would on <TAB> and its suggestions checked.
# usage: completion_test.sh SOURCE_DIR
set -u
src=$1
status=0
# expect "WORDS..." -- the words after it must all be offered for the command line, whose last
# word is the one being completed.
check() {
  local line=$1; shift
  local got
  got=$(bash --norc --noprofile -c '
    source "$1/completion/bpfc"; source "$1/completion/bpfdump"
    cd "$1/examples"
    read -r -a COMP_WORDS <<<"$2"
    [[ $2 == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
    COMP_LINE=$2; COMP_POINT=${#2}
    "_${COMP_WORDS[0]}" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf "%s\n" "${COMPREPLY[@]}"' _ "$src" "$line")
  for want in "$@"; do
    if ! grep -qxF -- "$want" <<<"$got"; then
      echo "FAIL: '$line<TAB>' does not offer '$want' (got: $(tr '\n' ' ' <<<"$got"))"
      status=1
    fi
  done
}
check "bpfc -f " c ddd listing xt_bpf bin asm
check "bpfc --format=x" xt_bpf
check "bpfc -x " asm c ddd xt_bpf bin
check "bpfc -l LINUX" LINUX_SLL LINUX_SLL2
check "bpfc -l PPP" PPP PPP_SERIAL PPP_ETHER
check "bpfc -l ARC" ARCNET ARCNET_LINUX
check "bpfc -l IEEE802_11_R" IEEE802_11_RADIO IEEE802_11_RADIO_AVS
check "bpfc -l raw" RAW
check "bpfc --target " linux bsd
check "bpfc --dis" --disasm
check "bpfc -F ar" arp.bpf
check "bpfc a" arp.bpf ancillary.bpf
check "bpfdump --engine " auto interp asmjit llvm kernel
check "bpfdump --semantics " linux bsd
check "bpfdump -x " asm c ddd xt_bpf bin
check "bpfdump -r sam" sample.pcap
check "bpfdump -i " lo
check "bpfdump --ti" --time-stamp-precision
check "bpfdump -r sample.pcap tc" tcp
check "bpfdump -r sample.pcap vx" vxlan
check "bpfdump -r sample.pcap is" isis
[ $status -eq 0 ] && echo "completions: all offered"
exit $status
