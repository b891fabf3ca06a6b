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

/* Image coordinate under the logical widget position (wx, wy). */
void ds_image_view_widget_to_image (DsImageView *self, double wx, double wy, double *ix,
                                    double *iy);

G_END_DECLS
