/* test-fit.c — the spatially varying Alard–Lupton kernel fit (dia-kernel-fit.h).
 *
 * Each test builds its own pair: a template of ~200 Gaussian stars (FWHM 3 px) on a
 * sky-subtracted background with Gaussian noise of known variance, and a science image that is
 * the noiseless template correlated with a KNOWN kernel (Gaussian σ 1.5 px centred at
 * (+0.3, −0.2) px, sum 1.07, optionally varying linearly across the field), plus a known
 * differential background and noise.  Stamps are placed directly on the stars.  The tests then
 * compare the fitted kernel with the truth and the residuals with the predicted variance.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "test-util.h"
#include "dia-error.h"
#include "dia-image.h"
#include "dia-kernel-fit.h"
#include "dia-monitor.h"
#include "dia-rng.h"
#include "dia-sim.h"
#include "dia-stamps.h"

#include <math.h>
#include <string.h>

#define KSIZE      21
#define KH         10
#define KSUM_TRUE  1.07
#define STAR_SIGMA (3.0 / 2.3548200450309493)

typedef struct
{
  int n_side;                   /* stars per side of the jittered grid                  */
  double spacing;               /* px                                                    */
  gboolean varying;             /* kernel shape varies linearly with x', y'             */
  int variable_star;            /* index of a star 30 % brighter in the science, or −1  */
  int cosmic_star;              /* index of a star with a cosmic ray next to it, or −1  */
  gboolean zero_template;       /* template pixels all zero                              */
  guint64 seed;
  double noise_scale;           /* noise σ multiplier (0 = 1): 0.1 is a 100× deeper pair  */
} PairSpec;

typedef struct
{
  DiaImage *tmpl, *sci;
  float kc[KSIZE * KSIZE], kx[KSIZE * KSIZE], ky[KSIZE * KSIZE];
  double domain[4];
  double bg0, bgx;              /* true background: bg0 + bgx · x'                       */
  GArray *stamps;
  int n_stars;
  double *sx, *sy, *sflux;
} Pair;

static void
pair_free (Pair *p)
{
  dia_image_unref (p->tmpl);
  dia_image_unref (p->sci);
  g_array_unref (p->stamps);
  g_free (p->sx);
  g_free (p->sy);
  g_free (p->sflux);
  g_free (p);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Pair, pair_free)

/* A unit-sum sampled Gaussian kernel of width sigma centred at (dx, dy), times scale. */
static void
gauss_kernel (float *k, double sigma, double dx, double dy, double scale)
{
  double s = 0, tmp[KSIZE * KSIZE];
  for (int v = -KH; v <= KH; v++)
    for (int u = -KH; u <= KH; u++)
      {
        double e = exp (-((u - dx) * (u - dx) + (v - dy) * (v - dy)) / (2 * sigma * sigma));
        tmp[(v + KH) * KSIZE + u + KH] = e;
        s += e;
      }
  for (int p = 0; p < KSIZE * KSIZE; p++)
    k[p] = (float) (scale * tmp[p] / s);
}

static void
true_kernel (const Pair *p, double x, double y, double *k)
{
  double xs = 2 * (x - 0.5 * (p->domain[0] + p->domain[1])) / (p->domain[1] - p->domain[0]);
  double ys = 2 * (y - 0.5 * (p->domain[2] + p->domain[3])) / (p->domain[3] - p->domain[2]);
  for (int i = 0; i < KSIZE * KSIZE; i++)
    k[i] = p->kc[i] + xs * p->kx[i] + ys * p->ky[i];
}

/* out(x, y) += w(x, y) · Σ k(u, v) in(x + u, y + v) over the defined interior. */
static void
correlate_add (const float *in, int width, int height, const float *k, float *out, int which,
               const double *domain)
{
  float *tmp = g_new0 (float, (gsize) width * height);
  for (int tv = 0; tv < KSIZE; tv++)
    for (int tu = 0; tu < KSIZE; tu++)
      {
        float kk = k[tv * KSIZE + tu];
        for (int y = KH; y < height - KH; y++)
          {
            const float *row = in + (gsize) (y + tv - KH) * width + (tu - KH);
            float *o = tmp + (gsize) y * width;
            for (int x = KH; x < width - KH; x++)
              o[x] += kk * row[x];
          }
      }
  for (int y = KH; y < height - KH; y++)
    for (int x = KH; x < width - KH; x++)
      {
        double w = 1.0;
        if (which == 1)
          w = 2 * (x - 0.5 * (domain[0] + domain[1])) / (domain[1] - domain[0]);
        else if (which == 2)
          w = 2 * (y - 0.5 * (domain[2] + domain[3])) / (domain[3] - domain[2]);
        out[(gsize) y * width + x] += (float) (w * tmp[(gsize) y * width + x]);
      }
  g_free (tmp);
}

static int
stamp_compare (gconstpointer a, gconstpointer b)
{
  const DiaStamp *sa = a, *sb = b;
  if (sa->cell != sb->cell)
    return sa->cell < sb->cell ? -1 : 1;
  return sa->flux > sb->flux ? -1 : sa->flux < sb->flux ? 1 : 0;
}

