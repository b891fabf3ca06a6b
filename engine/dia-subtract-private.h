/* dia-subtract-private.h — helpers shared by dia-subtract.c and the flavour files only.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-subtract.h"

G_BEGIN_DECLS

/* Fits the Alard–Lupton kernel with the template (convolve_template) or the science image as
 * the convolved image; fills plan->stamps, plan->kernel, plan->k0 and plan->info. */
gboolean _dia_subtract_fit_al (DiaSubtractPlan *plan, gboolean convolve_template,
                               DiaMonitor *monitor, GError **error);

/* Applies the fitted AL kernel over region and forms the difference on the science flux
 * scale: D = S − K⋆T (template) or D = (K⋆S + bg − T) / k0 (science). */
gboolean _dia_subtract_apply_al (const DiaSubtractPlan *plan, const DiaRect *region,
                                 DiaSubtractResult *result, gboolean keep_matched,
                                 DiaMonitor *monitor, GError **error);

/* The same without the decorrelation afterburner (which calls it on a grown region). */
gboolean _dia_subtract_apply_al_raw (const DiaSubtractPlan *plan, const DiaRect *region,
                                     DiaSubtractResult *result, gboolean keep_matched,
                                     DiaMonitor *monitor, GError **error);

/* The input rectangle the AL flavours need: region grown by the kernel half-width, clipped. */
DiaRect _dia_subtract_al_input_region (const DiaSubtractPlan *plan, const DiaRect *region);

/* Per-axis FWHM (px) of a PSF at the image centre from its second moments. */
void _dia_subtract_psf_axis_fwhm (const DiaPsf *psf, const DiaImage *image, double *fx,
                                  double *fy);

/* Set by dia_subtract_execute before calling apply: whether the caller wants the matched
 * image kept. */
gboolean _dia_subtract_result_keep_matched (const DiaSubtractResult *result);

G_END_DECLS
