/* gui-test-util.h — helpers shared by the GUI tests: run the app, read its screenshot.
 *
 * The tests drive $DIFFSCOPE_GUI (the diffscope binary of the build tree) with --screenshot
 * and --report, then check pixels of the PNG at positions taken from the report's geometry
 * lines.  Failures abort through g_assert (the tests run under GTest).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A screenshot as 8-bit RGB(A) rows, as gdk-pixbuf reads it. */
typedef struct
{
  int width, height, stride, n_channels;
  guint8 *pixels;               /* owned copy */
} GuiShot;

/* A widget's rectangle in the window (x, y, w, h, as in the report's "view" lines) and, for
 * image views, the zoom and the image coordinate at its centre. */
typedef struct
{
  double x, y, w, h, zoom, cx, cy;
} GuiView;

/* Reads the PNG at path into shot (asserts that it loads). */
void gui_shot_load (const char *path, GuiShot *shot);
/* Frees the pixels; shot may be cleared twice. */
void gui_shot_clear (GuiShot *shot);
/* The pixel at (x, y), clamped into the shot. */
const guint8 *gui_shot_at (const GuiShot *shot, int x, int y);

/* Screen position of image coordinate (ix, iy) in view v (pixel centres on integers, image
 * y up). */
void gui_view_to_screen (const GuiView *v, double ix, double iy, double *sx, double *sy);

/* Runs $DIFFSCOPE_GUI with args (NULL-terminated) and spawn flags; returns the wait status
 * and the captured stderr in *err (free with g_free), which is also logged. */
int gui_run_diffscope (const char *const *args, GSpawnFlags flags, char **err);

/* Runs $DIFFSCOPE_GUI --screenshot=… --report=… --window-size=1400x800 followed by extra
 * (NULL-terminated, may be NULL) in a temporary folder named after tmp_template
 * ("name-XXXXXX"); asserts exit status 0; loads the screenshot into shot and returns the
 * report's text (free with g_free).  The files are removed; DS_TEST_KEEP_SHOT=DIR keeps the
 * screenshot as DIR/<test path>.png for a human to look at. */
char *gui_run_case (const char *tmp_template, const char *const *extra, GuiShot *shot);

G_END_DECLS
