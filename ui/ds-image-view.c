/* ds-image-view.c — a pane that shows one plane of a DiaImage with pan and zoom.
 *
 * Design.  GTK 4.8 can only scale textures with a linear filter and has no single-channel
 * texture formats, so the view never hands the image itself to GTK.  Instead, whenever the
 * view changes (image, plane, render parameters, zoom, centre, size or scale factor) it marks
 * its texture stale, and the next snapshot() renders exactly the visible area with
 * dia_render_region() into a BGRA buffer in DEVICE pixels (the part of the widget the image
 * covers), wraps it with
 * gdk_memory_texture_new() and draws it into the widget's logical bounds.  Zoomed-in pixels are
 * therefore crisp squares, and on a HiDPI screen one image pixel can map to one device pixel.
 * Re-rendering 1–2 Mpx costs a few milliseconds, so it is done on the main thread for now; the
 * render call is pure arithmetic on frozen data and can move to a worker later without changes
 * to the engine.
 *
 * The view state is (zoom, center-x, center-y), all GObject properties: zoom in device pixels
 * per image pixel, centre in 0-based image coordinates at the middle of the widget.  Locking
 * panes together is g_object_bind_property() on those three (see ds-window.c); setters only
 * notify on real changes, so bidirectional bindings settle at once.  Image y points up (FITS
 * and DS9 convention): widget y grows downwards, image y upwards.
 *
 * Each view keeps its own DiaRenderParams and plane choice, so a later difference pane can use
 * a symmetric diverging map next to two grey ones.
 *
 * Reruns: a "patch" (the visible region of a rerun, computed before the full frame) is drawn
 * over the image with the same render parameters, so the user sees the new difference where
 * they look within tens of milliseconds while the rest keeps the previous result; the next
 * full image replaces both.  Overlays (stamps, detections, quiver arrows) are layers of
 * DsMarker in image coordinates drawn with cairo over the texture; markers with a tooltip
 * answer query-tooltip within a few screen pixels.
 *
 * Viewing aids (driven by ds-display-controls.c): a DsMaskOverlay blends the colours of the
 * shown mask planes into the rendered buffer with the same nearest sampling, so the overlay
 * is pixel-exact; a crosshair is two cairo lines through an image pixel centre; a "corner
 * child" (the magnifier) floats in a top corner, away from the pointer; and a
 * secondary-button drag sets DS9's contrast (vertical) and bias (horizontal).
 *
 * Signals: "pointer-moved" (inside, x, y) reports the image coordinate under the pointer for
 * the status bar; inside is FALSE when the pointer left the view.  "image-clicked" (x, y) is a
 * primary click without motion, "contrast-dragged" follows a right-drag change, and
 * "params-changed" any change of the render parameters.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-image-view.h"
#include "ds-mask-overlay.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

struct _DsImageView
{
  GtkWidget parent_instance;

  DiaImage *image;
  DsPlane plane;
  float *mask_plane;            /* DS_PLANE_MASK: 0/1 float copy of the mask (owned)        */
  DiaRenderParams params;

  double zoom;                  /* device px per image px                                   */
  double center_x, center_y;
  gboolean fit_mode;            /* refit on resize until the user zooms or pans             */

  GdkTexture *texture;          /* the last rendering, or NULL                              */
  int texture_x, texture_y;     /* its offset in the widget, device px                      */
  int texture_for_w, texture_for_h;   /* widget size in device px it was rendered for      */
  gboolean texture_stale;

  DiaImage *patch;              /* drawn over image at (patch_x0, patch_y0), or NULL        */
  int patch_x0, patch_y0;
  int patch_step;               /* patch pixel (i, j) is image pixel (x0 + step·i, …)      */
  GArray *layers[DS_IMAGE_VIEW_N_LAYERS];   /* DsMarker, or NULL                              */
  gboolean layer_hidden[DS_IMAGE_VIEW_N_LAYERS];

  double drag_start_x, drag_start_y;  /* centre when a pan drag began                     */
  double cb_start_contrast, cb_start_bias; /* contrast/bias when a right-drag began         */
  DsMaskOverlay *overlay;             /* per-bit mask colours over the image, or NULL      */
  gboolean crosshair_shown;
  double crosshair_x, crosshair_y;    /* image coordinate of the crosshair                 */
  GtkWidget *corner_child;            /* e.g. a magnifier, in a top corner, or NULL        */
  gboolean corner_left;               /* it is in the top-left corner (else top-right)     */
  double pointer_x, pointer_y;        /* last pointer position, logical widget px (−1: none) */
};

G_DEFINE_FINAL_TYPE (DsImageView, ds_image_view, GTK_TYPE_WIDGET)

