/* dia-flavor-preconvolve.c — preconvolution: the maximum-likelihood "score" image
 * (ALGORITHMS.md §3.5, decorrelated in score mode §4.1 step 6).
 *
 * The science image is first correlated with its own PSF φ (unit sum, at the image centre):
 * that is the matched filter, so a point source peaks at its position with Σ φ² of its flux.
 * The template is then PSF-matched to that smoothed image with the usual Alard–Lupton fit
 * (FWHMs template and √2 × science, the Gaussian approximation of the PSF⊗PSF width).  Because
 * φ⋆S is broader than the template in both regimes, the fit convolves the template even when
 * the science image is the sharper one: no deconvolution.  score = φ⋆S − K⋆T, and the
 * score-mode filter ĉ = (σ_S² + σ_T² κ_sum²) / (σ_S² + σ_T² |κ̂|²/|φ̂|²) turns it into the
 * matched filter of the proper difference, whose per-pixel S/N, score / √V, is the optimal
 * detection statistic (DMTN-179; our test checks the peak S/N of injected sources against the
 * optimal expectation computed from the true PSFs and both noise terms).
 *
 * Orientation of φ (§10 item 2, [UNVERIFIED] in the spec).  The engine applies kernels as
 * correlations (dia-types.h), so φ is used as rendered, not reflected.  ip_diffim reflects the
 * PSF and then correlates, i.e. truly convolves.  tests/engine/test-flavors.c
 * (/flavors/preconvolve-orientation) measures it with an asymmetric PSF (two offset Gaussians,
 * 3:1): correlating with the unreflected PSF peaks exactly at the source with Σ P² · flux
 * (the matched-filter maximum, 26.47 for flux 1000), while the reflected version peaks 1 px
 * away at 25.50, 3.7 % lower — the S/N lost to using the wrong orientation.  So the matched filter is the correlation with the PSF as stored; the
 * reflection in ip_diffim is only harmless for symmetric PSFs.
 *
 * Products: result->diff is the decorrelated score image with its propagated variance
 * (§4.2 score mode, weighted sum); result->score the same in σ units (score / √V);
 * result->diff_psf the shape of a point source in the score image (ĉ · conj(φ̂) · P̂_S).
 * The φ-half-width frame carries EDGE (§3.5 step 10).  Region runs: φ⋆S is computed once for
 * the whole frame at plan time; the kernel and the compact score filter then act locally, so a
 * region run equals the crop of the full-frame run.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-subtract-private.h"
#include "dia-background.h"
#include "dia-convolve.h"
#include "dia-decorrelate.h"
#include "dia-error.h"
#include "dia-image.h"
#include "dia-stats.h"

#include <glib/gi18n-lib.h>
#include <math.h>

typedef struct
{
  DiaImage *preconvolved;       /* φ ⋆ S, full frame, frozen                              */
  float *phi;                   /* phi_size², unit sum                                     */
  int phi_size;
  DiaDecorrelation *dc;         /* score-mode filter                                      */
} PreconvData;

static void
preconv_data_free (gpointer p)
{
  PreconvData *d = p;
  if (d == NULL)
    return;
  dia_image_unref (d->preconvolved);
  g_free (d->phi);
  dia_decorrelation_free (d->dc);
  g_free (d);
}

