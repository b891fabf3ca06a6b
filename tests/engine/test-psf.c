/* test-psf.c — star finding, PSF estimation, pixel PSFs and kernel-candidate stamps.
 *
 * A local generator draws fields whose truth is known exactly: pixel-integrated elliptical-free
 * Moffat stars of known FWHM (optionally varying across the field) at known positions and
 * fluxes on a flat sky, Gaussian noise whose variance (sky + signal, gain 1) is also written to
 * the variance plane, saturated stars clipped at meta.saturation with SAT set, and optional
 * NO_DATA blocks, cosmic rays and galaxies.  The tests compare what the engine measures with
 * that truth; further tests run on the shared simulator and on real DECam and JWST data.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "test-util.h"
#include "dia-background.h"
#include "dia-error.h"
#include "dia-fits.h"
#include "dia-image.h"
#include "dia-psf.h"
#include "dia-rng.h"
#include "dia-sim.h"
#include "dia-stamps.h"
#include "dia-stats.h"

#include <math.h>
#include <string.h>

#define SKY 500.0

typedef struct
{
  double x, y, flux, fwhm;
  gboolean saturated;
  double snr;                   /* predicted aperture S/N (r = 2 FWHM)                     */
} TruthStar;

typedef struct
{
  int width, height;
  double fwhm0;                 /* FWHM at the centre                                      */
  double fwhm_grad;             /* FWHM(x, y) = fwhm0 (1 + fwhm_grad (u + v) / 2), u,v ∈ [−1,1] */
  double beta;
  int spacing;                  /* grid spacing of the stars, px                           */
  double flux_min, flux_max;    /* log-uniform                                             */
  double saturation;            /* NAN: none                                               */
  guint64 seed;
} FieldParams;

static double
field_fwhm (const FieldParams *p, double x, double y)
{
  double u = 2.0 * x / (p->width - 1.0) - 1.0, v = 2.0 * y / (p->height - 1.0) - 1.0;
  return p->fwhm0 * (1.0 + p->fwhm_grad * 0.5 * (u + v));
}

static double
moffat_enclosed (double r, double fwhm, double beta)
{
  double alpha = fwhm / (2.0 * sqrt (pow (2.0, 1.0 / beta) - 1.0));
  return 1.0 - pow (1.0 + r * r / (alpha * alpha), 1.0 - beta);
}

/* Turns a noiseless signal model (without sky) into an image: sky + model + noise, variance =
 * sky + model, saturation clipping with SAT. */
static DiaImage *
image_from_model (const float *model, int w, int h, double saturation, guint64 seed)
{
  g_autoptr (GError) error = NULL;
  DiaImage *im = dia_image_new (w, h, &error);
  DiaRng rng;
  g_assert_no_error (error);
  dia_rng_init (&rng, seed, 7);
  im->meta.saturation = saturation;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        size_t i = dia_image_index (im, x, y);
        double m = model[(size_t) y * w + x], v = SKY + MAX (m, 0.0);
        double val = SKY + m + sqrt (v) * dia_rng_gaussian (&rng);
        if (isfinite (saturation) && val >= saturation)
          {
            val = saturation;
            im->mask[i] |= DIA_MASK_SAT;
          }
        im->pix[i] = (float) val;
        im->var[i] = (float) v;
      }
  return im;
}

/* Stars on a jittered grid (isolated by construction), fluxes log-uniform. */
static DiaImage *
make_field (const FieldParams *p, GArray **truth_out, float **model_out)
{
  GArray *truth = g_array_new (FALSE, FALSE, sizeof (TruthStar));
  float *model = g_new0 (float, (size_t) p->width * p->height);
  DiaRng rng;
  DiaImage *im;
  int margin = p->spacing / 2;

  dia_rng_init (&rng, p->seed, 0);
  for (int gy = margin; gy < p->height - margin / 2; gy += p->spacing)
    for (int gx = margin; gx < p->width - margin / 2; gx += p->spacing)
      {
        TruthStar t;
        double ap, r;
        t.x = gx + (dia_rng_uniform (&rng) - 0.5) * 0.3 * p->spacing;
        t.y = gy + (dia_rng_uniform (&rng) - 0.5) * 0.3 * p->spacing;
        t.flux = p->flux_min * pow (p->flux_max / p->flux_min, dia_rng_uniform (&rng));
        t.fwhm = field_fwhm (p, t.x, t.y);
        test_add_moffat (model, p->width, p->height, t.x, t.y, t.flux, t.fwhm, p->beta);
        r = 2.0 * t.fwhm;
        ap = t.flux * moffat_enclosed (r, t.fwhm, p->beta);
        t.snr = ap / sqrt (ap + G_PI * r * r * SKY);
        t.saturated = FALSE;
        g_array_append_val (truth, t);
      }
  im = image_from_model (model, p->width, p->height, p->saturation, p->seed);
  for (guint i = 0; i < truth->len; i++)
    {
      TruthStar *t = &g_array_index (truth, TruthStar, i);
      int r = (int) ceil (2.0 * t->fwhm);
      for (int y = MAX (0, (int) t->y - r); y <= MIN (p->height - 1, (int) t->y + r); y++)
        for (int x = MAX (0, (int) t->x - r); x <= MIN (p->width - 1, (int) t->x + r); x++)
          if (im->mask[dia_image_index (im, x, y)] & DIA_MASK_SAT)
            t->saturated = TRUE;
    }
  *truth_out = truth;
  if (model_out)
    *model_out = model;
  else
    g_free (model);
  return im;
}

static void
field_params_default (FieldParams *p)
{
  *p = (FieldParams){ 1024, 1024, 3.0, 0.0, 3.5, 40, 300.0, 3e6, 60000.0, 5 };
}

/* Nearest detected star within max_d, or NULL. */
static const DiaStar *
match_star (const GArray *stars, double x, double y, double max_d)
{
  const DiaStar *best = NULL;
  double bd = max_d;
  for (guint i = 0; i < stars->len; i++)
    {
      const DiaStar *s = &g_array_index (stars, DiaStar, i);
      double d = hypot (s->x - x, s->y - y);
      if (d < bd)
        {
          bd = d;
          best = s;
        }
    }
  return best;
}

