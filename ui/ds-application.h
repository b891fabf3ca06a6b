/* ds-application.h — the Diffscope GtkApplication.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define DS_TYPE_APPLICATION (ds_application_get_type ())
G_DECLARE_FINAL_TYPE (DsApplication, ds_application, DS, APPLICATION, GtkApplication)

DsApplication *ds_application_new (void);

/* The application's settings (transfer none).  When the schema is installed (or found through
 * GSETTINGS_SCHEMA_DIR) the normal backend is used; when it is only found in the build tree,
 * or when taking a scripted screenshot, a memory backend.  NULL only when no schema can be
 * found at all: callers then use the defaults and remember nothing. */
GSettings *ds_application_get_settings (DsApplication *self);

/* --screenshot=FILE: the PNG to write once the pair is shown (NULL in interactive use). */
const char *ds_application_get_screenshot_path (DsApplication *self);

/* Status for main() to return (non-zero after a failed scripted screenshot). */
int  ds_application_get_exit_status (DsApplication *self);
void ds_application_set_exit_status (DsApplication *self, int status);

G_END_DECLS