static Pair *
pair_new (const PairSpec *spec)
{
  Pair *p = g_new0 (Pair, 1);
  DiaRng rng;
  int n = spec->n_side, margin = 34, w, h, ncx;
  double sky_t = 400, depth = 0.25, sky_s = 400;
  g_autofree float *tn = NULL;
  g_autofree float *tn_sci = NULL;
  g_autofree float *sn = NULL;
  GError *error = NULL;

  double ns2 = spec->noise_scale > 0 ? spec->noise_scale * spec->noise_scale : 1.0;

  w = h = 2 * margin + (int) ((n - 1) * spec->spacing) + 1;
  dia_rng_init (&rng, spec->seed, 0);
  p->domain[0] = p->domain[2] = -0.5;
  p->domain[1] = w - 0.5;
  p->domain[3] = h - 0.5;
  p->bg0 = 3.0;
  p->bgx = 2.0;

  gauss_kernel (p->kc, 1.5, 0.3, -0.2, KSUM_TRUE);
  memset (p->kx, 0, sizeof p->kx);
  memset (p->ky, 0, sizeof p->ky);
  if (spec->varying)
    {
      float a[KSIZE * KSIZE], b[KSIZE * KSIZE];
      gauss_kernel (a, 1.5, 0.6, -0.2, KSUM_TRUE);
      gauss_kernel (b, 1.5, 0.0, -0.2, KSUM_TRUE);
      for (int i = 0; i < KSIZE * KSIZE; i++)
        p->kx[i] = 0.5f * (a[i] - b[i]);
      gauss_kernel (a, 1.65, 0.3, -0.2, KSUM_TRUE);
      gauss_kernel (b, 1.35, 0.3, -0.2, KSUM_TRUE);
      for (int i = 0; i < KSIZE * KSIZE; i++)
        p->ky[i] = 0.5f * (a[i] - b[i]);
    }

  p->n_stars = n * n;
  p->sx = g_new (double, p->n_stars);
  p->sy = g_new (double, p->n_stars);
  p->sflux = g_new (double, p->n_stars);
  tn = g_new0 (float, (gsize) w * h);
  tn_sci = g_new0 (float, (gsize) w * h);
  sn = g_new0 (float, (gsize) w * h);
  for (int i = 0; i < p->n_stars; i++)
    {
      double x0 = margin + (i % n) * spec->spacing + 8 * (dia_rng_uniform (&rng) - 0.5);
      double y0 = margin + (i / n) * spec->spacing + 8 * (dia_rng_uniform (&rng) - 0.5);
      double flux = 2e4 * pow (10.0, dia_rng_uniform (&rng));
      double ratio = i == spec->variable_star ? 1.3 : 1.0;
      if (i == spec->variable_star || i == spec->cosmic_star)
        flux = 3e5;             /* brightest of its cell, so it is visited first */
      p->sx[i] = x0;
      p->sy[i] = y0;
      p->sflux[i] = flux;
      for (int y = (int) y0 - 12; y <= (int) y0 + 12; y++)
        for (int x = (int) x0 - 12; x <= (int) x0 + 12; x++)
          {
            double r2 = (x - x0) * (x - x0) + (y - y0) * (y - y0);
            double v = flux * exp (-r2 / (2 * STAR_SIGMA * STAR_SIGMA))
                       / (2 * G_PI * STAR_SIGMA * STAR_SIGMA);
            tn[(gsize) y * w + x] += (float) v;
            tn_sci[(gsize) y * w + x] += (float) (v * ratio);
          }
    }
  if (spec->zero_template)
    memset (tn_sci, 0, sizeof (float) * w * h);

  correlate_add (tn_sci, w, h, p->kc, sn, 0, p->domain);
  if (spec->varying)
    {
      correlate_add (tn_sci, w, h, p->kx, sn, 1, p->domain);
      correlate_add (tn_sci, w, h, p->ky, sn, 2, p->domain);
    }

  p->tmpl = dia_image_new (w, h, &error);
  g_assert_no_error (error);
  p->sci = dia_image_new (w, h, &error);
  g_assert_no_error (error);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        size_t i = dia_image_index (p->tmpl, x, y), j = (gsize) y * w + x;
        double tv = spec->zero_template ? 0.0 : tn[j];
        double vt = ns2 * (spec->zero_template ? sky_t * depth : (sky_t + tv) * depth);
        double xs = 2 * (x + 0.5) / w - 1;
        gboolean edge = x < KH || y < KH || x >= w - KH || y >= h - KH;
        double sv = sn[j] + p->bg0 + p->bgx * xs;
        double vs = ns2 * (sky_s + MAX (sn[j], 0.0));
        p->tmpl->pix[i] = spec->zero_template ? 0.0f
                                              : (float) (tv + sqrt (vt) * dia_rng_gaussian (&rng));
        p->tmpl->var[i] = (float) vt;
        i = dia_image_index (p->sci, x, y);
        p->sci->pix[i] = edge ? 0.0f : (float) (sv + sqrt (vs) * dia_rng_gaussian (&rng));
        p->sci->var[i] = (float) vs;
        p->sci->mask[i] = edge ? (DIA_MASK_EDGE | DIA_MASK_NO_DATA) : 0;
      }
  if (spec->cosmic_star >= 0)
    {
      int cx = (int) floor (p->sx[spec->cosmic_star] + 0.5) + 5;
      int cy = (int) floor (p->sy[spec->cosmic_star] + 0.5) - 6;
      size_t i = dia_image_index (p->sci, cx, cy);
      float sig = sqrtf (p->sci->var[i]);
      p->sci->pix[i] += 60 * sig;
      p->sci->pix[i + 1] += 20 * sig;
      p->sci->pix[i - 1] += 20 * sig;
      p->sci->pix[i + p->sci->stride] += 20 * sig;
      p->sci->pix[i - p->sci->stride] += 20 * sig;
    }
  dia_image_freeze (p->tmpl);
  dia_image_freeze (p->sci);

  ncx = (w + 127) / 128;
  p->stamps = g_array_new (FALSE, TRUE, sizeof (DiaStamp));
  for (int i = 0; i < p->n_stars; i++)
    {
      DiaStamp s = { 0 };
      s.x = p->sx[i];
      s.y = p->sy[i];
      s.flux = p->sflux[i];
      s.snr = 100;
      s.cell = (int) (s.x / 128) + ncx * (int) (s.y / 128);
      s.status = DIA_STAMP_GOOD;
      s.kernel_sum = s.resid_mean = s.resid_rms = NAN;
      g_array_append_val (p->stamps, s);
    }
  g_array_sort (p->stamps, stamp_compare);
  return p;
}

