/* ds-display-popover.h — the per-pane display popover: stretch, limits, colormap, locks,
 * magnifier and mask-overlay planes.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "ds-image-view.h"
#include "ds-mask-overlay.h"

G_BEGIN_DECLS

#define DS_TYPE_DISPLAY_POPOVER (ds_display_popover_get_type ())
G_DECLARE_FINAL_TYPE (DsDisplayPopover, ds_display_popover, DS, DISPLAY_POPOVER, GtkPopover)

/* A popover for the pane called pane ("template", "science", "difference") showing view.
 * Its widgets act only through the window actions of ds-display-controls.h (found by the
 * usual "win." lookup), except the mask-plane rows, which edit overlay and then emit
 * "overlay-changed".  view is not referenced (it outlives the popover's use); overlay is. */
GtkWidget *ds_display_popover_new (const char *pane, DsImageView *view, DsMaskOverlay *overlay);

/* Shows the view's current render parameters in the widgets without applying them again.
 * Also done each time the popover opens (with the list of the image's mask planes). */
void ds_display_popover_sync (DsDisplayPopover *self);

G_END_DECLS