/* ------------------------------------------------------------------------------------------ */
/* Star finding                                                                                */

static void
test_stars_recovery (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaImage) im = NULL;
  g_autoptr (DiaBackground) bg = NULL;
  g_autoptr (GArray) truth = NULL;
  g_autoptr (GArray) stars = NULL;
  FieldParams p;
  int n20 = 0, found20 = 0, n_pos = 0, within = 0, n_flux = 0, flux_ok = 0, n_sat = 0;
  int sat_flagged = 0, spurious = 0, n_norm = 0;
  double norm_pos[2000], norm_flux[2000];
  DiaStats st;

  field_params_default (&p);
  im = make_field (&p, &truth, NULL);
  dia_image_freeze (im);
  bg = dia_background_estimate (im, 0, DIA_MASK_UNUSABLE, NULL, &error);
  g_assert_no_error (error);
  stars = dia_stars_find (im, bg, 5.0, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (stars);

  for (guint i = 1; i < stars->len; i++)
    g_assert_cmpfloat (g_array_index (stars, DiaStar, i - 1).flux, >=,
                       g_array_index (stars, DiaStar, i).flux);

  for (guint i = 0; i < truth->len; i++)
    {
      const TruthStar *t = &g_array_index (truth, TruthStar, i);
      const DiaStar *s = match_star (stars, t->x, t->y, 1.5);
      double expect;
      if (t->saturated)
        {
          n_sat++;
          sat_flagged += s && (s->flags & DIA_STAR_SATURATED);
          continue;
        }
      if (t->snr <= 20.0)
        continue;
      n20++;
      if (s == NULL)
        continue;
      found20++;
      g_assert_false (s->flags & DIA_STAR_SATURATED);
      /* Centroid: per-axis error predicted ≈ √2 σ_psf / SNR for a matched weight. */
      {
        double d = hypot (s->x - t->x, s->y - t->y);
        double sig = G_SQRT2 * (t->fwhm / 2.3548) / t->snr;
        if (t->snr > 80)
          {
            n_pos++;
            within += d < 0.1;
          }
        if (n_norm < 2000)
          {
            norm_pos[n_norm] = (s->x - t->x) / sig;
            norm_flux[n_norm] = NAN;
          }
      }
      /* Flux: the enclosed fraction of the Moffat in the aperture the finder used. */
      expect = t->flux * moffat_enclosed (s->r_aperture, t->fwhm, p.beta);
      /* Adaptive moments read a Moffat β = 3.5 ~14 % wider than its FWHM. */
      g_assert_cmpfloat (fabs (s->r_aperture / (2.0 * t->fwhm) - 1.0), <, 0.2);
      if (n_norm < 2000)
        norm_flux[n_norm++] = (s->flux - expect) / s->flux_err;
      if (t->snr > 100)
        {
          n_flux++;
          flux_ok += fabs (s->flux / expect - 1.0) < 0.03;
        }
    }
  for (guint i = 0; i < stars->len; i++)
    {
      const DiaStar *s = &g_array_index (stars, DiaStar, i);
      gboolean hit = FALSE;
      for (guint k = 0; k < truth->len && !hit; k++)
        {
          const TruthStar *t = &g_array_index (truth, TruthStar, k);
          hit = hypot (s->x - t->x, s->y - t->y) < 3.0 * t->fwhm + (t->saturated ? 10 : 0);
        }
      spurious += !hit && s->snr > 20;
    }
  {
    float fp[2000], ff[2000];
    for (int i = 0; i < n_norm; i++)
      {
        fp[i] = (float) norm_pos[i];
        ff[i] = (float) norm_flux[i];
      }
    g_assert_true (dia_stats_compute (fp, n_norm, &st, NULL));
    g_test_message ("centroid x error / predicted sigma: robust sigma %.2f, median %.3f",
                    st.robust_sigma, st.median);
    g_assert_cmpfloat (st.robust_sigma, <, 1.4);
    g_assert_cmpfloat (fabs (st.median), <, 0.15);
    g_assert_true (dia_stats_compute (ff, n_norm, &st, NULL));
    g_test_message ("flux error / flux_err: robust sigma %.2f, median %.3f", st.robust_sigma,
                    st.median);
    g_assert_cmpfloat (st.robust_sigma, <, 1.3);
    /* The annulus median includes the star's own wing (~0.3 % of its flux): a small bias. */
    g_assert_cmpfloat (fabs (st.median), <, 0.5);
  }
  g_test_message ("%u truth stars, %u detections; S/N>20: %d/%d found; S/N>80: %d/%d within "
                  "0.1 px; S/N>100: %d/%d flux within 3 %%; saturated: %d/%d flagged; %d "
                  "spurious", truth->len, stars->len, found20, n20, within, n_pos, flux_ok,
                  n_flux, sat_flagged, n_sat, spurious);
  g_assert_cmpint (n20, >, 200);
  g_assert_cmpfloat ((double) found20 / n20, >=, 0.98);
  g_assert_cmpfloat ((double) within / n_pos, >=, 0.98);
  g_assert_cmpfloat ((double) flux_ok / n_flux, >=, 0.98);
  g_assert_cmpint (n_sat, >, 5);
  g_assert_cmpint (sat_flagged, ==, n_sat);
  g_assert_cmpint (spurious, <=, 2);
}

/* Noise only: nothing at 10 σ; a NO_DATA block with garbage values and a fully masked star do
 * not produce detections; max_stars caps the list. */
