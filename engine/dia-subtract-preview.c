/* dia-subtract-preview.c — a sampled Alard–Lupton difference for the zoomed-out live view.
 *
 * When the whole frame is on screen, the view samples one image pixel in step² (nearest
 * neighbour), so computing every pixel before the first paint is wasted.  The preview
 * evaluates D only at the sampled pixels: for each 32×32 cell the kernel at its centre (the
 * convolution engine's variance pass makes the same choice for K²), then one correlation per
 * sample with that kernel, and the variance with its square.  The exact frame replaces it as
 * soon as dia_subtract_execute() has run.
 *
 * Flavours: template (D = S − K⋆T − bg) and science (D = (K⋆S + bg − T) / k0), as
 * _dia_subtract_apply_al_raw() computes them, without the decorrelation afterburner, the
 * forced-direction smoothing or the model-error variance terms (those plans get no preview).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-subtract.h"
#include "dia-error.h"
#include "dia-image.h"
#include "dia-kernel.h"
#include "dia-monitor.h"
#include "dia-parallel.h"

#include <glib/gi18n-lib.h>
#include <math.h>

#define PREVIEW_CELL 32
#define CONV_PREVIEW_MAX_SIDE 128   /* longer kernel rows take the general loop */

typedef struct
{
  const DiaSubtractPlan *plan;
  DiaRect region;
  int step, ow, oh, ks;
  gboolean tflav, add_bg;
  double scale;                 /* of the convolved image: 1 or 1/k0                      */
  DiaImage *out;
  /* K and K² at the centre of every 32×32 cell of the region's cell grid (ncx × ncy, from
   * cell (cx0, cy0)), and the square radius of each K² */
  int cx0, cy0, ncx, ncy;
  float *cell_k, *cell_k2;
  int *cell_r;
  const float *collapsed;       /* dia_kernel_solution_collapse()                          */
} PreviewJob;

/* The kernels of cell rows first … last − 1. */
static void
preview_cells (int first, int last, int thread_index, gpointer data)
{
  PreviewJob *job = data;
  const DiaKernelSolution *sol = job->plan->kernel;
  int npix = job->ks * job->ks;
  double f[528];

  for (int cy = first; cy < last; cy++)
    for (int cx = 0; cx < job->ncx; cx++)
      {
        size_t c = (size_t) cy * job->ncx + cx;
        float *k = job->cell_k + c * npix, *k2 = job->cell_k2 + c * npix;
        dia_kernel_spatial_terms (sol->domain, sol->spatial_order,
                                  (job->cx0 + cx) * PREVIEW_CELL + 0.5 * (PREVIEW_CELL - 1),
                                  (job->cy0 + cy) * PREVIEW_CELL + 0.5 * (PREVIEW_CELL - 1), f);
        for (int q = 0; q < npix; q++)
          {
            double v = 0.0;
            for (int m = 0; m < sol->n_spatial; m++)
              v += f[m] * job->collapsed[(size_t) m * npix + q];
            k[q] = (float) v;
            k2[q] = (float) (v * v);
          }
        job->cell_r[c] = dia_kernel_square_radius (k2, job->ks);
      }
}

/* Σ k(u, v) plane(x + u − h, y + v − h) over the centred (2r + 1)² taps of a ks² kernel;
 * non-finite pixels and pixels outside the image count as 0, as in dia-convolve.c. */
static double
preview_correlate (const DiaImage *im, const float *plane, int x, int y, const float *k, int ks,
                   int r)
{
  int h = ks / 2;
  double acc = 0.0;
  if (x - r >= 0 && y - r >= 0 && x + r < im->width && y + r < im->height)
    {
      /* Interior: per-column sums over the rows (independent lanes, so the loop vectorises
       * without reassociating a reduction), then one sum; a NaN falls back to the slow path. */
      float col[CONV_PREVIEW_MAX_SIDE] = { 0 };
      int n = 2 * r + 1;
      if (n <= CONV_PREVIEW_MAX_SIDE)
        {
          for (int v = -r; v <= r; v++)
            {
              const float *row = plane + dia_image_index (im, x - r, y + v);
              const float *kr = k + (size_t) (v + h) * ks + (h - r);
              for (int u = 0; u < n; u++)
                col[u] += kr[u] * row[u];
            }
          for (int u = 0; u < n; u++)
            acc += col[u];
          if (isfinite (acc))
            return acc;
          acc = 0.0;
        }
    }
  for (int v = -r; v <= r; v++)
    for (int u = -r; u <= r; u++)
      {
        int xx = x + u, yy = y + v;
        float val;
        if (xx < 0 || yy < 0 || xx >= im->width || yy >= im->height)
          continue;
        val = plane[dia_image_index (im, xx, yy)];
        if (isfinite (val))
          acc += k[(size_t) (v + h) * ks + (u + h)] * val;
      }
  return acc;
}

