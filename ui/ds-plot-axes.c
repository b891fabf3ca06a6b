/* ds-plot-axes.c — frame, ticks and labels of the side pane's plots (see ds-plot-axes.h).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-plot-axes.h"

#include <pango/pangocairo.h>

cairo_t *
ds_plot_axes_begin (GtkWidget *widget, GtkSnapshot *snapshot, int *width, int *height)
{
  *width = gtk_widget_get_width (widget);
  *height = gtk_widget_get_height (widget);
  if (*width <= 0 || *height <= 0)
    return NULL;
  return gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, *width, *height));
}

void
ds_plot_axes_draw_text (cairo_t *cr, GtkWidget *widget, const char *text, double x, double y,
                        double xalign)
{
  g_autoptr (PangoLayout) layout = gtk_widget_create_pango_layout (widget, text);
  int w, h;

  pango_layout_get_pixel_size (layout, &w, &h);
  cairo_move_to (cr, x - xalign * w, y);
  pango_cairo_show_layout (cr, layout);
}

void
ds_plot_axes_draw_frame (cairo_t *cr, double x, double top, double y, double right)
{
  cairo_move_to (cr, x, top);
  cairo_line_to (cr, x, y);
  cairo_line_to (cr, right, y);
  cairo_stroke (cr);
}

void
ds_plot_axes_draw_x_tick (cairo_t *cr, GtkWidget *widget, double x, double axis_y,
                          const char *label)
{
  cairo_move_to (cr, x, axis_y);
  cairo_line_to (cr, x, axis_y + 4);
  cairo_stroke (cr);
  if (label != NULL)
    ds_plot_axes_draw_text (cr, widget, label, x, axis_y + 4, 0.5);
}

void
ds_plot_axes_draw_y_tick (cairo_t *cr, GtkWidget *widget, double axis_x, double y,
                          const char *label, double label_x)
{
  cairo_move_to (cr, axis_x - 4, y);
  cairo_line_to (cr, axis_x, y);
  cairo_stroke (cr);
  /* The labels are one line of the widget's font: about 16 px high. */
  if (label != NULL)
    ds_plot_axes_draw_text (cr, widget, label, label_x, y - 8, 1.0);
}
