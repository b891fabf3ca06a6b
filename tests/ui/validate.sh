#!/bin/sh
# Runs a metadata validator (desktop-file-validate, appstreamcli) on a built file; skips
# (exit 77) when the tool is not installed.
# SPDX-License-Identifier: GPL-3.0-or-later
tool="$1"
shift
if ! command -v "$tool" >/dev/null 2>&1; then
  echo "$tool is not installed: skipping" >&2
  exit 77
fi
exec "$tool" "$@"
