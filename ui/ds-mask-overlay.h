/* ds-mask-overlay.h — per-bit mask planes drawn as translucent colours over an image.
 *
 * Pure logic on GLib types (no GTK), so it is unit-tested headless.  A DsMaskOverlay is a
 * table keyed by mask-plane NAME ("SAT", "BAD", "EDGE", …; the names of DiaImage
 * plane_names), so one table serves images whose files number their planes differently.
 * Each entry is (shown, colour 0xRRGGBB, alpha in [0,1]).  Names without an entry use the
 * defaults of ds_mask_overlay_default_colour() (close to LSST afw.display's mask colours) and
 * alpha 0.4, shown.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

#include "dia-image.h"

G_BEGIN_DECLS

#define DS_MASK_OVERLAY_DEFAULT_ALPHA 0.4

typedef struct _DsMaskOverlay DsMaskOverlay;

DsMaskOverlay *ds_mask_overlay_new (void);
DsMaskOverlay *ds_mask_overlay_ref (DsMaskOverlay *self);
void           ds_mask_overlay_unref (DsMaskOverlay *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DsMaskOverlay, ds_mask_overlay_unref)

/* Default colour (0xRRGGBB) of a plane name, case-insensitive: SAT green, BAD red, EDGE
 * yellow, NO_DATA orange, CR magenta, DETECTED blue, DETECTED_NEGATIVE cyan, INTRP pale green,
 * SUSPECT pale orange; other names get a colour derived from the name's hash. */
guint32 ds_mask_overlay_default_colour (const char *name);

/* Sets or reads one plane's entry (name case-insensitive; alpha clamped to [0,1]).  get
 * returns the defaults for names never set. */
void ds_mask_overlay_set_plane (DsMaskOverlay *self, const char *name, gboolean shown,
                                guint32 rgb, double alpha);
void ds_mask_overlay_get_plane (const DsMaskOverlay *self, const char *name, gboolean *shown,
                                guint32 *rgb, double *alpha);

/* Increments on every change, so views can tell whether to re-render. */
guint ds_mask_overlay_get_serial (const DsMaskOverlay *self);

/* The entries that were set, as a GVariant of type a{s(bsd)}: name → (shown, "#rrggbb",
 * alpha), the format of the GSettings key "mask-overlay".  Floating reference. */
GVariant *ds_mask_overlay_to_variant (const DsMaskOverlay *self);
/* Sets the entries of an a{s(bsd)} variant (other types and bad colours are ignored). */
void      ds_mask_overlay_load_variant (DsMaskOverlay *self, GVariant *variant);

/* Colour over which mask value m is drawn: base (0xAARRGGBB) blended with the colour of every
 * shown plane whose bit is set in m, in bit order, each with its alpha: c ← c·(1 − α) + col·α
 * per channel.  Alpha of the result is that of base.  plane_names as in DiaImage. */
guint32 ds_mask_overlay_blend (const DsMaskOverlay *self, char *const *plane_names, DiaMask m,
                               guint32 base);

/* Blends the overlay into out (BGRA bytes, out_width × out_height, row stride out_stride)
 * that dia_render_region() filled for the same (src_x, src_y, zoom): the same nearest
 * sampling, so every mask pixel covers exactly the screen pixels of its image pixel.  Does
 * nothing when image has no mask. */
void ds_mask_overlay_apply (const DsMaskOverlay *self, const DiaImage *image, double src_x,
                            double src_y, double zoom, guint8 *out, int out_width,
                            int out_height, size_t out_stride);

G_END_DECLS
