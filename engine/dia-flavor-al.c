/* dia-flavor-al.c — the Alard–Lupton flavours' prepare and apply, and what they do when the
 * requested direction would deconvolve.
 *
 * Forcing `template` when the science image is the sharper one (or `science` when it is the
 * broader one) asks the kernel K to turn a broad PSF into a sharp one.  The least-squares fit
 * still finds a K, but a deconvolving K amplifies the PSF-model and sub-pixel mismatches at
 * every star: on the simulated pairs that left hundreds (1024²) to thousands (2048×4096) of
 * 5σ residuals, while the noise statistics stayed perfect (docs/flavors.md).
 *
 * What we do instead (the idea of ip_diffim's preconvolution mode, with the narrowest kernel
 * that suffices): the unconvolved, sharper image u is first correlated with a circular
 * Gaussian g whose width makes g⋆u broader than the convolved image c along both axes,
 *     σ_g² = max_axis (σ_c² − σ_u²) + (AL_FORCED_MARGIN · σ_c)²,
 * so that the AL fit c → g⋆u is an ordinary convolution.  The user's direction is honoured —
 * K still convolves the image they chose — and the difference is
 *     D = g⋆S − K⋆T  (template)   or   D = (K⋆S + bg − g⋆T) / k0  (science),
 * on the science flux scale, with PSF g⋆P_u (result->diff_psf) and variance g²⋆V_u + K²⋆V_c.
 * The decorrelation afterburner then whitens D up to g (DIA_DECORRELATE_PRECONVOLVED): full
 * whitening would be the deconvolution again.  The price is resolution: D has the PSF of the
 * smoothed image, and its noise is correlated on the scale of g.  The plan records the FWHM
 * of g in info.forced_preconvolve_fwhm so that the metadata says what was done.
 *
 * The margin: with AL_FORCED_MARGIN = 0 the fitted K would be a delta (the same ill-posed fit
 * the preconvolve flavour falls back from); a kernel of width ~½ σ_c keeps the basis well
 * conditioned.  Measured on 1024² transient-free pairs (docs/flavors.md).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-flavor-al.h"
#include "dia-background.h"
#include "dia-convolve.h"
#include "dia-decorrelate.h"
#include "dia-image.h"
#include "dia-parallel.h"
#include "dia-psf.h"

#include <math.h>
#include <string.h>

#define AL_FORCED_MARGIN 0.5

typedef struct
{
  DiaImage *pre;                /* g ⋆ u, full frame, frozen                                */
  float *g;                     /* g_size², unit sum                                        */
  int g_size;
  double fwhm_pre;              /* FWHM of g⋆P_u at the centre, px                          */
  DiaPsf *psf_pre;              /* g⋆P_u, unit sum (the PSF of the undecorrelated D)        */
  DiaDecorrelation *dc;         /* PRECONVOLVED-mode filter, or NULL without decorrelation  */
} AlForced;

static void
al_forced_free (gpointer p)
{
  AlForced *f = p;
  if (f == NULL)
    return;
  dia_image_unref (f->pre);
  g_free (f->g);
  dia_psf_unref (f->psf_pre);
  dia_decorrelation_free (f->dc);
  g_free (f);
}

/* A unit-sum circular Gaussian of standard deviation sigma on an odd stamp of ±4σ. */
static float *
al_gaussian (double sigma, int *size)
{
  int h = MAX (1, (int) ceil (4.0 * sigma)), n = 2 * h + 1;
  float *g = g_new (float, n * n);
  double s = 0;
  for (int v = -h; v <= h; v++)
    for (int u = -h; u <= h; u++)
      s += g[(v + h) * n + u + h] = (float) exp (-(u * u + v * v) / (2 * sigma * sigma));
  for (int i = 0; i < n * n; i++)
    g[i] /= (float) s;
  *size = n;
  return g;
}

