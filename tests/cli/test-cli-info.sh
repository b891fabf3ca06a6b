#!/bin/sh
# test-cli-info.sh — `diffscope-cli info` on a good file, a text file named .fits, a missing
# file, and its usage paths.  Checks exit statuses (0 / 1 / 2), that failures print exactly
# one "diffscope-cli: ..." line on stderr, and the numbers printed for a known file.
# Needs DIFFSCOPE_CLI and DIFFSCOPE_TEST_DATA (set by tests/meson.build).
# SPDX-License-Identifier: GPL-3.0-or-later
set -u

cli=${DIFFSCOPE_CLI:?DIFFSCOPE_CLI is not set}
data=${DIFFSCOPE_TEST_DATA:?DIFFSCOPE_TEST_DATA is not set}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
passed=0

fail () {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

ok () {
  passed=$((passed + 1))
}

expect_grep () { # file pattern description
  if grep -q -- "$2" "$1"; then ok; else fail "$3: '$2' not in output"; cat "$1" >&2; fi
}

# 1. A good file: exit 0, size, planes and statistics as computed by hand.
"$cli" info "$data/ramp-16x8-int16.fits" >"$tmp/out" 2>"$tmp/err"
status=$?
[ "$status" -eq 0 ] && ok || fail "info on a good file exited $status"
[ -s "$tmp/err" ] && fail "info on a good file wrote to stderr: $(cat "$tmp/err")" || ok
expect_grep "$tmp/out" "BITPIX=16, NAXIS=2 (16×8)" "HDU line"
expect_grep "$tmp/out" "size 16 × 8 px, origin x0=0 y0=0" "size line"
expect_grep "$tmp/out" "mask planes (11)" "mask planes"
expect_grep "$tmp/out" "median 190.5, robust σ 142.33, min 0, max 381, NO_DATA 0 px" "statistics"
expect_grep "$tmp/out" "gain        2 e-/unit" "gain"
expect_grep "$tmp/out" "variance: estimated" "variance origin"

# 2. A text file named .fits: exit 1, exactly one line "diffscope-cli: ..." on stderr.
printf 'observing log\nnight 1: clouds\n' >"$tmp/notes.fits"
"$cli" info "$tmp/notes.fits" >"$tmp/out" 2>"$tmp/err"
status=$?
[ "$status" -eq 1 ] && ok || fail "info on a text file exited $status, expected 1"
[ "$(wc -l <"$tmp/err")" -eq 1 ] && ok || fail "expected one stderr line, got: $(cat "$tmp/err")"
grep -q "^diffscope-cli: .*notes.fits: not a FITS file" "$tmp/err" && ok \
  || fail "unexpected error line: $(cat "$tmp/err")"

# 3. A missing file, and an empty one.
"$cli" info "$tmp/missing.fits" >"$tmp/out" 2>"$tmp/err"
status=$?
[ "$status" -eq 1 ] && ok || fail "info on a missing file exited $status, expected 1"
[ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "^diffscope-cli: .*missing.fits: no such file" \
  "$tmp/err" && ok || fail "missing file: $(cat "$tmp/err")"
: >"$tmp/empty.fits"
"$cli" info "$tmp/empty.fits" >"$tmp/out" 2>"$tmp/err"
status=$?
[ "$status" -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && ok \
  || fail "empty file: status $status, stderr $(cat "$tmp/err")"

# 4. Usage: --help exits 0 and describes FILE; no FILE is a usage error (2).
"$cli" info --help >"$tmp/out" 2>"$tmp/err"
status=$?
[ "$status" -eq 0 ] && ok || fail "info --help exited $status"
expect_grep "$tmp/out" "FILE" "help text"
"$cli" info >"$tmp/out" 2>"$tmp/err"
status=$?
[ "$status" -eq 2 ] && ok || fail "info without FILE exited $status, expected 2"
"$cli" info --no-such-option "$data/ramp-16x8-int16.fits" >"$tmp/out" 2>"$tmp/err"
status=$?
[ "$status" -eq 2 ] && ok || fail "info with a bad option exited $status, expected 2"

# 5. Several files: both described, in order.
"$cli" info "$data/ramp-16x8-int16.fits" "$data/ramp-16x8-int16.fits" >"$tmp/out" 2>"$tmp/err"
status=$?
[ "$status" -eq 0 ] && [ "$(grep -c '^Image:' "$tmp/out")" -eq 2 ] && ok \
  || fail "two files: status $status, $(grep -c '^Image:' "$tmp/out") descriptions"

# 6. A real LSST file when the shared data are present.
real=${DIFFSCOPE_REAL_DATA:-}/C_lsst/afw_HSC-0908120-056-small.fits
if [ -f "$real" ]; then
  "$cli" info "$real" >"$tmp/out" 2>"$tmp/err"
  status=$?
  [ "$status" -eq 0 ] && ok || fail "info on the afw file exited $status: $(cat "$tmp/err")"
  expect_grep "$tmp/out" "origin x0=100 y0=100" "afw origin"
  expect_grep "$tmp/out" "CROSSTALK(bit 11)=14" "afw extra plane"
  expect_grep "$tmp/out" "variance: from file" "afw variance"
fi

echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