static gboolean
flavor_preconvolve_prepare (DiaSubtractPlan *plan, DiaMonitor *monitor, GError **error)
{
  PreconvData *d = g_new0 (PreconvData, 1);
  const DiaImage *s = plan->science_image;
  double cx = (s->width - 1) / 2.0, cy = (s->height - 1) / 2.0;
  DiaImage *science;
  double fwhm_science;
  gboolean ok;
  gint64 t0 = g_get_monotonic_time ();
  int ks, ps;
  g_autofree float *k = NULL;
  g_autofree float *psf = NULL;

  plan->flavor_data = d;
  plan->flavor_data_free = preconv_data_free;
  d->phi_size = dia_psf_stamp_size (plan->psf_science);
  d->phi = g_new (float, d->phi_size * d->phi_size);
  dia_psf_render (plan->psf_science, cx, cy, 0, 0, d->phi, d->phi_size);
  /* §3.5 step 3: unusable pixels take the image median before smoothing. */
  d->preconvolved = dia_filter_preconvolve_image (plan->science_image, d->phi, d->phi_size,
                                                  "science variance correlated with the "
                                                  "squared PSF", plan->request.n_threads,
                                                  monitor, error);
  if (d->preconvolved == NULL)
    return FALSE;
  dia_subtract_timing_add (plan->info.timings, "preconvolve",
                           (g_get_monotonic_time () - t0) / 1000.0);

  /* Fit K: template → φ⋆S with the √2 FWHM rule (§3.5 steps 4–6).  The shared AL fit reads
   * the science image and its FWHM from the plan, so both are swapped for the call. */
  science = plan->science_image;
  fwhm_science = plan->info.fwhm_science;
  plan->science_image = d->preconvolved;
  plan->info.fwhm_science = fwhm_science * G_SQRT2;
  /* In the deconvolution regime φ⋆S is only about as broad as T, the kernel is close to a
   * delta and the FWHM-derived basis (σ from the tiny width difference) makes the system
   * ill-conditioned: fall back to the configured σ list (0.7, 1.5, 3 px), then lower the
   * kernel's spatial order, until it is not (reported through info.orders_reduced). */
  for (;;)
    {
      g_autoptr (GError) local = NULL;
      ok = _dia_subtract_fit_al (plan, TRUE, monitor, &local);
      if (ok || local->code != DIA_ERROR_SINGULAR || plan->request.fit.spatial_order == 0)
        {
          if (!ok)
            g_propagate_error (error, g_steal_pointer (&local));
          break;
        }
      if (plan->stamps)
        g_array_unref (plan->stamps);
      plan->stamps = NULL;
      g_clear_pointer (&plan->kernel, dia_kernel_solution_unref);
      if (plan->request.basis.scale_by_fwhm)
        plan->request.basis.scale_by_fwhm = FALSE;
      else
        plan->request.fit.spatial_order--;
      plan->info.orders_reduced = TRUE;
    }
  plan->science_image = science;
  plan->info.fwhm_science = fwhm_science;
  if (!ok)
    return FALSE;

  ks = plan->kernel->config.size;
  k = g_new (float, ks * ks);
  dia_kernel_solution_eval (plan->kernel, cx, cy, k);
  ps = dia_psf_stamp_size (plan->psf_science);
  psf = g_new (float, ps * ps);
  dia_psf_render (plan->psf_science, cx, cy, 0, 0, psf, ps);
  d->dc = dia_decorrelation_new (DIA_DECORRELATE_SCORE, k, ks, d->phi, d->phi_size, psf, ps,
                                 dia_decorrelate_noise_variance (plan->science_image),
                                 dia_decorrelate_noise_variance (plan->template_image), error);
  return d->dc != NULL;
}

/* score / √V, 0 where the variance is not usable. */
static DiaImage *
preconv_sigma_image (const DiaImage *score, GError **error)
{
  DiaImage *out = dia_image_new_like (score, error);
  if (out == NULL)
    return NULL;
  for (int y = 0; y < score->height; y++)
    for (int x = 0; x < score->width; x++)
      {
        size_t i = dia_image_index (score, x, y), o = dia_image_index (out, x, y);
        float v = score->var[i];
        gboolean ok = v > 0 && isfinite (v) && isfinite (score->pix[i]);
        out->pix[o] = ok ? score->pix[i] / sqrtf (v) : 0.0f;
        out->var[o] = ok ? 1.0f : INFINITY;
        out->mask[o] = score->mask[i];
      }
  out->meta.variance_origin = DIA_VARIANCE_COMPUTED;
  g_strlcpy (out->meta.variance_note, "score in units of its standard deviation",
             sizeof out->meta.variance_note);
  dia_image_freeze (out);
  return out;
}