/* The view of the plan the AL code works on: the smoothed image in place of u. */
static DiaSubtractPlan
al_forced_view (const DiaSubtractPlan *plan, const AlForced *f)
{
  DiaSubtractPlan view = *plan;
  if (plan->info.convolve_template)
    {
      view.science_image = f->pre;
      view.info.fwhm_science = f->fwhm_pre;
    }
  else
    {
      view.template_image = f->pre;
      view.info.fwhm_template = f->fwhm_pre;
    }
  return view;
}

/* g⋆P_u at the centre as a pixel PSF. */
static DiaPsf *
al_forced_psf (const DiaPsf *psf_u, const DiaImage *u, const float *g, int gs, GError **error)
{
  int ps = dia_psf_stamp_size (psf_u) + gs - 1;
  g_autofree float *p = g_new (float, ps * ps);
  g_autofree float *q = g_new (float, ps * ps);
  dia_psf_render (psf_u, (u->width - 1) / 2.0, (u->height - 1) / 2.0, 0, 0, p, ps);
  if (!dia_convolve_plane (p, ps, ps, ps, g, gs, q, ps, 1, NULL, error))
    return NULL;
  return dia_psf_new_from_pixels (q, ps, ps, error);
}

gboolean
_dia_flavor_al_prepare (DiaSubtractPlan *plan, gboolean convolve_template, DiaMonitor *monitor,
                        GError **error)
{
  const DiaImage *u = convolve_template ? plan->science_image : plan->template_image;
  const DiaImage *c = convolve_template ? plan->template_image : plan->science_image;
  const DiaPsf *psf_u = convolve_template ? plan->psf_science : plan->psf_template;
  const DiaPsf *psf_c = convolve_template ? plan->psf_template : plan->psf_science;
  double ux, uy, cx, cy, d2, sc2, sigma_g;
  AlForced *f;
  DiaImage *saved_science = plan->science_image, *saved_template = plan->template_image;
  double *fwhm_u;
  double saved;
  gboolean ok;
  gint64 t0;

  plan->info.forced_preconvolve_fwhm = 0;
  _dia_subtract_psf_axis_fwhm (psf_u, u, &ux, &uy);
  _dia_subtract_psf_axis_fwhm (psf_c, c, &cx, &cy);
  /* Deconvolution only when the convolved image is broader along both axes (the mirror of
   * the auto rule, so `auto` never gets here). */
  if (!(cx > ux && cy > uy) || !isfinite (cx + cy + ux + uy))
    return _dia_subtract_fit_al (plan, convolve_template, monitor, error);

  t0 = g_get_monotonic_time ();
  d2 = MAX (cx * cx - ux * ux, cy * cy - uy * uy) / (2.35482 * 2.35482);
  sc2 = (cx * cx + cy * cy) / 2 / (2.35482 * 2.35482);
  sigma_g = sqrt (d2 + AL_FORCED_MARGIN * AL_FORCED_MARGIN * sc2);
  f = g_new0 (AlForced, 1);
  plan->flavor_data = f;
  plan->flavor_data_free = al_forced_free;
  f->g = al_gaussian (sigma_g, &f->g_size);
  f->pre = dia_filter_preconvolve_image (u, f->g, f->g_size,
                                         convolve_template
                                           ? "science variance smoothed by the Gaussian of the "
                                             "forced direction"
                                           : "template variance smoothed by the Gaussian of the "
                                             "forced direction",
                                         plan->request.n_threads, monitor, error);
  if (f->pre == NULL)
    return FALSE;
  f->psf_pre = al_forced_psf (psf_u, u, f->g, f->g_size, error);
  if (f->psf_pre == NULL)
    return FALSE;
  f->fwhm_pre = dia_psf_fwhm (f->psf_pre, 0, 0);
  plan->info.forced_preconvolve_fwhm = 2.35482 * sigma_g;
  dia_subtract_timing_add (plan->info.timings, "forced preconvolution",
                           (g_get_monotonic_time () - t0) / 1000.0);

  /* The shared fit reads the images and FWHMs from the plan: swap u for g⋆u during the call. */
  fwhm_u = convolve_template ? &plan->info.fwhm_science : &plan->info.fwhm_template;
  saved = *fwhm_u;
  if (convolve_template)
    plan->science_image = f->pre;
  else
    plan->template_image = f->pre;
  *fwhm_u = f->fwhm_pre;
  ok = _dia_subtract_fit_al (plan, convolve_template, monitor, error);
  plan->science_image = saved_science;
  plan->template_image = saved_template;
  *fwhm_u = saved;
  if (!ok)
    return FALSE;

  if (plan->request.decorrelate)
    {
      const DiaImage *img = plan->science_image;
      int ks = plan->kernel->config.size, ps = dia_psf_stamp_size (psf_u);
      g_autofree float *k = g_new (float, ks * ks);
      g_autofree float *p = g_new (float, ps * ps);
      dia_kernel_solution_eval (plan->kernel, (img->width - 1) / 2.0, (img->height - 1) / 2.0, k);
      dia_psf_render (psf_u, (img->width - 1) / 2.0, (img->height - 1) / 2.0, 0, 0, p, ps);
      f->dc = dia_decorrelation_new (DIA_DECORRELATE_PRECONVOLVED, k, ks, f->g, f->g_size, p,
                                     ps, dia_decorrelate_noise_variance (u),
                                     dia_decorrelate_noise_variance (c), error);
      if (f->dc == NULL)
        return FALSE;
    }
  return TRUE;
}