static void
test_stars_empty_and_masked (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree float *model = g_new0 (float, 512 * 400);
  g_autoptr (DiaImage) im = NULL;
  g_autoptr (GArray) stars = NULL;

  test_add_moffat (model, 512, 400, 100.3, 200.6, 1e5, 3.0, 3.5);
  im = image_from_model (model, 512, 400, NAN, 3);
  for (int y = 150; y < 260; y++)
    for (int x = 50; x < 160; x++)
      {
        im->mask[dia_image_index (im, x, y)] |= DIA_MASK_NO_DATA;
        im->pix[dia_image_index (im, x, y)] = (x * 7 + y * 13) % 5 ? 0.0f : 1e7f;
      }
  dia_image_freeze (im);
  stars = dia_stars_find (im, NULL, 10.0, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (stars);
  g_test_message ("noise + NO_DATA block: %u detections", stars->len);
  g_assert_cmpuint (stars->len, ==, 0);
}

static void
test_stars_flags (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaImage) im = NULL;
  g_autoptr (GArray) truth = NULL;
  g_autoptr (GArray) stars = NULL;
  g_autofree float *model = NULL;
  FieldParams p;
  int n_cr = 0, cr_flag = 0, n_gal = 0, gal_flag = 0, n_pair = 0, pair_flag = 0, n_edge = 0;
  int edge_flag = 0, stars_misflagged = 0, n_ok = 0;
  double cr[6][2] = { { 130, 300 }, { 530, 710 }, { 330, 95 }, { 770, 530 }, { 900, 900 },
                      { 210, 650 } };
  double gal[5][2] = { { 150, 150 }, { 460, 300 }, { 700, 120 }, { 300, 800 }, { 880, 420 } };
  double pair[3][2] = { { 250, 460 }, { 610, 860 }, { 840, 250 } };

  field_params_default (&p);
  p.flux_min = 3e4;
  p.flux_max = 3e5;
  p.spacing = 60;
  p.seed = 21;
  {
    /* Build the stars without noise first so that extras can be added to the model. */
    GArray *t;
    g_autoptr (DiaImage) tmp = make_field (&p, &t, &model);
    truth = t;
  }
  for (int k = 0; k < 5; k++)
    {
      /* Round exponential-ish galaxies: a Moffat of FWHM 9 (3× the PSF). */
      test_add_moffat (model, p.width, p.height, gal[k][0] + 0.3, gal[k][1] + 0.1, 4e5, 9.0, 2.0);
    }
  for (int k = 0; k < 3; k++)
    {
      test_add_moffat (model, p.width, p.height, pair[k][0], pair[k][1], 2e5, 3.0, 3.5);
      test_add_moffat (model, p.width, p.height, pair[k][0] + 5.0, pair[k][1] + 2.0, 1e5, 3.0, 3.5);
    }
  test_add_moffat (model, p.width, p.height, 2.4, 512.3, 2e5, 3.0, 3.5);
  test_add_moffat (model, p.width, p.height, 600.2, 1021.7, 2e5, 3.0, 3.5);
  im = image_from_model (model, p.width, p.height, p.saturation, 77);
  for (int k = 0; k < 6; k++)
    im->pix[dia_image_index (im, (int) cr[k][0], (int) cr[k][1])] += 20000.0f;
  dia_image_freeze (im);

  stars = dia_stars_find (im, NULL, 5.0, 0, NULL, &error);
  g_assert_no_error (error);
  for (int k = 0; k < 6; k++)
    {
      const DiaStar *s = match_star (stars, cr[k][0], cr[k][1], 1.0);
      n_cr++;
      cr_flag += s && (s->flags & DIA_STAR_COSMIC);
    }
  for (int k = 0; k < 5; k++)
    {
      const DiaStar *s = match_star (stars, gal[k][0], gal[k][1], 2.0);
      n_gal++;
      gal_flag += s && (s->flags & DIA_STAR_EXTENDED);
    }
  for (int k = 0; k < 3; k++)
    {
      const DiaStar *s = match_star (stars, pair[k][0], pair[k][1], 1.5);
      const DiaStar *t = match_star (stars, pair[k][0] + 5, pair[k][1] + 2, 1.5);
      n_pair += 2;
      pair_flag += (s && (s->flags & DIA_STAR_CROWDED)) + (t && (t->flags & DIA_STAR_CROWDED));
    }
  {
    const DiaStar *a = match_star (stars, 2.4, 512.3, 1.5);
    const DiaStar *b = match_star (stars, 600.2, 1021.7, 1.5);
    n_edge = 2;
    edge_flag = (a && (a->flags & DIA_STAR_EDGE)) + (b && (b->flags & DIA_STAR_EDGE));
  }
  /* Ordinary isolated grid stars must not be flagged extended or cosmic. */
  for (guint i = 0; i < truth->len; i++)
    {
      const TruthStar *t = &g_array_index (truth, TruthStar, i);
      const DiaStar *s = match_star (stars, t->x, t->y, 1.5);
      gboolean near_extra = FALSE;
      for (int k = 0; k < 5; k++)
        near_extra |= hypot (t->x - gal[k][0], t->y - gal[k][1]) < 40;
      for (int k = 0; k < 3; k++)
        near_extra |= hypot (t->x - pair[k][0], t->y - pair[k][1]) < 20;
      if (s == NULL || near_extra || t->saturated)
        continue;
      n_ok++;
      stars_misflagged += (s->flags & (DIA_STAR_EXTENDED | DIA_STAR_COSMIC)) != 0;
    }
  g_test_message ("cosmic %d/%d, extended %d/%d, crowded %d/%d, edge %d/%d flagged; "
                  "%d/%d ordinary stars misflagged", cr_flag, n_cr, gal_flag, n_gal, pair_flag,
                  n_pair, edge_flag, n_edge, stars_misflagged, n_ok);
  g_assert_cmpint (cr_flag, ==, n_cr);
  g_assert_cmpint (gal_flag, ==, n_gal);
  g_assert_cmpint (pair_flag, ==, n_pair);
  g_assert_cmpint (edge_flag, ==, n_edge);
  g_assert_cmpint (stars_misflagged, <=, n_ok / 100);
}

/* ------------------------------------------------------------------------------------------ */
/* PSF estimation                                                                              */

static DiaPsf *
estimate_on_field (const FieldParams *p, GError **error)
{
  g_autoptr (DiaImage) im = NULL;
  g_autoptr (GArray) truth = NULL;
  DiaPsfParams prm;
  im = make_field (p, &truth, NULL);
  dia_image_set_source (im, "field.fits");
  dia_image_freeze (im);
  dia_psf_params_init (&prm);
  return dia_psf_estimate (im, NULL, NULL, &prm, NULL, error);
}

