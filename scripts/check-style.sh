#!/usr/bin/env bash
# The house style, checked: every C++ file is clang-formatted (LLVM style,
# .clang-format) and starts with one unbroken LLVM banner line
#   //===- Name.cpp - description -----------------------------------===//
# (headers end in -*- C++ -*-===//), at most 80 columns. Run by ctest
# (`style`); fails listing the files at fault.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "check-style: clang-format is not installed" >&2; exit 1; }
mapfile -t files < <(git ls-files '*.cpp' '*.h')
[ ${#files[@]} -gt 0 ] || { echo "check-style: no C++ files found (not a git checkout?)" >&2; exit 1; }
bad=0
for f in "${files[@]}"; do
  first=$(head -n 1 "$f")
  base=$(basename "$f")
  if [[ ! "$first" =~ ^//===-\ ${base//./\\.}\ .*===//$ ]] || [ ${#first} -gt 80 ]; then
    echo "check-style: $f: first line is not the file's banner: $first"
    bad=1
  fi
done
if ! clang-format --dry-run -Werror "${files[@]}" 2>/tmp/check-style.$$; then
  grep -o '^[^:]*:[0-9]*' /tmp/check-style.$$ | sort -u | sed 's/^/check-style: not clang-formatted: /' | head -50
  bad=1
fi
rm -f /tmp/check-style.$$
[ $bad = 0 ] && echo "check-style: ${#files[@]} files OK"
exit $bad
