#!/bin/sh
# test-gl-screenshot.sh — the demo field reaches its first difference and a screenshot with
# GTK's default (GL) renderer, not only with the cairo renderer the pixel tests use.  A busy
# frame clock once starved the job runner there, so the app never computed anything.
#
# SPDX-License-Identifier: GPL-3.0-or-later
set -u
[ -n "${DISPLAY:-}" ] || { echo "no DISPLAY"; exit 77; }
APP=${DIFFSCOPE_GUI:?}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/diffscope-gl-XXXXXX")
trap 'rm -rf "$TMP"' EXIT
unset GSK_RENDERER
timeout 100 "$APP" --screenshot="$TMP/shot.png" --report="$TMP/report.txt" 2>"$TMP/err"
rc=$?
[ $rc -eq 0 ] || { echo "exit $rc"; cat "$TMP/err"; exit 1; }
[ -s "$TMP/shot.png" ] || { echo "no screenshot"; exit 1; }
grep -q "published" "$TMP/report.txt" || { echo "no result was published"; cat "$TMP/report.txt"; exit 1; }
echo ok
