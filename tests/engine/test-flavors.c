/* test-flavors.c — decorrelation, preconvolution (score), ZOGY and variance scaling.
 *
 * Acceptance numbers (issue "Engine: pre-convolution (score image), ZOGY, decorrelation
 * afterburner, variance scaling"), on simulated pairs in both regimes (science broader,
 * science sharper = deconvolution regime):
 *   - every flavour: robust σ of D/√V (difference flavours, decorrelated) and of the score in
 *     σ units (score flavours) = 1.00 ± 0.05 in empty sky;
 *   - transient-free pairs: 5σ detections (local extrema of the S/N image) ≤ 1.5 × the
 *     Gaussian-noise expectation (with a floor of one detection, see count_detections), for
 *     every flavour with its defaults, including the AL directions that would deconvolve
 *     (dia-flavor-al.c preconvolves the sharper image and says so in the plan);
 *   - score images: the peak S/N of injected point sources matches the optimal
 *     S/N_opt² = F² (1/N) Σ_k |P̂_S|² |P̂_T|² / (σ_S² |P̂_T|² + σ_T² |P̂_S|²) within 10 %;
 *   - region runs equal crops; the filter preserves flux and whitens white noise exactly;
 *   - the preconvolution kernel orientation (ALGORITHMS.md §10 item 2), measured;
 *   - variance scaling recovers a known mis-scaling of the variance planes.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "test-util.h"
#include "dia-convolve.h"
#include "dia-decorrelate.h"
#include "dia-error.h"
#include "dia-image.h"
#include "dia-params.h"
#include "dia-psf.h"
#include "dia-scale-variance.h"
#include "dia-sim.h"
#include "dia-stats.h"
#include "dia-subtract.h"

#include <math.h>
#include <string.h>

#define TEST_SIZE 1024

typedef struct
{
  DiaImage *tmpl, *sci;
  DiaSimTruth *truth;
} Pair;

static void
pair_make (Pair *p, int size, guint64 seed, DiaSimRegime regime, gboolean quiet)
{
  DiaSimParams sp;
  g_autoptr (GError) error = NULL;
  dia_sim_params_init (&sp, size, size, seed);
  sp.regime = regime;
  if (quiet)
    {
      /* Transient-free: nothing that really changed between the epochs. */
      sp.n_transients = 0;
      sp.n_variables = 0;
      sp.moving_object = FALSE;
      sp.n_cosmic_rays = 0;
    }
  g_assert_true (dia_sim_generate (&sp, &p->tmpl, &p->sci, &p->truth, NULL, &error));
  g_assert_no_error (error);
}

static void
pair_clear (Pair *p)
{
  dia_image_unref (p->tmpl);
  dia_image_unref (p->sci);
  dia_sim_truth_free (p->truth);
}

/* 1 where no truth source lies within a flux-dependent radius, in both images. */
static guint8 *
sky_map (const Pair *p, int border)
{
  return test_sim_sky_map (p->truth, p->sci->width, p->sci->height, border);
}

/* The significance image of a result: the score (score flavours) or D/√V. */
static float *
snr_image (const DiaSubtractResult *r)
{
  const DiaImage *d = r->score ? r->score : r->diff;
  float *s = g_new (float, (size_t) d->width * d->height);
  for (int y = 0; y < d->height; y++)
    for (int x = 0; x < d->width; x++)
      {
        size_t i = dia_image_index (d, x, y);
        float v = r->score ? 1.0f : d->var[i];
        s[(size_t) y * d->width + x] = (v > 0 && isfinite (v) && isfinite (d->pix[i]))
                                         ? d->pix[i] / sqrtf (v) : NAN;
      }
  return s;
}

static double
robust_sigma_where (const float *snr, const DiaImage *d, const guint8 *sel)
{
  g_autofree float *v = g_new (float, (size_t) d->width * d->height);
  gint64 m = 0;
  DiaStats st;
  for (int y = 0; y < d->height; y++)
    for (int x = 0; x < d->width; x++)
      {
        size_t i = (size_t) y * d->width + x;
        if (sel[i] && !d->mask[dia_image_index (d, x, y)] && isfinite (snr[i]))
          v[m++] = snr[i];
      }
  g_assert_cmpint (m, >, 10000);
  g_assert_true (dia_stats_compute (v, m, &st, NULL));
  return st.robust_sigma;
}

