#!/bin/sh
# Fails when any engine source includes GTK, GIO, GObject, cairo or libadwaita headers: the
# engine must stay headless (the meson dependency list already makes such code fail to build).
dir="$1"
if grep -nE '#[[:space:]]*include[[:space:]]*[<"](gtk/|gio/|glib-object|gobject/|cairo|adwaita|gdk/)' "$dir"/*.c "$dir"/*.h; then
  echo "engine/ must not include GUI or GIO headers" >&2
  exit 1
fi
exit 0
