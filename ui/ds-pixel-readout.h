/* ds-pixel-readout.h — the text of one pane's pixel readout (value, variance, S/N, mask).
 *
 * Pure formatting on a DiaImage: no GTK, so the unit test runs headless.  The window puts one
 * readout under each pane title for the image position under the pointer (ds-window.c).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-image.h"

G_BEGIN_DECLS

/* The names of the mask planes set in bits, comma-separated, in bit order ("BAD,SAT"); a bit
 * without a name is written as "bit N".  Empty string for 0.  Caller frees. */
char *ds_pixel_readout_dup_mask_names (const DiaImage *image, DiaMask bits);

/* One line for buffer pixel (x, y) of image:
 *   "value V  var W  S/N R  mask NAMES"
 * V and W with %.6g; S/N = V/√W with %.1f, written "S/N –" when W is not finite and > 0;
 * the mask part only when a bit is set.  Outside the image: "outside the image"; NULL image:
 * empty string.  Translated through gettext.  Caller frees. */
char *ds_pixel_readout_format (const DiaImage *image, int x, int y);

G_END_DECLS