static void
default_basis (DiaBasisConfig *config)
{
  DiaBasisParams bp;
  dia_basis_params_init (&bp);
  dia_basis_config_from_fwhm (&bp, 3.0, 2.3548200450309493 * sqrt (STAR_SIGMA * STAR_SIGMA
                                                                 + 1.5 * 1.5), config);
  g_assert_cmpint (config->size, ==, KSIZE);
  g_assert_cmpint (config->mode, ==, DIA_BASIS_MODE_CONVOLUTION);
}

static int
find_star_stamp (const Pair *p, int star)
{
  for (guint i = 0; i < p->stamps->len; i++)
    {
      const DiaStamp *s = &g_array_index (p->stamps, DiaStamp, i);
      if (s->x == p->sx[star] && s->y == p->sy[star])
        return (int) i;
    }
  g_assert_not_reached ();
  return -1;
}

/* Independent check of the solution: pooled mean and σ of (S − K⋆T − bg)/√(V_S + K²⋆V_T)
 * over the (k+2)² cores of the GOOD stamps. */
static void
residual_sigma (const Pair *p, const DiaKernelSolution *sol, double *mean, double *sigma,
                gint64 *count)
{
  float k[KSIZE * KSIZE];
  double s = 0, s2 = 0;
  gint64 n = 0;
  const DiaImage *t = p->tmpl, *sc = p->sci;

  for (guint i = 0; i < p->stamps->len; i++)
    {
      const DiaStamp *st = &g_array_index (p->stamps, DiaStamp, i);
      int xc = (int) floor (st->x + 0.5), yc = (int) floor (st->y + 0.5);
      double bg;
      if (st->status != DIA_STAMP_GOOD)
        continue;
      dia_kernel_solution_eval (sol, xc, yc, k);
      bg = dia_kernel_solution_background (sol, xc, yc);
      for (int y = yc - KH - 1; y <= yc + KH + 1; y++)
        for (int x = xc - KH - 1; x <= xc + KH + 1; x++)
          {
            double m = bg, v = sc->var[dia_image_index (sc, x, y)], r;
            for (int tv = 0; tv < KSIZE; tv++)
              for (int tu = 0; tu < KSIZE; tu++)
                {
                  size_t j = dia_image_index (t, x + tu - KH, y + tv - KH);
                  double kk = k[tv * KSIZE + tu];
                  m += kk * t->pix[j];
                  v += kk * kk * t->var[j];
                }
            r = (sc->pix[dia_image_index (sc, x, y)] - m) / sqrt (v);
            s += r;
            s2 += r * r;
            n++;
          }
    }
  *count = n;
  *mean = s / n;
  *sigma = sqrt (s2 / n - *mean * *mean);
}

static double
max_kernel_diff (const Pair *p, const DiaKernelSolution *sol, double x, double y,
                 double *peak)
{
  float k[KSIZE * KSIZE];
  double truth[KSIZE * KSIZE], d = 0;
  g_assert_cmpint (sol->config.size, ==, KSIZE);
  dia_kernel_solution_eval (sol, x, y, k);
  true_kernel (p, x, y, truth);
  *peak = 0;
  for (int i = 0; i < KSIZE * KSIZE; i++)
    {
      d = MAX (d, fabs (k[i] - truth[i]));
      *peak = MAX (*peak, truth[i]);
    }
  return d;
}

/* The same comparison after smoothing both kernels with the template PSF: what the data
 * constrain.  The pixel-level kernel has weakly constrained high-frequency modes (the narrow
 * σ = 0.75 px basis × degree-4 polynomials) that the template PSF wipes out. */
