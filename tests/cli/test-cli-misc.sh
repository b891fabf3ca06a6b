#!/bin/sh
# test-cli-misc.sh — diffscope-cli as a user meets it: help, French messages from an
# uninstalled build, one-line errors with the right exit codes, and a subtract → detect chain
# on a small simulated pair whose products must exist and carry the documented keys.
#
# SPDX-License-Identifier: GPL-3.0-or-later
set -u
CLI=${DIFFSCOPE_CLI:?DIFFSCOPE_CLI not set}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/diffscope-cli-XXXXXX")
trap 'rm -rf "$TMP"' EXIT
fail () { echo "FAIL: $*"; exit 1; }

# Help lists every command.
out=$("$CLI" --help) || fail "--help exited non-zero"
for c in info simulate subtract detect recovery bench labels; do
  echo "$out" | grep -q "^  $c " || fail "--help does not list $c"
done

# French from the build tree's catalogue.
LANGUAGE=fr LANG=C.UTF-8 LC_ALL=C.UTF-8 "$CLI" --help | grep -q "Commandes" \
  || fail "no French --help (po/fr.po not compiled or not found)"

# Errors: one line on stderr, exit 1; usage errors exit 2.
"$CLI" subtract -t /nonexistent.fits -s /nonexistent.fits -o "$TMP/x" -q 2>"$TMP/err"
rc=$?
[ $rc -eq 1 ] || fail "missing input: exit $rc, expected 1"
[ "$(wc -l < "$TMP/err")" -eq 1 ] || fail "missing input: stderr is not one line: $(cat "$TMP/err")"
grep -q "^diffscope-cli: " "$TMP/err" || fail "error line lacks the program name"
"$CLI" subtract -t a.fits 2>/dev/null; [ $? -eq 2 ] || fail "usage error must exit 2"
"$CLI" subtract -t a.fits -s b.fits -o "$TMP/x" --set kernel.size=22 2>"$TMP/err"
[ $? -eq 1 ] && grep -q "odd" "$TMP/err" || fail "even kernel size not refused: $(cat "$TMP/err")"

# A small pair: simulate, subtract with detection, detect again on the difference.
"$CLI" simulate --size 384x384 --seed 9 -o "$TMP/p" >/dev/null || fail "simulate"
"$CLI" subtract -q -t "$TMP/p_template.fits" -s "$TMP/p_science.fits" --detect -o "$TMP/o" \
  || fail "subtract --detect"
for f in o_diff.fits o_matched.fits o_kernel.fits o_meta.json o_sources.csv o_sources.fits; do
  [ -s "$TMP/$f" ] || fail "missing product $f"
done
grep -q '"flux_scale": "science"' "$TMP/o_meta.json" || fail "meta.json lacks flux_scale"
grep -q '"sigma_ratio"' "$TMP/o_meta.json" || fail "meta.json lacks quality"
head -1 "$TMP/o_sources.csv" | grep -q "^# template: " || fail "catalogue lacks its image paths"
"$CLI" info "$TMP/o_diff.fits" | grep -q "DIA_FSCL\|IMAGE" || fail "info on the difference"
"$CLI" detect "$TMP/o_diff.fits" -o "$TMP/d" >/dev/null 2>&1 || fail "detect on the difference"
[ -s "$TMP/d_sources.csv" ] || fail "detect wrote no catalogue"
grep -q '"forced_preconvolve_fwhm": 0' "$TMP/o_meta.json" \
  || fail "an ordinary pair should record no forced smoothing"

# Forcing the template flavour on a pair whose science image is the sharper one: the sharper
# image is smoothed first, the metadata says by how much, and a warning says so even with -q.
"$CLI" simulate --size 384x384 --seed 9 --regime sharper --no-truth -o "$TMP/q" >/dev/null \
  || fail "simulate sharper"
"$CLI" subtract -q -t "$TMP/q_template.fits" -s "$TMP/q_science.fits" --flavor template \
  -o "$TMP/f" 2>"$TMP/err" || fail "forced template flavour: $(cat "$TMP/err")"
grep -q "warning: the science image is the sharper one" "$TMP/err" \
  || fail "no warning for the forced smoothing: $(cat "$TMP/err")"
grep -q '"forced_preconvolve_fwhm": [1-9]' "$TMP/f_meta.json" \
  || fail "meta.json lacks the forced smoothing width"
echo "ok"
