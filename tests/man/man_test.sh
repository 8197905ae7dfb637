#!/usr/bin/env bash
# The manual pages in man/: each renders with `groff -man -ww` without a single warning, and
# each tool's page names every option its --help prints (so a new option cannot go
# undocumented). Prints SKIPPED: when groff is not installed (scripts/install-deps.sh installs
# groff-base).
# usage: man_test.sh SOURCE_DIR BIN_DIR
set -uo pipefail
src=$1
bin=$2
if ! command -v groff >/dev/null; then
  echo "SKIPPED: groff not installed (apt-get install groff-base)"
  exit 0
fi
status=0
for page in "$src"/man/bpfc.1 "$src"/man/bpfdump.1 "$src"/man/bpfc.3; do
  warnings=$(groff -man -ww -Tutf8 "$page" 2>&1 >/dev/null)
  if [ -n "$warnings" ]; then
    echo "FAIL: ${page##*/}: groff warnings:"
    echo "$warnings"
    status=1
  fi
done
# Every option of the tool's usage text appears in its page (rendered, plain text).
for tool in bpfc bpfdump; do
  text=$(groff -man -Tascii -P-cbou "$src/man/$tool.1" 2>/dev/null)
  for opt in $("$bin/$tool" --help | grep -oE '(^|[ ,])--?[A-Za-z0-9][A-Za-z0-9-]*' | tr -d ' ,' | sort -u); do
    if ! grep -qF -- "$opt" <<<"$text"; then
      echo "FAIL: $tool.1 does not document $opt"
      status=1
    fi
  done
done
# Every function of the C header has its place in bpfc(3).
text3=$(groff -man -Tascii -P-cbou "$src/man/bpfc.3" 2>/dev/null)
for fn in $(grep -oE 'bpfc_[a-z_]+\(' "$src/api/bpfc.h" | tr -d '(' | sort -u); do
  grep -qF -- "$fn" <<<"$text3" || { echo "FAIL: bpfc.3 does not document $fn"; status=1; }
done
[ $status -eq 0 ] && echo "man pages: no groff warnings, every option and function documented"
exit $status