static double
max_smoothed_kernel_diff (const Pair *p, const DiaKernelSolution *sol, double x, double y,
                          double *peak)
{
  enum { PH = 6, PS = 2 * PH + 1, OS = KSIZE + 2 * PH };
  float k[KSIZE * KSIZE];
  double truth[KSIZE * KSIZE], psf[PS * PS], ps = 0, d = 0;
  dia_kernel_solution_eval (sol, x, y, k);
  true_kernel (p, x, y, truth);
  for (int v = 0; v < PS; v++)
    for (int u = 0; u < PS; u++)
      ps += psf[v * PS + u] = exp (-((u - PH) * (u - PH) + (v - PH) * (v - PH))
                                   / (2 * STAR_SIGMA * STAR_SIGMA));
  *peak = 0;
  for (int oy = 0; oy < OS; oy++)
    for (int ox = 0; ox < OS; ox++)
      {
        double a = 0, b = 0;
        for (int v = 0; v < PS; v++)
          for (int u = 0; u < PS; u++)
            {
              int kx = ox - PH * 2 + u, ky = oy - PH * 2 + v;
              if (kx < 0 || ky < 0 || kx >= KSIZE || ky >= KSIZE)
                continue;
              a += psf[v * PS + u] / ps * k[ky * KSIZE + kx];
              b += psf[v * PS + u] / ps * truth[ky * KSIZE + kx];
            }
        d = MAX (d, fabs (a - b));
        *peak = MAX (*peak, b);
      }
  return d;
}

static void
true_centroid (const Pair *p, double x, double y, double *dx, double *dy)
{
  double k[KSIZE * KSIZE], s = 0, su = 0, sv = 0;
  true_kernel (p, x, y, k);
  for (int v = 0; v < KSIZE; v++)
    for (int u = 0; u < KSIZE; u++)
      {
        s += k[v * KSIZE + u];
        su += u * k[v * KSIZE + u];
        sv += v * k[v * KSIZE + u];
      }
  *dx = su / s - KH;
  *dy = sv / s - KH;
}