enum
{
  PROP_0,
  PROP_ZOOM,
  PROP_CENTER_X,
  PROP_CENTER_Y,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum
{
  SIGNAL_POINTER_MOVED,
  SIGNAL_IMAGE_CLICKED,
  SIGNAL_CONTRAST_DRAGGED,
  SIGNAL_PARAMS_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
view_invalidate (DsImageView *self)
{
  self->texture_stale = TRUE;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/* The float plane currently shown, with its mask (NULL data when there is no image). */
static const float *
view_plane_data (DsImageView *self, const DiaMask **mask, size_t *stride)
{
  DiaImage *im = self->image;

  *mask = NULL;
  *stride = 0;
  if (im == NULL)
    return NULL;
  *stride = im->stride;
  *mask = im->mask;
  switch (self->plane)
    {
    case DS_PLANE_VARIANCE:
      return im->var;
    case DS_PLANE_MASK:
      *mask = NULL;
      return self->mask_plane;
    case DS_PLANE_IMAGE:
    default:
      return im->pix;
    }
}

static void
view_update_mask_plane (DsImageView *self)
{
  DiaImage *im = self->image;

  g_clear_pointer (&self->mask_plane, g_free);
  if (im == NULL || self->plane != DS_PLANE_MASK || im->mask == NULL)
    return;
  self->mask_plane = g_try_malloc_n (im->stride * (size_t) im->height, sizeof (float));
  if (self->mask_plane == NULL)
    return;
  for (int y = 0; y < im->height; y++)
    for (int x = 0; x < im->width; x++)
      {
        size_t i = dia_image_index (im, x, y);
        self->mask_plane[i] = im->mask[i] != 0 ? 1.0f : 0.0f;
      }
}

static void
view_update_limits (DsImageView *self)
{
  const DiaMask *mask;
  size_t stride;
  const float *data = view_plane_data (self, &mask, &stride);

  if (data == NULL)
    return;
  /* NO_DATA, BAD and SAT pixels say nothing about the sky level the stretch is for. */
  dia_render_compute_limits (data, mask, DIA_MASK_NO_DATA | DIA_MASK_BAD | DIA_MASK_SAT,
                             self->image->width, self->image->height, stride, &self->params);
  if (self->params.stretch == DIA_STRETCH_HISTEQ)
    dia_render_compute_histeq (data, mask, DIA_MASK_NO_DATA | DIA_MASK_BAD | DIA_MASK_SAT,
                               self->image->width, self->image->height, stride,
                               &self->params);
}

static int
view_scale (DsImageView *self)
{
  return MAX (1, gtk_widget_get_scale_factor (GTK_WIDGET (self)));
}

/* Image coordinate of the bottom-left corner of the widget (see dia_render_region()). */
static void
view_origin (DsImageView *self, double *src_x, double *src_y)
{
  int s = view_scale (self);
  double w = (double) gtk_widget_get_width (GTK_WIDGET (self)) * s;
  double h = (double) gtk_widget_get_height (GTK_WIDGET (self)) * s;

  *src_x = self->center_x - 0.5 * w / self->zoom;
  *src_y = self->center_y - 0.5 * h / self->zoom;
}

static void
view_apply_fit (DsImageView *self)
{
  int s = view_scale (self);
  int w = gtk_widget_get_width (GTK_WIDGET (self)) * s;
  int h = gtk_widget_get_height (GTK_WIDGET (self)) * s;

  if (self->image == NULL || w <= 0 || h <= 0)
    return;
  ds_image_view_set_center (self, 0.5 * (self->image->width - 1),
                            0.5 * (self->image->height - 1));
  ds_image_view_set_zoom (self, MIN ((double) w / self->image->width,
                                     (double) h / self->image->height));
  /* set_zoom leaves fit mode only for user zooms; stay in it. */
  self->fit_mode = TRUE;
}

/* --- rendering ----------------------------------------------------------------------------- */

/* Renders the patch into the part of buf (tw × th, bottom-left corner at image coordinate
 * (sx, sy)) that it covers, with the same sampling as the base image, so pixels line up. */
static void
view_render_patch (DsImageView *self, double sx, double sy, guint8 *buf, int tw, int th,
                   size_t out_stride)
{
  DiaImage *p = self->patch;
  const float *data = self->plane == DS_PLANE_VARIANCE ? p->var : p->pix;
  double z = self->zoom, st = self->patch_step;
  /* Output columns whose centres sample patch pixels: image x in [x0 − st/2, x0 + st·w − st/2)
   * (a sampled patch stands for the step × step block around each of its pixels). */
  int c0 = (int) ceil ((self->patch_x0 - 0.5 * st - sx) * z - 0.5);
  int c1 = (int) ceil ((self->patch_x0 + st * p->width - 0.5 * st - sx) * z - 0.5);
  int b0 = (int) ceil ((self->patch_y0 - 0.5 * st - sy) * z - 0.5);  /* rows from the bottom */
  int b1 = (int) ceil ((self->patch_y0 + st * p->height - 0.5 * st - sy) * z - 0.5);

  if (data == NULL)
    return;
  c0 = CLAMP (c0, 0, tw);
  c1 = CLAMP (c1, 0, tw);
  b0 = CLAMP (b0, 0, th);
  b1 = CLAMP (b1, 0, th);
  if (c1 <= c0 || b1 <= b0)
    return;
  /* Output row r is bottom row th − 1 − r; the sub-buffer starts at the top row th − b1. */
  dia_render_region (data, p->mask, p->width, p->height, p->stride, &self->params,
                     (sx + c0 / z - self->patch_x0) / st, (sy + b0 / z - self->patch_y0) / st,
                     z * st, buf + (size_t) (th - b1) * out_stride + (size_t) c0 * 4, c1 - c0,
                     b1 - b0, out_stride);
}

/* Renders the part of the widget (width × height device px) that the image covers: the
 * margins around a fitted image show the pane background rather than the no-data colour, and
 * fewer pixels are rendered.  Sets texture_x/y to its device-pixel offset in the widget. */
static void
view_render_texture (DsImageView *self, int width, int height)
{
  const DiaMask *mask;
  size_t stride, out_stride;
  const float *data = view_plane_data (self, &mask, &stride);
  double src_x, src_y, x0, x1, y0, y1;
  int c0, c1, r0, r1, tw, th;
  guint8 *buf;
  GBytes *bytes;

  g_clear_object (&self->texture);
  if (data == NULL || width <= 0 || height <= 0)
    return;
  view_origin (self, &src_x, &src_y);
  /* The image spans [−½, w − ½] × [−½, h − ½]; output row r is at height − r from the bottom. */
  x0 = (-0.5 - src_x) * self->zoom;
  x1 = (self->image->width - 0.5 - src_x) * self->zoom;
  y0 = height - (self->image->height - 0.5 - src_y) * self->zoom;
  y1 = height - (-0.5 - src_y) * self->zoom;
  c0 = (int) floor (CLAMP (x0, 0.0, (double) width));
  c1 = (int) ceil (CLAMP (x1, 0.0, (double) width));
  r0 = (int) floor (CLAMP (y0, 0.0, (double) height));
  r1 = (int) ceil (CLAMP (y1, 0.0, (double) height));
  tw = c1 - c0;
  th = r1 - r0;
  if (tw <= 0 || th <= 0)
    return;
  out_stride = (size_t) tw * 4;
  buf = g_try_malloc (out_stride * (size_t) th);
  if (buf == NULL)
    return;
  dia_render_region (data, mask, self->image->width, self->image->height, stride,
                     &self->params, src_x + c0 / self->zoom, src_y + (height - r1) / self->zoom,
                     self->zoom, buf, tw, th, out_stride);
  if (self->patch != NULL && self->plane != DS_PLANE_MASK)
    view_render_patch (self, src_x + c0 / self->zoom, src_y + (height - r1) / self->zoom, buf,
                       tw, th, out_stride);
  if (self->overlay != NULL && self->plane != DS_PLANE_MASK)
    ds_mask_overlay_apply (self->overlay, self->image, src_x + c0 / self->zoom,
                           src_y + (height - r1) / self->zoom, self->zoom, buf, tw, th,
                           out_stride);
  bytes = g_bytes_new_take (buf, out_stride * (size_t) th);
  self->texture = gdk_memory_texture_new (tw, th, GDK_MEMORY_B8G8R8A8_PREMULTIPLIED, bytes,
                                          out_stride);
  self->texture_x = c0;
  self->texture_y = r0;
  g_bytes_unref (bytes);
}

/* Logical widget position of an image coordinate (inverse of widget_to_image). */
static void
view_image_to_widget (DsImageView *self, double ix, double iy, double *wx, double *wy)
{
  int s = view_scale (self);
  double w = (double) gtk_widget_get_width (GTK_WIDGET (self)) * s;
  double h = (double) gtk_widget_get_height (GTK_WIDGET (self)) * s;

  *wx = ((ix - self->center_x) * self->zoom + 0.5 * w) / s;
  *wy = (0.5 * h - (iy - self->center_y) * self->zoom) / s;
}

static void
view_snapshot_markers (DsImageView *self, GtkSnapshot *snapshot, int w, int h)
{
  cairo_t *cr = NULL;
  double k = self->zoom / view_scale (self);   /* logical px per image px */

  for (int l = 0; l < DS_IMAGE_VIEW_N_LAYERS; l++)
    {
      GArray *markers = self->layers[l];

      if (markers == NULL || self->layer_hidden[l] || markers->len == 0)
        continue;
      if (cr == NULL)
        {
          cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, w, h));
          cairo_set_line_width (cr, 1.5);
        }
      for (guint i = 0; i < markers->len; i++)
        {
          const DsMarker *m = &g_array_index (markers, DsMarker, i);
          double x, y, r = MAX (3.0, m->size * k);

          view_image_to_widget (self, m->x, m->y, &x, &y);
          if (x < -r - 50 || y < -r - 50 || x > w + r + 50 || y > h + r + 50)
            continue;
          cairo_set_source_rgba (cr, ((m->rgba >> 24) & 0xff) / 255.0,
                                 ((m->rgba >> 16) & 0xff) / 255.0,
                                 ((m->rgba >> 8) & 0xff) / 255.0, (m->rgba & 0xff) / 255.0);
          switch (m->shape)
            {
            case DS_MARKER_CIRCLE:
              cairo_new_sub_path (cr);
              cairo_arc (cr, x, y, r, 0, 2 * G_PI);
              break;
            case DS_MARKER_SQUARE:
              cairo_rectangle (cr, x - r, y - r, 2 * r, 2 * r);
              break;
            case DS_MARKER_CROSS:
              cairo_move_to (cr, x - r, y);
              cairo_line_to (cr, x + r, y);
              cairo_move_to (cr, x, y - r);
              cairo_line_to (cr, x, y + r);
              break;
            case DS_MARKER_ARROW:
              {
                double ex = x + m->dx * k, ey = y - m->dy * k;
                double a = atan2 (ey - y, ex - x), len = hypot (ex - x, ey - y);
                double head = MIN (6.0, 0.4 * len);

                cairo_move_to (cr, x, y);
                cairo_line_to (cr, ex, ey);
                cairo_move_to (cr, ex - head * cos (a - 0.4), ey - head * sin (a - 0.4));
                cairo_line_to (cr, ex, ey);
                cairo_line_to (cr, ex - head * cos (a + 0.4), ey - head * sin (a + 0.4));
              }
              break;
            }
          cairo_stroke (cr);
        }
    }
  if (cr != NULL)
    cairo_destroy (cr);
}

static gboolean
on_query_tooltip (GtkWidget *widget, int x, int y, gboolean keyboard, GtkTooltip *tooltip,
                  DsImageView *self)
{
  const DsMarker *best = NULL;
  double best_d = 8.0;          /* logical px */

  for (int l = 0; l < DS_IMAGE_VIEW_N_LAYERS; l++)
    for (guint i = 0; self->layers[l] != NULL && !self->layer_hidden[l]
                      && i < self->layers[l]->len; i++)
      {
        const DsMarker *m = &g_array_index (self->layers[l], DsMarker, i);
        double mx, my, d;

        if (m->tooltip == NULL)
          continue;
        view_image_to_widget (self, m->x, m->y, &mx, &my);
        d = hypot (mx - x, my - y) - MAX (3.0, m->size * self->zoom / view_scale (self));
        if (fabs (d) < best_d)
          {
            best_d = fabs (d);
            best = m;
          }
      }
  if (best == NULL)
    return FALSE;
  gtk_tooltip_set_text (tooltip, best->tooltip);
  return TRUE;
}

/* Two full-length lines through the crosshair position, a dark one under a light one so that
 * they read on any colormap; pixel-aligned on the centre of the image pixel. */
static void
view_snapshot_crosshair (DsImageView *self, GtkSnapshot *snapshot, int w, int h)
{
  double x, y;
  cairo_t *cr;

  view_image_to_widget (self, self->crosshair_x, self->crosshair_y, &x, &y);
  if (x < 0 || y < 0 || x > w || y > h)
    return;
  x = floor (x) + 0.5;
  y = floor (y) + 0.5;
  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, w, h));
  for (int pass = 0; pass < 2; pass++)
    {
      cairo_set_line_width (cr, pass == 0 ? 3.0 : 1.0);
      if (pass == 0)
        cairo_set_source_rgba (cr, 0, 0, 0, 0.6);
      else
        cairo_set_source_rgb (cr, 0.2, 1.0, 0.2);
      cairo_move_to (cr, 0, y);
      cairo_line_to (cr, w, y);
      cairo_move_to (cr, x, 0);
      cairo_line_to (cr, x, h);
      cairo_stroke (cr);
    }
  cairo_destroy (cr);
}