/* Two model-error variance terms, added to D's variance over region.
 *
 * Astrometric (request.astrometric_sigma = σ_a, px per axis and per image, as ZOGY's §3.6
 * term): a relative sub-pixel error δ of the two images' positions or PSF centroids leaves
 * δ·∇(image) in D, so V += σ_a² (|∇(K⋆c)|² + |∇u|²) ≈ 2 σ_a² |∇u|², u being the unconvolved
 * input on D's flux scale (after the forced smoothing, if any) — K⋆c matches it by
 * construction.  Central differences; at a noise-only pixel the term adds 2 σ_a² σ², i.e.
 * 0.2 % of the variance for σ_a = 0.03 px.
 *
 * PSF model (request.model_error = ε): the spatial kernel model cannot follow the PSF exactly
 * (an order-1 kernel against a PSF whose width changes as r²), which leaves residuals of a
 * fraction of the static flux at the centres of bright stars, where the gradient vanishes.
 * V += ε² M², M = the template's part of D without sky: u − D − sky_S for the template flavour
 * (= K⋆T + bg − sky_S, up to the decorrelation filter), (T − sky_T) / k0 for the science
 * flavour.  A transient is absent from the template, so its own S/N is not lowered.
 *
 * diff was created by this apply call and is not shared yet, so its variance plane is still
 * ours to write (freezing only marks an image as published). */
typedef struct
{
  const DiaImage *u;            /* the unconvolved input                                    */
  const DiaBackground *sky_bg;  /* its sky                                                  */
  DiaImage *diff;
  DiaRect region;
  gboolean tflav;
  float scale, f, e2;
  float **rows;                 /* per thread: one row of sky                               */
} AlModelJob;

/* Rows between rendered sky rows: the sky enters only the PSF-model term (ε² m², ε ~ 0.5 %)
 * and varies on the 128-px mesh, so linear interpolation over 8 rows is exact enough and
 * saves most of the spline evaluations. */
#define AL_SKY_STEP 8

