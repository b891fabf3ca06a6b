/* dia-fakes.c — fake-source injection, rerun, matching and recall statistics.
 *
 * Design.  The experiment is deliberately end to end, as the AP verification of §7: the
 * subtraction is rerun from scratch on the injected pair (bright fakes could in principle
 * become kernel stamps and spoil the fit, and that effect belongs in the measurement).  Fakes
 * are rendered with the plan's own PSF models, so the recall measures detection and not PSF
 * modelling errors; the S/N assigned to a fake is its PSF-weighted S/N against the baseline
 * difference's variance, the same definition the simulator uses for its transients, which
 * makes the expected SNR½ a closed-form function of the detection filter (dia-detect.h).
 * Randomness comes from DiaRng streams keyed by (seed, fake index), so the fakes do not depend
 * on the number of threads or on the order of work.
 *
 * SNR½ is fitted by maximum likelihood on the individual found/not-found outcomes with the
 * model ε(s) = ε_max Φ((s − c)/w): for a Gaussian detection statistic ν = s·η/k + N(0, 1)
 * thresholded at ν_t this is exact with c = ν_t k/η and w = k/η, so the fitted curve is the
 * physically expected one, not an arbitrary sigmoid.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-fakes.h"
#include "dia-error.h"
#include "dia-image.h"
#include "dia-json.h"
#include "dia-monitor.h"
#include "dia-psf.h"
#include "dia-rng.h"
#include "dia-stats.h"

#include <glib/gi18n-lib.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_sf_erf.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define FAKES_STREAM_DRAW   0x64726177u
#define FAKES_STREAM_NOISE  0x6e6f6973u

/* Σ P² / V of the unit PSF at (x, y) over usable pixels of the difference. */
static double
psf_inverse_variance (const DiaImage *diff, const DiaPsf *psf, double x, double y)
{
  int size = dia_psf_stamp_size (psf), h = size / 2;
  int ix = (int) floor (x + 0.5), iy = (int) floor (y + 0.5);
  g_autofree float *p = g_new (float, (size_t) size * size);
  double s = 0;
  dia_psf_render (psf, x, y, x - ix, y - iy, p, size);
  for (int v = -h; v <= h; v++)
    for (int u = -h; u <= h; u++)
      {
        int xx = ix + u, yy = iy + v;
        size_t i;
        double pp = p[(v + h) * size + u + h];
        if (xx < 0 || yy < 0 || xx >= diff->width || yy >= diff->height)
          continue;
        i = dia_image_index (diff, xx, yy);
        if ((diff->mask[i] & (DIA_MASK_BAD | DIA_MASK_NO_DATA)) || !(diff->var[i] > 0)
            || !isfinite (diff->var[i]))
          continue;
        s += pp * pp / diff->var[i];
      }
  return s;
}

static gboolean
core_usable (const DiaImage *im, int x, int y)
{
  for (int v = y - 1; v <= y + 1; v++)
    for (int u = x - 1; u <= x + 1; u++)
      {
        size_t i;
        if (u < 0 || v < 0 || u >= im->width || v >= im->height)
          return FALSE;
        i = dia_image_index (im, u, v);
        if (im->mask[i] & (DIA_MASK_UNUSABLE | DIA_MASK_CR | DIA_MASK_INTRP))
          return FALSE;
      }
  return TRUE;
}

