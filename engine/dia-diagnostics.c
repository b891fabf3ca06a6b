/* dia-diagnostics.c — kernel diagnostics of a subtraction plan (see dia-diagnostics.h).
 *
 * Design.  Everything is derived from the immutable plan, so the diagnostics are a plain
 * snapshot that the UI can keep while the user changes parameters.  The centroid offset uses
 * the marginal-centroid formula of the LSST stack (§5.3: column and row marginals of the
 * un-normalised kernel divided by its sum), computed here from the evaluated kernel image
 * rather than from the basis coefficients so that the numbers shown are those of the kernel
 * written to PREFIX_kernel.fits.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-diagnostics.h"
#include "dia-image.h"
#include "dia-json.h"
#include "dia-stats.h"

#include <math.h>
#include <string.h>

static void
kernel_centroid (const float *k, int size, double *sum, double *dx, double *dy)
{
  int h = size / 2;
  double s = 0, sx = 0, sy = 0;
  for (int v = 0; v < size; v++)
    for (int u = 0; u < size; u++)
      {
        double val = k[v * size + u];
        s += val;
        sx += u * val;
        sy += v * val;
      }
  *sum = s;
  *dx = s != 0 ? sx / s - h : NAN;
  *dy = s != 0 ? sy / s - h : NAN;
}

DiaKernelDiagnostics *
dia_kernel_diagnostics_new (const DiaSubtractPlan *plan, int n_grid)
{
  DiaKernelDiagnostics *d = g_new0 (DiaKernelDiagnostics, 1);
  const DiaKernelSolution *sol = plan->kernel;
  const DiaSubtractInfo *info = &plan->info;
  int W = plan->science_image->width, H = plan->science_image->height;

  d->condition_number = info->condition_number;
  d->basis = info->basis;
  d->fwhm_template = info->fwhm_template;
  d->fwhm_science = info->fwhm_science;
  d->psf_ratio = info->fwhm_science / info->fwhm_template;
  d->convolve_template = info->convolve_template;
  d->sum_min = d->sum_max = d->sum_mean = NAN;
  d->offset_mean_dx = d->offset_mean_dy = d->offset_max = NAN;
  d->resid_rms_median_used = NAN;
  if (plan->stamps && plan->stamps->len > 0)
    {
      g_autofree float *rms = g_new (float, plan->stamps->len);
      int n_rms = 0;
      d->n_stamps = (int) plan->stamps->len;
      d->stamps = g_memdup2 (plan->stamps->data, sizeof (DiaStamp) * plan->stamps->len);
      for (int i = 0; i < d->n_stamps; i++)
        {
          const DiaStamp *s = &d->stamps[i];
          if (s->status == DIA_STAMP_GOOD)
            {
              d->n_used++;
              if (isfinite (s->resid_rms))
                rms[n_rms++] = (float) s->resid_rms;
            }
          else if (s->status != DIA_STAMP_RESERVE)
            d->n_rejected++;
        }
      if (n_rms > 0)
        {
          g_autofree float *scratch = g_new (float, n_rms);
          d->resid_rms_median_used = dia_stats_median (rms, n_rms, scratch);
        }
    }
  if (sol == NULL || n_grid < 1)
    return d;

  d->n_grid = n_grid;
  d->kernel_size = sol->config.size;
  d->samples = g_new0 (DiaKernelSample, (size_t) n_grid * n_grid);
  d->kernels = g_new (float, (size_t) n_grid * n_grid * d->kernel_size * d->kernel_size);
  d->sum_min = G_MAXDOUBLE;
  d->sum_max = -G_MAXDOUBLE;
  d->sum_mean = d->offset_mean_dx = d->offset_mean_dy = d->offset_max = 0;
  for (int j = 0; j < n_grid; j++)
    for (int i = 0; i < n_grid; i++)
      {
        DiaKernelSample *s = &d->samples[j * n_grid + i];
        float *k = d->kernels + (size_t) (j * n_grid + i) * d->kernel_size * d->kernel_size;
        s->x = n_grid > 1 ? i * (W - 1.0) / (n_grid - 1) : (W - 1) / 2.0;
        s->y = n_grid > 1 ? j * (H - 1.0) / (n_grid - 1) : (H - 1) / 2.0;
        dia_kernel_solution_eval (sol, s->x, s->y, k);
        kernel_centroid (k, d->kernel_size, &s->sum, &s->dx, &s->dy);
        s->shift_x = -s->dx;
        s->shift_y = -s->dy;
        d->sum_min = MIN (d->sum_min, s->sum);
        d->sum_max = MAX (d->sum_max, s->sum);
        d->sum_mean += s->sum / (n_grid * n_grid);
        d->offset_mean_dx += s->dx / (n_grid * n_grid);
        d->offset_mean_dy += s->dy / (n_grid * n_grid);
        d->offset_max = MAX (d->offset_max, hypot (s->dx, s->dy));
      }
  return d;
}

void
dia_kernel_diagnostics_free (DiaKernelDiagnostics *diag)
{
  if (diag == NULL)
    return;
  g_free (diag->samples);
  g_free (diag->kernels);
  g_free (diag->stamps);
  g_free (diag);
}

void
dia_kernel_diagnostics_append_json (const DiaKernelDiagnostics *d, DiaJson *j)
{
  dia_json_begin_object (j, "diagnostics");
  dia_json_string (j, "offset_convention",
                   "dx,dy = kernel marginal centroid - centre (correlation kernel); the "
                   "convolved image's content moves by shift = -dx,-dy");
  dia_json_double (j, "condition_number", d->condition_number);
  dia_json_double (j, "fwhm_template", d->fwhm_template);
  dia_json_double (j, "fwhm_science", d->fwhm_science);
  dia_json_double (j, "psf_ratio", d->psf_ratio);
  dia_json_string (j, "convolved", d->convolve_template ? "template" : "science");
  dia_json_begin_array (j, "basis_sigmas");
  for (int i = 0; i < d->basis.n_gauss; i++)
    dia_json_double (j, NULL, d->basis.sigma[i]);
  dia_json_end_array (j);
  dia_json_int (j, "kernel_size", d->basis.size);
  dia_json_double (j, "kernel_sum_min", d->sum_min);
  dia_json_double (j, "kernel_sum_max", d->sum_max);
  dia_json_double (j, "kernel_sum_mean", d->sum_mean);
  dia_json_double (j, "offset_mean_dx", d->offset_mean_dx);
  dia_json_double (j, "offset_mean_dy", d->offset_mean_dy);
  dia_json_double (j, "offset_max", d->offset_max);
  dia_json_int (j, "grid", d->n_grid);
  dia_json_begin_array (j, "kernel_grid");
  for (int i = 0; i < d->n_grid * d->n_grid; i++)
    {
      const DiaKernelSample *s = &d->samples[i];
      dia_json_begin_object (j, NULL);
      dia_json_double (j, "x", s->x);
      dia_json_double (j, "y", s->y);
      dia_json_double (j, "sum", s->sum);
      dia_json_double (j, "dx", s->dx);
      dia_json_double (j, "dy", s->dy);
      dia_json_end_object (j);
    }
  dia_json_end_array (j);
  dia_json_int (j, "stamps_used", d->n_used);
  dia_json_int (j, "stamps_rejected", d->n_rejected);
  dia_json_double (j, "stamp_resid_rms_median_used", d->resid_rms_median_used);
  dia_json_end_object (j);
}

void
dia_diagnostics_append_plan_json (const DiaSubtractPlan *plan, DiaJson *json)
{
  g_autoptr (DiaKernelDiagnostics) d = dia_kernel_diagnostics_new (plan, 9);
  dia_kernel_diagnostics_append_json (d, json);
}
