/* dia-scale-variance.h — rescaling an image's variance plane to its measured noise
 * (ALGORITHMS.md §4.3, ScaleVarianceTask).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-types.h"

G_BEGIN_DECLS

/* Largest factor accepted (§4.3 `limit`). */
#define DIA_SCALE_VARIANCE_LIMIT 10.0

/* The factor f such that f · var matches the noise of `image`: f = σ_r² with σ_r = 0.74 IQR of
 * r = (I − bg) / √V over good pixels (no DETECTED, DETECTED_NEGATIVE, BAD, SAT, NO_DATA, INTRP;
 * finite; V > 0), bg a 32-px mesh background, and the pixels near sources (within 6 px of a
 * > 5σ pixel) left out.  Falls back to the image-based estimate (0.74 IQR(I − bg))² / median V
 * above the limit; FALSE with DIA_ERROR_INVALID when that exceeds the limit too.  Fewer than
 * 2 good pixels give 1.  Any thread; reads only. */
gboolean dia_scale_variance_factor (const DiaImage *image, double *factor, DiaMonitor *monitor,
                                    GError **error);

/* A new, frozen copy of image whose variance plane is multiplied by factor. */
DiaImage *dia_scale_variance_apply (const DiaImage *image, double factor, GError **error);

/* Measures both inputs and replaces *tmpl and *sci (unreffing them) by rescaled copies; a
 * factor within 1e-4 of 1 keeps the original image.  The factors go to *f_tmpl and *f_sci. */
gboolean dia_scale_variance_pair (DiaImage **tmpl, DiaImage **sci, double *f_tmpl,
                                  double *f_sci, DiaMonitor *monitor, GError **error);

G_END_DECLS
