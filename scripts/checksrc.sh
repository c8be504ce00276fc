#!/usr/bin/env bash
# House-rule checks that a compiler does not make: banned functions and the
# committed .clang-format. Exits 1 and names every offending line or file.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
if [ -d .git ] && command -v git >/dev/null; then
  files=$(git ls-files '*.c' '*.h')
else
  files=$(find core plugins triggers include tests bench examples -name '*.[ch]' 2>/dev/null | sort)
fi

banned='\b(sprintf|vsprintf|strcpy|strcat|strncat|strncpy|strtok|atoi|atol|atoll|gets)[[:space:]]*\('
if hits=$(grep -nE "$banned" $files); then
  echo "checksrc: banned functions (use snprintf, td_buf, strtol with an end pointer):"
  echo "$hits"
  status=1
fi

if command -v clang-format >/dev/null; then
  bad=""
  for f in $files; do
    clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad="$bad $f"
  done
  if [ -n "$bad" ]; then
    echo "checksrc: not formatted per .clang-format (run: clang-format -i$bad)"
    status=1
  fi
else
  echo "checksrc: clang-format not installed; formatting not checked" >&2
  status=1
fi
[ $status = 0 ] && echo "checksrc: ok ($(echo $files | wc -w) files)"
exit $status