static void
al_model_rows (int first, int last, int thread_index, gpointer data)
{
  const AlModelJob *job = data;
  const DiaImage *u = job->u;
  int w = u->width, h = u->height, rw = job->region.width, x0 = job->region.x;
  float *sky = job->rows[thread_index], *lo = sky + rw, *hi = lo + rw, *gx = hi + rw;
  int lo_y = -1, hi_y = -1;

  for (int y = first; y < last; y++)
    {
      int ay = job->region.y + y;
      const float *row = u->pix + dia_image_index (u, 0, ay);
      const float *up_row = u->pix + dia_image_index (u, 0, MAX (ay - 1, 0));
      const float *dn_row = u->pix + dia_image_index (u, 0, MIN (ay + 1, h - 1));
      float gy_div = (ay > 0 && ay < h - 1) ? 0.5f : 1.0f;
      float *dp = job->diff->pix + dia_image_index (job->diff, 0, y);
      float *dv = job->diff->var + dia_image_index (job->diff, 0, y);
      int want_lo = ay / AL_SKY_STEP * AL_SKY_STEP, want_hi = MIN (want_lo + AL_SKY_STEP, h - 1);
      float t_sky;

      if (lo_y != want_lo)
        {
          if (hi_y == want_lo)
            {
              float *tmp = lo;
              lo = hi;
              hi = tmp;
            }
          else
            {
              DiaRect r = { x0, want_lo, rw, 1 };
              dia_background_render (job->sky_bg, &r, lo, rw);
            }
          lo_y = want_lo;
          hi_y = -1;
        }
      if (hi_y != want_hi)
        {
          DiaRect r = { x0, want_hi, rw, 1 };
          dia_background_render (job->sky_bg, &r, hi, rw);
          hi_y = want_hi;
        }
      t_sky = want_hi > want_lo ? (float) (ay - want_lo) / (want_hi - want_lo) : 0.0f;
      /* Central differences in x, one-sided at the image edges. */
      for (int x = 0; x < rw; x++)
        {
          int ax = x0 + x;
          int xl = ax > 0 ? ax - 1 : 0, xr = ax < w - 1 ? ax + 1 : w - 1;
          gx[x] = (row[xr] - row[xl]) / (float) MAX (xr - xl, 1);
        }
      for (int x = 0; x < rw; x++)
        sky[x] = lo[x] + t_sky * (hi[x] - lo[x]);
      /* Branch-free, so that it vectorises: a non-finite term (a NaN input pixel) adds 0, told
       * by its exponent bits; a non-finite variance stays so. */
      for (int x = 0; x < rw; x++)
        {
          int ax = x0 + x;
          float up = row[ax] - sky[x];
          float gy = (dn_row[ax] - up_row[ax]) * gy_div;
          float m = job->tflav ? up - dp[x] : job->scale * up;
          float t = job->f * (gx[x] * gx[x] + gy * gy) + job->e2 * m * m;
          guint32 bits;
          memcpy (&bits, &t, sizeof bits);
          bits &= 0u - (guint32) ((bits & 0x7f800000u) != 0x7f800000u);
          memcpy (&t, &bits, sizeof t);
          dv[x] += t;
        }
    }
}

static void
al_add_model_variance (const DiaSubtractPlan *view, const DiaRect *region, DiaImage *diff)
{
  double sa = view->request.astrometric_sigma, eps = view->request.model_error;
  gboolean tflav = view->info.convolve_template;
  double scale = tflav ? 1.0 : 1.0 / view->k0;
  int nt = view->request.n_threads > 0 ? view->request.n_threads
                                       : dia_parallel_default_threads ();
  AlModelJob job;

  if (!(sa > 0) && !(eps > 0))
    return;
  job = (AlModelJob){ tflav ? view->science_image : view->template_image,
                      tflav ? view->bg_science : view->bg_template, diff, *region, tflav,
                      (float) scale, (float) (2.0 * sa * sa * scale * scale),
                      (float) (eps * eps), NULL };
  nt = MAX (1, MIN (nt, 256));
  job.rows = g_new (float *, nt);
  for (int t = 0; t < nt; t++)
    job.rows[t] = g_new (float, 4 * (size_t) MAX (region->width, 1));
  /* Rows are independent and each writes only its own row of diff. */
  dia_parallel_for (region->height, 32, nt, al_model_rows, &job, NULL, NULL);
  for (int t = 0; t < nt; t++)
    g_free (job.rows[t]);
  g_free (job.rows);
}