/* The model-error terms of the score (as the AL flavours', dia-flavor-al.c).
 *
 * Astrometric (request.astrometric_sigma = σ_a, px per axis and per image; ZOGY's §3.6 term):
 * V += σ_a² (|∇(c⋆φ⋆S)|² + |∇(c⋆K⋆T)|²) ≈ 2 σ_a² |∇(c⋆φ⋆S)|², the two matched images being
 * equal at stars by construction.  At the centre of a faint source the gradient vanishes, so
 * its peak S/N is unchanged.
 *
 * PSF model (request.model_error = ε): V += ε² M², M = the template's part of the score
 * without sky, c⋆φ⋆S − score − sky_S (= c⋆(K⋆T + bg) − sky_S): the residuals of the kernel's
 * spatial model peak at star centres, where the gradient term vanishes; a transient is absent
 * from the template and keeps its S/N.
 *
 * c⋆φ⋆S is filtered here over the region grown by the filter reach plus one pixel, so that a
 * region run still equals the crop of the full-frame run. */
static gboolean
preconv_add_model_variance (const DiaSubtractPlan *plan, const DiaRect *region,
                                  DiaImage *score, DiaMonitor *monitor, GError **error)
{
  const PreconvData *d = plan->flavor_data;
  const DiaImage *p = d->preconvolved;
  double sa = plan->request.astrometric_sigma, f = 2.0 * sa * sa;
  double e2 = plan->request.model_error * plan->request.model_error;
  DiaRect whole = { 0, 0, p->width, p->height };
  int h = d->dc->size / 2 + 1;
  DiaRect g = { region->x - h, region->y - h, region->width + 2 * h, region->height + 2 * h };
  g_autofree float *in = NULL;
  g_autofree float *out = NULL;
  g_autofree float *sky = NULL;

  if (!(f > 0) && !(e2 > 0))
    return TRUE;
  g = dia_rect_intersect (&g, &whole);
  in = g_try_new (float, (size_t) g.width * g.height);
  out = g_try_new (float, (size_t) g.width * g.height);
  sky = g_try_new (float, (size_t) region->width * region->height);
  if (in == NULL || out == NULL || sky == NULL)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_NO_MEMORY,
                   _("Preconvolution: out of memory for a %d×%d region"), g.width, g.height);
      return FALSE;
    }
  for (int y = 0; y < g.height; y++)
    for (int x = 0; x < g.width; x++)
      {
        float v = p->pix[dia_image_index (p, g.x + x, g.y + y)];
        in[(size_t) y * g.width + x] = isfinite (v) ? v : 0.0f;
      }
  if (!dia_convolve_plane (in, g.width, g.height, g.width, d->dc->filter, d->dc->size, out,
                           g.width, plan->request.n_threads, monitor, error))
    return FALSE;
  dia_background_render (plan->bg_science, region, sky, region->width);
  for (int y = 0; y < region->height; y++)
    for (int x = 0; x < region->width; x++)
      {
        int bx = region->x - g.x + x, by = region->y - g.y + y;
        int xl = MAX (bx - 1, 0), xr = MIN (bx + 1, g.width - 1);
        int yl = MAX (by - 1, 0), yr = MIN (by + 1, g.height - 1);
        double gx = (out[(size_t) by * g.width + xr] - out[(size_t) by * g.width + xl])
                    / MAX (xr - xl, 1);
        double gy = (out[(size_t) yr * g.width + bx] - out[(size_t) yl * g.width + bx])
                    / MAX (yr - yl, 1);
        size_t o = dia_image_index (score, x, y);
        double m = out[(size_t) by * g.width + bx] - score->pix[o]
                   - sky[(size_t) y * region->width + x];
        double t = f * (gx * gx + gy * gy) + e2 * m * m;
        if (isfinite (score->var[o]) && isfinite (t))
          score->var[o] += (float) t;
      }
  return TRUE;
}