static void
ds_image_view_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  DsImageView *self = DS_IMAGE_VIEW (widget);
  int s = view_scale (self);
  int w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);

  if (self->image == NULL || w <= 0 || h <= 0)
    return;
  if (self->texture_stale || w * s != self->texture_for_w || h * s != self->texture_for_h)
    {
      view_render_texture (self, w * s, h * s);
      self->texture_for_w = w * s;
      self->texture_for_h = h * s;
      self->texture_stale = FALSE;
    }
  if (self->texture != NULL)
    {
      /* Device pixels back to logical units: the texture maps 1:1 onto device pixels. */
      graphene_rect_t bounds = GRAPHENE_RECT_INIT (
        (float) self->texture_x / s, (float) self->texture_y / s,
        (float) gdk_texture_get_width (self->texture) / s,
        (float) gdk_texture_get_height (self->texture) / s);

      gtk_snapshot_append_texture (snapshot, self->texture, &bounds);
    }
  view_snapshot_markers (self, snapshot, w, h);
  if (self->crosshair_shown)
    view_snapshot_crosshair (self, snapshot, w, h);
  if (self->corner_child != NULL && gtk_widget_get_visible (self->corner_child))
    gtk_widget_snapshot_child (widget, self->corner_child, snapshot);
}

#define CORNER_MARGIN 6