static void
check_constant_fwhm (double fwhm, double beta)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaPsf) psf = NULL;
  g_autofree char *desc = NULL;
  FieldParams p;
  double pts[5][2] = { { 511.5, 511.5 }, { 0, 0 }, { 1023, 0 }, { 0, 1023 }, { 1023, 1023 } };

  field_params_default (&p);
  p.fwhm0 = fwhm;
  p.beta = beta;
  p.spacing = (int) ceil (12 * fwhm);
  p.seed = (guint64) (fwhm * 10);
  psf = estimate_on_field (&p, &error);
  g_assert_no_error (error);
  desc = dia_psf_dup_description (psf);
  g_test_message ("FWHM %.1f β %.1f: %s", fwhm, beta, desc);
  g_assert_cmpint (dia_psf_n_stars (psf), >=, 30);
  for (int k = 0; k < 5; k++)
    {
      double f = dia_psf_fwhm (psf, pts[k][0], pts[k][1]), ixx, iyy, ixy;
      g_test_message ("  at (%.0f, %.0f): FWHM %.4f (error %+.2f %%)", pts[k][0], pts[k][1], f,
                      100 * (f / fwhm - 1));
      g_assert_cmpfloat (fabs (f / fwhm - 1.0), <, k == 0 ? 0.02 : 0.03);
      dia_psf_moments (psf, pts[k][0], pts[k][1], &ixx, &iyy, &ixy);
      /* Round stars: per-axis FWHMs agree with the mean and the cross term is small. */
      g_assert_cmpfloat (fabs (2.35482 * sqrt (ixx) / fwhm - 1.0), <, 0.04);
      g_assert_cmpfloat (fabs (2.35482 * sqrt (iyy) / fwhm - 1.0), <, 0.04);
      g_assert_cmpfloat (fabs (ixy) / (ixx + iyy), <, 0.02);
    }
}

static void
test_psf_moffat_3 (void)
{
  check_constant_fwhm (3.0, 3.5);
}

static void
test_psf_moffat_5 (void)
{
  check_constant_fwhm (5.0, 2.5);
}

static void
test_psf_gradient (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaPsf) psf = NULL;
  FieldParams p;
  double pts[5][2] = { { 511.5, 511.5 }, { 0, 0 }, { 1023, 0 }, { 0, 1023 }, { 1023, 1023 } };

  field_params_default (&p);
  p.width = p.height = 1200;
  p.fwhm0 = 3.6;
  p.fwhm_grad = 0.2;             /* 2.88 px at (0, 0) → 4.32 px at the far corner */
  p.spacing = 44;
  p.seed = 31;
  pts[0][0] = pts[0][1] = 599.5;
  pts[2][0] = pts[3][1] = pts[4][0] = pts[4][1] = 1199;
  psf = estimate_on_field (&p, &error);
  g_assert_no_error (error);
  for (int k = 0; k < 5; k++)
    {
      double f = dia_psf_fwhm (psf, pts[k][0], pts[k][1]);
      double t = field_fwhm (&p, pts[k][0], pts[k][1]);
      g_test_message ("gradient: at (%.0f, %.0f) FWHM %.3f, truth %.3f (%+.2f %%)", pts[k][0],
                      pts[k][1], f, t, 100 * (f / t - 1));
      g_assert_cmpfloat (fabs (f / t - 1.0), <, k == 0 ? 0.02 : 0.03);
    }
}

/* Two stars only: DIA_ERROR_NO_STARS with counts in the message. */
static void
test_psf_no_stars (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree float *model = g_new0 (float, 300 * 300);
  g_autoptr (DiaImage) im = NULL;
  DiaPsf *psf;

  test_add_moffat (model, 300, 300, 100.2, 100.7, 5e4, 3.0, 3.5);
  test_add_moffat (model, 300, 300, 200.6, 150.1, 5e4, 3.0, 3.5);
  test_add_moffat (model, 300, 300, 60.6, 250.1, 5e6, 3.0, 3.5);   /* saturated */
  im = image_from_model (model, 300, 300, 60000.0, 4);
  dia_image_set_source (im, "science.fits");
  dia_image_freeze (im);
  psf = dia_psf_estimate (im, NULL, NULL, NULL, NULL, &error);
  g_assert_null (psf);
  g_assert_error (error, DIA_ERROR, DIA_ERROR_NO_STARS);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "science.fits"));
  g_assert_nonnull (strstr (error->message, "only 2"));
  g_assert_nonnull (strstr (error->message, "saturated"));
}

/* ------------------------------------------------------------------------------------------ */
/* Rendering, NEA, pixel PSFs                                                                  */

static void
render_moments (const float *img, int size, double *sum, double *cx, double *cy)
{
  double s = 0, sx = 0, sy = 0;
  for (int j = 0; j < size; j++)
    for (int i = 0; i < size; i++)
      {
        s += img[j * size + i];
        sx += img[j * size + i] * i;
        sy += img[j * size + i] * j;
      }
  *sum = s;
  *cx = sx / s;
  *cy = sy / s;
}

/* Renders at several sub-pixel offsets: unit sum, and the centroid moves by (dx, dy) from the
 * unshifted rendering (measured relative to it, since a real PSF's plain centroid need not sit
 * on the central pixel: wings and spikes are not symmetric). */
static void
check_render_shift (const DiaPsf *psf, int size, double tol)
{
  g_autofree float *img = g_new (float, size * size);
  double shifts[4][2] = { { 0, 0 }, { 0.3, -0.2 }, { -0.45, 0.45 }, { 1.7, -2.25 } };
  double c0x = 0, c0y = 0;
  for (int k = 0; k < 4; k++)
    {
      double s, cx, cy;
      dia_psf_render (psf, 100, 200, shifts[k][0], shifts[k][1], img, size);
      render_moments (img, size, &s, &cx, &cy);
      g_assert_cmpfloat (fabs (s - 1.0), <, 1e-5);
      if (k == 0)
        {
          c0x = cx;
          c0y = cy;
          g_assert_cmpfloat (fabs (cx - size / 2), <, 0.5);
          g_assert_cmpfloat (fabs (cy - size / 2), <, 0.5);
        }
      g_assert_cmpfloat (fabs (cx - c0x - shifts[k][0]), <, tol);
      g_assert_cmpfloat (fabs (cy - c0y - shifts[k][1]), <, tol);
    }
}