/* Local extrema (8 neighbours) of the S/N image beyond ±5 on usable pixels, and the number a
 * pure Gaussian white-noise image of the same usable area would give: n × 2 Q(5). */
static int
count_detections (const float *snr, const DiaImage *d, int border, double *expected)
{
  const DiaMask bad = DIA_MASK_UNUSABLE | DIA_MASK_CR;
  int n = 0;
  gint64 usable = 0;
  for (int y = border; y < d->height - border; y++)
    for (int x = border; x < d->width - border; x++)
      {
        size_t i = (size_t) y * d->width + x;
        float v = snr[i];
        gboolean ext = TRUE;
        if (d->mask[dia_image_index (d, x, y)] & bad)
          continue;
        usable++;
        if (!(fabsf (v) > 5.0f))
          continue;
        for (int dy = -1; dy <= 1 && ext; dy++)
          for (int dx = -1; dx <= 1 && ext; dx++)
            {
              float u = snr[i + (gint64) dy * d->width + dx];
              if ((dx || dy) && isfinite (u) && (v > 0 ? u > v : u < v))
                ext = FALSE;
            }
        n += ext;
        if (ext && g_getenv ("FLAVORS_DEBUG"))
          g_test_message ("  detection at %d,%d: %.1f σ mask %x", x, y, v,
                          d->mask[dia_image_index (d, x, y)]);
      }
  *expected = usable * 2.0 * 0.5 * erfc (5.0 / G_SQRT2);
  return n;
}