/* The corner child sits in the top-right corner, or the top-left one while the pointer is in
 * the top-right quarter, so that it never hides what is being looked at. */
static gboolean
view_corner_wants_left (DsImageView *self, int width, int height)
{
  return self->pointer_x > 0.5 * width && self->pointer_x < width && self->pointer_y >= 0
         && self->pointer_y < 0.5 * height;
}

static void
view_allocate_corner_child (DsImageView *self, int width, int height)
{
  int cw, ch, x;
  gboolean left;

  if (self->corner_child == NULL || !gtk_widget_get_visible (self->corner_child))
    return;
  gtk_widget_measure (self->corner_child, GTK_ORIENTATION_HORIZONTAL, -1, NULL, &cw, NULL,
                      NULL);
  gtk_widget_measure (self->corner_child, GTK_ORIENTATION_VERTICAL, cw, NULL, &ch, NULL, NULL);
  cw = MIN (cw, MAX (0, width - 2 * CORNER_MARGIN));
  ch = MIN (ch, MAX (0, height - 2 * CORNER_MARGIN));
  left = self->corner_left = view_corner_wants_left (self, width, height);
  x = left ? CORNER_MARGIN : width - CORNER_MARGIN - cw;
  gtk_widget_size_allocate (self->corner_child,
                            &(GtkAllocation) { x, CORNER_MARGIN, cw, ch }, -1);
}

static void
ds_image_view_size_allocate (GtkWidget *widget, int width, int height, int baseline)
{
  DsImageView *self = DS_IMAGE_VIEW (widget);

  if (self->fit_mode)
    view_apply_fit (self);
  self->texture_stale = TRUE;
  view_allocate_corner_child (self, width, height);
}

static void
ds_image_view_measure (GtkWidget *widget, GtkOrientation orientation, int for_size,
                       int *minimum, int *natural, int *minimum_baseline,
                       int *natural_baseline)
{
  *minimum = 64;
  *natural = 400;
}

/* --- input --------------------------------------------------------------------------------- */

static void
on_drag_begin (GtkGestureDrag *gesture, double x, double y, DsImageView *self)
{
  self->drag_start_x = self->center_x;
  self->drag_start_y = self->center_y;
  gtk_widget_grab_focus (GTK_WIDGET (self));
}

static void
on_drag_update (GtkGestureDrag *gesture, double dx, double dy, DsImageView *self)
{
  double k = view_scale (self) / self->zoom;

  self->fit_mode = FALSE;
  /* Dragging right moves the image right: the centre moves left.  Dragging down moves the
   * image down, and image y points up, so the centre moves up. */
  ds_image_view_set_center (self, self->drag_start_x - dx * k, self->drag_start_y + dy * k);
}

/* A primary click that did not move (GtkGestureClick stops past the drag threshold). */
static void
on_click_released (GtkGestureClick *gesture, int n_press, double x, double y,
                   DsImageView *self)
{
  double ix, iy;

  if (self->image == NULL)
    return;
  ds_image_view_widget_to_image (self, x, y, &ix, &iy);
  g_signal_emit (self, signals[SIGNAL_IMAGE_CLICKED], 0, ix, iy);
}