GArray *
dia_fakes_draw (const DiaSubtractResult *baseline, const DiaFakesParams *params,
                GError **error)
{
  const DiaSubtractPlan *plan = baseline->plan;
  const DiaImage *diff = baseline->diff;
  const DiaPsf *psf = dia_subtract_result_get_diff_psf (baseline);
  int W = diff->width, H = diff->height;
  double fwhm, min_sep, border = params->border, zp = plan->science_image->meta.zeropoint;
  gboolean use_mag = params->mag_max > params->mag_min && isfinite (zp);
  GArray *fakes;
  DiaRng rng;
  int attempts = 0;

  if (psf == NULL)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("Fakes: the %s flavour provides no PSF for the difference"),
                   plan->flavor->name);
      return NULL;
    }
  if (!(params->snr_max >= params->snr_min) || params->snr_min <= 0 || params->n_fakes < 1
      || W - 2 * border < 8 || H - 2 * border < 8)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("Fakes: invalid request (n = %d, S/N %g–%g, border %g px on a %d×%d "
                     "image); use a positive S/N range and a border smaller than the image"),
                   params->n_fakes, params->snr_min, params->snr_max, border, W, H);
      return NULL;
    }
  fwhm = dia_psf_fwhm (psf, W / 2.0, H / 2.0);
  min_sep = 3.0 * (fwhm > 0 ? fwhm : 3.0);
  fakes = g_array_new (FALSE, TRUE, sizeof (DiaFake));
  dia_rng_init (&rng, (guint64) params->seed, FAKES_STREAM_DRAW);
  while ((int) fakes->len < params->n_fakes && attempts < 200 * params->n_fakes)
    {
      DiaFake f = { 0 };
      double u = dia_rng_uniform (&rng), ipv;
      gboolean ok = TRUE;
      attempts++;
      f.x = border + dia_rng_uniform (&rng) * (W - 1 - 2 * border);
      f.y = border + dia_rng_uniform (&rng) * (H - 1 - 2 * border);
      f.in_template = dia_rng_uniform (&rng) < params->template_fraction;
      for (guint k = 0; k < fakes->len && ok; k++)
        {
          const DiaFake *o = &g_array_index (fakes, DiaFake, k);
          ok = hypot (o->x - f.x, o->y - f.y) >= min_sep;
        }
      if (ok && !params->allow_masked)
        {
          int ix = (int) floor (f.x + 0.5), iy = (int) floor (f.y + 0.5);
          ok = core_usable (plan->science_image, ix, iy)
               && core_usable (plan->template_image, ix, iy)
               && core_usable (diff, ix, iy);
        }
      if (!ok)
        continue;
      ipv = psf_inverse_variance (diff, psf, f.x, f.y);
      if (!(ipv > 0))
        continue;
      if (use_mag)
        {
          double m = params->mag_min + u * (params->mag_max - params->mag_min);
          f.flux = pow (10.0, -0.4 * (m - zp));
          f.snr = f.flux * sqrt (ipv);
        }
      else
        {
          f.snr = exp (log (params->snr_min) + u * (log (params->snr_max) - log (params->snr_min)));
          f.flux = f.snr / sqrt (ipv);
        }
      f.x_meas = f.y_meas = f.psf_flux = f.psf_flux_err = f.snr_meas = NAN;
      f.forced_flux = f.forced_flux_err = NAN;
      g_array_append_val (fakes, f);
    }
  return fakes;
}

DiaImage *
dia_fakes_inject (const DiaImage *image, const DiaPsf *psf, const GArray *fakes,
                  gboolean is_template, double flux_scale, gboolean add_noise, guint64 seed,
                  GError **error)
{
  g_autoptr (DiaImage) out = dia_image_copy (image, error);
  int size, h;
  g_autofree float *p = NULL;

  if (out == NULL)
    return NULL;
  size = dia_psf_stamp_size (psf);
  h = size / 2;
  p = g_new (float, (size_t) size * size);
  for (guint k = 0; k < fakes->len; k++)
    {
      const DiaFake *f = &g_array_index (fakes, DiaFake, k);
      int ix = (int) floor (f->x + 0.5), iy = (int) floor (f->y + 0.5);
      double flux = f->flux * flux_scale;
      DiaRng rng;
      if (f->in_template != is_template)
        continue;
      dia_rng_init (&rng, seed ^ ((guint64) is_template << 40), FAKES_STREAM_NOISE + k);
      dia_psf_render (psf, f->x, f->y, f->x - ix, f->y - iy, p, size);
      for (int v = -h; v <= h; v++)
        for (int u = -h; u <= h; u++)
          {
            int x = ix + u, y = iy + v;
            size_t i;
            double m = flux * p[(v + h) * size + u + h];
            if (x < 0 || y < 0 || x >= out->width || y >= out->height)
              continue;
            i = dia_image_index (out, x, y);
            /* Photon noise of the fake itself (pixel values taken as electrons). */
            if (add_noise && m > 0)
              {
                out->pix[i] += (float) (m + sqrt (m) * dia_rng_gaussian (&rng));
                out->var[i] += (float) m;
              }
            else
              out->pix[i] += (float) m;
            if (abs (u) <= 1 && abs (v) <= 1)
              out->mask[i] |= DIA_MASK_FAKE;
          }
    }
  dia_image_freeze (out);
  return g_steal_pointer (&out);
}