static void
test_fit_constant (void)
{
  PairSpec spec = { 14, 44.0, FALSE, -1, -1, FALSE, 11 };
  g_autoptr (Pair) p = pair_new (&spec);
  DiaBasisConfig basis;
  DiaKernelFitParams params;
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaKernelSolution) sol = NULL;
  double cx = 0.5 * (p->domain[0] + p->domain[1]), cy = 0.5 * (p->domain[2] + p->domain[3]);
  double peak, diff, dx, dy, mean, sigma, rms_sum = 0, ksum_sum = 0, ksum_sum2 = 0;
  gint64 count;
  int n_good = 0;

  default_basis (&basis);
  dia_kernel_fit_params_init (&params);
  sol = dia_kernel_fit (p->tmpl, p->sci, p->stamps, &basis, &params, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (sol);
  g_assert_cmpint (sol->n_basis, ==, 27);
  g_assert_cmpint (sol->n_spatial, ==, 3);
  g_assert_cmpint (sol->n_bg, ==, 6);
  g_assert_cmpfloat (sol->condition_number, >, 1.0);
  g_assert_cmpfloat (sol->condition_number, <, params.max_condition);
  g_test_message ("stamps used %d, condition number %.3g", sol->n_stamps_used,
                  sol->condition_number);

  /* 25 cells of 128 px, 5 per cell, 196 stars: most cells are full. */
  for (guint i = 0; i < p->stamps->len; i++)
    {
      const DiaStamp *s = &g_array_index (p->stamps, DiaStamp, i);
      if (s->status == DIA_STAMP_GOOD)
        {
          n_good++;
          rms_sum += s->resid_rms;
          g_assert_true (isfinite (s->kernel_sum));
          ksum_sum += s->kernel_sum;
          ksum_sum2 += s->kernel_sum * s->kernel_sum;
        }
    }
  g_assert_cmpint (n_good, ==, sol->n_stamps_used);
  g_assert_cmpint (n_good, >=, 90);
  g_assert_cmpfloat_with_epsilon (rms_sum / n_good, 1.0, 0.1);
  /* Single-stamp kernel sums scatter by about 1 % (28 unknowns on a 23² core) around the
   * truth. */
  {
    double m = ksum_sum / n_good, sd = sqrt (ksum_sum2 / n_good - m * m);
    g_test_message ("single-stamp kernel sums: mean %.4f sd %.4f", m, sd);
    g_assert_cmpfloat (fabs (m / KSUM_TRUE - 1), <, 0.005);
    g_assert_cmpfloat (sd, <, 0.03);
  }

  /* Kernel sum within 0.5 % everywhere (a_0 is spatially constant). */
  g_assert_cmpfloat (fabs (dia_kernel_solution_sum (sol, cx, cy) / KSUM_TRUE - 1), <, 0.005);
  g_test_message ("kernel sum %.5f (truth %.2f)", dia_kernel_solution_sum (sol, cx, cy),
                  KSUM_TRUE);

  /* At this (realistic) noise the raw kernel image carries ~5 % high-frequency noise at its
   * centre; what the data constrain — the kernel seen through the template PSF — is close. */
  diff = max_kernel_diff (p, sol, cx, cy, &peak);
  g_test_message ("max |K − K_true| at the centre: %.4f of the peak", diff / peak);
  g_assert_cmpfloat (diff, <, 0.12 * peak);
  diff = max_smoothed_kernel_diff (p, sol, cx, cy, &peak);
  g_test_message ("max |P⊗(K − K_true)| at the centre: %.4f of the peak", diff / peak);
  g_assert_cmpfloat (diff, <, 0.02 * peak);

  dia_kernel_solution_centroid (sol, cx, cy, &dx, &dy);
  g_test_message ("centroid (%.4f, %.4f), truth (0.3, -0.2)", dx, dy);
  g_assert_cmpfloat (fabs (dx - 0.3), <, 0.05);
  g_assert_cmpfloat (fabs (dy + 0.2), <, 0.05);

  /* Background 3 + 2 x' at the centre and the right edge. */
  g_assert_cmpfloat_with_epsilon (dia_kernel_solution_background (sol, cx, cy), p->bg0, 0.5);
  g_assert_cmpfloat_with_epsilon (dia_kernel_solution_background (sol, p->domain[1] - 30, cy),
                                  p->bg0 + p->bgx * (1 - 60.0 / (p->domain[1] - p->domain[0])),
                                  0.8);

  residual_sigma (p, sol, &mean, &sigma, &count);
  g_test_message ("residual d/√V over %" G_GINT64_FORMAT " px: mean %.4f σ %.4f", count, mean,
                  sigma);
  g_assert_cmpfloat (sigma, >, 0.9);
  g_assert_cmpfloat (sigma, <, 1.1);
  g_assert_cmpfloat (fabs (mean), <, 0.05);

  /* A second call on the same stamps (statuses now GOOD/RESERVE) gives the same answer, and
   * one thread gives the same answer as several. */
  {
    g_autoptr (DiaKernelSolution) sol2 = NULL;
    params.n_threads = 1;
    sol2 = dia_kernel_fit (p->tmpl, p->sci, p->stamps, &basis, &params, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (sol2->n_stamps_used, ==, sol->n_stamps_used);
    for (int i = 0; i < 1 + 26 * 3 + 6; i++)
      g_assert_cmpfloat_with_epsilon (sol2->coef[i], sol->coef[i],
                                      1e-9 * (1 + fabs (sol->coef[i])));
  }
}

/* A 2500× deeper pair (noise σ × 0.02): the raw kernel image itself matches the truth. */
static void
test_fit_deep (void)
{
  PairSpec spec = { 14, 44.0, FALSE, -1, -1, FALSE, 21, 0.02 };
  g_autoptr (Pair) p = pair_new (&spec);
  DiaBasisConfig basis;
  DiaKernelFitParams params;
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaKernelSolution) sol = NULL;
  double cx = 0.5 * (p->domain[0] + p->domain[1]), cy = 0.5 * (p->domain[2] + p->domain[3]);
  double peak, diff, dx, dy, mean, sigma;
  gint64 count;

  default_basis (&basis);
  dia_kernel_fit_params_init (&params);
  sol = dia_kernel_fit (p->tmpl, p->sci, p->stamps, &basis, &params, NULL, &error);
  g_assert_no_error (error);
  diff = max_kernel_diff (p, sol, cx, cy, &peak);
  g_test_message ("deep: max |K − K_true| %.4f of the peak, sum %.5f", diff / peak,
                  dia_kernel_solution_sum (sol, cx, cy));
  g_assert_cmpfloat (diff, <, 0.02 * peak);
  g_assert_cmpfloat (fabs (dia_kernel_solution_sum (sol, cx, cy) / KSUM_TRUE - 1), <, 0.001);
  dia_kernel_solution_centroid (sol, cx, cy, &dx, &dy);
  g_assert_cmpfloat (fabs (dx - 0.3), <, 0.01);
  g_assert_cmpfloat (fabs (dy + 0.2), <, 0.01);
  residual_sigma (p, sol, &mean, &sigma, &count);
  g_test_message ("deep: residual σ %.4f", sigma);
  g_assert_cmpfloat (sigma, >, 0.9);
  g_assert_cmpfloat (sigma, <, 1.1);
}

static void
test_fit_varying (void)
{
  PairSpec spec = { 14, 44.0, TRUE, -1, -1, FALSE, 12 };
  g_autoptr (Pair) p = pair_new (&spec);
  DiaBasisConfig basis;
  DiaKernelFitParams params;
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaKernelSolution) sol = NULL;
  double corners[4][2];

  corners[0][0] = corners[2][0] = p->domain[0] + 0.5;
  corners[1][0] = corners[3][0] = p->domain[1] - 0.5;
  corners[0][1] = corners[1][1] = p->domain[2] + 0.5;
  corners[2][1] = corners[3][1] = p->domain[3] - 0.5;

  default_basis (&basis);
  dia_kernel_fit_params_init (&params);
  sol = dia_kernel_fit (p->tmpl, p->sci, p->stamps, &basis, &params, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (sol);

  for (int c = 0; c < 4; c++)
    {
      double x = corners[c][0], y = corners[c][1], peak, diff, dx, dy, tdx, tdy;
      double sum = dia_kernel_solution_sum (sol, x, y);
      g_assert_cmpfloat (fabs (sum / KSUM_TRUE - 1), <, 0.01);
      diff = max_smoothed_kernel_diff (p, sol, x, y, &peak);
      dia_kernel_solution_centroid (sol, x, y, &dx, &dy);
      true_centroid (p, x, y, &tdx, &tdy);
      g_test_message ("corner (%.0f, %.0f): sum %.4f, max smoothed diff %.4f of peak, centroid "
                      "(%.3f, %.3f) truth (%.3f, %.3f)", x, y, sum, diff / peak, dx, dy, tdx,
                      tdy);
      g_assert_cmpfloat (diff, <, 0.03 * peak);
      g_assert_cmpfloat (fabs (dx - tdx), <, 0.05);
      g_assert_cmpfloat (fabs (dy - tdy), <, 0.05);
    }
  /* The shift really varies: 0 px at x' = −1, 0.6 px at x' = +1. */
  {
    double dx0, dy0, dx1, dy1;
    dia_kernel_solution_centroid (sol, corners[0][0], corners[0][1], &dx0, &dy0);
    dia_kernel_solution_centroid (sol, corners[1][0], corners[1][1], &dx1, &dy1);
    g_assert_cmpfloat (dx1 - dx0, >, 0.5);
  }
}

