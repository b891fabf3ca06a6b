/* dia-flavor-template.c — convolve the template: D = S − K ⋆ T  (ALGORITHMS.md §3.2).
 *
 * The usual choice when the template is sharper than the science image.  D is on the science
 * flux scale (the kernel sum absorbs any photometric ratio) and its PSF is the science PSF.
 * When the science image is the sharper one, the science image is first smoothed by a small
 * Gaussian so that K still convolves (dia-flavor-al.c): D = g⋆S − K⋆T, PSF g⋆P_S.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-flavor-al.h"

#include <glib/gi18n-lib.h>

static gboolean
flavor_template_prepare (DiaSubtractPlan *plan, DiaMonitor *monitor, GError **error)
{
  return _dia_flavor_al_prepare (plan, TRUE, monitor, error);
}

static gboolean
flavor_template_apply (const DiaSubtractPlan *plan, const DiaRect *region,
                       DiaSubtractResult *result, DiaMonitor *monitor, GError **error)
{
  return _dia_flavor_al_apply (plan, region, result, monitor, error);
}

const DiaFlavorClass dia_flavor_template = {
  .id = DIA_FLAVOR_TEMPLATE,
  .name = "template",
  .label = N_("Convolve template"),
  .description = N_("Match the template to the science PSF and subtract it (D = S − K⋆T)."),
  .caps = DIA_FLAVOR_CAP_KERNEL | DIA_FLAVOR_CAP_DECORRELATE,
  .prepare = flavor_template_prepare,
  .apply = flavor_template_apply,
  .input_region = _dia_flavor_al_input_region,
};
