/* dia-flavor-science.c — convolve the science image: D = (K ⋆ S + bg − T) / k0  (§3.3).
 *
 * Used when the template is broader than the science image: matching the sharp science image to
 * the template avoids deconvolution.  The kernel is fitted with the roles swapped
 * (T ≈ K ⋆ S + bg).  Dividing the whole difference by k0, the kernel sum at the image centre,
 * returns it to the science flux scale; ip_diffim divides only the convolved science image,
 * which agrees with this when k0 ≈ 1 and is off by the photometric ratio otherwise.  The PSF of
 * D is the template PSF.  When the science image is the broader one, the template is first
 * smoothed by a small Gaussian so that K still convolves (dia-flavor-al.c):
 * D = (K⋆S + bg − g⋆T) / k0, PSF g⋆P_T.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-flavor-al.h"

#include <glib/gi18n-lib.h>

static gboolean
flavor_science_prepare (DiaSubtractPlan *plan, DiaMonitor *monitor, GError **error)
{
  return _dia_flavor_al_prepare (plan, FALSE, monitor, error);
}

static gboolean
flavor_science_apply (const DiaSubtractPlan *plan, const DiaRect *region,
                      DiaSubtractResult *result, DiaMonitor *monitor, GError **error)
{
  return _dia_flavor_al_apply (plan, region, result, monitor, error);
}

const DiaFlavorClass dia_flavor_science = {
  .id = DIA_FLAVOR_SCIENCE,
  .name = "science",
  .label = N_("Convolve science"),
  .description = N_("Match the science image to the template PSF, then subtract the template."),
  .caps = DIA_FLAVOR_CAP_KERNEL | DIA_FLAVOR_CAP_DECORRELATE,
  .prepare = flavor_science_prepare,
  .apply = flavor_science_apply,
  .input_region = _dia_flavor_al_input_region,
};
