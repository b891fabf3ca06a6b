/* dia-flavor-al.h — prepare/apply shared by the two Alard–Lupton flavours (template, science),
 * including the forced-direction preconvolution (dia-flavor-al.c).  Private to the flavour files.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-subtract-private.h"

G_BEGIN_DECLS

/* Fits the AL kernel in the requested direction (convolve_template).  When that direction would
 * deconvolve — the convolved image is broader than the other along both axes — the sharper
 * (unconvolved) image is first smoothed by the narrowest Gaussian that makes the fit a
 * convolution; plan->info.forced_preconvolve_fwhm records its FWHM (0 when not needed). */
gboolean _dia_flavor_al_prepare (DiaSubtractPlan *plan, gboolean convolve_template,
                                 DiaMonitor *monitor, GError **error);

/* The difference over region: the plain AL apply, or for a preconvolved plan the difference
 * against the smoothed image, decorrelated up to the smoothing when request.decorrelate. */
gboolean _dia_flavor_al_apply (const DiaSubtractPlan *plan, const DiaRect *region,
                               DiaSubtractResult *result, DiaMonitor *monitor, GError **error);

/* Input rectangle for region (kernel, smoothing and decorrelation reach), clipped. */
DiaRect _dia_flavor_al_input_region (const DiaSubtractPlan *plan, const DiaRect *region);

G_END_DECLS