static void
on_contrast_drag_begin (GtkGestureDrag *gesture, double x, double y, DsImageView *self)
{
  self->cb_start_contrast = self->params.contrast;
  self->cb_start_bias = self->params.bias;
  gtk_widget_grab_focus (GTK_WIDGET (self));
}

/* DS9's right-drag: horizontal motion moves the bias (a full widget width moves it by 1,
 * dragging right brightens, i.e. lowers the bias), vertical motion scales the contrast
 * exponentially (dragging up by half the widget height doubles it… up to ×8 per height). */
static void
on_contrast_drag_update (GtkGestureDrag *gesture, double dx, double dy, DsImageView *self)
{
  double w = MAX (1, gtk_widget_get_width (GTK_WIDGET (self)));
  double h = MAX (1, gtk_widget_get_height (GTK_WIDGET (self)));

  ds_image_view_set_contrast_bias (self, self->cb_start_contrast * exp2 (-2.0 * dy / h),
                                   self->cb_start_bias - dx / w);
  g_signal_emit (self, signals[SIGNAL_CONTRAST_DRAGGED], 0);
}

static gboolean
on_scroll (GtkEventControllerScroll *controller, double dx, double dy, DsImageView *self)
{
  int steps = dy < 0 ? 1 : dy > 0 ? -1 : 0;

  if (steps != 0)
    ds_image_view_zoom_step (self, steps, self->pointer_x, self->pointer_y);
  return TRUE;
}

static void
on_motion (GtkEventControllerMotion *controller, double x, double y, DsImageView *self)
{
  double ix, iy;

  self->pointer_x = x;
  self->pointer_y = y;
  /* Reallocate (which re-renders) only when the corner child has to change sides. */
  if (self->corner_child != NULL && gtk_widget_get_visible (self->corner_child)
      && view_corner_wants_left (self, gtk_widget_get_width (GTK_WIDGET (self)),
                                 gtk_widget_get_height (GTK_WIDGET (self)))
           != self->corner_left)
    gtk_widget_queue_allocate (GTK_WIDGET (self));
  if (self->image == NULL)
    return;
  ds_image_view_widget_to_image (self, x, y, &ix, &iy);
  g_signal_emit (self, signals[SIGNAL_POINTER_MOVED], 0, TRUE, ix, iy);
}

static void
on_leave (GtkEventControllerMotion *controller, DsImageView *self)
{
  self->pointer_x = self->pointer_y = -1.0;
  g_signal_emit (self, signals[SIGNAL_POINTER_MOVED], 0, FALSE, 0.0, 0.0);
}

/* --- GObject --------------------------------------------------------------------------------- */