static void
test_psf_render (void)
{
  g_autoptr (DiaPsf) g3 = dia_psf_new_gaussian (3.0);
  g_autoptr (DiaPsf) g2 = dia_psf_new_gaussian (1.8);
  int n3 = dia_psf_stamp_size (g3);

  g_assert_cmpint (n3 % 2, ==, 1);
  g_assert_cmpint (n3, >=, 7);
  check_render_shift (g3, n3 + 8, 2e-3);
  check_render_shift (g2, dia_psf_stamp_size (g2) + 8, 2e-3);
  /* Rendered FWHM from its own moments: pixel integration adds 1/12 px² per axis. */
  {
    int size = 41;
    g_autofree float *img = g_new (float, size * size);
    double s = 0, sxx = 0;
    dia_psf_render (g3, 0, 0, 0, 0, img, size);
    for (int j = 0; j < size; j++)
      for (int i = 0; i < size; i++)
        {
          s += img[j * size + i];
          sxx += img[j * size + i] * (i - 20) * (i - 20);
        }
    g_assert_cmpfloat (fabs (sxx / s - (pow (3.0 / 2.35482, 2) + 1.0 / 12.0)), <, 2e-3);
  }
}

static void
test_psf_nea (void)
{
  g_autoptr (DiaPsf) g7 = dia_psf_new_gaussian (7.0);
  g_autoptr (DiaPsf) g3 = dia_psf_new_gaussian (3.0);
  double s7 = 7.0 / 2.35482, s3 = 3.0 / 2.35482;
  double n7 = dia_psf_nea (g7, 10, 10), n3 = dia_psf_nea (g3, 10, 10);
  g_test_message ("NEA: FWHM 7 → %.3f (4πσ² = %.3f); FWHM 3 → %.3f (4π(σ²+1/12) = %.3f)", n7,
                  4 * G_PI * s7 * s7, n3, 4 * G_PI * (s3 * s3 + 1.0 / 12));
  g_assert_cmpfloat (fabs (n7 / (4 * G_PI * s7 * s7) - 1.0), <, 0.02);
  /* Narrow PSFs: the pixel adds its 1/12 px² variance per axis. */
  g_assert_cmpfloat (fabs (n3 / (4 * G_PI * (s3 * s3 + 1.0 / 12)) - 1.0), <, 0.01);
  g_assert_cmpfloat (fabs (dia_psf_fwhm (g7, 500, 3) - 7.0), <, 1e-9);
}

/* A Gaussian stamp drawn off-centre in a larger even-sized frame: recentred, unit sum, odd
 * size, FWHM from its adaptive moments, and its rendering follows sub-pixel shifts. */
static void
test_psf_from_pixels_synthetic (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaPsf) psf = NULL;
  int w = 64, h = 60;
  g_autofree float *pix = g_new (float, w * h);
  double sig = 2.5 / 2.35482, x0 = 30.3, y0 = 27.8, f;
  for (int j = 0; j < h; j++)
    for (int i = 0; i < w; i++)
      pix[j * w + i] = (float) (3.0 * exp (-0.5 * ((i - x0) * (i - x0) + (j - y0) * (j - y0))
                                           / (sig * sig)));
  psf = dia_psf_new_from_pixels (pix, w, h, &error);
  g_assert_no_error (error);
  f = dia_psf_fwhm (psf, 0, 0);
  g_test_message ("synthetic pixel PSF: size %d, FWHM %.3f (truth 2.5)", dia_psf_stamp_size (psf),
                  f);
  g_assert_cmpint (dia_psf_stamp_size (psf) % 2, ==, 1);
  g_assert_cmpfloat (fabs (f / 2.5 - 1.0), <, 0.02);
  check_render_shift (psf, dia_psf_stamp_size (psf) + 6, 0.01);
  /* Hostile inputs. */
  memset (pix, 0, sizeof (float) * w * h);
  g_assert_null (dia_psf_new_from_pixels (pix, w, h, &error));
  g_assert_error (error, DIA_ERROR, DIA_ERROR_FORMAT);
  g_clear_error (&error);
  g_assert_null (dia_psf_new_from_pixels (pix, 2, 2, &error));
  g_assert_error (error, DIA_ERROR, DIA_ERROR_INVALID);
}

static void
test_psf_from_pixels_webbpsf (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path =
    test_real_path ("A_pairs/jwst_abell2744_f200w/"
                    "jw01324001001-01324-o001_t001_nircam_clear-f200w_i2d_stamp.WebbPSF.fits");
  g_autoptr (DiaImage) im = NULL;
  g_autoptr (DiaPsf) psf = NULL;
  g_autofree float *pix = NULL;
  double f;
  if (path == NULL)
    return;
  im = dia_fits_read_image (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (im->width, ==, 205);
  pix = g_new (float, im->width * im->height);
  for (int y = 0; y < im->height; y++)
    memcpy (pix + y * im->width, im->pix + dia_image_index (im, 0, y),
            im->width * sizeof (float));
  psf = dia_psf_new_from_pixels (pix, im->width, im->height, &error);
  g_assert_no_error (error);
  f = dia_psf_fwhm (psf, 0, 0);
  g_test_message ("WebbPSF F200W: stamp %d px, FWHM %.3f px, NEA %.2f px²",
                  dia_psf_stamp_size (psf), f, dia_psf_nea (psf, 0, 0));
  g_assert_cmpfloat (f, >, 1.7);
  g_assert_cmpfloat (f, <, 2.4);
  g_assert_cmpint (dia_psf_stamp_size (psf) % 2, ==, 1);
  check_render_shift (psf, dia_psf_stamp_size (psf), 0.02);
}

/* ------------------------------------------------------------------------------------------ */
/* Real data: DECam cutouts with known seeing                                                 */

static void
check_decam (const char *file, double fwhm_expected)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *rel = g_strdup_printf ("A_pairs/decam_sfft/%s", file);
  g_autofree char *path = test_real_path (rel);
  g_autoptr (DiaImage) im = NULL;
  g_autoptr (DiaBackground) bg = NULL;
  g_autoptr (GArray) stars = NULL;
  g_autoptr (DiaPsf) psf = NULL;
  g_autofree char *desc = NULL;
  double f;
  if (path == NULL)
    return;
  im = dia_fits_read_image (path, &error);
  g_assert_no_error (error);
  bg = dia_background_estimate (im, 0, DIA_MASK_UNUSABLE, NULL, &error);
  g_assert_no_error (error);
  stars = dia_stars_find (im, bg, 10.0, 0, NULL, &error);
  g_assert_no_error (error);
  psf = dia_psf_estimate (im, bg, stars, NULL, NULL, &error);
  g_assert_no_error (error);
  f = dia_psf_fwhm (psf, im->width / 2.0, im->height / 2.0);
  desc = dia_psf_dup_description (psf);
  g_test_message ("%s: %u stars found, PSF %s; FWHM at centre %.3f (README %.2f, %+.1f %%)",
                  file, stars->len, desc, f, fwhm_expected, 100 * (f / fwhm_expected - 1));
  g_assert_cmpfloat (fabs (f / fwhm_expected - 1.0), <, 0.10);
}