void
dia_fakes_match (GArray *fakes, const DiaCatalog *catalog, const DiaImage *diff,
                 const DiaPsf *psf, double radius)
{
  const GArray *src = catalog->sources;
  /* Matching is on peaks, not only on source centroids: a positive and a negative fake close
   * enough for their grown footprints to touch become one (dipole-candidate) source with two
   * peaks, and each fake was still detected. */
  for (guint k = 0; k < fakes->len; k++)
    {
      DiaFake *f = &g_array_index (fakes, DiaFake, k);
      double best = radius, sign = f->in_template ? -1.0 : 1.0;
      const DiaSource *bs = NULL;
      const DiaPeak *bp = NULL;
      gboolean mutual = TRUE;
      f->found = FALSE;
      f->source_id = 0;
      dia_measure_psf_flux (diff, psf, f->x, f->y, &f->forced_flux, &f->forced_flux_err, NULL,
                            NULL, NULL);
      f->forced_flux *= sign;
      for (guint i = 0; i < src->len; i++)
        {
          const DiaSource *s = &g_array_index (src, DiaSource, i);
          for (int p = 0; p < s->n_peaks; p++)
            {
              const DiaPeak *pk = &g_array_index (catalog->peaks, DiaPeak, s->peak_first + p);
              double px = pk->x, py = pk->y, d;
              if (pk->significance * sign <= 0)
                continue;
              /* The source's own centroid stands for its primary peak. */
              if (pk->significance * s->snr > 0 && !s->is_dipole)
                px = s->x, py = s->y;
              d = hypot (px - f->x, py - f->y);
              if (d <= best)
                {
                  best = d;
                  bs = s;
                  bp = pk;
                }
            }
        }
      if (bs == NULL)
        continue;
      /* Mutual: no other fake of the same kind is closer to that peak. */
      for (guint j = 0; j < fakes->len && mutual; j++)
        {
          const DiaFake *o = &g_array_index (fakes, DiaFake, j);
          if (j != k && o->in_template == f->in_template
              && hypot (bp->x - o->x, bp->y - o->y) < hypot (bp->x - f->x, bp->y - f->y))
            mutual = FALSE;
        }
      if (!mutual)
        continue;
      f->found = TRUE;
      f->source_id = bs->id;
      f->snr_meas = fabs (bp->significance);
      if (bp->significance * bs->snr > 0 && !bs->is_dipole)
        {
          f->x_meas = bs->x;
          f->y_meas = bs->y;
          f->psf_flux = sign * bs->psf_flux;
          f->psf_flux_err = bs->psf_flux_err;
        }
      else
        {
          f->x_meas = bp->x;
          f->y_meas = bp->y;
          dia_measure_psf_flux (diff, psf, bp->x, bp->y, &f->psf_flux, &f->psf_flux_err, NULL,
                                NULL, NULL);
          f->psf_flux *= sign;
        }
    }
}

/* ---- error-function fit ------------------------------------------------------------------- */

typedef struct
{
  const double *s;
  const gboolean *k;
  int n;
} ErfData;

/* The width and plateau parameters are bounded.  With a few dozen fakes the likelihood keeps
 * improving as the transition sharpens (w → 0) or the plateau reaches 1 (logit → ∞) whenever
 * no fake sits on the wrong side, and the simplex then walks off without converging.  A
 * completeness curve cannot be sharper than the unit scatter of the measured S/N (w ≥ 0.25
 * leaves room for filter efficiencies above 1/4), and a plateau of 0.9995 is as good as 1. */
#define ERF_LOG_W_MIN  (-1.3862943611198906)    /* log 0.25 */
#define ERF_LOG_W_MAX  3.0
#define ERF_LOGIT_MAX  7.6                      /* ε_max = 0.9995 */

static double
erf_width (const gsl_vector *v)
{
  return exp (CLAMP (gsl_vector_get (v, 1), ERF_LOG_W_MIN, ERF_LOG_W_MAX));
}

static double
erf_plateau (const gsl_vector *v)
{
  return 1.0 / (1.0 + exp (-CLAMP (gsl_vector_get (v, 2), -10.0, ERF_LOGIT_MAX)));
}

