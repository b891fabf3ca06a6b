/* dia-flavor-auto.c — choose the convolution direction from the PSF sizes (ALGORITHMS.md §3.4).
 *
 * Rule (ip_diffim's): convolve the template if FWHM_x(T) ≤ FWHM_x(S) or FWHM_y(T) ≤ FWHM_y(S),
 * per-axis FWHMs from the PSF second moments at the image centre; convolve the science image
 * only when the template is broader along both axes.  The plan then carries the chosen flavour,
 * so results and metadata name what was actually done.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-subtract-private.h"

#include "dia-error.h"

#include <glib/gi18n-lib.h>

static gboolean
flavor_auto_prepare (DiaSubtractPlan *plan, DiaMonitor *monitor, GError **error)
{
  double tx, ty, sx, sy;
  const DiaFlavorClass *chosen;

  _dia_subtract_psf_axis_fwhm (plan->psf_template, plan->template_image, &tx, &ty);
  _dia_subtract_psf_axis_fwhm (plan->psf_science, plan->science_image, &sx, &sy);
  chosen = dia_flavor_get ((tx <= sx || ty <= sy) ? DIA_FLAVOR_TEMPLATE : DIA_FLAVOR_SCIENCE);
  plan->flavor = chosen;
  return chosen->prepare (plan, monitor, error);
}

static gboolean
flavor_auto_apply (const DiaSubtractPlan *plan, const DiaRect *region,
                   DiaSubtractResult *result, DiaMonitor *monitor, GError **error)
{
  /* Never reached: prepare replaced plan->flavor. */
  g_set_error_literal (error, DIA_ERROR, DIA_ERROR_FAILED, "auto flavour was not resolved");
  return FALSE;
}

const DiaFlavorClass dia_flavor_auto = {
  .id = DIA_FLAVOR_AUTO,
  .name = "auto",
  .label = N_("Automatic"),
  .description = N_("Convolve whichever image has the sharper PSF."),
  .caps = DIA_FLAVOR_CAP_KERNEL | DIA_FLAVOR_CAP_DISPATCH | DIA_FLAVOR_CAP_DECORRELATE,
  .prepare = flavor_auto_prepare,
  .apply = flavor_auto_apply,
  .input_region = _dia_subtract_al_input_region,
};