/* One output row j: samples at y = region.y + step·j. */
static void
preview_rows (int first, int last, int thread_index, gpointer data)
{
  PreviewJob *job = data;
  const DiaSubtractPlan *plan = job->plan;
  const DiaImage *conv = job->tflav ? plan->template_image : plan->science_image;
  const DiaImage *other = job->tflav ? plan->science_image : plan->template_image;
  const DiaKernelSolution *sol = plan->kernel;
  int ks = job->ks, npix = ks * ks;
  double s = job->scale, s2 = s * s, os = job->tflav ? 1.0 : 1.0 / plan->k0;

  for (int j = first; j < last; j++)
    {
      int y = job->region.y + j * job->step;
      float *op = job->out->pix + dia_image_index (job->out, 0, j);
      float *ov = job->out->var + dia_image_index (job->out, 0, j);
      DiaMask *om = job->out->mask + dia_image_index (job->out, 0, j);
      for (int i = 0; i < job->ow; i++)
        {
          int x = job->region.x + i * job->step;
          size_t ci = dia_image_index (conv, x, y), oi = dia_image_index (other, x, y);
          double acc, accv, bg = 0.0, d, v;
          /* Bits by position (the exact frame maps the template's planes by name). */
          DiaMask m = conv->mask[ci] | other->mask[oi];
          size_t c = (size_t) (y / PREVIEW_CELL - job->cy0) * job->ncx
                     + (x / PREVIEW_CELL - job->cx0);
          acc = preview_correlate (conv, conv->pix, x, y, job->cell_k + c * npix, ks, ks / 2);
          accv = preview_correlate (conv, conv->var, x, y, job->cell_k2 + c * npix, ks,
                                    job->cell_r[c]);
          if (job->add_bg)
            bg = dia_kernel_solution_background (sol, x, y);
          if (job->tflav)
            {
              d = other->pix[oi] - (s * acc + bg);
              v = other->var[oi] + s2 * accv;
            }
          else
            {
              d = s * acc - os * (other->pix[oi] - bg);
              v = s2 * accv + os * os * other->var[oi];
            }
          if ((m & DIA_MASK_NO_DATA) || !isfinite (d))
            {
              d = 0.0;
              v = INFINITY;
            }
          op[i] = (float) d;
          ov[i] = (float) v;
          om[i] = m;
        }
    }
}

DiaImage *
dia_subtract_preview (const DiaSubtractPlan *plan, const DiaRect *region, int step,
                      DiaMonitor *monitor, GError **error)
{
  DiaRect whole = { 0, 0, plan->science_image->width, plan->science_image->height };
  int nt = plan->request.n_threads > 0 ? plan->request.n_threads
                                       : dia_parallel_default_threads ();
  g_autoptr (DiaImage) out = NULL;
  PreviewJob job;
  gboolean ok;

  if (plan->kernel == NULL || plan->flavor_data != NULL || plan->request.decorrelate
      || (plan->flavor->id != DIA_FLAVOR_TEMPLATE && plan->flavor->id != DIA_FLAVOR_SCIENCE))
    return NULL;
  if (step < 1 || dia_rect_is_empty (region) || !dia_rect_contains (&whole, region))
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("Preview: region %d,%d %d×%d or step %d does not fit the %d×%d image"),
                   region->x, region->y, region->width, region->height, step, whole.width,
                   whole.height);
      return NULL;
    }
  job.plan = plan;
  job.region = *region;
  job.step = step;
  job.ow = (region->width + step - 1) / step;
  job.oh = (region->height + step - 1) / step;
  job.ks = plan->kernel->config.size;
  job.tflav = plan->info.convolve_template;
  job.add_bg = plan->request.subtract_background && plan->kernel->n_bg > 0;
  job.scale = job.tflav ? 1.0 : 1.0 / plan->k0;
  out = dia_image_new (job.ow, job.oh, error);
  if (out == NULL)
    return NULL;
  dia_image_copy_plane_names (out, plan->science_image);
  job.out = out;
  job.cx0 = region->x / PREVIEW_CELL;
  job.cy0 = region->y / PREVIEW_CELL;
  job.ncx = (region->x + region->width - 1) / PREVIEW_CELL - job.cx0 + 1;
  job.ncy = (region->y + region->height - 1) / PREVIEW_CELL - job.cy0 + 1;
  {
    size_t n = (size_t) job.ncx * job.ncy * job.ks * job.ks;
    g_autofree float *collapsed = dia_kernel_solution_collapse (plan->kernel);
    g_autofree float *cell_k = g_try_new (float, n);
    g_autofree float *cell_k2 = g_try_new (float, n);
    g_autofree int *cell_r = g_new (int, (size_t) job.ncx * job.ncy);
    if (cell_k == NULL || cell_k2 == NULL)
      {
        g_set_error (error, DIA_ERROR, DIA_ERROR_NO_MEMORY,
                     _("Preview: not enough memory for the kernels of %d×%d cells"), job.ncx,
                     job.ncy);
        return NULL;
      }
    job.collapsed = collapsed;
    job.cell_k = cell_k;
    job.cell_k2 = cell_k2;
    job.cell_r = cell_r;
    nt = MAX (1, MIN (nt, 256));
    dia_monitor_stage (monitor, "preview", 0.0);
    ok = dia_parallel_for (job.ncy, 1, nt, preview_cells, &job, monitor, error)
         && dia_parallel_for (job.oh, 8, nt, preview_rows, &job, monitor, error);
  }
  if (!ok)
    return NULL;
  dia_image_freeze (out);
  return g_steal_pointer (&out);
}
