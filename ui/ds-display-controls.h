/* ds-display-controls.h — per-pane display settings, locks, crosshair, magnifier, mask overlay.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "ds-image-view.h"

G_BEGIN_DECLS

#define DS_DISPLAY_N_PANES 3     /* template, science, difference, in that order */

#define DS_TYPE_DISPLAY_CONTROLS (ds_display_controls_get_type ())
G_DECLARE_FINAL_TYPE (DsDisplayControls, ds_display_controls, DS, DISPLAY_CONTROLS, GObject)

/* Adds the viewing actions to window (a GActionMap such as a GtkApplicationWindow) and a
 * display menu button after each title widget (inserted into the title's parent box).  The
 * views and window are not referenced: the window owns the returned object and must
 * unref it in its dispose, before the views go (that removes the actions again).
 *
 * Actions (win.*; string targets so that `--action NAME::TARGET` can script them):
 *   stretch-PANE, limits-PANE, colormap-PANE  (state s) PANE ∈ template, science, difference;
 *     stretch: linear log sqrt asinh histeq; limits: zscale minmax percentile manual sigma;
 *     colormap: gray gray-inverted viridis diverging
 *   limits-range "PANE:LOW:HIGH"   percentiles (percentile mode) or values (manual mode)
 *   sigma-k "PANE:K"                k of the ±kσ limits
 *   contrast "PANE:CONTRAST:BIAS", reset-contrast "PANE"
 *   lock-pan, lock-zoom, lock-crosshair, lock-stretch, lock-colormap  (boolean state)
 *   crosshair (boolean), crosshair-at "PANE:X:Y" (turns the crosshair on)
 *   pan-to "PANE:X:Y"               centres a pane on an image coordinate
 *   magnifier (boolean), magnifier-zoom (state s: "2", "4", "8")
 *   show-mask-overlay (boolean), mask-plane "NAME:on|off[:#RRGGBB[:ALPHA]]" */
DsDisplayControls *ds_display_controls_new (GtkWidget *window,
                                            DsImageView *const views[DS_DISPLAY_N_PANES],
                                            GtkWidget *const titles[DS_DISPLAY_N_PANES]);

/* Restores the mask overlay and magnifier preferences from settings and remembers later
 * changes there (settings may be NULL; a reference is taken). */
void ds_display_controls_set_settings (DsDisplayControls *self, GSettings *settings);

/* The compatibility switch win.lock-views: sets lock-pan and lock-zoom together. */
void     ds_display_controls_set_pan_zoom_locked (DsDisplayControls *self, gboolean locked);
gboolean ds_display_controls_get_zoom_locked (DsDisplayControls *self);

/* Lines for the --report file of the GUI tests: "magnifier X Y W H zoom Z" (window
 * coordinates) while it is shown, "crosshair PANE X Y" per pane showing one. */
void ds_display_controls_describe (DsDisplayControls *self, GString *out);

G_END_DECLS
