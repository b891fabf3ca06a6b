/* ds-window.h — the main window: template and science panes side by side.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "ds-application.h"

G_BEGIN_DECLS

#define DS_TYPE_WINDOW (ds_window_get_type ())
G_DECLARE_FINAL_TYPE (DsWindow, ds_window, DS, WINDOW, GtkApplicationWindow)

DsWindow *ds_window_new (DsApplication *application);

/* Start loading on the window's worker; the panes keep their images until the new pair is
 * ready, and a failure shows in the banner (or, in screenshot mode, ends the application with
 * status 1).  Main thread. */
void ds_window_load_demo (DsWindow *self);
void ds_window_load_pair (DsWindow *self, const char *template_path, const char *science_path);

/* Shows message in the in-window banner until dismissed. */
void ds_window_show_error (DsWindow *self, const char *message);

/* Session files (GKeyFile): [inputs] template/science paths (or demo=true) and [request]
 * written by dia_params_save().  Loading sets the request and reloads the pair.  Main thread;
 * FALSE with error naming the file. */
gboolean ds_window_save_session (DsWindow *self, const char *path, GError **error);
gboolean ds_window_load_session (DsWindow *self, const char *path, GError **error);

/* Draws the window as it is now with its own renderer and writes a PNG. */
gboolean ds_window_save_screenshot (DsWindow *self, const char *path, GError **error);

G_END_DECLS