static gboolean
flavor_preconvolve_apply (const DiaSubtractPlan *plan, const DiaRect *region,
                          DiaSubtractResult *result, DiaMonitor *monitor, GError **error)
{
  const PreconvData *d = plan->flavor_data;
  DiaRect whole = { 0, 0, plan->science_image->width, plan->science_image->height };
  int h = d->dc->size / 2;
  DiaRect grown = { region->x - h, region->y - h, region->width + 2 * h,
                    region->height + 2 * h };
  DiaRect inner;
  DiaSubtractPlan view = *plan;
  g_autoptr (DiaImage) raw = NULL;
  g_autoptr (DiaImage) raw_matched = NULL;
  DiaImage *score;
  gint64 t0;

  grown = dia_rect_intersect (&grown, &whole);
  /* A shallow copy of the plan whose "science image" is φ⋆S: the AL apply then forms
   * φ⋆S − K⋆T (− bg) with the masks and background handling of the template flavour. */
  view.science_image = d->preconvolved;
  if (!_dia_subtract_apply_al_raw (&view, &grown, result,
                                   _dia_subtract_result_keep_matched (result), monitor, error))
    return FALSE;
  raw = g_steal_pointer (&result->diff);
  raw_matched = g_steal_pointer (&result->matched);

  t0 = g_get_monotonic_time ();
  inner = (DiaRect) { region->x - grown.x, region->y - grown.y, region->width,
                      region->height };
  score = dia_decorrelation_apply (d->dc, raw, grown.x, grown.y, &inner, plan->science_image,
                                   plan->template_image, 1.0, plan->request.n_threads, monitor,
                                   error);
  if (score == NULL)
    return FALSE;
  if (!preconv_add_model_variance (plan, region, score, monitor, error))
    {
      dia_image_unref (score);
      return FALSE;
    }
  dia_image_freeze (score);
  result->diff = score;
  result->score = preconv_sigma_image (score, error);
  if (result->score == NULL)
    return FALSE;
  if (raw_matched != NULL)
    {
      result->matched = dia_image_crop (raw_matched, &inner, error);
      if (result->matched == NULL)
        return FALSE;
    }
  if (d->dc->psf != NULL)
    result->diff_psf = dia_psf_new_from_pixels (d->dc->psf, d->dc->psf_size, d->dc->psf_size,
                                                NULL);
  dia_subtract_timing_add (result->timings, "score filter",
                           (g_get_monotonic_time () - t0) / 1000.0);
  return TRUE;
}

static DiaRect
flavor_preconvolve_input_region (const DiaSubtractPlan *plan, const DiaRect *region)
{
  const PreconvData *d = plan->flavor_data;
  int h = (plan->kernel ? plan->kernel->config.size / 2 : 0) + (d ? d->dc->size / 2 : 0)
          + (d ? d->phi_size / 2 : 0) + 1;   /* + 1: the astrometric gradient */
  DiaRect grown = { region->x - h, region->y - h, region->width + 2 * h, region->height + 2 * h };
  DiaRect whole = { 0, 0, plan->science_image->width, plan->science_image->height };
  return dia_rect_intersect (&grown, &whole);
}

const DiaFlavorClass dia_flavor_preconvolve = {
  .id = DIA_FLAVOR_PRECONVOLVE,
  .name = "preconvolve",
  .label = N_("Preconvolution (score)"),
  .description = N_("Correlate the science image with its PSF, match the template to it and "
                    "output the optimal detection (score) image."),
  .caps = DIA_FLAVOR_CAP_KERNEL | DIA_FLAVOR_CAP_SCORE,
  .prepare = flavor_preconvolve_prepare,
  .apply = flavor_preconvolve_apply,
  .input_region = flavor_preconvolve_input_region,
};