/* no_terms: the astrometric and PSF-model variance terms off (σ_a = ε = 0); else defaults. */
static DiaSubtractResult *
run_flavor (const Pair *p, const char *flavor, gboolean decorrelate, gboolean no_terms)
{
  DiaSubtractRequest req;
  g_autoptr (GError) error = NULL;
  DiaSubtractResult *r;
  dia_subtract_request_init (&req);
  g_assert_true (dia_params_set (&req, "flavor", flavor, &error));
  req.decorrelate = decorrelate;
  if (no_terms)
    req.zogy_astrometric_sigma = req.astrometric_sigma = req.model_error = 0;
  r = dia_subtract_run (p->tmpl, p->sci, &req, FALSE, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (r);
  return r;
}

typedef struct
{
  const char *flavor;
  DiaSimRegime regime;
  gboolean no_terms;            /* astrometric and PSF-model terms off                 */
} FlavorCase;

/* σ in empty sky and false positives on a transient-free pair. */
static void
test_flavor_noise (gconstpointer data)
{
  const FlavorCase *c = data;
  Pair p;
  g_autoptr (DiaSubtractResult) r = NULL;
  g_autofree guint8 *sky = NULL;
  g_autofree float *snr = NULL;
  gboolean diff_flavor = g_strcmp0 (c->flavor, "preconvolve") && g_strcmp0 (c->flavor, "zogy");
  double sigma, expected;
  int n_det;

  pair_make (&p, TEST_SIZE, 21, c->regime, TRUE);
  r = run_flavor (&p, c->flavor, diff_flavor && !g_getenv ("FLAVORS_NO_DECORR"), c->no_terms);
  snr = snr_image (r);
  sky = sky_map (&p, 30);
  sigma = robust_sigma_where (snr, r->score ? r->score : r->diff, sky);
  n_det = count_detections (snr, r->score ? r->score : r->diff, 30, &expected);
  g_test_message ("%s/%s: sky σ %.4f, 5σ detections %d (Gaussian expectation %.2f), "
                  "pipeline σ ratio %.4f", c->flavor,
                  c->regime == DIA_SIM_SCIENCE_BROADER ? "broader" : "sharper", sigma, n_det,
                  expected, r->diff_sigma_ratio);
  if (g_getenv ("FLAVORS_DEBUG"))
    for (guint i = 0; i < p.truth->sources->len; i++)
      {
        const DiaSimSource *s = &g_array_index (p.truth->sources, DiaSimSource, i);
        if (MAX (s->flux_science, s->flux_template) > 3e5)
          g_test_message ("  bright source at %.1f,%.1f flux %.3g", s->x, s->y, s->flux_science);
      }
  g_assert_cmpfloat (fabs (sigma - 1.0), <, 0.05);
  /* With ~1e6 usable pixels the expectation is ≈ 0.5, so "≤ 1.5 ×" would demand exactly zero
   * and make the test a coin toss on a single noise peak; one detection is allowed as the
   * floor (Poisson: P(≥ 2 | 0.5) = 9 %, P(≥ 2 | 0.3) = 4 %, so a real excess still fails). */
  /* With the defaults (astrometric and PSF-model terms on, forced directions preconvolved)
   * every flavour must meet the target outright in both regimes. */
  if (!c->no_terms)
    g_assert_cmpint (n_det, <=, MAX (1.5 * expected, 1.0));
  else if (n_det > MAX (1.5 * expected, 1.0))
    {
      /* Without the terms (σ_a = ε = 0), what they buy, listed in docs/flavors.md:
       * preconvolution 6 / 7, ZOGY 3 / 8, the forced AL directions 9 / 3 (broader / sharper
       * or template / science).  Hard ceilings a few times those catch regressions of the
       * fits themselves. */
      g_assert_cmpint (n_det, <=, 30);
      g_test_incomplete ("without the model-error terms: more 5σ detections than Gaussian "
                         "noise gives (see docs/flavors.md)");
    }
  if (diff_flavor && r->plan->kernel != NULL)
    g_assert_nonnull (r->diff_psf);
  /* A direction that would deconvolve is preconvolved (template with the sharper science
   * image, science with the broader one), says so in the plan, and D has the smoothed PSF. */
  {
    gboolean forced = (c->regime == DIA_SIM_SCIENCE_SHARPER && !g_strcmp0 (c->flavor, "template"))
                      || (c->regime == DIA_SIM_SCIENCE_BROADER && !g_strcmp0 (c->flavor, "science"));
    double fwhm_u = r->plan->info.convolve_template ? r->plan->info.fwhm_science
                                                    : r->plan->info.fwhm_template;
    g_test_message ("  forced preconvolution FWHM %.3f px", r->plan->info.forced_preconvolve_fwhm);
    if (!forced)
      g_assert_cmpfloat (r->plan->info.forced_preconvolve_fwhm, ==, 0.0);
    else
      {
        g_assert_cmpfloat (r->plan->info.forced_preconvolve_fwhm, >, 1.0);
        g_assert_true (r->plan->info.convolve_template == !g_strcmp0 (c->flavor, "template"));
        g_assert_nonnull (r->diff_psf);
        g_test_message ("  D's PSF FWHM %.3f px (unconvolved input %.3f px)",
                        dia_psf_fwhm (r->diff_psf, 0, 0), fwhm_u);
        g_assert_cmpfloat (dia_psf_fwhm (r->diff_psf, 0, 0), >, 1.05 * fwhm_u);
      }
  }
  pair_clear (&p);
}

/* Optimal S/N of a point source of flux f with PSFs ps (science) and pt (template), size²
 * each, and white-noise variances vs, vt (both on the science flux scale). */
static double
optimal_snr (const float *ps, const float *pt, int size, double vs, double vt, double f)
{
  g_autoptr (DiaFftCache) cache = dia_fft_cache_new ();
  int n = dia_filter_grid_size (size, 1, 1), nh = n / 2 + 1;
  fftwf_complex *a = dia_filter_spectrum (cache, ps, size, n);
  fftwf_complex *b = dia_filter_spectrum (cache, pt, size, n);
  double s = 0;
  for (int j = 0; j < n; j++)
    for (int i = 0; i < nh; i++)
      {
        size_t k = (size_t) j * nh + i;
        double a2 = a[k][0] * (double) a[k][0] + a[k][1] * (double) a[k][1];
        double b2 = b[k][0] * (double) b[k][0] + b[k][1] * (double) b[k][1];
        double t = a2 * b2 / (vs * b2 + vt * a2 + 1e-300);
        s += (i == 0 || i == n / 2) ? t : 2 * t;
      }
  fftwf_free (a);
  fftwf_free (b);
  return f * sqrt (s / ((double) n * n));
}

/* Peak S/N of injected point sources in the score image against the optimal expectation. */
static void
test_score_peak_snr (gconstpointer data)
{
  const FlavorCase *c = data;
  Pair p;
  g_autoptr (DiaImage) sci = NULL;
  g_autoptr (DiaSubtractResult) r = NULL;
  g_autofree guint8 *sky = NULL;
  DiaSubtractRequest req;
  g_autoptr (GError) error = NULL;
  const int size = 41, hs = size / 2;
  g_autofree float *ps = g_new (float, size * size);
  g_autofree float *pt = g_new (float, size * size);
  GArray *pos = g_array_new (FALSE, FALSE, sizeof (int));
  double sum_ratio = 0, sum2 = 0;
  int n = 0;

  pair_make (&p, TEST_SIZE, 33, c->regime, TRUE);
  sky = sky_map (&p, 60);
  sci = dia_image_copy (p.sci, &error);
  g_assert_no_error (error);
  /* Noiseless sources (their own photon noise would lower the S/N below the background-limited
   * optimum) at integer positions, on a 64-px grid wherever the sky is empty. */
  for (int y = 64; y < TEST_SIZE - 64; y += 64)
    for (int x = 64; x < TEST_SIZE - 64; x += 64)
      {
        gboolean empty = TRUE;
        for (int v = -6; v <= 6 && empty; v++)
          for (int u = -6; u <= 6 && empty; u++)
            empty = sky[(y + v) * TEST_SIZE + (x + u)] != 0;
        if (!empty)
          continue;
        dia_sim_truth_psf (p.truth, TRUE, x, y, 3e4, ps, size);
        for (int v = -hs; v <= hs; v++)
          for (int u = -hs; u <= hs; u++)
            sci->pix[dia_image_index (sci, x + u, y + v)] += 8000.0f * ps[(v + hs) * size + u + hs];
        g_array_append_val (pos, x);
        g_array_append_val (pos, y);
      }
  dia_image_freeze (sci);
  g_assert_cmpuint (pos->len / 2, >=, 15);

  dia_subtract_request_init (&req);
  g_assert_true (dia_params_set (&req, "flavor", c->flavor, &error));
  r = dia_subtract_run (p.tmpl, sci, &req, FALSE, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (r->score);
  for (guint k = 0; k < pos->len; k += 2)
    {
      int x = g_array_index (pos, int, k), y = g_array_index (pos, int, k + 1);
      size_t i = dia_image_index (sci, x, y);
      double vs = p.sci->var[i], vt = p.tmpl->var[i], opt, meas, ratio;
      dia_sim_truth_psf (p.truth, TRUE, x, y, 3e4, ps, size);
      dia_sim_truth_psf (p.truth, FALSE, x, y, 3e4, pt, size);
      /* Local sky variances: the median of the inputs' variance over the source box. */
      {
        float a[81], b[81];
        int m = 0;
        for (int v = -4; v <= 4; v++)
          for (int u = -4; u <= 4; u++)
            {
              size_t j = dia_image_index (p.sci, x + u, y + v);
              a[m] = p.sci->var[j];
              b[m++] = p.tmpl->var[j];
            }
        vs = dia_stats_select (a, 81, 40);
        vt = dia_stats_select (b, 81, 40);
      }
      opt = optimal_snr (ps, pt, size, vs, vt, 8000.0);
      meas = r->score->pix[dia_image_index (r->score, x, y)];
      ratio = meas / opt;
      sum_ratio += ratio;
      sum2 += ratio * ratio;
      n++;
    }
  {
    double mean = sum_ratio / n, sd = sqrt (MAX (sum2 / n - mean * mean, 0));
    g_test_message ("%s/%s: %d injected sources, peak S/N / optimal = %.3f (scatter %.3f, "
                    "optimal S/N ≈ %.1f)", c->flavor,
                    c->regime == DIA_SIM_SCIENCE_BROADER ? "broader" : "sharper", n, mean, sd,
                    optimal_snr (ps, pt, size, p.sci->var[0], p.tmpl->var[0], 8000.0));
    g_assert_cmpfloat (fabs (mean - 1.0), <, 0.10);
  }
  g_array_unref (pos);
  pair_clear (&p);
}

/* Region runs equal the crop of the full-frame run (score flavours and the afterburner). */
static void
test_region_crop (gconstpointer data)
{
  const char *flavor = data;
  Pair p;
  DiaSubtractRequest req;
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaSubtractPlan) plan = NULL;
  g_autoptr (DiaSubtractResult) full = NULL;
  DiaRect rects[] = { { 100, 200, 300, 250 }, { 0, 0, 64, 64 }, { 448, 300, 64, 212 } };

  pair_make (&p, 512, 11, DIA_SIM_SCIENCE_BROADER, FALSE);
  dia_subtract_request_init (&req);
  g_assert_true (dia_params_set (&req, "flavor", flavor, &error));
  req.decorrelate = TRUE;
  /* The astrometric terms (on by default) are exercised across the region border. */
  plan = dia_subtract_plan (p.tmpl, p.sci, &req, NULL, &error);
  g_assert_no_error (error);
  full = dia_subtract_execute (plan, NULL, FALSE, NULL, &error);
  g_assert_no_error (error);
  for (guint k = 0; k < G_N_ELEMENTS (rects); k++)
    {
      g_autoptr (DiaSubtractResult) part = dia_subtract_execute (plan, &rects[k], FALSE, NULL,
                                                                 &error);
      double maxrel = 0, maxs = 0;
      g_assert_no_error (error);
      for (int y = 0; y < rects[k].height; y++)
        for (int x = 0; x < rects[k].width; x++)
          {
            size_t i = dia_image_index (part->diff, x, y);
            size_t j = dia_image_index (full->diff, rects[k].x + x, rects[k].y + y);
            double scale = MAX (1.0, sqrt (full->diff->var[j]));
            g_assert_cmpuint (part->diff->mask[i], ==, full->diff->mask[j]);
            if (!isfinite (full->diff->var[j]))
              continue;
            maxrel = MAX (maxrel, fabs (part->diff->pix[i] - full->diff->pix[j]) / scale);
            g_assert_cmpfloat (fabs (part->diff->var[i] - full->diff->var[j]), <=,
                               1e-4 * full->diff->var[j] + 1e-3);
            if (full->score)
              maxs = MAX (maxs, fabs (part->score->pix[dia_image_index (part->score, x, y)]
                                      - full->score->pix[dia_image_index (full->score,
                                                                          rects[k].x + x,
                                                                          rects[k].y + y)]));
          }
      g_test_message ("%s region %u: max |Δ| / σ = %.3g, score %.3g", flavor, k, maxrel, maxs);
      g_assert_cmpfloat (maxrel, <, 1e-3);
      g_assert_cmpfloat (maxs, <, 1e-3);
    }
  pair_clear (&p);
}

/* The difference-mode filter on a known kernel: unit sum, flat noise power (the weights make
 * white input noise exactly σ_u² + σ_c² κ_sum²), identity for a noiseless template. */
static void
test_filter_properties (void)
{
  const int ks = 21, h = ks / 2;
  float k[21 * 21];
  double sum = 0;
  g_autoptr (GError) error = NULL;
  DiaDecorrelation *dc;

  for (int v = -h; v <= h; v++)
    for (int u = -h; u <= h; u++)
      sum += k[(v + h) * ks + u + h] = expf (-(u * u + v * v) / (2 * 2.0f * 2.0f));
  for (int i = 0; i < ks * ks; i++)
    k[i] *= 1.1 / sum;
  dc = dia_decorrelation_new (DIA_DECORRELATE_DIFFERENCE, k, ks, NULL, 0, NULL, 0, 100.0, 50.0,
                              &error);
  g_assert_no_error (error);
  {
    double s = 0;
    for (int i = 0; i < dc->size * dc->size; i++)
      s += dc->filter[i];
    g_assert_cmpfloat (fabs (s - 1.0), <, 1e-5);
  }
  g_test_message ("filter %d×%d, weights %.4f %.4f, high-k gain %.3f", dc->size, dc->size,
                  dc->weight_u, dc->weight_c, dc->high_k_gain);
  g_assert_cmpfloat (fabs (dc->weight_u * 100 + dc->weight_c * 50 - (100 + 50 * 1.21)) / 160.5,
                     <, 5e-3);
  g_assert_cmpfloat (fabs (dc->high_k_gain - sqrt (1 + 0.5 * 1.21)), <, 1e-3);
  g_assert_cmpint (dc->size, <, 41);
  dia_decorrelation_free (dc);

  dc = dia_decorrelation_new (DIA_DECORRELATE_DIFFERENCE, k, ks, NULL, 0, NULL, 0, 100.0, 0.0,
                              &error);
  g_assert_cmpint (dc->size, ==, 1);
  g_assert_cmpfloat (fabs (dc->filter[0] - 1.0), <, 1e-6);
  dia_decorrelation_free (dc);

  g_assert_null (dia_decorrelation_new (DIA_DECORRELATE_DIFFERENCE, k, ks, NULL, 0, NULL, 0,
                                        NAN, 1.0, &error));
  g_assert_error (error, DIA_ERROR, DIA_ERROR_INVALID);
}

/* §10 item 2: which orientation of an asymmetric PSF is the matched filter? */
static void
test_preconvolve_orientation (void)
{
  const int ps = 21, h = ps / 2, w = 96;
  float p[21 * 21], refl[21 * 21];
  g_autofree float *img = g_new0 (float, w * w);
  g_autofree float *a = g_new0 (float, w * w);
  g_autofree float *b = g_new0 (float, w * w);
  double sum = 0, sp2 = 0;
  int ia = 0, ib = 0;
  g_autoptr (GError) error = NULL;

  for (int v = -h; v <= h; v++)
    for (int u = -h; u <= h; u++)
      sum += p[(v + h) * ps + u + h] = expf (-(u * u + v * v) / 4.5f)
                                       + expf (-((u - 3) * (u - 3) + (v - 1) * (v - 1)) / 4.5f) / 3;
  for (int i = 0; i < ps * ps; i++)
    {
      p[i] /= sum;
      sp2 += p[i] * p[i];
    }
  for (int v = 0; v < ps; v++)
    for (int u = 0; u < ps; u++)
      refl[v * ps + u] = p[(ps - 1 - v) * ps + (ps - 1 - u)];
  /* A source of flux 1000 whose image is the PSF centred at (48, 48). */
  for (int v = -h; v <= h; v++)
    for (int u = -h; u <= h; u++)
      img[(48 + v) * w + 48 + u] = 1000 * p[(v + h) * ps + u + h];
  g_assert_true (dia_convolve_plane (img, w, w, w, p, ps, a, w, 1, NULL, &error));
  g_assert_true (dia_convolve_plane (img, w, w, w, refl, ps, b, w, 1, NULL, &error));
  for (int i = 0; i < w * w; i++)
    {
      ia = a[i] > a[ia] ? i : ia;
      ib = b[i] > b[ib] ? i : ib;
    }
  g_test_message ("correlate with P: peak at (%d, %d) = %.2f (Σ P² F = %.2f); with the "
                  "reflected P (true convolution): peak at (%d, %d) = %.2f", ia % w, ia / w,
                  a[ia], 1000 * sp2, ib % w, ib / w, b[ib]);
  g_assert_cmpint (ia, ==, 48 * w + 48);
  g_assert_cmpfloat (fabs (a[ia] - 1000 * sp2), <, 1e-3 * a[ia]);
  g_assert_cmpint (ib, !=, 48 * w + 48);
  g_assert_cmpfloat (b[ib], <, 0.99 * a[ia]);
}

static void
test_scale_variance (void)
{
  Pair p;
  g_autoptr (GError) error = NULL;
  double f0, ft, fs;
  DiaImage *t, *s;
  DiaSubtractRequest req;
  g_autoptr (DiaSubtractPlan) plan = NULL;

  pair_make (&p, 512, 5, DIA_SIM_SCIENCE_BROADER, FALSE);
  g_assert_true (dia_scale_variance_factor (p.sci, &f0, NULL, &error));
  g_test_message ("exact variance plane: factor %.4f", f0);
  g_assert_cmpfloat (fabs (f0 - 1.0), <, 0.03);

  /* Variance planes under-stated by 0.6 and over-stated by 1.5. */
  t = dia_scale_variance_apply (p.tmpl, 0.6, &error);
  s = dia_scale_variance_apply (p.sci, 1.5, &error);
  g_assert_true (dia_scale_variance_pair (&t, &s, &ft, &fs, NULL, &error));
  g_assert_no_error (error);
  g_test_message ("factors %.4f (expected %.4f), %.4f (expected %.4f)", ft, 1 / 0.6, fs,
                  1 / 1.5);
  g_assert_cmpfloat (fabs (ft * 0.6 - 1.0), <, 0.03);
  g_assert_cmpfloat (fabs (fs * 1.5 - 1.0), <, 0.03);
  dia_image_unref (t);
  dia_image_unref (s);

  /* Through the pipeline: the factors land in the metadata. */
  t = dia_scale_variance_apply (p.tmpl, 0.6, &error);
  dia_subtract_request_init (&req);
  req.scale_variance = TRUE;
  plan = dia_subtract_plan (t, p.sci, &req, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (fabs (plan->info.variance_scale_template * 0.6 - 1.0), <, 0.03);
  g_assert_cmpfloat (fabs (plan->info.variance_scale_science - 1.0), <, 0.03);
  dia_image_unref (t);

  /* Absurd planes fail with a message instead of producing nonsense. */
  t = dia_scale_variance_apply (p.tmpl, 1e-3, &error);
  g_assert_false (dia_scale_variance_factor (t, &ft, NULL, &error));
  g_assert_error (error, DIA_ERROR, DIA_ERROR_INVALID);
  dia_image_unref (t);
  pair_clear (&p);
}

int
main (int argc, char **argv)
{
  static const char *flavors[] = { "template", "science", "auto", "preconvolve", "zogy" };
  static FlavorCase cases[10];
  static FlavorCase no_terms[6];
  test_init (&argc, &argv);
  g_test_add_func ("/flavors/filter-properties", test_filter_properties);
  g_test_add_func ("/flavors/preconvolve-orientation", test_preconvolve_orientation);
  g_test_add_func ("/flavors/scale-variance", test_scale_variance);
  for (int i = 0; i < 5; i++)
    for (int k = 0; k < 2; k++)
      {
        FlavorCase *c = &cases[2 * i + k];
        g_autofree char *path = NULL;
        c->flavor = flavors[i];
        c->regime = k ? DIA_SIM_SCIENCE_SHARPER : DIA_SIM_SCIENCE_BROADER;
        path = g_strdup_printf ("/flavors/noise/%s/%s", flavors[i], k ? "sharper" : "broader");
        g_test_add_data_func (path, c, test_flavor_noise);
        if (i >= 3)
          {
            g_autofree char *p2 = g_strdup_printf ("/flavors/score-snr/%s/%s", flavors[i],
                                                   k ? "sharper" : "broader");
            g_test_add_data_func (p2, c, test_score_peak_snr);
          }
      }
  /* The same without the astrometric and PSF-model terms (σ_a = ε = 0): what they buy, reported
   * (TODO above the target) with hard ceilings.  The forced AL directions are the template
   * flavour with the sharper science image and the science flavour with the broader one.
   * Two cases by default (the ASan run stays short); all six with -m slow. */
  {
    static const struct { const char *flavor; int sharper; gboolean quick; } na[] = {
      { "preconvolve", 0, TRUE }, { "template", 1, TRUE }, { "preconvolve", 1, FALSE },
      { "zogy", 0, FALSE }, { "zogy", 1, FALSE }, { "science", 0, FALSE },
    };
    for (guint k = 0; k < G_N_ELEMENTS (na); k++)
      {
        if (!na[k].quick && !g_test_slow ())
          continue;
        g_autofree char *path = g_strdup_printf ("/flavors/noise-no-terms/%s/%s",
                                                 na[k].flavor,
                                                 na[k].sharper ? "sharper" : "broader");
        no_terms[k] = (FlavorCase) { na[k].flavor, na[k].sharper ? DIA_SIM_SCIENCE_SHARPER
                                                                  : DIA_SIM_SCIENCE_BROADER, TRUE };
        g_test_add_data_func (path, &no_terms[k], test_flavor_noise);
      }
  }
  g_test_add_data_func ("/flavors/region/template", "template", test_region_crop);
  /* The science flavour on a science-broader pair: the forced-direction preconvolution. */
  g_test_add_data_func ("/flavors/region/science-forced", "science", test_region_crop);
  g_test_add_data_func ("/flavors/region/preconvolve", "preconvolve", test_region_crop);
  g_test_add_data_func ("/flavors/region/zogy", "zogy", test_region_crop);
  return g_test_run ();
}
