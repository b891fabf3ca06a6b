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

/* --set KEY=VALUE options (NULL-terminated, may be NULL): applied as one parameter change
 * after the first difference has been shown, before a scripted screenshot. */
const char *const *ds_application_get_script_sets (DsApplication *self);
/* --action=NAME[::TARGET] options (NULL-terminated, may be NULL): window actions activated
 * one by one, each once the previous job has finished, after the --set steps. */
const char *const *ds_application_get_script_actions (DsApplication *self);
/* --report=FILE: where a scripted screenshot writes its text report (NULL: none). */
const char *ds_application_get_report_path (DsApplication *self);
/* --zoom=Z: initial zoom of the panes in device px per image px (0 = fit). */
double ds_application_get_initial_zoom (DsApplication *self);

/* Status for main() to return (non-zero after a failed scripted screenshot). */
int  ds_application_get_exit_status (DsApplication *self);
void ds_application_set_exit_status (DsApplication *self, int status);

G_END_DECLS