static void
test_real_decam_18a (void)
{
  check_decam ("DEC-OBS18a.mini.fits", 3.85);
}

static void
test_real_decam_04c (void)
{
  check_decam ("DEC-OBS04c.mini.fits", 5.89);
}

/* ------------------------------------------------------------------------------------------ */
/* Kernel-candidate stamps                                                                     */

static DiaStar
make_star (double x, double y, double flux, double snr, guint flags)
{
  DiaStar s = { 0 };
  s.x = x;
  s.y = y;
  s.flux = flux;
  s.flux_err = flux / snr;
  s.snr = snr;
  s.flags = flags;
  s.ixx = s.iyy = 1.6;
  return s;
}

static const DiaStamp *
find_stamp (const GArray *stamps, double x, double y)
{
  for (guint i = 0; i < stamps->len; i++)
    {
      const DiaStamp *st = &g_array_index (stamps, DiaStamp, i);
      if (st->x == x && st->y == y)
        return st;
    }
  return NULL;
}

static void
test_stamps_constructed (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaImage) sci = dia_image_new (512, 512, NULL);
  g_autoptr (DiaImage) tpl = dia_image_new (512, 512, NULL);
  g_autoptr (GArray) stars = g_array_new (FALSE, FALSE, sizeof (DiaStar));
  g_autoptr (GArray) stamps = NULL;
  DiaStampParams prm;
  int counts[DIA_STAMP_REJECT_SINGULAR + 1] = { 0 };
  const int ks = 21;
  struct { double x, y, flux, snr; guint flags; DiaStampStatus expect; } cases[] = {
    { 15, 200, 1e5, 100, 0, DIA_STAMP_REJECT_EDGE },        /* box leaves the image        */
    { 495, 300, 1e5, 100, 0, DIA_STAMP_REJECT_EDGE },
    { 25, 230, 1e5, 100, 0, DIA_STAMP_GOOD },               /* box just inside the image   */
    { 100, 100, 1e5, 100, 0, DIA_STAMP_REJECT_MASKED },     /* template NO_DATA in its box */
    { 100, 400, 1e5, 100, 0, DIA_STAMP_REJECT_MASKED },     /* science BAD in its box      */
    { 200, 100, 1e5, 100, 0, DIA_STAMP_REJECT_SATURATED },  /* template SAT in its box     */
    { 400, 100, 1e5, 100, DIA_STAR_SATURATED, DIA_STAMP_REJECT_SATURATED },
    { 64, 300, 1e3, 5, 0, DIA_STAMP_REJECT_SNR },
    { 64, 330, 1e7, 800, 0, DIA_STAMP_REJECT_SNR },
    { 64, 360, 1e5, 100, DIA_STAR_CROWDED, DIA_STAMP_REJECT_CROWDED },
    { 64, 390, 1e5, 100, DIA_STAR_EXTENDED, DIA_STAMP_REJECT_EXTENDED },
  };

  /* Masks: the template has NO_DATA near (100, 100) and SAT near (200, 100); the science
   * image has a BAD pixel near (100, 400). */
  tpl->mask[dia_image_index (tpl, 110, 95)] = DIA_MASK_NO_DATA;
  tpl->mask[dia_image_index (tpl, 205, 118)] = DIA_MASK_SAT;
  sci->mask[dia_image_index (sci, 115, 405)] = DIA_MASK_BAD;
  /* A masked pixel just outside a good star's box must not matter (box half-width 21). */
  sci->mask[dia_image_index (sci, 270 - 22, 300)] = DIA_MASK_BAD;
  dia_image_set_source (sci, "sci.fits");
  dia_image_freeze (sci);
  dia_image_freeze (tpl);

  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      DiaStar s = make_star (cases[k].x, cases[k].y, cases[k].flux, cases[k].snr,
                             cases[k].flags);
      g_array_append_val (stars, s);
    }
  /* Eight good stars in the cell [256, 384)²: the five brightest are used. */
  for (int k = 0; k < 8; k++)
    {
      DiaStar s = make_star (270 + 13 * k, 300 + (k % 3) * 20, 1e4 * (k + 1), 50 + k, 0);
      g_array_append_val (stars, s);
    }
  /* Two good stars in another cell. */
  {
    DiaStar s1 = make_star (420, 420, 5e4, 60, 0), s2 = make_star (440, 440, 6e4, 70, 0);
    g_array_append_val (stars, s1);
    g_array_append_val (stars, s2);
  }

  dia_stamp_params_init (&prm);
  stamps = dia_stamps_select (sci, tpl, stars, ks, &prm, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (stamps->len, ==, stars->len);
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      const DiaStamp *st = find_stamp (stamps, cases[k].x, cases[k].y);
      g_assert_nonnull (st);
      if (st->status != cases[k].expect)
        g_test_message ("case %u at (%g, %g): %s, expected %s", k, cases[k].x, cases[k].y,
                        dia_stamp_status_to_string (st->status),
                        dia_stamp_status_to_string (cases[k].expect));
      g_assert_cmpint (st->status, ==, cases[k].expect);
      g_assert_true (isnan (st->kernel_sum));
    }
  for (int k = 0; k < 8; k++)
    {
      const DiaStamp *st = find_stamp (stamps, 270 + 13 * k, 300 + (k % 3) * 20);
      g_assert_cmpint (st->status, ==, (k >= 3 ? DIA_STAMP_GOOD : DIA_STAMP_RESERVE));
      g_assert_cmpint (st->cell, ==, find_stamp (stamps, 270, 300)->cell);
    }
  for (guint i = 0; i < stamps->len; i++)
    counts[g_array_index (stamps, DiaStamp, i).status]++;
  g_test_message ("%d good, %d reserve, %d edge, %d masked, %d saturated, %d snr, %d crowded, "
                  "%d extended", counts[DIA_STAMP_GOOD], counts[DIA_STAMP_RESERVE],
                  counts[DIA_STAMP_REJECT_EDGE], counts[DIA_STAMP_REJECT_MASKED],
                  counts[DIA_STAMP_REJECT_SATURATED], counts[DIA_STAMP_REJECT_SNR],
                  counts[DIA_STAMP_REJECT_CROWDED], counts[DIA_STAMP_REJECT_EXTENDED]);
  g_assert_cmpint (counts[DIA_STAMP_GOOD], ==, 8); /* 5 + 2 + the one at the edge */
  g_assert_cmpint (counts[DIA_STAMP_RESERVE], ==, 3);
  /* Within each cell: good before reserve before rejected, good ones brightest first. */
  for (guint i = 1; i < stamps->len; i++)
    {
      const DiaStamp *a = &g_array_index (stamps, DiaStamp, i - 1);
      const DiaStamp *b = &g_array_index (stamps, DiaStamp, i);
      if (a->cell == b->cell && a->status == DIA_STAMP_GOOD && b->status == DIA_STAMP_GOOD)
        g_assert_cmpfloat (a->flux, >=, b->flux);
      if (a->cell == b->cell && b->status == DIA_STAMP_GOOD)
        g_assert_cmpint (a->status, ==, DIA_STAMP_GOOD);
    }

  /* The cap keeps the highest-S/N good stamps. */
  g_clear_pointer (&stamps, g_array_unref);
  prm.max_stamps = 3;
  stamps = dia_stamps_select (sci, tpl, stars, ks, &prm, &error);
  g_assert_no_error (error);
  memset (counts, 0, sizeof counts);
  for (guint i = 0; i < stamps->len; i++)
    {
      const DiaStamp *st = &g_array_index (stamps, DiaStamp, i);
      counts[st->status]++;
      if (st->status == DIA_STAMP_GOOD)
        g_assert_cmpfloat (st->snr, >=, 57);
    }
  g_assert_cmpint (counts[DIA_STAMP_GOOD], ==, 3);

  /* Too few: an error that names the reasons. */
  g_clear_pointer (&stamps, g_array_unref);
  g_array_set_size (stars, G_N_ELEMENTS (cases));
  dia_stamp_params_init (&prm);
  stamps = dia_stamps_select (sci, tpl, stars, ks, &prm, &error);
  g_assert_null (stamps);
  g_assert_error (error, DIA_ERROR, DIA_ERROR_NO_STARS);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "sci.fits"));
  g_assert_nonnull (strstr (error->message, dia_stamp_status_to_string (DIA_STAMP_REJECT_EDGE)));
  g_clear_error (&error);
  /* Even kernel sizes and mismatched images are refused. */
  g_assert_null (dia_stamps_select (sci, tpl, stars, 20, &prm, &error));
  g_assert_error (error, DIA_ERROR, DIA_ERROR_INVALID);
  g_clear_error (&error);
  {
    g_autoptr (DiaImage) small = dia_image_new (100, 100, NULL);
    g_assert_null (dia_stamps_select (sci, small, stars, 21, &prm, &error));
    g_assert_error (error, DIA_ERROR, DIA_ERROR_SIZE_MISMATCH);
  }
  for (int s = DIA_STAMP_GOOD; s <= DIA_STAMP_REJECT_SINGULAR; s++)
    {
      g_assert_nonnull (dia_stamp_status_to_string (s));
      g_assert_cmpuint (strlen (dia_stamp_status_to_string (s)), <, 32);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* The shared simulator                                                                        */

/* Half-maximum FWHM of a circular Moffat (fwhm, beta) convolved with a Gaussian of σ sk, by
 * direct quadrature on a 0.05 px grid. */
static double
moffat_gauss_fwhm (double fwhm, double beta, double sk)
{
  double alpha = fwhm / (2.0 * sqrt (pow (2.0, 1.0 / beta) - 1.0)), h = 0.05, prev = 0, p0 = 0;
  int n = (int) ceil (5.0 * sk / h);
  for (int i = 0; i < 400; i++)
    {
      double x = i * h, s = 0.0;
      for (int a = -n; a <= n; a++)
        for (int b = -n; b <= n; b++)
          {
            double u = a * h, v = b * h, dx = x - u;
            s += exp (-(u * u + v * v) / (2 * sk * sk))
                 * pow (1.0 + (dx * dx + v * v) / (alpha * alpha), -beta);
          }
      if (i == 0)
        p0 = s;
      else if (s < 0.5 * p0)
        return 2.0 * h * (i - 1 + (prev - 0.5 * p0) / (prev - s));
      prev = s;
    }
  return NAN;
}

static void
test_sim_pair (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaImage) tpl = NULL;
  g_autoptr (DiaImage) sci = NULL;
  g_autoptr (DiaSimTruth) truth = NULL;
  g_autoptr (DiaBackground) bg_t = NULL;
  g_autoptr (DiaBackground) bg_s = NULL;
  g_autoptr (GArray) stars_t = NULL;
  g_autoptr (GArray) stars_s = NULL;
  g_autoptr (DiaPsf) psf_t = NULL;
  g_autoptr (DiaPsf) psf_s = NULL;
  g_autoptr (GArray) stamps = NULL;
  DiaSimParams sp;
  double cx, cy, f_t, f_s, corner, expect_corner, bg_err = 0.0;
  int n_bright = 0, found = 0, good = 0;

  dia_sim_params_init (&sp, 1024, 1024, 2024);
  g_assert_true (dia_sim_generate (&sp, &tpl, &sci, &truth, NULL, &error));
  g_assert_no_error (error);
  cx = 511.5;
  cy = 511.5;

  bg_t = dia_background_estimate (tpl, 0, DIA_MASK_UNUSABLE, NULL, &error);
  g_assert_no_error (error);
  bg_s = dia_background_estimate (sci, 0, DIA_MASK_UNUSABLE, NULL, &error);
  g_assert_no_error (error);
  /* Sky planes: sky_science (1 + gradient) across the field; compare at the centre. */
  bg_err = fabs (dia_background_eval (bg_s, cx, cy) - sp.sky_science)
           / sqrt (sp.sky_science + sp.read_noise * sp.read_noise);

  stars_t = dia_stars_find (tpl, bg_t, 10.0, 0, NULL, &error);
  g_assert_no_error (error);
  stars_s = dia_stars_find (sci, bg_s, 10.0, 0, NULL, &error);
  g_assert_no_error (error);
  psf_t = dia_psf_estimate (tpl, bg_t, stars_t, NULL, NULL, &error);
  g_assert_no_error (error);
  psf_s = dia_psf_estimate (sci, bg_s, stars_s, NULL, NULL, &error);
  g_assert_no_error (error);
  f_t = dia_psf_fwhm (psf_t, cx, cy);
  f_s = dia_psf_fwhm (psf_s, cx, cy);
  corner = dia_psf_fwhm (psf_t, 30, 30);
  /* The simulator's sharp PSF: FWHM × (1 + variation · r²), r² = ½ (dx² + dy²) normalised. */
  {
    double dx = (30 - cx) / cx, dy = (30 - cy) / cy;
    expect_corner = sp.fwhm_sharp * (1.0 + sp.fwhm_variation * 0.5 * (dx * dx + dy * dy));
  }
  /* Bright isolated truth stars of the science image are found. */
  for (guint i = 0; i < truth->sources->len; i++)
    {
      const DiaSimSource *src = &g_array_index (truth->sources, DiaSimSource, i);
      if (src->kind != DIA_SIM_STAR || src->saturated || src->flux_science < 2e4
          || src->x < 20 || src->y < 20 || src->x > 1004 || src->y > 1004)
        continue;
      n_bright++;
      found += match_star (stars_s, src->x, src->y, 1.0) != NULL;
    }
  stamps = dia_stamps_select (sci, tpl, stars_s, 21, NULL, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < stamps->len; i++)
    good += g_array_index (stamps, DiaStamp, i).status == DIA_STAMP_GOOD;
  g_test_message ("sim 1024²: sky error at centre %.2f σ; %u/%u stars; template PSF FWHM %.3f "
                  "(truth %.2f), corner %.3f (truth %.3f), science FWHM %.3f (nominal %.2f); "
                  "bright stars found %d/%d; %d good stamps of %u",
                  bg_err, stars_t->len, stars_s->len, f_t, sp.fwhm_sharp, corner,
                  expect_corner, f_s, sp.fwhm_broad, found, n_bright, good, stamps->len);
  g_assert_cmpfloat (bg_err, <, 0.5);
  g_assert_cmpfloat (fabs (f_t / sp.fwhm_sharp - 1.0), <, 0.02);
  g_assert_cmpfloat (fabs (corner / expect_corner - 1.0), <, 0.03);
  /* K ⋆ Moffat is not a Moffat: compare with its half-maximum width computed numerically. */
  {
    double fb = moffat_gauss_fwhm (sp.fwhm_sharp, sp.moffat_beta,
                                   sqrt (pow (sp.fwhm_broad / 2.35482, 2)
                                         - pow (sp.fwhm_sharp / 2.35482, 2)));
    g_test_message ("science PSF: half-maximum FWHM of Moffat ⋆ Gaussian %.3f, fitted %.3f "
                    "(%+.2f %%)", fb, f_s, 100 * (f_s / fb - 1));
    /* Only ~70 science stars reach S/N 20 in this crowded 1024² field and the PSF varies by
     * ~8 % across it, so the centre of an order-2 surface is known to a few per cent. */
    g_assert_cmpfloat (fabs (f_s / fb - 1.0), <, 0.05);
  }
  g_assert_cmpint (n_bright, >, 50);
  g_assert_cmpfloat ((double) found / n_bright, >=, 0.95);
  g_assert_cmpint (good, >=, 30);
}