static void
ds_image_view_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  DsImageView *self = DS_IMAGE_VIEW (object);

  switch (prop_id)
    {
    case PROP_ZOOM:
      g_value_set_double (value, self->zoom);
      break;
    case PROP_CENTER_X:
      g_value_set_double (value, self->center_x);
      break;
    case PROP_CENTER_Y:
      g_value_set_double (value, self->center_y);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ds_image_view_set_property (GObject *object, guint prop_id, const GValue *value,
                            GParamSpec *pspec)
{
  DsImageView *self = DS_IMAGE_VIEW (object);

  switch (prop_id)
    {
    case PROP_ZOOM:
      ds_image_view_set_zoom (self, g_value_get_double (value));
      break;
    case PROP_CENTER_X:
      ds_image_view_set_center (self, g_value_get_double (value), self->center_y);
      break;
    case PROP_CENTER_Y:
      ds_image_view_set_center (self, self->center_x, g_value_get_double (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ds_image_view_finalize (GObject *object)
{
  DsImageView *self = DS_IMAGE_VIEW (object);

  g_clear_pointer (&self->image, dia_image_unref);
  g_clear_pointer (&self->mask_plane, g_free);
  g_clear_pointer (&self->patch, dia_image_unref);
  g_clear_pointer (&self->overlay, ds_mask_overlay_unref);
  for (int l = 0; l < DS_IMAGE_VIEW_N_LAYERS; l++)
    g_clear_pointer (&self->layers[l], g_array_unref);
  g_clear_object (&self->texture);
  G_OBJECT_CLASS (ds_image_view_parent_class)->finalize (object);
}

static void
ds_image_view_dispose (GObject *object)
{
  DsImageView *self = DS_IMAGE_VIEW (object);

  g_clear_pointer (&self->corner_child, gtk_widget_unparent);
  G_OBJECT_CLASS (ds_image_view_parent_class)->dispose (object);
}

static void
ds_image_view_class_init (DsImageViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->get_property = ds_image_view_get_property;
  object_class->set_property = ds_image_view_set_property;
  object_class->dispose = ds_image_view_dispose;
  object_class->finalize = ds_image_view_finalize;
  widget_class->snapshot = ds_image_view_snapshot;
  widget_class->size_allocate = ds_image_view_size_allocate;
  widget_class->measure = ds_image_view_measure;

  properties[PROP_ZOOM] =
    g_param_spec_double ("zoom", NULL, NULL, DS_IMAGE_VIEW_ZOOM_MIN, DS_IMAGE_VIEW_ZOOM_MAX,
                         1.0, G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY
                         | G_PARAM_STATIC_STRINGS);
  properties[PROP_CENTER_X] =
    g_param_spec_double ("center-x", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0.0,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CENTER_Y] =
    g_param_spec_double ("center-y", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0.0,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* (gboolean inside, double image_x, double image_y); main thread. */
  signals[SIGNAL_POINTER_MOVED] =
    g_signal_new ("pointer-moved", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 3, G_TYPE_BOOLEAN, G_TYPE_DOUBLE, G_TYPE_DOUBLE);
  /* (double image_x, double image_y): a primary click without motion. */
  signals[SIGNAL_IMAGE_CLICKED] =
    g_signal_new ("image-clicked", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 2, G_TYPE_DOUBLE, G_TYPE_DOUBLE);
  /* The user changed contrast/bias with a secondary-button drag (already applied). */
  signals[SIGNAL_CONTRAST_DRAGGED] =
    g_signal_new ("contrast-dragged", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 0);
  /* Any change of the render parameters (by a setter or a drag). */
  signals[SIGNAL_PARAMS_CHANGED] =
    g_signal_new ("params-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 0);

  gtk_widget_class_set_css_name (widget_class, "ds-image-view");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
ds_image_view_init (DsImageView *self)
{
  GtkGesture *drag, *click, *contrast_drag;
  GtkEventController *scroll, *motion;

  dia_render_params_init (&self->params);
  self->zoom = 1.0;
  self->fit_mode = TRUE;
  self->pointer_x = self->pointer_y = -1.0;
  self->texture_stale = TRUE;

  gtk_widget_add_css_class (GTK_WIDGET (self), "ds-image-view");
  gtk_widget_set_focusable (GTK_WIDGET (self), TRUE);
  gtk_widget_set_overflow (GTK_WIDGET (self), GTK_OVERFLOW_HIDDEN);
  gtk_widget_set_cursor_from_name (GTK_WIDGET (self), "crosshair");

  drag = gtk_gesture_drag_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (drag), GDK_BUTTON_PRIMARY);
  g_signal_connect (drag, "drag-begin", G_CALLBACK (on_drag_begin), self);
  g_signal_connect (drag, "drag-update", G_CALLBACK (on_drag_update), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drag));

  click = gtk_gesture_click_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (click), GDK_BUTTON_PRIMARY);
  g_signal_connect (click, "released", G_CALLBACK (on_click_released), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (click));

  contrast_drag = gtk_gesture_drag_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (contrast_drag), GDK_BUTTON_SECONDARY);
  g_signal_connect (contrast_drag, "drag-begin", G_CALLBACK (on_contrast_drag_begin), self);
  g_signal_connect (contrast_drag, "drag-update", G_CALLBACK (on_contrast_drag_update), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (contrast_drag));

  scroll = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_VERTICAL
                                            | GTK_EVENT_CONTROLLER_SCROLL_DISCRETE);
  g_signal_connect (scroll, "scroll", G_CALLBACK (on_scroll), self);
  gtk_widget_add_controller (GTK_WIDGET (self), scroll);

  motion = gtk_event_controller_motion_new ();
  g_signal_connect (motion, "motion", G_CALLBACK (on_motion), self);
  g_signal_connect (motion, "enter", G_CALLBACK (on_motion), self);
  g_signal_connect (motion, "leave", G_CALLBACK (on_leave), self);
  gtk_widget_add_controller (GTK_WIDGET (self), motion);

  gtk_widget_set_has_tooltip (GTK_WIDGET (self), TRUE);
  g_signal_connect (self, "query-tooltip", G_CALLBACK (on_query_tooltip), self);
}

/* --- public API ------------------------------------------------------------------------------ */

GtkWidget *
ds_image_view_new (void)
{
  return g_object_new (DS_TYPE_IMAGE_VIEW, NULL);
}

void
ds_image_view_set_image (DsImageView *self, DiaImage *image)
{
  g_return_if_fail (DS_IS_IMAGE_VIEW (self));

  if (image != NULL)
    dia_image_ref (image);
  g_clear_pointer (&self->image, dia_image_unref);
  g_clear_pointer (&self->patch, dia_image_unref);
  self->image = image;
  view_update_mask_plane (self);
  view_update_limits (self);
  if (self->fit_mode)
    view_apply_fit (self);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                  image != NULL && image->source != NULL ? image->source : "",
                                  -1);
  view_invalidate (self);
  /* Automatic limits follow the new pixels; listeners (the magnifier, the popover) redraw. */
  g_signal_emit (self, signals[SIGNAL_PARAMS_CHANGED], 0);
}

DiaImage *
ds_image_view_get_image (DsImageView *self)
{
  g_return_val_if_fail (DS_IS_IMAGE_VIEW (self), NULL);
  return self->image;
}

void
ds_image_view_set_plane (DsImageView *self, DsPlane plane)
{
  g_return_if_fail (DS_IS_IMAGE_VIEW (self));

  if (self->plane == plane)
    return;
  self->plane = plane;
  view_update_mask_plane (self);
  view_update_limits (self);
  view_invalidate (self);
}

DsPlane
ds_image_view_get_plane (DsImageView *self)
{
  g_return_val_if_fail (DS_IS_IMAGE_VIEW (self), DS_PLANE_IMAGE);
  return self->plane;
}

void
ds_image_view_set_render_params (DsImageView *self, const DiaRenderParams *params)
{
  g_return_if_fail (DS_IS_IMAGE_VIEW (self));
  g_return_if_fail (params != NULL);

  self->params = *params;
  view_update_limits (self);
  view_invalidate (self);
  g_signal_emit (self, signals[SIGNAL_PARAMS_CHANGED], 0);
}

const DiaRenderParams *
ds_image_view_get_render_params (DsImageView *self)
{
  g_return_val_if_fail (DS_IS_IMAGE_VIEW (self), NULL);
  return &self->params;
}

void
ds_image_view_set_stretch (DsImageView *self, DiaStretch stretch)
{
  DiaRenderParams params;

  g_return_if_fail (DS_IS_IMAGE_VIEW (self));
  params = self->params;
  params.stretch = stretch;
  ds_image_view_set_render_params (self, &params);
}

void
ds_image_view_set_colormap (DsImageView *self, DiaColormap colormap)
{
  g_return_if_fail (DS_IS_IMAGE_VIEW (self));
  self->params.colormap = colormap;
  view_invalidate (self);
  g_signal_emit (self, signals[SIGNAL_PARAMS_CHANGED], 0);
}

double
ds_image_view_get_zoom (DsImageView *self)
{
  g_return_val_if_fail (DS_IS_IMAGE_VIEW (self), 1.0);
  return self->zoom;
}

void
ds_image_view_set_zoom (DsImageView *self, double zoom)
{
  g_return_if_fail (DS_IS_IMAGE_VIEW (self));

  if (!isfinite (zoom))
    return;
  zoom = CLAMP (zoom, DS_IMAGE_VIEW_ZOOM_MIN, DS_IMAGE_VIEW_ZOOM_MAX);
  if (zoom == self->zoom)
    return;
  self->zoom = zoom;
  view_invalidate (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ZOOM]);
}

void
ds_image_view_set_center (DsImageView *self, double x, double y)
{
  g_return_if_fail (DS_IS_IMAGE_VIEW (self));

  if (!isfinite (x) || !isfinite (y))
    return;
  g_object_freeze_notify (G_OBJECT (self));
  if (x != self->center_x)
    {
      self->center_x = x;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CENTER_X]);
    }
  if (y != self->center_y)
    {
      self->center_y = y;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CENTER_Y]);
    }
  view_invalidate (self);
  g_object_thaw_notify (G_OBJECT (self));
}