static double
erf_nll (const gsl_vector *v, void *data)
{
  ErfData *d = data;
  double c = gsl_vector_get (v, 0), w = erf_width (v), e = erf_plateau (v), nll = 0;
  for (int i = 0; i < d->n; i++)
    {
      double p = e * gsl_cdf_ugaussian_P ((d->s[i] - c) / w);
      p = CLAMP (p, 1e-12, 1.0 - 1e-12);
      nll -= d->k[i] ? log (p) : log1p (-p);
    }
  return nll;
}

gboolean
dia_recall_fit_erf (const double *snr, const gboolean *found, int n, double *centre,
                    double *width, double *emax, double *s_half, double *s_half_err)
{
  ErfData d = { snr, found, n };
  gsl_multimin_function fn = { erf_nll, 3, &d };
  gsl_multimin_fminimizer *m;
  gsl_vector *x = gsl_vector_alloc (3), *step = gsl_vector_alloc (3);
  int status = GSL_CONTINUE, iter = 0, nf = 0;
  double c0 = 0, best = G_MAXDOUBLE;
  gboolean ok;

  *centre = *width = *emax = *s_half = *s_half_err = NAN;
  for (int i = 0; i < n; i++)
    nf += found[i] != 0;
  if (n < 10 || nf == 0 || nf == n)
    {
      gsl_vector_free (x);
      gsl_vector_free (step);
      return FALSE;
    }
  /* Start at the grid S/N with the best likelihood for w = 1, ε_max ≈ 0.98. */
  for (double c = 0.5; c < 50; c *= 1.05)
    {
      double val;
      gsl_vector_set (x, 0, c);
      gsl_vector_set (x, 1, 0.0);
      gsl_vector_set (x, 2, 4.0);
      val = erf_nll (x, &d);
      if (val < best)
        {
          best = val;
          c0 = c;
        }
    }
  gsl_vector_set (x, 0, c0);
  gsl_vector_set (step, 0, 0.5);
  gsl_vector_set (step, 1, 0.3);
  gsl_vector_set (step, 2, 1.0);
  m = gsl_multimin_fminimizer_alloc (gsl_multimin_fminimizer_nmsimplex2, 3);
  gsl_multimin_fminimizer_set (m, &fn, x, step);
  while (status == GSL_CONTINUE && iter++ < 5000)
    {
      if (gsl_multimin_fminimizer_iterate (m))
        break;
      /* 1e-4 in S/N and in the log-width: far below the S/N½ error; at a bound the simplex
       * shrinks slowly along the flat direction, so a tighter test may never be met. */
      status = gsl_multimin_test_size (gsl_multimin_fminimizer_size (m), 1e-4);
    }
  ok = status == GSL_SUCCESS;
  if (ok)
    {
      const gsl_vector *p = gsl_multimin_fminimizer_x (m);
      double c = gsl_vector_get (p, 0), w = erf_width (p), e = erf_plateau (p);
      gsl_vector *q = gsl_vector_alloc (3);
      double hstep = 0.01 * MAX (w, 0.1), l0, lp, lm, curv;
      *centre = c;
      *width = w;
      *emax = e;
      *s_half = e > 0.5 ? c + w * gsl_cdf_ugaussian_Pinv (0.5 / e) : NAN;
      /* Error of the centre from the curvature of −log L (other parameters at their best). */
      gsl_vector_memcpy (q, p);
      l0 = erf_nll (q, &d);
      gsl_vector_set (q, 0, c + hstep);
      lp = erf_nll (q, &d);
      gsl_vector_set (q, 0, c - hstep);
      lm = erf_nll (q, &d);
      curv = (lp + lm - 2 * l0) / (hstep * hstep);
      *s_half_err = curv > 0 ? 1.0 / sqrt (curv) : NAN;
      gsl_vector_free (q);
    }
  gsl_multimin_fminimizer_free (m);
  gsl_vector_free (x);
  gsl_vector_free (step);
  return ok;
}

/* ---- the experiment ----------------------------------------------------------------------- */

void
dia_recovery_free (DiaRecovery *recovery)
{
  if (recovery == NULL)
    return;
  if (recovery->fakes)
    g_array_unref (recovery->fakes);
  if (recovery->bins)
    g_array_unref (recovery->bins);
  g_free (recovery);
}