int
main (int argc, char **argv)
{
  test_init (&argc, &argv);
  g_test_add_func ("/stars/recovery", test_stars_recovery);
  g_test_add_func ("/stars/empty-and-masked", test_stars_empty_and_masked);
  g_test_add_func ("/stars/flags", test_stars_flags);
  g_test_add_func ("/psf/moffat-3", test_psf_moffat_3);
  g_test_add_func ("/psf/moffat-5", test_psf_moffat_5);
  g_test_add_func ("/psf/gradient", test_psf_gradient);
  g_test_add_func ("/psf/no-stars", test_psf_no_stars);
  g_test_add_func ("/psf/render", test_psf_render);
  g_test_add_func ("/psf/nea", test_psf_nea);
  g_test_add_func ("/psf/from-pixels-synthetic", test_psf_from_pixels_synthetic);
  g_test_add_func ("/psf/from-pixels-webbpsf", test_psf_from_pixels_webbpsf);
  g_test_add_func ("/psf/real-decam-18a", test_real_decam_18a);
  g_test_add_func ("/psf/real-decam-04c", test_real_decam_04c);
  g_test_add_func ("/stamps/constructed", test_stamps_constructed);
  g_test_add_func ("/sim/pair", test_sim_pair);
  return g_test_run ();
}
