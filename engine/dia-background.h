/* dia-background.h — robust mesh background of one image.
 *
 * The image is cut into mesh cells (default 128 px); each cell's level is the 3σ-clipped mean
 * (MEANCLIP, dia-stats.h) of its usable pixels, cells with too few usable pixels are filled from
 * their neighbours, the mesh is median-filtered 3×3 and then interpolated (bicubic spline over
 * cell centres, GSL interp2d) to any pixel.  The per-cell clipped stdev gives the sky noise.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-types.h"

G_BEGIN_DECLS

typedef struct _DiaBackground DiaBackground;

/* mesh_size <= 0 picks 128 (or image side / 4 for small images).  exclude: mask bits whose
 * pixels are ignored (typically DIA_MASK_UNUSABLE | DIA_MASK_DETECTED).  The returned object is
 * immutable and may be evaluated from any thread. */
DiaBackground *dia_background_estimate (const DiaImage *image, int mesh_size, DiaMask exclude,
                                        DiaMonitor *monitor, GError **error);
void dia_background_free (DiaBackground *bg);

/* Background level at buffer pixel (x, y) of the image it was estimated on. */
double dia_background_eval (const DiaBackground *bg, double x, double y);

/* Writes the background over rect (buffer coordinates) into out (row stride out_stride). */
void dia_background_render (const DiaBackground *bg, const DiaRect *rect, float *out,
                            size_t out_stride);

double dia_background_median_level (const DiaBackground *bg); /* median over cells          */
double dia_background_noise (const DiaBackground *bg);        /* median clipped stdev, pix units */

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiaBackground, dia_background_free)

G_END_DECLS
