/* ds-magnifier.h — a small square showing the pixels around a point of a DsImageView, enlarged.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "ds-image-view.h"

G_BEGIN_DECLS

#define DS_MAGNIFIER_SIZE 160     /* logical px, square */

#define DS_TYPE_MAGNIFIER (ds_magnifier_get_type ())
G_DECLARE_FINAL_TYPE (DsMagnifier, ds_magnifier, DS, MAGNIFIER, GtkWidget)

GtkWidget *ds_magnifier_new (void);

/* Magnification: 2, 4 or 8 (other values snap to the nearest of them). */
void ds_magnifier_set_factor (DsMagnifier *self, int factor);
int  ds_magnifier_get_factor (DsMagnifier *self);

/* Renders the pixels of view around image coordinate (ix, iy) (snapped to the nearest pixel
 * centre, which is outlined) with the view's plane, render parameters and mask overlay, at
 * factor × max(1, view zoom) device pixels per image pixel, nearest-neighbour. */
void ds_magnifier_show_at (DsMagnifier *self, DsImageView *view, double ix, double iy);

/* Device pixels per image pixel of the last rendering (0 before the first). */
double ds_magnifier_get_zoom (DsMagnifier *self);

G_END_DECLS