static void
test_fit_outliers (void)
{
  PairSpec spec = { 14, 44.0, FALSE, 45, 120, FALSE, 13 };
  g_autoptr (Pair) p = pair_new (&spec);
  DiaBasisConfig basis;
  DiaKernelFitParams params;
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaKernelSolution) sol = NULL;
  const DiaStamp *var, *cr;
  double mean, sigma;
  gint64 count;

  default_basis (&basis);
  dia_kernel_fit_params_init (&params);
  sol = dia_kernel_fit (p->tmpl, p->sci, p->stamps, &basis, &params, NULL, &error);
  g_assert_no_error (error);

  var = &g_array_index (p->stamps, DiaStamp, find_star_stamp (p, 45));
  cr = &g_array_index (p->stamps, DiaStamp, find_star_stamp (p, 120));
  g_test_message ("variable: status %d ksum %.4f; cosmic: status %d mean %.3f rms %.3f",
                  var->status, var->kernel_sum, cr->status, cr->resid_mean, cr->resid_rms);
  g_assert_cmpint (var->status, ==, DIA_STAMP_REJECT_KERNEL_SUM);
  g_assert_cmpfloat_with_epsilon (var->kernel_sum, 1.3 * KSUM_TRUE, 0.03);
  g_assert_cmpint (cr->status, ==, DIA_STAMP_REJECT_RESID_RMS);
  g_assert_cmpfloat (cr->resid_rms, >, 1.5);

  /* A reserve of each of the two cells moved up: the cells still have 5 GOOD stamps. */
  for (int which = 0; which < 2; which++)
    {
      int cell = which == 0 ? var->cell : cr->cell, good = 0, total = 0;
      for (guint i = 0; i < p->stamps->len; i++)
        {
          const DiaStamp *s = &g_array_index (p->stamps, DiaStamp, i);
          if (s->cell != cell)
            continue;
          total++;
          good += s->status == DIA_STAMP_GOOD;
        }
      g_assert_cmpint (good, ==, MIN (5, total - 1));
    }

  g_assert_cmpfloat (fabs (dia_kernel_solution_sum (sol, 300, 300) / KSUM_TRUE - 1), <, 0.005);
  residual_sigma (p, sol, &mean, &sigma, &count);
  g_assert_cmpfloat (sigma, >, 0.9);
  g_assert_cmpfloat (sigma, <, 1.1);
}

static void
test_fit_too_few (void)
{
  PairSpec spec = { 5, 44.0, FALSE, -1, -1, FALSE, 14 };
  g_autoptr (Pair) p = pair_new (&spec);
  DiaBasisConfig basis;
  DiaKernelFitParams params;
  g_autoptr (GError) error = NULL;
  DiaKernelSolution *sol;

  default_basis (&basis);
  dia_kernel_fit_params_init (&params);
  /* Background order 2 has 6 terms: 4 stamps cannot constrain it. */
  g_array_set_size (p->stamps, 4);
  for (int i = 0; i < 4; i++)
    g_array_index (p->stamps, DiaStamp, i).cell = i;
  sol = dia_kernel_fit (p->tmpl, p->sci, p->stamps, &basis, &params, NULL, &error);
  g_assert_null (sol);
  g_assert_error (error, DIA_ERROR, DIA_ERROR_NO_STARS);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "6"));
  g_clear_error (&error);

  g_array_set_size (p->stamps, 0);
  sol = dia_kernel_fit (p->tmpl, p->sci, p->stamps, &basis, &params, NULL, &error);
  g_assert_null (sol);
  g_assert_error (error, DIA_ERROR, DIA_ERROR_NO_STARS);
}

static void
assert_no_nan_stamps (const GArray *stamps)
{
  for (guint i = 0; i < stamps->len; i++)
    {
      const DiaStamp *s = &g_array_index (stamps, DiaStamp, i);
      if (s->status == DIA_STAMP_GOOD)
        g_assert_true (isfinite (s->kernel_sum));
    }
}