void
ds_image_view_get_center (DsImageView *self, double *x, double *y)
{
  g_return_if_fail (DS_IS_IMAGE_VIEW (self));
  if (x != NULL)
    *x = self->center_x;
  if (y != NULL)
    *y = self->center_y;
}

void
ds_image_view_zoom_to (DsImageView *self, double zoom)
{
  g_return_if_fail (DS_IS_IMAGE_VIEW (self));
  self->fit_mode = FALSE;
  ds_image_view_set_zoom (self, zoom);
}

void
ds_image_view_zoom_fit (DsImageView *self)
{
  g_return_if_fail (DS_IS_IMAGE_VIEW (self));
  self->fit_mode = TRUE;
  view_apply_fit (self);
}

void
ds_image_view_zoom_step (DsImageView *self, int steps, double wx, double wy)
{
  double l, k, zoom, ix, iy, nx, ny;

  g_return_if_fail (DS_IS_IMAGE_VIEW (self));

  /* Snap to powers of two, where nearest-neighbour pixels are all the same size: from a fit
   * zoom of 0.7, "in" goes to 1 and "out" to 0.5. */
  l = log2 (self->zoom);
  k = steps > 0 ? floor (l + 1e-6) + steps : ceil (l - 1e-6) + steps;
  zoom = CLAMP (exp2 (k), DS_IMAGE_VIEW_ZOOM_MIN, DS_IMAGE_VIEW_ZOOM_MAX);
  if (wx < 0 || wy < 0)
    {
      wx = 0.5 * gtk_widget_get_width (GTK_WIDGET (self));
      wy = 0.5 * gtk_widget_get_height (GTK_WIDGET (self));
    }
  /* Keep the image point under (wx, wy) where it is. */
  ds_image_view_widget_to_image (self, wx, wy, &ix, &iy);
  self->fit_mode = FALSE;
  {
    int s = view_scale (self);
    double w = (double) gtk_widget_get_width (GTK_WIDGET (self)) * s;
    double h = (double) gtk_widget_get_height (GTK_WIDGET (self)) * s;

    nx = ix - (wx * s - 0.5 * w) / zoom;
    ny = iy - (0.5 * h - wy * s) / zoom;
  }
  g_object_freeze_notify (G_OBJECT (self));
  ds_image_view_set_zoom (self, zoom);
  ds_image_view_set_center (self, nx, ny);
  g_object_thaw_notify (G_OBJECT (self));
}

void
ds_image_view_widget_to_image (DsImageView *self, double wx, double wy, double *ix, double *iy)
{
  int s;
  double w, h;

  g_return_if_fail (DS_IS_IMAGE_VIEW (self));
  s = view_scale (self);
  w = (double) gtk_widget_get_width (GTK_WIDGET (self)) * s;
  h = (double) gtk_widget_get_height (GTK_WIDGET (self)) * s;
  *ix = self->center_x + (wx * s - 0.5 * w) / self->zoom;
  *iy = self->center_y + (0.5 * h - wy * s) / self->zoom;
}

void
ds_image_view_set_patch (DsImageView *self, DiaImage *patch, int x0, int y0)
{
  ds_image_view_set_patch_sampled (self, patch, x0, y0, 1);
}

void
ds_image_view_set_patch_sampled (DsImageView *self, DiaImage *patch, int x0, int y0, int step)
{
  g_return_if_fail (DS_IS_IMAGE_VIEW (self));
  g_return_if_fail (step >= 1);

  if (patch != NULL)
    dia_image_ref (patch);
  g_clear_pointer (&self->patch, dia_image_unref);
  self->patch = patch;
  self->patch_x0 = x0;
  self->patch_y0 = y0;
  self->patch_step = step;
  view_invalidate (self);
}

