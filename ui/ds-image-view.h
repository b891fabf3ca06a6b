/* ds-image-view.h — a pane that shows one plane of a DiaImage with pan and zoom.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "dia-image.h"
#include "dia-render.h"

G_BEGIN_DECLS

/* Which plane of the image a view shows. */
typedef enum
{
  DS_PLANE_IMAGE,
  DS_PLANE_VARIANCE,
  DS_PLANE_MASK,                /* non-zero mask pixels as 1, the rest 0 */
} DsPlane;

#define DS_IMAGE_VIEW_ZOOM_MIN (1.0 / 64.0)
#define DS_IMAGE_VIEW_ZOOM_MAX 64.0

#define DS_TYPE_IMAGE_VIEW (ds_image_view_get_type ())
G_DECLARE_FINAL_TYPE (DsImageView, ds_image_view, DS, IMAGE_VIEW, GtkWidget)

GtkWidget *ds_image_view_new (void);

/* Shows image (a new reference is taken; NULL clears the view).  Automatic limits are
 * recomputed; zoom and centre are kept, unless the view is in fit mode, which refits. */
void      ds_image_view_set_image (DsImageView *self, DiaImage *image);
/* Transfer none; NULL when empty. */
DiaImage *ds_image_view_get_image (DsImageView *self);

void    ds_image_view_set_plane (DsImageView *self, DsPlane plane);
DsPlane ds_image_view_get_plane (DsImageView *self);

/* Copies params; automatic limit modes are recomputed from the current plane. */
void ds_image_view_set_render_params (DsImageView *self, const DiaRenderParams *params);
/* Transfer none, valid until the next change. */
const DiaRenderParams *ds_image_view_get_render_params (DsImageView *self);
void ds_image_view_set_stretch (DsImageView *self, DiaStretch stretch);
void ds_image_view_set_colormap (DsImageView *self, DiaColormap colormap);

/* Zoom is in DEVICE pixels per image pixel (1 = one image pixel per screen pixel, also on
 * HiDPI screens); the centre is the image coordinate (0-based, pixel centres on integers) at
 * the middle of the view.  The three are GObject properties ("zoom", "center-x", "center-y"),
 * so views can be locked together with g_object_bind_property(). */
double ds_image_view_get_zoom (DsImageView *self);
void   ds_image_view_set_zoom (DsImageView *self, double zoom);
void   ds_image_view_set_center (DsImageView *self, double x, double y);
void   ds_image_view_get_center (DsImageView *self, double *x, double *y);

/* Sets the zoom about the centre and leaves fit mode (user zoom, e.g. "1:1"). */
void ds_image_view_zoom_to (DsImageView *self, double zoom);
/* Zoom so the whole image fits, and keep fitting when the view is resized, until the user
 * zooms or pans. */
void ds_image_view_zoom_fit (DsImageView *self);
/* Steps through powers of two (steps > 0 zooms in), keeping the image point under the widget
 * position (wx, wy), in logical widget pixels, fixed; wx < 0 means the centre. */
void ds_image_view_zoom_step (DsImageView *self, int steps, double wx, double wy);

/* A more recent computation of part of the image: patch (frozen, new reference taken; NULL
 * clears) is drawn over the image with its pixel (0, 0) at image pixel (x0, y0), with the
 * view's render parameters.  Cleared by ds_image_view_set_image().  Used to show the visible
 * region of a rerun before the full frame arrives. */
void ds_image_view_set_patch (DsImageView *self, DiaImage *patch, int x0, int y0);
/* The same for a patch sampled every step pixels (dia_subtract_preview): its pixel (i, j) is
 * image pixel (x0 + step·i, y0 + step·j) and is drawn over the step × step block around it. */
void ds_image_view_set_patch_sampled (DsImageView *self, DiaImage *patch, int x0, int y0,
                                      int step);

/* The image pixels the view currently shows (clipped to the image); FALSE when empty. */
gboolean ds_image_view_get_visible_rect (DsImageView *self, DiaRect *rect);

typedef enum
{
  DS_MARKER_CIRCLE,
  DS_MARKER_SQUARE,
  DS_MARKER_CROSS,
  DS_MARKER_ARROW,              /* from (x, y) by (dx, dy) image px                        */
} DsMarkerShape;

/* One overlay item, in image coordinates. */
typedef struct
{
  double x, y;
  double size;                  /* radius or half side, image px (drawn at least 3 px)     */
  double dx, dy;                /* DS_MARKER_ARROW: the vector, image px                   */
  DsMarkerShape shape;
  guint32 rgba;                 /* 0xRRGGBBAA                                              */
  char *tooltip;                /* shown on hover, or NULL; owned by the array             */
} DsMarker;

/* A new empty marker array whose clear function frees the tooltips. */
GArray *ds_marker_array_new (void);

/* Overlay layer `layer` (0 ≤ layer < DS_IMAGE_VIEW_N_LAYERS) shows markers (a reference is
 * taken; NULL clears).  Hovering a marker with a tooltip shows it. */
#define DS_IMAGE_VIEW_N_LAYERS 6
void ds_image_view_set_markers (DsImageView *self, int layer, GArray *markers);
void ds_image_view_set_layer_visible (DsImageView *self, int layer, gboolean visible);

typedef struct _DsMaskOverlay DsMaskOverlay;

/* DS9 contrast/bias of the render parameters (contrast clamped to [1/16, 16], bias to
 * [−0.5, 1.5]; 1 and 0.5 are the identity).  A secondary-button drag changes them on its
 * own (horizontal: bias, vertical: contrast) and then emits "contrast-dragged".  Every change
 * of the render parameters emits "params-changed". */
void ds_image_view_set_contrast_bias (DsImageView *self, double contrast, double bias);

/* Draws the shown planes of overlay (ds-mask-overlay.h; a reference is taken, NULL turns it
 * off) over the image and variance planes.  Call again after changing overlay to redraw. */
void ds_image_view_set_mask_overlay (DsImageView *self, DsMaskOverlay *overlay);

/* A full-width and full-height crosshair through image coordinate (x, y). */
void     ds_image_view_set_crosshair (DsImageView *self, gboolean shown, double x, double y);
gboolean ds_image_view_get_crosshair (DsImageView *self, double *x, double *y);

/* child (e.g. a DsMagnifier) floats at its natural size in the top-right corner of the view,
 * or the top-left one while the pointer is in the top-right quarter.  The view becomes its
 * parent (NULL removes it).  Primary clicks without motion emit "image-clicked" (x, y). */
void ds_image_view_set_corner_child (DsImageView *self, GtkWidget *child);

/* Image coordinate under the pointer (TRUE), or the view centre when the pointer is not in
 * the view (FALSE). */
gboolean ds_image_view_get_pointer (DsImageView *self, double *ix, double *iy);

/* Renders out_width × out_height device pixels centred on image coordinate (cx, cy) at zoom
 * device px per image px with the view's plane, render parameters and mask overlay, into out
 * (BGRA, as dia_render_region()). */
void ds_image_view_render_area (DsImageView *self, double cx, double cy, double zoom,
                                guint8 *out, int out_width, int out_height, size_t out_stride);

/* Image coordinate under the logical widget position (wx, wy). */
void ds_image_view_widget_to_image (DsImageView *self, double wx, double wy, double *ix,
                                    double *iy);

G_END_DECLS