static double
robust_sigma_of (GArray *v)
{
  DiaStats st;
  if (v->len < 3 || !dia_stats_compute ((float *) v->data, v->len, &st, NULL))
    return NAN;
  return st.robust_sigma;
}

static double
median_of (GArray *v)
{
  g_autofree float *scratch = NULL;
  if (v->len == 0)
    return NAN;
  scratch = g_new (float, v->len);
  return dia_stats_median ((float *) v->data, v->len, scratch);
}

static void
recovery_summarise (DiaRecovery *rec)
{
  static const double edges[] = { 0, 3, 5, 6, 8, 10, 20, 50, INFINITY };
  g_autoptr (GArray) frac = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr (GArray) pull = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr (GArray) cdx = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr (GArray) cdy = g_array_new (FALSE, FALSE, sizeof (float));
  g_autofree double *s = g_new (double, MAX (1u, rec->fakes->len));
  g_autofree gboolean *k = g_new (gboolean, MAX (1u, rec->fakes->len));
  double r2 = 0;
  int n10 = 0, f10 = 0;

  rec->bins = g_array_new (FALSE, TRUE, sizeof (DiaRecallBin));
  for (size_t b = 0; b + 1 < G_N_ELEMENTS (edges); b++)
    {
      DiaRecallBin bin = { edges[b], edges[b + 1], 0, 0 };
      g_array_append_val (rec->bins, bin);
    }
  for (guint i = 0; i < rec->fakes->len; i++)
    {
      const DiaFake *f = &g_array_index (rec->fakes, DiaFake, i);
      s[i] = f->snr;
      k[i] = f->found;
      for (guint b = 0; b < rec->bins->len; b++)
        {
          DiaRecallBin *bin = &g_array_index (rec->bins, DiaRecallBin, b);
          if (f->snr >= bin->lo && f->snr < bin->hi)
            {
              bin->n++;
              bin->n_found += f->found;
            }
        }
      if (f->snr > 10)
        {
          n10++;
          f10 += f->found;
        }
      if (f->snr > 20 && f->found && isfinite (f->psf_flux))
        {
          float v = (float) ((f->psf_flux - f->flux) / f->flux);
          float pl = (float) ((f->psf_flux - f->flux) / f->psf_flux_err);
          float dx = (float) (f->x_meas - f->x), dy = (float) (f->y_meas - f->y);
          g_array_append_val (frac, v);
          g_array_append_val (pull, pl);
          g_array_append_val (cdx, dx);
          g_array_append_val (cdy, dy);
          r2 += dx * dx + dy * dy;
        }
    }
  rec->recall_above_10 = n10 ? (double) f10 / n10 : NAN;
  rec->n_bright = (int) frac->len;
  rec->flux_bias = median_of (frac);
  rec->flux_scatter = robust_sigma_of (frac);
  rec->flux_pull_sigma = robust_sigma_of (pull);
  rec->centroid_dx = median_of (cdx);
  rec->centroid_dy = median_of (cdy);
  rec->centroid_rms = frac->len ? sqrt (r2 / frac->len) : NAN;
  dia_recall_fit_erf (s, k, (int) rec->fakes->len, &rec->erf_centre, &rec->erf_width,
                      &rec->erf_max, &rec->snr_half, &rec->snr_half_err);
}

