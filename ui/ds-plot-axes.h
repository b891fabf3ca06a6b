/* ds-plot-axes.h — frame, ticks and labels shared by the side pane's small cairo plots
 * (DsHistogram, DsRecallPlot).
 *
 * Coordinates are widget pixels; callers pass positions already snapped to pixel centres
 * (floor (x) + 0.5) where they want crisp 1 px lines.  Every call strokes with the current
 * source and line width.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* A cairo context over the whole widget in snapshot, with its size in *width, *height; NULL
 * when the widget has no area.  Free with cairo_destroy(). */
cairo_t *ds_plot_axes_begin (GtkWidget *widget, GtkSnapshot *snapshot, int *width,
                             int *height);

/* text in the widget's font with its top at y, x at the fraction xalign of its width. */
void ds_plot_axes_draw_text (cairo_t *cr, GtkWidget *widget, const char *text, double x,
                             double y, double xalign);

/* The L-shaped frame: the y axis at x from top down to y, the x axis along y to right. */
void ds_plot_axes_draw_frame (cairo_t *cr, double x, double top, double y, double right);

/* A 4 px tick below the x axis at (x, axis_y), with label (if not NULL) centred under it. */
void ds_plot_axes_draw_x_tick (cairo_t *cr, GtkWidget *widget, double x, double axis_y,
                               const char *label);

/* A 4 px tick left of the y axis at (axis_x, y), with label (if not NULL) right-aligned at
 * label_x and vertically centred on the tick. */
void ds_plot_axes_draw_y_tick (cairo_t *cr, GtkWidget *widget, double axis_x, double y,
                               const char *label, double label_x);

G_END_DECLS
