/* ds-magnifier.c — a small square showing the pixels around a point of a DsImageView, enlarged.
 *
 * Design.  The magnifier owns no image: ds_magnifier_show_at() asks the view to render the
 * area around the point (ds_image_view_render_area(), i.e. dia_render_region() with the
 * view's own plane, stretch, limits, colormap and mask overlay) into a BGRA buffer of the
 * widget's size in DEVICE pixels, wraps it in a GdkMemoryTexture and draws it 1:1, so each
 * image pixel is a crisp block of zoom × zoom device pixels.  The point is snapped to a pixel
 * centre so the pixel under the pointer sits exactly in the middle, outlined by a box.  The
 * magnification is relative to the view's zoom but never below one device pixel per image
 * pixel times the factor, so on a fitted (zoomed-out) view it still shows real pixels.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-magnifier.h"

#include <math.h>

struct _DsMagnifier
{
  GtkWidget parent_instance;

  int factor;
  double zoom;                  /* of the last rendering, device px per image px         */
  GdkTexture *texture;          /* last rendering, or NULL                               */
};

G_DEFINE_FINAL_TYPE (DsMagnifier, ds_magnifier, GTK_TYPE_WIDGET)

static void
ds_magnifier_measure (GtkWidget *widget, GtkOrientation orientation, int for_size,
                      int *minimum, int *natural, int *minimum_baseline, int *natural_baseline)
{
  *minimum = *natural = DS_MAGNIFIER_SIZE;
}

static void
ds_magnifier_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  DsMagnifier *self = DS_MAGNIFIER (widget);
  int w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);
  int s = MAX (1, gtk_widget_get_scale_factor (widget));
  cairo_t *cr;

  if (self->texture == NULL || w <= 0 || h <= 0)
    return;
  gtk_snapshot_append_texture (snapshot, self->texture,
                               &GRAPHENE_RECT_INIT (0, 0,
                                                    (float) gdk_texture_get_width (self->texture) / s,
                                                    (float) gdk_texture_get_height (self->texture) / s));
  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, w, h));
  /* Frame, then the box around the centre pixel: black under white, readable on any map. */
  cairo_set_line_width (cr, 2.0);
  cairo_set_source_rgb (cr, 0.1, 0.1, 0.1);
  cairo_rectangle (cr, 1, 1, w - 2, h - 2);
  cairo_stroke (cr);
  {
    double half = 0.5 * self->zoom / s;           /* logical half-size of one image pixel */
    double cx = 0.5 * gdk_texture_get_width (self->texture) / s;
    double cy = 0.5 * gdk_texture_get_height (self->texture) / s;

    for (int pass = 0; pass < 2; pass++)
      {
        cairo_set_line_width (cr, pass == 0 ? 3.0 : 1.0);
        if (pass == 0)
          cairo_set_source_rgba (cr, 0, 0, 0, 0.7);
        else
          cairo_set_source_rgb (cr, 1, 1, 1);
        cairo_rectangle (cr, cx - half - 0.5, cy - half - 0.5, 2 * half + 1, 2 * half + 1);
        cairo_stroke (cr);
      }
  }
  cairo_destroy (cr);
}

static void
ds_magnifier_finalize (GObject *object)
{
  DsMagnifier *self = DS_MAGNIFIER (object);

  g_clear_object (&self->texture);
  G_OBJECT_CLASS (ds_magnifier_parent_class)->finalize (object);
}

static void
ds_magnifier_class_init (DsMagnifierClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = ds_magnifier_finalize;
  widget_class->measure = ds_magnifier_measure;
  widget_class->snapshot = ds_magnifier_snapshot;
  gtk_widget_class_set_css_name (widget_class, "ds-magnifier");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
ds_magnifier_init (DsMagnifier *self)
{
  self->factor = 4;
  gtk_widget_set_can_target (GTK_WIDGET (self), FALSE);
  gtk_widget_set_overflow (GTK_WIDGET (self), GTK_OVERFLOW_HIDDEN);
}

GtkWidget *
ds_magnifier_new (void)
{
  return g_object_new (DS_TYPE_MAGNIFIER, NULL);
}

void
ds_magnifier_set_factor (DsMagnifier *self, int factor)
{
  g_return_if_fail (DS_IS_MAGNIFIER (self));
  self->factor = factor <= 2 ? 2 : factor < 6 ? 4 : 8;
}

int
ds_magnifier_get_factor (DsMagnifier *self)
{
  g_return_val_if_fail (DS_IS_MAGNIFIER (self), 4);
  return self->factor;
}

double
ds_magnifier_get_zoom (DsMagnifier *self)
{
  g_return_val_if_fail (DS_IS_MAGNIFIER (self), 0.0);
  return self->zoom;
}

void
ds_magnifier_show_at (DsMagnifier *self, DsImageView *view, double ix, double iy)
{
  int s, size;
  size_t stride;
  guint8 *buf;
  g_autoptr (GBytes) bytes = NULL;

  g_return_if_fail (DS_IS_MAGNIFIER (self));
  g_return_if_fail (DS_IS_IMAGE_VIEW (view));

  s = MAX (1, gtk_widget_get_scale_factor (GTK_WIDGET (self)));
  self->zoom = self->factor * MAX (1.0, ds_image_view_get_zoom (view));
  size = DS_MAGNIFIER_SIZE * s;
  stride = (size_t) size * 4;
  buf = g_malloc (stride * (size_t) size);
  ds_image_view_render_area (view, floor (ix + 0.5), floor (iy + 0.5), self->zoom, buf, size,
                             size, stride);
  bytes = g_bytes_new_take (buf, stride * (size_t) size);
  g_clear_object (&self->texture);
  self->texture = gdk_memory_texture_new (size, size, GDK_MEMORY_B8G8R8A8_PREMULTIPLIED, bytes,
                                          stride);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}