DiaRecovery *
dia_fakes_run (DiaImage *tmpl, DiaImage *sci, const DiaSubtractRequest *request,
               DiaMonitor *monitor, GError **error)
{
  const DiaFakesParams *fp = &request->fakes;
  g_autoptr (DiaRecovery) rec = g_new0 (DiaRecovery, 1);
  g_autoptr (DiaSubtractResult) base = NULL;
  g_autoptr (DiaSubtractResult) injected = NULL;
  g_autoptr (DiaCatalog) base_cat = NULL;
  g_autoptr (DiaCatalog) cat = NULL;
  g_autoptr (DiaImage) sci2 = NULL;
  g_autoptr (DiaImage) tmpl2 = NULL;
  const DiaSubtractPlan *plan;
  const DiaPsf *psf;
  gboolean any_template = FALSE;
  double tscale;
  gint64 t0 = g_get_monotonic_time ();

  base = dia_subtract_run (tmpl, sci, request, FALSE, monitor, error);
  if (base == NULL)
    {
      g_prefix_error (error, _("Recovery, baseline subtraction: "));
      return NULL;
    }
  base_cat = dia_detect_and_measure (base, NULL, monitor, error);
  if (base_cat == NULL)
    return NULL;
  rec->baseline_ms = (g_get_monotonic_time () - t0) / 1000.0;
  plan = base->plan;
  rec->fakes = dia_fakes_draw (base, fp, error);
  if (rec->fakes == NULL)
    return NULL;
  for (guint i = 0; i < rec->fakes->len; i++)
    any_template |= g_array_index (rec->fakes, DiaFake, i).in_template;
  if (plan->psf_science == NULL || (any_template && plan->psf_template == NULL))
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("Recovery: the %s flavour has no PSF models to draw fakes with"),
                   plan->flavor->name);
      return NULL;
    }
  t0 = g_get_monotonic_time ();
  sci2 = dia_fakes_inject (sci, plan->psf_science, rec->fakes, FALSE, 1.0, fp->add_noise,
                           (guint64) fp->seed, error);
  if (sci2 == NULL)
    return NULL;
  tscale = plan->info.convolve_template && plan->info.kernel_sum_centre > 0
               ? 1.0 / plan->info.kernel_sum_centre : 1.0;
  tmpl2 = any_template ? dia_fakes_inject (tmpl, plan->psf_template, rec->fakes, TRUE, tscale,
                                           fp->add_noise, (guint64) fp->seed, error)
                       : dia_image_ref (tmpl);
  if (tmpl2 == NULL)
    return NULL;
  injected = dia_subtract_run (tmpl2, sci2, request, FALSE, monitor, error);
  if (injected == NULL)
    {
      g_prefix_error (error, _("Recovery, subtraction with fakes: "));
      return NULL;
    }
  cat = dia_detect_and_measure (injected, NULL, monitor, error);
  if (cat == NULL)
    return NULL;
  rec->injected_ms = (g_get_monotonic_time () - t0) / 1000.0;
  psf = dia_subtract_result_get_diff_psf (injected);
  dia_fakes_match (rec->fakes, cat, injected->diff, psf, fp->match_radius);

  rec->n_pixels = cat->n_pixels;
  rec->n_sources = (int) cat->sources->len;
  rec->n_baseline = (int) base_cat->sources->len;
  rec->sn_scale = cat->sn_scale;
  if (cat->smooth_sigma > 0)
    {
      rec->filter_efficiency = dia_detect_filter_efficiency (psf, sci->width / 2.0,
                                                             sci->height / 2.0, cat->smooth_sigma);
      rec->expected_snr_half = cat->params.threshold * cat->sn_scale / rec->filter_efficiency;
    }
  else
    rec->filter_efficiency = rec->expected_snr_half = NAN;
  {
    int n_unmatched = 0, n_fp = 0;
    for (guint i = 0; i < cat->sources->len; i++)
      {
        const DiaSource *s = &g_array_index (cat->sources, DiaSource, i);
        gboolean matched = FALSE, in_base = FALSE;
        for (guint k = 0; k < rec->fakes->len && !matched; k++)
          matched = g_array_index (rec->fakes, DiaFake, k).source_id == s->id;
        if (matched)
          continue;
        n_unmatched++;
        for (guint b = 0; b < base_cat->sources->len && !in_base; b++)
          {
            const DiaSource *o = &g_array_index (base_cat->sources, DiaSource, b);
            in_base = hypot (o->x - s->x, o->y - s->y) <= MAX (fp->match_radius, 3.0);
          }
        n_fp += !in_base;
      }
    rec->n_unmatched = n_unmatched;
    rec->fp_per_mpix = rec->n_pixels > 0 ? n_fp / (rec->n_pixels / 1e6) : NAN;
    rec->baseline_per_mpix = base_cat->n_pixels > 0
                                 ? base_cat->sources->len / (base_cat->n_pixels / 1e6) : NAN;
  }
  recovery_summarise (rec);
  return g_steal_pointer (&rec);
}