gboolean
ds_image_view_get_visible_rect (DsImageView *self, DiaRect *rect)
{
  double x0, y0, x1, y1;
  int w, h;

  g_return_val_if_fail (DS_IS_IMAGE_VIEW (self), FALSE);
  g_return_val_if_fail (rect != NULL, FALSE);

  memset (rect, 0, sizeof *rect);
  w = gtk_widget_get_width (GTK_WIDGET (self));
  h = gtk_widget_get_height (GTK_WIDGET (self));
  if (self->image == NULL || w <= 0 || h <= 0)
    return FALSE;
  ds_image_view_widget_to_image (self, 0, h, &x0, &y0);
  ds_image_view_widget_to_image (self, w, 0, &x1, &y1);
  {
    DiaRect view = { (int) floor (x0 + 0.5), (int) floor (y0 + 0.5), 0, 0 };
    DiaRect all = { 0, 0, self->image->width, self->image->height };

    view.width = (int) floor (x1 + 0.5) - view.x + 1;
    view.height = (int) floor (y1 + 0.5) - view.y + 1;
    *rect = dia_rect_intersect (&view, &all);
  }
  return !dia_rect_is_empty (rect);
}

static void
marker_clear (gpointer data)
{
  DsMarker *m = data;

  g_clear_pointer (&m->tooltip, g_free);
}

GArray *
ds_marker_array_new (void)
{
  GArray *a = g_array_new (FALSE, TRUE, sizeof (DsMarker));

  g_array_set_clear_func (a, marker_clear);
  return a;
}

void
ds_image_view_set_markers (DsImageView *self, int layer, GArray *markers)
{
  g_return_if_fail (DS_IS_IMAGE_VIEW (self));
  g_return_if_fail (layer >= 0 && layer < DS_IMAGE_VIEW_N_LAYERS);

  if (markers != NULL)
    g_array_ref (markers);
  g_clear_pointer (&self->layers[layer], g_array_unref);
  self->layers[layer] = markers;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
ds_image_view_set_layer_visible (DsImageView *self, int layer, gboolean visible)
{
  g_return_if_fail (DS_IS_IMAGE_VIEW (self));
  g_return_if_fail (layer >= 0 && layer < DS_IMAGE_VIEW_N_LAYERS);

  self->layer_hidden[layer] = !visible;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
ds_image_view_set_contrast_bias (DsImageView *self, double contrast, double bias)
{
  g_return_if_fail (DS_IS_IMAGE_VIEW (self));

  if (!isfinite (contrast) || !isfinite (bias))
    return;
  /* Limits keep the ramp usable: between 1/16 and 16 times, bias within a ramp of [0, 1]. */
  contrast = CLAMP (contrast, 1.0 / 16.0, 16.0);
  bias = CLAMP (bias, -0.5, 1.5);
  if (contrast == self->params.contrast && bias == self->params.bias)
    return;
  self->params.contrast = contrast;
  self->params.bias = bias;
  view_invalidate (self);
  g_signal_emit (self, signals[SIGNAL_PARAMS_CHANGED], 0);
}

void
ds_image_view_set_mask_overlay (DsImageView *self, DsMaskOverlay *overlay)
{
  g_return_if_fail (DS_IS_IMAGE_VIEW (self));

  if (overlay != NULL)
    ds_mask_overlay_ref (overlay);
  g_clear_pointer (&self->overlay, ds_mask_overlay_unref);
  self->overlay = overlay;
  view_invalidate (self);
}

void
ds_image_view_set_crosshair (DsImageView *self, gboolean shown, double x, double y)
{
  g_return_if_fail (DS_IS_IMAGE_VIEW (self));

  self->crosshair_shown = shown && isfinite (x) && isfinite (y);
  self->crosshair_x = x;
  self->crosshair_y = y;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

gboolean
ds_image_view_get_crosshair (DsImageView *self, double *x, double *y)
{
  g_return_val_if_fail (DS_IS_IMAGE_VIEW (self), FALSE);
  if (x != NULL)
    *x = self->crosshair_x;
  if (y != NULL)
    *y = self->crosshair_y;
  return self->crosshair_shown;
}

void
ds_image_view_set_corner_child (DsImageView *self, GtkWidget *child)
{
  g_return_if_fail (DS_IS_IMAGE_VIEW (self));
  g_return_if_fail (child == NULL || GTK_IS_WIDGET (child));

  if (child == self->corner_child)
    return;
  g_clear_pointer (&self->corner_child, gtk_widget_unparent);
  if (child != NULL)
    {
      self->corner_child = child;
      gtk_widget_set_parent (child, GTK_WIDGET (self));
    }
  gtk_widget_queue_allocate (GTK_WIDGET (self));
}

gboolean
ds_image_view_get_pointer (DsImageView *self, double *ix, double *iy)
{
  g_return_val_if_fail (DS_IS_IMAGE_VIEW (self), FALSE);

  if (self->pointer_x < 0 || self->pointer_y < 0)
    {
      *ix = self->center_x;
      *iy = self->center_y;
      return FALSE;
    }
  ds_image_view_widget_to_image (self, self->pointer_x, self->pointer_y, ix, iy);
  return TRUE;
}

void
ds_image_view_render_area (DsImageView *self, double cx, double cy, double zoom, guint8 *out,
                           int out_width, int out_height, size_t out_stride)
{
  const DiaMask *mask;
  size_t stride;
  const float *data;
  double src_x, src_y;

  g_return_if_fail (DS_IS_IMAGE_VIEW (self));
  g_return_if_fail (out != NULL);

  data = view_plane_data (self, &mask, &stride);
  src_x = cx - 0.5 * out_width / zoom;
  src_y = cy - 0.5 * out_height / zoom;
  dia_render_region (data, mask, self->image != NULL ? self->image->width : 0,
                     self->image != NULL ? self->image->height : 0, stride, &self->params,
                     src_x, src_y, zoom, out, out_width, out_height, out_stride);
  if (self->overlay != NULL && self->plane != DS_PLANE_MASK && self->image != NULL)
    ds_mask_overlay_apply (self->overlay, self->image, src_x, src_y, zoom, out, out_width,
                           out_height, out_stride);
}
