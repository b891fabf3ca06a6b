/* ds-scan-window.h — the keyboard-first scanning window for hand classification.
 *
 * The application opens it for `diffscope --scan SOURCE --labels FILE.db [--taxonomy FILE]` and
 * from the menu item "Scan Candidates…".  SOURCE is a cutout folder, a list file or a catalogue
 * (see ds-scan-queue.h).  Labels go to a DsLabelStore; a store that cannot be opened (locked,
 * corrupt) shows a banner and the window keeps working for browsing, but labels cannot be saved
 * until the problem is solved and "Retry" succeeds.
 *
 * With DIFFSCOPE_DEBUG_SCAN=1 in the environment the window prints one line per event on
 * stdout ("scan: current INDEX ID", "scan: labelled ID LABEL", "scan: undo ID"), for tests.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define DS_TYPE_SCAN_WINDOW (ds_scan_window_get_type ())
G_DECLARE_FINAL_TYPE (DsScanWindow, ds_scan_window, DS, SCAN_WINDOW, GtkApplicationWindow)

/* Loads the queue of source and returns a new window (not yet presented), or NULL with error
 * when the source cannot be read.  labels_path NULL means $XDG_DATA_HOME/diffscope/labels.db.
 * A store that fails to open is NOT an error here (the banner shows it).  UI thread only. */
GtkWindow *ds_scan_window_new (GtkApplication *app, const char *source, const char *labels_path,
                               GError **error);

/* Replaces the taxonomy with the one in path (format: data/taxonomy-default.txt). */
gboolean ds_scan_window_load_taxonomy (DsScanWindow *self, const char *path, GError **error);

/* Renders the window as it is on screen into a PNG file.  Call it once the window has been
 * drawn (e.g. from a timeout after gtk_window_present). */
gboolean ds_scan_window_save_png (DsScanWindow *self, const char *path, GError **error);

G_END_DECLS