static void
test_fit_degenerate (void)
{
  DiaBasisConfig basis;
  DiaKernelFitParams params;
  g_autoptr (GError) error = NULL;
  DiaKernelSolution *sol;

  default_basis (&basis);
  dia_kernel_fit_params_init (&params);

  /* Zero template: no basis image carries signal. */
  {
    PairSpec spec = { 6, 44.0, FALSE, -1, -1, TRUE, 15 };
    g_autoptr (Pair) p = pair_new (&spec);
    sol = dia_kernel_fit (p->tmpl, p->sci, p->stamps, &basis, &params, NULL, &error);
    g_assert_null (sol);
    g_assert_error (error, DIA_ERROR, DIA_ERROR_SINGULAR);
    g_test_message ("%s", error->message);
    g_clear_error (&error);
    assert_no_nan_stamps (p->stamps);
  }

  /* Ten copies of one stamp (one per cell): the spatial terms cannot be separated. */
  {
    PairSpec spec = { 6, 44.0, FALSE, -1, -1, FALSE, 16 };
    g_autoptr (Pair) p = pair_new (&spec);
    DiaStamp s0 = g_array_index (p->stamps, DiaStamp, 7);
    g_array_set_size (p->stamps, 0);
    for (int i = 0; i < 10; i++)
      {
        s0.cell = i;
        g_array_append_val (p->stamps, s0);
      }
    sol = dia_kernel_fit (p->tmpl, p->sci, p->stamps, &basis, &params, NULL, &error);
    g_assert_null (sol);
    g_assert_error (error, DIA_ERROR, DIA_ERROR_SINGULAR);
    g_test_message ("%s", error->message);
    g_clear_error (&error);
    assert_no_nan_stamps (p->stamps);
  }

  /* Hostile input: stamps off the image, NaN position, NaN pixels in one stamp. */
  {
    PairSpec spec = { 6, 44.0, FALSE, -1, -1, FALSE, 17 };
    g_autoptr (Pair) p = pair_new (&spec);
    g_autoptr (DiaKernelSolution) ok = NULL;
    g_autoptr (DiaImage) sci = dia_image_copy (p->sci, &error);
    DiaStamp bad = g_array_index (p->stamps, DiaStamp, 0);
    int xc = (int) floor (g_array_index (p->stamps, DiaStamp, 1).x + 0.5);
    int yc = (int) floor (g_array_index (p->stamps, DiaStamp, 1).y + 0.5);
    bad.x = -5;
    g_array_append_val (p->stamps, bad);
    bad.x = NAN;
    g_array_append_val (p->stamps, bad);
    g_assert_no_error (error);
    sci->pix[dia_image_index (sci, xc, yc)] = NAN;
    dia_image_freeze (sci);
    params.n_per_cell = 0;
    ok = dia_kernel_fit (p->tmpl, sci, p->stamps, &basis, &params, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (g_array_index (p->stamps, DiaStamp, p->stamps->len - 1).status, ==,
                     DIA_STAMP_REJECT_EDGE);
    g_assert_cmpint (g_array_index (p->stamps, DiaStamp, p->stamps->len - 2).status, ==,
                     DIA_STAMP_REJECT_EDGE);
    g_assert_cmpint (g_array_index (p->stamps, DiaStamp, 1).status, ==,
                     DIA_STAMP_REJECT_MASKED);
    g_assert_cmpfloat (fabs (dia_kernel_solution_sum (ok, 100, 100) / KSUM_TRUE - 1), <, 0.01);
  }
}

static void
cancel_on_progress (const char *stage, double fraction, gpointer user_data)
{
  dia_monitor_cancel (user_data);
}

static void
test_fit_cancel (void)
{
  PairSpec spec = { 6, 44.0, FALSE, -1, -1, FALSE, 18 };
  g_autoptr (Pair) p = pair_new (&spec);
  DiaBasisConfig basis;
  DiaKernelFitParams params;
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaMonitor) monitor = dia_monitor_new ();
  DiaKernelSolution *sol;

  default_basis (&basis);
  dia_kernel_fit_params_init (&params);
  dia_monitor_cancel (monitor);
  sol = dia_kernel_fit (p->tmpl, p->sci, p->stamps, &basis, &params, monitor, &error);
  g_assert_null (sol);
  g_assert_error (error, DIA_ERROR, DIA_ERROR_CANCELLED);
  g_clear_error (&error);

  /* Cancelled from inside, at the first progress report. */
  {
    g_autoptr (DiaMonitor) m2 = dia_monitor_new ();
    dia_monitor_set_progress_func (m2, cancel_on_progress, m2);
    sol = dia_kernel_fit (p->tmpl, p->sci, p->stamps, &basis, &params, m2, &error);
    g_assert_null (sol);
    g_assert_error (error, DIA_ERROR, DIA_ERROR_CANCELLED);
  }
}

/* A simulator pair (Moffat PSFs varying over the field, galaxies, transients, cosmic rays, sky
 * gradients): stamps on the isolated, unsaturated truth stars, fit with the defaults. */
