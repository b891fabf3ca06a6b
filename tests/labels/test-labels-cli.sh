#!/bin/sh
# test-labels-cli.sh — `diffscope-cli labels export|import|stats` against stores with known rows.
#
# Stores are created by the CLI itself (importing an empty file creates the schema) and filled
# with the sqlite3 shell, so the expected counts below are exact.  Skips (77) without sqlite3.
#
# SPDX-License-Identifier: GPL-3.0-or-later
set -u

CLI=${DIFFSCOPE_CLI:?DIFFSCOPE_CLI must point at diffscope-cli}
command -v sqlite3 >/dev/null 2>&1 || { echo "sqlite3 shell not installed"; exit 77; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/diffscope-labels-cli-XXXXXX")
trap 'rm -rf "$TMP"' EXIT
fails=0
fail () { echo "FAIL: $*"; fails=$((fails + 1)); }
check_eq () { [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"; }

# One error line "diffscope-cli: …" and exit status 1.
check_error () {
  what=$1; shift
  "$@" >"$TMP/out" 2>"$TMP/err"
  status=$?
  check_eq "$status" 1 "$what: exit status"
  check_eq "$(wc -l <"$TMP/err" | tr -d ' ')" 1 "$what: number of error lines"
  grep -q '^diffscope-cli: ' "$TMP/err" || fail "$what: error line: $(cat "$TMP/err")"
}

: >"$TMP/empty.db"
"$CLI" labels import --db "$TMP/a.db" --from "$TMP/empty.db" >/dev/null || fail "create a.db"
"$CLI" labels import --db "$TMP/b.db" "$TMP/empty.db" >/dev/null || fail "create b.db"

ins="INSERT INTO labels (candidate_id, science_path, x, y, user, time, label, note, action)"
sqlite3 "$TMP/a.db" "$ins VALUES ('ztf_1', '/d/sci.fits', 31, 31, 'alice',
    '2026-11-21T10:00:00.000Z', 'transient', 'first, \"quoted\" note', 'label');
  $ins VALUES ('ztf_2', NULL, NULL, NULL, 'alice', '2026-11-21T10:00:01.000Z', 'cosmic ray',
    NULL, 'label');
  $ins VALUES ('ztf_2', NULL, NULL, NULL, 'alice', '2026-11-21T10:00:02.000Z', 'hot pixel',
    'line one
line two', 'label');" || fail "fill a.db"
sqlite3 "$TMP/b.db" "$ins VALUES ('ztf_1', '/d/sci.fits', 31, 31, 'alice',
    '2026-11-21T10:00:00.000Z', 'transient', 'first, \"quoted\" note', 'label');
  $ins VALUES ('ztf_3', NULL, NULL, NULL, 'bob', '2026-11-21T11:00:00.000Z', 'transient',
    'Ångström ✓', 'label');
  $ins VALUES ('ztf_4', NULL, NULL, NULL, 'bob', '2026-11-21T11:00:01.000Z', 'ghost', NULL,
    'label');
  $ins VALUES ('ztf_4', NULL, NULL, NULL, 'bob', '2026-11-21T11:00:02.000Z', NULL, NULL,
    'undo');" || fail "fill b.db"

# stats before the merge: 3 acts, 2 candidates, both labelled.
"$CLI" labels stats --db "$TMP/a.db" >"$TMP/stats" || fail "stats a.db"
check_eq "$(sed -n 's/^acts: //p' "$TMP/stats")" 3 "acts in a.db"
check_eq "$(sed -n 's/^candidates: //p' "$TMP/stats")" 2 "candidates in a.db"
check_eq "$(sed -n 's/^labelled: //p' "$TMP/stats")" 2 "labelled in a.db"
check_eq "$(awk '$1 == "alice" { print $2 }' "$TMP/stats")" 3 "acts of alice"

# merge: 1 duplicate skipped, 3 rows added.
"$CLI" labels import --db "$TMP/a.db" "$TMP/b.db" >"$TMP/import" || fail "import"
grep -q ': 3 rows added, 1 duplicates skipped' "$TMP/import" || fail "import: $(cat "$TMP/import")"
"$CLI" labels import --db "$TMP/a.db" --from "$TMP/b.db" >"$TMP/import" || fail "re-import"
grep -q ': 0 rows added, 4 duplicates skipped' "$TMP/import" \
  || fail "re-import: $(cat "$TMP/import")"

"$CLI" labels stats --db "$TMP/a.db" >"$TMP/stats" || fail "stats merged"
check_eq "$(sed -n 's/^acts: //p' "$TMP/stats")" 6 "acts after merge"
check_eq "$(sed -n 's/^candidates: //p' "$TMP/stats")" 4 "candidates after merge"
check_eq "$(sed -n 's/^labelled: //p' "$TMP/stats")" 3 "labelled after merge (ztf_4 undone)"
check_eq "$(awk '$1 == "transient" { print $2 }' "$TMP/stats")" 2 "current transients"
check_eq "$(awk '$1 == "bob" { print $2 }' "$TMP/stats")" 3 "acts of bob"

# CSV: header + 6 records; the multi-line note is one quoted field; CRLF line ends.
"$CLI" labels export --db "$TMP/a.db" --format csv -o "$TMP/out.csv" || fail "export csv"
check_eq "$(head -n 1 "$TMP/out.csv" | tr -d '\r')" \
  "id,candidate_id,template,science,difference,x,y,user,time,label,note,config_hash,action" \
  "CSV header"
grep -q '"first, ""quoted"" note"' "$TMP/out.csv" || fail "CSV quoting of a note"
check_eq "$(grep -c "$(printf '\r')\$" "$TMP/out.csv")" 7 "CRLF line ends (header + 6 records)"
if command -v python3 >/dev/null 2>&1; then
  n=$(python3 -c 'import csv, sys
r = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))
assert all(len(x) == 13 for x in r), r
assert any(x[10] == "line one\nline two" for x in r)
print(len(r) - 1)' "$TMP/out.csv") || fail "CSV does not parse with python csv"
  check_eq "$n" 6 "CSV records (python csv)"
fi

# JSONL: 6 lines, each a JSON object.
"$CLI" labels export --db "$TMP/a.db" -f jsonl -o "$TMP/out.jsonl" || fail "export jsonl"
check_eq "$(wc -l <"$TMP/out.jsonl" | tr -d ' ')" 6 "JSONL lines"
if command -v python3 >/dev/null 2>&1; then
  python3 -c 'import json,sys
rows=[json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert [r["candidate_id"] for r in rows] == ["ztf_1","ztf_2","ztf_2","ztf_3","ztf_4","ztf_4"]
assert rows[3]["note"] == "Ångström ✓"
assert rows[5]["label"] is None and rows[5]["action"] == "undo"
assert rows[0]["x"] == 31 and rows[1]["x"] is None' "$TMP/out.jsonl" || fail "JSONL content"
fi

# Errors: one line, exit 1, the file named.
check_error "missing db" "$CLI" labels stats --db "$TMP/nope.db"
grep -q 'nope.db' "$TMP/err" || fail "missing db not named"
head -c 4096 /dev/urandom >"$TMP/random.db"
check_error "corrupt db" "$CLI" labels stats --db "$TMP/random.db"
check_error "corrupt import" "$CLI" labels import --db "$TMP/a.db" "$TMP/random.db"
check_error "bad format" "$CLI" labels export --db "$TMP/a.db" --format xml -o "$TMP/x"
check_error "no output" "$CLI" labels export --db "$TMP/a.db" --format csv
"$CLI" labels stats --db "$TMP/a.db" >"$TMP/stats" || fail "stats after failed import"
check_eq "$(sed -n 's/^acts: //p' "$TMP/stats")" 6 "acts unchanged by a failed import"
"$CLI" labels frobnicate --db "$TMP/a.db" >/dev/null 2>&1
check_eq "$?" 2 "unknown action is a usage error"

[ "$fails" -eq 0 ] && echo "labels CLI: all checks passed"
[ "$fails" -eq 0 ]