gboolean
_dia_flavor_al_apply (const DiaSubtractPlan *plan, const DiaRect *region,
                      DiaSubtractResult *result, DiaMonitor *monitor, GError **error)
{
  const AlForced *f = plan->flavor_data;
  gboolean keep = _dia_subtract_result_keep_matched (result);
  gboolean tflav = plan->info.convolve_template;
  DiaRect whole = { 0, 0, plan->science_image->width, plan->science_image->height };
  DiaSubtractPlan view;
  DiaRect grown, inner;
  g_autoptr (DiaImage) raw = NULL;
  g_autoptr (DiaImage) raw_matched = NULL;
  DiaImage *out;
  int h;
  gint64 t0;

  if (f == NULL)
    {
      if (!_dia_subtract_apply_al (plan, region, result, keep, monitor, error))
        return FALSE;
      al_add_model_variance (plan, region, result->diff);
      return TRUE;
    }
  view = al_forced_view (plan, f);
  if (f->dc == NULL)
    {
      if (!_dia_subtract_apply_al_raw (&view, region, result, keep, monitor, error))
        return FALSE;
      al_add_model_variance (&view, region, result->diff);
      result->diff_psf = dia_psf_ref (f->psf_pre);
      return TRUE;
    }

  h = f->dc->size / 2;
  grown = (DiaRect) { region->x - h, region->y - h, region->width + 2 * h,
                      region->height + 2 * h };
  grown = dia_rect_intersect (&grown, &whole);
  if (!_dia_subtract_apply_al_raw (&view, &grown, result, keep, monitor, error))
    return FALSE;
  raw = g_steal_pointer (&result->diff);
  raw_matched = g_steal_pointer (&result->matched);

  t0 = g_get_monotonic_time ();
  inner = (DiaRect) { region->x - grown.x, region->y - grown.y, region->width, region->height };
  /* Variances from the original inputs: the filter's weights already contain g (w_u) and K
   * (w_c).  Convolve-science mode: D was divided by k0, so its variance carries 1/k0². */
  out = dia_decorrelation_apply (f->dc, raw, grown.x, grown.y, &inner,
                                 tflav ? plan->science_image : plan->template_image,
                                 tflav ? plan->template_image : plan->science_image,
                                 tflav ? 1.0 : 1.0 / (plan->k0 * plan->k0),
                                 plan->request.n_threads, monitor, error);
  if (out == NULL)
    return FALSE;
  al_add_model_variance (&view, region, out);
  dia_image_freeze (out);
  result->diff = out;
  if (raw_matched != NULL)
    {
      result->matched = dia_image_crop (raw_matched, &inner, error);
      if (result->matched == NULL)
        return FALSE;
    }
  result->diff_psf = dia_psf_new_from_pixels (f->dc->psf, f->dc->psf_size, f->dc->psf_size,
                                              NULL);
  dia_subtract_timing_add (result->timings, "decorrelate",
                           (g_get_monotonic_time () - t0) / 1000.0);
  return TRUE;
}

DiaRect
_dia_flavor_al_input_region (const DiaSubtractPlan *plan, const DiaRect *region)
{
  const AlForced *f = plan->flavor_data;
  int h;
  DiaRect grown, whole = { 0, 0, plan->science_image->width, plan->science_image->height };
  if (f == NULL)
    return _dia_subtract_al_input_region (plan, region);
  h = (plan->kernel ? plan->kernel->config.size / 2 : 0) + f->g_size / 2
      + (f->dc ? f->dc->size / 2 : 0);
  grown = (DiaRect) { region->x - h, region->y - h, region->width + 2 * h,
                      region->height + 2 * h };
  return dia_rect_intersect (&grown, &whole);
}