static void
test_fit_sim (void)
{
  DiaSimParams sp;
  g_autoptr (DiaImage) tmpl = NULL;
  g_autoptr (DiaImage) sci = NULL;
  g_autoptr (DiaSimTruth) truth = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) stamps = g_array_new (FALSE, TRUE, sizeof (DiaStamp));
  g_autoptr (DiaKernelSolution) sol = NULL;
  DiaBasisParams bp;
  DiaBasisConfig basis;
  DiaKernelFitParams params;
  double cx, cy, dx, dy, tdx = 0, tdy = 0, ts = 0, rms = 0;
  int ncx, n_good = 0;

  dia_sim_params_init (&sp, 768, 768, 2026);
  g_assert_true (dia_sim_generate (&sp, &tmpl, &sci, &truth, NULL, &error));
  g_assert_no_error (error);
  dia_basis_params_init (&bp);
  dia_basis_config_from_fwhm (&bp, sp.fwhm_sharp, sp.fwhm_broad, &basis);

  ncx = (tmpl->width + 127) / 128;
  for (guint i = 0; i < truth->sources->len; i++)
    {
      const DiaSimSource *src = &g_array_index (truth->sources, DiaSimSource, i);
      DiaStamp st = { 0 };
      int xc = (int) floor (src->x2 + 0.5), yc = (int) floor (src->y2 + 0.5), k = basis.size;
      gboolean ok = TRUE;
      if (src->kind != DIA_SIM_STAR || src->saturated || src->flux_template < 5e3
          || xc - k < 0 || yc - k < 0 || xc + k >= tmpl->width || yc + k >= tmpl->height)
        continue;
      for (guint j = 0; j < truth->sources->len && ok; j++)
        {
          const DiaSimSource *o = &g_array_index (truth->sources, DiaSimSource, j);
          if (j != i && fabs (o->x2 - src->x2) < 12 && fabs (o->y2 - src->y2) < 12
              && o->flux_template + o->flux_science > 0.05 * src->flux_template)
            ok = FALSE;
        }
      for (int y = yc - k; y <= yc + k && ok; y++)
        for (int x = xc - k; x <= xc + k && ok; x++)
          if ((sci->mask[dia_image_index (sci, x, y)] | tmpl->mask[dia_image_index (tmpl, x, y)])
              & (DIA_MASK_UNUSABLE))
            ok = FALSE;
      if (!ok)
        continue;
      st.x = src->x2;
      st.y = src->y2;
      st.flux = src->flux_template;
      st.cell = (int) (st.x / 128) + ncx * (int) (st.y / 128);
      st.status = DIA_STAMP_GOOD;
      g_array_append_val (stamps, st);
    }
  g_array_sort (stamps, stamp_compare);
  g_test_message ("sim: %u candidate stamps, basis size %d", stamps->len, basis.size);
  g_assert_cmpuint (stamps->len, >=, 40);

  dia_kernel_fit_params_init (&params);
  sol = dia_kernel_fit (tmpl, sci, stamps, &basis, &params, NULL, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < stamps->len; i++)
    {
      const DiaStamp *st = &g_array_index (stamps, DiaStamp, i);
      if (st->status != DIA_STAMP_GOOD)
        continue;
      n_good++;
      rms += st->resid_rms;
    }
  rms /= n_good;

  cx = 0.5 * (tmpl->width - 1);
  cy = 0.5 * (tmpl->height - 1);
  dia_kernel_solution_centroid (sol, cx, cy, &dx, &dy);
  {
    int ks = truth->kernel_size, kh = ks / 2;
    for (int v = 0; v < ks; v++)
      for (int u = 0; u < ks; u++)
        {
          double kv = truth->kernel_centre[v * ks + u];
          ts += kv;
          tdx += kv * u;
          tdy += kv * v;
        }
    tdx = tdx / ts - kh;
    tdy = tdy / ts - kh;
  }
  g_test_message ("sim: %d stamps used, sum %.4f (truth %.4f), centroid (%.3f, %.3f) truth "
                  "(%.3f, %.3f), mean stamp rms %.3f, condition %.3g", sol->n_stamps_used,
                  dia_kernel_solution_sum (sol, cx, cy), truth->kernel_sum, dx, dy, tdx, tdy,
                  rms, sol->condition_number);
  g_assert_cmpint (n_good, ==, sol->n_stamps_used);
  g_assert_cmpfloat (fabs (dia_kernel_solution_sum (sol, cx, cy) / truth->kernel_sum - 1), <,
                     0.01);
  g_assert_cmpfloat (fabs (dx - tdx), <, 0.05);
  g_assert_cmpfloat (fabs (dy - tdy), <, 0.05);
  g_assert_cmpfloat (rms, >, 0.85);
  g_assert_cmpfloat (rms, <, 1.15);
  /* The differential background of the skies, at the centre. */
  {
    double bg_true = truth->diff_background[0] + truth->diff_background[1] * cx
                     + truth->diff_background[2] * cy;
    g_test_message ("sim: background %.2f (truth %.2f)",
                    dia_kernel_solution_background (sol, cx, cy), bg_true);
    g_assert_cmpfloat (fabs (dia_kernel_solution_background (sol, cx, cy) - bg_true), <, 3.0);
  }
}

int
main (int argc, char **argv)
{
  test_init (&argc, &argv);
  g_test_add_func ("/fit/constant", test_fit_constant);
  g_test_add_func ("/fit/deep", test_fit_deep);
  g_test_add_func ("/fit/varying", test_fit_varying);
  g_test_add_func ("/fit/outliers", test_fit_outliers);
  g_test_add_func ("/fit/too-few", test_fit_too_few);
  g_test_add_func ("/fit/degenerate", test_fit_degenerate);
  g_test_add_func ("/fit/cancel", test_fit_cancel);
  g_test_add_func ("/fit/sim", test_fit_sim);
  return g_test_run ();
}
