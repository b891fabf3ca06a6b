/* dia-wcs.h — all wcslib use goes through here.
 *
 * A struct wcsprm is not safe to share between threads (wcslib mutates it lazily): every worker
 * that converts coordinates gets its own dia_wcs_copy().  Pixel coordinates here are the
 * engine's 0-based ones; the +1 for wcslib happens inside.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-types.h"

struct wcsprm;

G_BEGIN_DECLS

/* Parses the WCS from a header string of 80-char cards.  Returns NULL (no error) when the
 * header has no celestial WCS; NULL with error set when it has one that wcslib rejects. */
struct wcsprm *dia_wcs_from_header (const char *cards, int n_cards, GError **error);

/* A deep copy, or NULL if src is NULL or the copy fails. */
struct wcsprm *dia_wcs_copy (const struct wcsprm *src);
void           dia_wcs_free (struct wcsprm *wcs);

/* Moves the reference pixel so that buffer pixel (dx, dy) becomes (0, 0) (for crops). */
void dia_wcs_shift (struct wcsprm *wcs, double dx, double dy);

/* 0-based pixel -> (ra, dec) in degrees.  FALSE if the transformation fails. */
gboolean dia_wcs_pix2sky (struct wcsprm *wcs, double x, double y, double *ra, double *dec);
gboolean dia_wcs_sky2pix (struct wcsprm *wcs, double ra, double dec, double *x, double *y);

/* Pixel scale in arcsec/px at (x, y), NAN when unknown. */
double dia_wcs_pixel_scale (struct wcsprm *wcs, double x, double y);

/* One-line description: projection, reference point, pixel scale.  Caller frees. */
char *dia_wcs_dup_summary (struct wcsprm *wcs, int width, int height);

/* Writes the WCS as header cards (caller frees with g_free; *n_cards set), NULL on failure. */
char *dia_wcs_dup_header (struct wcsprm *wcs, int *n_cards);

G_END_DECLS