gboolean
dia_recovery_write_csv (const DiaRecovery *rec, const char *path, GError **error)
{
  GString *o = g_string_new ("x,y,flux,snr,inTemplate,found,diaSourceId,xMeas,yMeas,psfFlux,"
                             "psfFluxErr,snrMeas,forcedPsfFlux,forcedPsfFluxErr\n");
  gboolean ok;
  for (guint i = 0; i < rec->fakes->len; i++)
    {
      const DiaFake *f = &g_array_index (rec->fakes, DiaFake, i);
      double v[] = { f->x, f->y, f->flux, f->snr };
      double m[] = { f->x_meas, f->y_meas, f->psf_flux, f->psf_flux_err, f->snr_meas,
                     f->forced_flux, f->forced_flux_err };
      char buf[G_ASCII_DTOSTR_BUF_SIZE];
      for (size_t k = 0; k < G_N_ELEMENTS (v); k++)
        g_string_append_printf (o, "%s,", g_ascii_formatd (buf, sizeof buf, "%.8g", v[k]));
      g_string_append_printf (o, "%d,%d,%d", f->in_template, f->found, f->source_id);
      for (size_t k = 0; k < G_N_ELEMENTS (m); k++)
        g_string_append_printf (o, ",%s",
                                isfinite (m[k]) ? g_ascii_formatd (buf, sizeof buf, "%.8g", m[k])
                                                : "nan");
      g_string_append_c (o, '\n');
    }
  ok = g_file_set_contents (path, o->str, (gssize) o->len, error);
  g_string_free (o, TRUE);
  return ok;
}

gboolean
dia_recovery_write_json (const DiaRecovery *rec, const char *path, GError **error)
{
  g_autoptr (DiaJson) j = dia_json_new ();
  int n_found = 0;
  for (guint i = 0; i < rec->fakes->len; i++)
    n_found += g_array_index (rec->fakes, DiaFake, i).found;
  dia_json_begin_object (j, NULL);
  dia_json_int (j, "n_fakes", rec->fakes->len);
  dia_json_int (j, "n_found", n_found);
  dia_json_double (j, "snr_half", rec->snr_half);
  dia_json_double (j, "snr_half_err", rec->snr_half_err);
  dia_json_double (j, "expected_snr_half", rec->expected_snr_half);
  dia_json_double (j, "filter_efficiency", rec->filter_efficiency);
  dia_json_double (j, "sn_scale", rec->sn_scale);
  dia_json_begin_object (j, "erf_fit");
  dia_json_double (j, "centre", rec->erf_centre);
  dia_json_double (j, "width", rec->erf_width);
  dia_json_double (j, "max", rec->erf_max);
  dia_json_end_object (j);
  dia_json_double (j, "recall_snr_above_10", rec->recall_above_10);
  dia_json_begin_array (j, "recall_bins");
  for (guint b = 0; b < rec->bins->len; b++)
    {
      const DiaRecallBin *bin = &g_array_index (rec->bins, DiaRecallBin, b);
      dia_json_begin_object (j, NULL);
      dia_json_double (j, "snr_lo", bin->lo);
      dia_json_double (j, "snr_hi", isfinite (bin->hi) ? bin->hi : NAN);
      dia_json_int (j, "n", bin->n);
      dia_json_int (j, "found", bin->n_found);
      dia_json_double (j, "recall", bin->n ? (double) bin->n_found / bin->n : NAN);
      dia_json_end_object (j);
    }
  dia_json_end_array (j);
  dia_json_int (j, "n_bright", rec->n_bright);
  dia_json_double (j, "psf_flux_bias", rec->flux_bias);
  dia_json_double (j, "psf_flux_scatter", rec->flux_scatter);
  dia_json_double (j, "psf_flux_pull_sigma", rec->flux_pull_sigma);
  dia_json_double (j, "centroid_dx", rec->centroid_dx);
  dia_json_double (j, "centroid_dy", rec->centroid_dy);
  dia_json_double (j, "centroid_rms", rec->centroid_rms);
  dia_json_int (j, "pixels", rec->n_pixels);
  dia_json_int (j, "sources", rec->n_sources);
  dia_json_int (j, "unmatched_sources", rec->n_unmatched);
  dia_json_double (j, "false_positives_per_mpix", rec->fp_per_mpix);
  dia_json_double (j, "baseline_sources_per_mpix", rec->baseline_per_mpix);
  dia_json_double (j, "baseline_ms", rec->baseline_ms);
  dia_json_double (j, "injected_ms", rec->injected_ms);
  dia_json_end_object (j);
  return dia_json_write_file (j, path, error);
}
