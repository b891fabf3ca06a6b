/* test-sim.c — the simulator against its own contract.
 *
 * Noise: (image − model)/√var has unit robust σ.  Determinism: 1 and 2 threads give identical
 * bytes.  Truth: the broad model minus K ⋆ the sharp model (skies removed) vanishes around
 * isolated stars and galaxies to 1e-3 of their peak, in both regimes, while transients,
 * variables, the moving object and cosmic rays leave exactly their stated fluxes; transients
 * have the stated S/N; saturation, bleed trails and the bad column are masked.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "test-util.h"
#include "dia-image.h"
#include "dia-error.h"
#include "dia-sim.h"

#include <math.h>
#include <string.h>

typedef struct
{
  DiaImage *tmpl, *sci;
  DiaSimTruth *truth;
} SimPair;

static void
sim_pair_make (SimPair *pair, const DiaSimParams *params)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (dia_sim_generate (params, &pair->tmpl, &pair->sci, &pair->truth, NULL,
                                   &error));
  g_assert_no_error (error);
  g_assert_nonnull (pair->truth);
  g_assert_true (pair->tmpl->frozen && pair->sci->frozen);
  g_assert_cmpuint (pair->tmpl->stride, ==, (guint) params->width);
}

static void
sim_pair_clear (SimPair *pair)
{
  dia_image_unref (pair->tmpl);
  dia_image_unref (pair->sci);
  dia_sim_truth_free (pair->truth);
}

static double
plane_at (const double *c, double x, double y)
{
  return c[0] + c[1] * x + c[2] * y;
}

/* The images' roles: the broad one is K ⋆ the sharp one. */
typedef struct
{
  const float *broad, *sharp;
  const double *broad_sky, *sharp_sky;
  int w, h, ks;
} Relation;

static void
relation_init (Relation *r, const DiaSimTruth *t)
{
  gboolean sharper = t->params.regime == DIA_SIM_SCIENCE_SHARPER;
  r->broad = sharper ? t->template_model : t->science_model;
  r->sharp = sharper ? t->science_model : t->template_model;
  r->broad_sky = sharper ? t->sky_template_plane : t->sky_science_plane;
  r->sharp_sky = sharper ? t->sky_science_plane : t->sky_template_plane;
  r->w = t->params.width;
  r->h = t->params.height;
  r->ks = t->kernel_size;
}

/* broad − sky − K ⋆ (sharp − sky) at (x, y); NAN when K reaches outside the image. */
static double
relation_residual (const Relation *r, const float *kernel, int x, int y)
{
  int hk = r->ks / 2;
  double acc = 0.0;
  if (x - hk < 0 || y - hk < 0 || x + hk >= r->w || y + hk >= r->h)
    return NAN;
  for (int v = -hk; v <= hk; v++)
    for (int u = -hk; u <= hk; u++)
      {
        int xx = x + u, yy = y + v;
        acc += kernel[(v + hk) * r->ks + u + hk]
               * (r->sharp[(gsize) yy * r->w + xx] - plane_at (r->sharp_sky, xx, yy));
      }
  return r->broad[(gsize) y * r->w + x] - plane_at (r->broad_sky, x, y) - acc;
}

/* Sum of the residual over a box of half width rad around (x, y). */
static double
relation_box_sum (const Relation *r, const DiaSimTruth *t, double x, double y, int rad)
{
  g_autofree float *k = g_new (float, t->kernel_size * t->kernel_size);
  int ix = (int) lround (x), iy = (int) lround (y);
  double s = 0.0;
  dia_sim_truth_kernel (t, x, y, k);
  for (int yy = iy - rad; yy <= iy + rad; yy++)
    for (int xx = ix - rad; xx <= ix + rad; xx++)
      {
        double d = relation_residual (r, k, xx, yy);
        g_assert_true (isfinite (d));
        s += d;
      }
  return s;
}

static gboolean
is_special (DiaSimKind kind)
{
  return kind != DIA_SIM_STAR && kind != DIA_SIM_GALAXY;
}

/* Clipping at saturation and bleed trails are the only non-linear parts of the models: TRUE
 * when either model reaches saturation within 25 px of (x, y). */
static gboolean
near_saturation (const DiaSimTruth *t, double x, double y)
{
  int w = t->params.width, h = t->params.height, ix = (int) lround (x), iy = (int) lround (y);
  for (int yy = MAX (0, iy - 25); yy <= MIN (h - 1, iy + 25); yy++)
    for (int xx = MAX (0, ix - 25); xx <= MIN (w - 1, ix + 25); xx++)
      if (t->template_model[(gsize) yy * w + xx] >= t->params.saturation
          || t->science_model[(gsize) yy * w + xx] >= t->params.saturation)
        return TRUE;
  return FALSE;
}

/* No special source within `radius`, no bright neighbour, no saturated pixel near, and the
 * box fits in the image. */
static gboolean
is_isolated (const DiaSimTruth *t, guint self, double radius)
{
  const DiaSimSource *s = &g_array_index (t->sources, DiaSimSource, self);
  int w = t->params.width, h = t->params.height;
  if (s->x < 45 || s->y < 45 || s->x > w - 46 || s->y > h - 46)
    return FALSE;
  for (guint i = 0; i < t->sources->len; i++)
    {
      const DiaSimSource *o = &g_array_index (t->sources, DiaSimSource, i);
      double dx = o->x - s->x, dy = o->y - s->y, dx2 = o->x2 - s->x, dy2 = o->y2 - s->y;
      if (i == self)
        continue;
      if (is_special (o->kind)
          && (dx * dx + dy * dy < radius * radius || dx2 * dx2 + dy2 * dy2 < radius * radius))
        return FALSE;
      /* A bright neighbour was rendered with the kernel at its own position, which differs
       * from ours by the field variation (up to ~1e-3 of its peak over 10–20 px). */
      if (o->flux_template > 0.3 * s->flux_template && dx * dx + dy * dy < radius * radius)
        return FALSE;
    }
  return !near_saturation (t, s->x, s->y);
}

/* Nothing at (x, y) breaks the linear relation: no saturated pixel near it, no other special
 * source within 20 px. */
static gboolean
is_clean_spot (const DiaSimTruth *t, guint self, double x, double y)
{
  for (guint i = 0; i < t->sources->len; i++)
    {
      const DiaSimSource *o = &g_array_index (t->sources, DiaSimSource, i);
      double dx = o->x - x, dy = o->y - y, dx2 = o->x2 - x, dy2 = o->y2 - y;
      if (i == self)
        continue;
      if (is_special (o->kind) && (dx * dx + dy * dy < 400.0 || dx2 * dx2 + dy2 * dy2 < 400.0))
        return FALSE;
    }
  return !near_saturation (t, x, y);
}

/* Flux of the other sources within 30 px: the kernel they were rendered with differs from the
 * one at (x, y) by the field variation, which leaves up to ~2e-4 of their flux in a box sum. */
static double
neighbour_flux (const DiaSimTruth *t, guint self, double x, double y)
{
  double f = 0.0;
  for (guint i = 0; i < t->sources->len; i++)
    {
      const DiaSimSource *o = &g_array_index (t->sources, DiaSimSource, i);
      if (i != self && hypot (o->x - x, o->y - y) < 30.0)
        f += o->flux_science;
    }
  return f;
}

/* Checks broad = K ⋆ sharp around isolated, unsaturated stars and galaxies; returns how many
 * sources were checked. */
static int
check_kernel_relation (const DiaSimTruth *t)
{
  Relation r;
  g_autofree float *k = g_new (float, t->kernel_size * t->kernel_size);
  int n_checked = 0, n_gal = 0;

  relation_init (&r, t);
  for (guint i = 0; i < t->sources->len; i++)
    {
      const DiaSimSource *s = &g_array_index (t->sources, DiaSimSource, i);
      double peak = 0.0, worst = 0.0;
      double bx, by;
      int ix, iy;
      if (s->kind != DIA_SIM_STAR && s->kind != DIA_SIM_GALAXY)
        continue;
      if (s->saturated || s->flux_template < 3000.0 || !is_isolated (t, i, 30.0))
        continue;
      if ((s->kind == DIA_SIM_GALAXY && n_gal >= 10)
          || (s->kind == DIA_SIM_STAR && n_checked - n_gal >= 30))
        continue;
      /* The kernel at the sharp image's position, the box around the broad image's. */
      if (t->params.regime == DIA_SIM_SCIENCE_SHARPER)
        {
          dia_sim_truth_kernel (t, s->x, s->y, k);
          bx = s->x2;
          by = s->y2;
        }
      else
        {
          dia_sim_truth_kernel (t, s->x2, s->y2, k);
          bx = s->x;
          by = s->y;
        }
      ix = (int) lround (bx);
      iy = (int) lround (by);
      for (int y = iy - 15; y <= iy + 15; y++)
        for (int x = ix - 15; x <= ix + 15; x++)
          {
            double b = r.broad[(gsize) y * r.w + x] - plane_at (r.broad_sky, x, y);
            double d = relation_residual (&r, k, x, y);
            g_assert_true (isfinite (d));
            peak = MAX (peak, b);
            worst = MAX (worst, fabs (d));
          }
      g_assert_cmpfloat (peak, >, 0.0);
      if (worst >= 1e-3 * peak)
        g_test_message ("source %u (%s) at %.1f,%.1f: residual %.3g of peak %.3g", i,
                        s->kind == DIA_SIM_STAR ? "star" : "galaxy", bx, by, worst, peak);
      g_assert_cmpfloat (worst, <, 1e-3 * peak);
      n_checked++;
      n_gal += s->kind == DIA_SIM_GALAXY;
    }
  g_test_message ("kernel relation checked on %d sources (%d galaxies)", n_checked, n_gal);
  g_assert_cmpint (n_checked, >=, 10);
  g_assert_cmpint (n_gal, >=, 2);
  return n_checked;
}

static void
test_sim_noise (void)
{
  DiaSimParams p;
  SimPair pair = { 0 };
  gint64 n;
  double s_t, s_s;

  dia_sim_params_init (&p, 1024, 1024, 1);
  sim_pair_make (&pair, &p);
  n = (gint64) p.width * p.height;
  s_t = test_robust_sigma_normalised (pair.tmpl->pix, pair.truth->template_model, pair.tmpl->var,
                                      pair.tmpl->mask, DIA_MASK_UNUSABLE, n);
  s_s = test_robust_sigma_normalised (pair.sci->pix, pair.truth->science_model, pair.sci->var,
                                      pair.sci->mask, DIA_MASK_UNUSABLE, n);
  g_test_message ("normalised robust sigma: template %.4f, science %.4f", s_t, s_s);
  g_assert_cmpfloat (fabs (s_t - 1.0), <, 0.02);
  g_assert_cmpfloat (fabs (s_s - 1.0), <, 0.02);

  /* The variance plane is the stated expectation, and the template is the deeper one. */
  for (gint64 i = 0; i < n; i += 997)
    {
      double rn2 = p.read_noise * p.read_noise;
      g_assert_cmpfloat (fabs (pair.sci->var[i] - (pair.truth->science_model[i] + rn2)), <=,
                         1e-4 * pair.sci->var[i]);
      g_assert_cmpfloat (fabs (pair.tmpl->var[i]
                               - p.template_depth * (pair.truth->template_model[i] + rn2)), <=,
                         1e-4 * pair.tmpl->var[i]);
    }
  g_assert_cmpfloat (pair.sci->meta.gain, ==, p.gain);
  g_assert_cmpfloat (pair.sci->meta.saturation, ==, p.saturation);
  g_assert_cmpint (pair.sci->meta.variance_origin, ==, DIA_VARIANCE_SIMULATED);
  g_assert_cmpfloat (pair.sci->meta.mjd, >, pair.tmpl->meta.mjd);
  g_assert_cmpfloat (pair.tmpl->meta.psf_fwhm, ==, p.fwhm_sharp);
  g_assert_cmpfloat (pair.sci->meta.psf_fwhm, ==, p.fwhm_broad);
  sim_pair_clear (&pair);
}

static void
test_sim_determinism (void)
{
  DiaSimParams p;
  SimPair a = { 0 }, b = { 0 }, c = { 0 };
  gsize n;

  dia_sim_params_init (&p, 600, 500, 7);
  p.n_threads = 1;
  sim_pair_make (&a, &p);
  p.n_threads = 2;
  sim_pair_make (&b, &p);
  n = (gsize) p.width * p.height;
  g_assert_cmpmem (a.tmpl->pix, n * sizeof (float), b.tmpl->pix, n * sizeof (float));
  g_assert_cmpmem (a.sci->pix, n * sizeof (float), b.sci->pix, n * sizeof (float));
  g_assert_cmpmem (a.sci->var, n * sizeof (float), b.sci->var, n * sizeof (float));
  g_assert_cmpmem (a.sci->mask, n * sizeof (DiaMask), b.sci->mask, n * sizeof (DiaMask));
  g_assert_cmpmem (a.truth->diff_variance, n * sizeof (float), b.truth->diff_variance,
                   n * sizeof (float));
  g_assert_cmpuint (a.truth->sources->len, ==, b.truth->sources->len);
  g_assert_cmpmem (a.truth->sources->data, a.truth->sources->len * sizeof (DiaSimSource),
                   b.truth->sources->data, b.truth->sources->len * sizeof (DiaSimSource));

  /* Another seed is another sky. */
  p.seed = 8;
  p.n_threads = 3;
  sim_pair_make (&c, &p);
  g_assert_true (memcmp (a.sci->pix, c.sci->pix, n * sizeof (float)) != 0);
  sim_pair_clear (&a);
  sim_pair_clear (&b);
  sim_pair_clear (&c);
}

static void
check_kernel_sum (const DiaSimTruth *t)
{
  int ks = t->kernel_size, hk = ks / 2;
  g_autofree float *k = g_new (float, ks * ks);
  const double pos[3][2] = { { 0.5 * (t->params.width - 1), 0.5 * (t->params.height - 1) },
                             { 0.0, 0.0 },
                             { t->params.width - 1.0, 0.3 * t->params.height } };
  g_assert_cmpint (ks % 2, ==, 1);
  g_assert_cmpfloat (fabs (t->kernel_sum - t->params.flux_ratio), <, 1e-12);
  for (int p = 0; p < 3; p++)
    {
      double s = 0.0, mx = 0.0, my = 0.0;
      if (p == 0)
        memcpy (k, t->kernel_centre, sizeof (float) * ks * ks);
      else
        dia_sim_truth_kernel (t, pos[p][0], pos[p][1], k);
      for (int v = 0; v < ks; v++)
        for (int u = 0; u < ks; u++)
          {
            s += k[v * ks + u];
            mx += k[v * ks + u] * (u - hk);
            my += k[v * ks + u] * (v - hk);
          }
      g_assert_cmpfloat (fabs (s - t->params.flux_ratio), <, 1e-6);
      /* The centroid is the stated misregistration. */
      g_assert_cmpfloat (fabs (mx / s - t->params.shift_x), <, 1e-4);
      g_assert_cmpfloat (fabs (my / s - t->params.shift_y), <, 1e-4);
    }
}

static void
test_sim_kernel_relation (void)
{
  DiaSimParams p;
  SimPair pair = { 0 };

  dia_sim_params_init (&p, 1024, 1024, 1);
  sim_pair_make (&pair, &p);
  check_kernel_sum (pair.truth);
  check_kernel_relation (pair.truth);

  /* Stars carry flux_ratio × their template flux into the science image; the science-image
   * position is the template one displaced by −shift. */
  for (guint i = 0; i < pair.truth->sources->len; i++)
    {
      const DiaSimSource *s = &g_array_index (pair.truth->sources, DiaSimSource, i);
      if (s->kind != DIA_SIM_STAR && s->kind != DIA_SIM_GALAXY)
        continue;
      g_assert_cmpfloat (fabs (s->flux_science - p.flux_ratio * s->flux_template), <=,
                         1e-9 * s->flux_science);
      g_assert_cmpfloat (fabs (s->x2 - s->x - p.shift_x), <, 1e-9);
      g_assert_cmpfloat (fabs (s->y2 - s->y - p.shift_y), <, 1e-9);
    }
  sim_pair_clear (&pair);
}

/* Transients, variables, the moving object and cosmic rays are exactly what the difference of
 * the models leaves behind. */
static void
test_sim_special_sources (void)
{
  DiaSimParams p;
  SimPair pair = { 0 };
  Relation r;
  const DiaSimTruth *t;
  int n_tr = 0, n_tr_snr = 0, n_var = 0, n_mov = 0, n_cr = 0, n_skipped = 0;
  double rn2;

  dia_sim_params_init (&p, 1024, 1024, 1);
  sim_pair_make (&pair, &p);
  t = pair.truth;
  relation_init (&r, t);
  rn2 = p.read_noise * p.read_noise;
  for (guint i = 0; i < t->sources->len; i++)
    {
      const DiaSimSource *s = &g_array_index (t->sources, DiaSimSource, i);
      if (is_special (s->kind) && !is_clean_spot (t, i, s->x, s->y))
        {
          n_skipped++;
          continue;
        }
      switch (s->kind)
        {
        case DIA_SIM_TRANSIENT:
          {
            g_autofree float *k = g_new (float, t->kernel_size * t->kernel_size);
            int ix = (int) lround (s->x), iy = (int) lround (s->y);
            double sum = 0.0, sum_pv = 0.0, tmpl_excess = 0.0, snr;
            g_autofree double *d = g_new (double, 25 * 25);

            g_assert_cmpfloat (s->flux_template, ==, 0.0);
            g_assert_cmpfloat (s->snr, >=, p.transient_snr_min);
            g_assert_cmpfloat (s->snr, <=, p.transient_snr_max);
            dia_sim_truth_kernel (t, s->x, s->y, k);
            for (int y = iy - 12, n = 0; y <= iy + 12; y++)
              for (int x = ix - 12; x <= ix + 12; x++, n++)
                {
                  d[n] = relation_residual (&r, k, x, y);
                  sum += d[n];
                  tmpl_excess = MAX (tmpl_excess, t->template_model[(gsize) y * r.w + x]
                                                  - plane_at (t->sky_template_plane, x, y));
                }
            /* Only in the science image: the difference holds its whole flux. */
            g_assert_cmpfloat (fabs (sum - s->flux_science), <,
                               2e-3 * s->flux_science + 2e-4 * neighbour_flux (t, i, s->x, s->y));
            n_tr++;
            /* PSF-weighted S/N against the expected difference variance without the
             * transient's own photon noise, where nothing else is underneath. */
            if (tmpl_excess > 40.0)
              break;
            for (int y = iy - 12, n = 0; y <= iy + 12; y++)
              for (int x = ix - 12; x <= ix + 12; x++, n++)
                {
                  double pp = d[n] / sum;
                  double v = t->diff_variance[(gsize) y * r.w + x] - d[n];
                  sum_pv += pp * pp / v;
                }
            snr = sum * sqrt (sum_pv);
            g_test_message ("transient %u: S/N %.2f, stated %.2f", i, snr, s->snr);
            g_assert_cmpfloat (fabs (snr / s->snr - 1.0), <, 0.10);
            n_tr_snr++;
          }
          break;
        case DIA_SIM_VARIABLE:
          {
            double sum = relation_box_sum (&r, t, s->x2, s->y2, 15);
            double expect = s->flux_science - p.flux_ratio * s->flux_template;
            g_assert_cmpfloat (fabs (expect), >, 0.15 * s->flux_science);
            g_assert_cmpfloat (fabs (sum - expect), <,
                               2e-3 * s->flux_science + 2e-4 * neighbour_flux (t, i, s->x, s->y));
            n_var++;
          }
          break;
        case DIA_SIM_MOVING:
          {
            double moved = hypot (s->x - s->x2, s->y - s->y2);
            double plus = relation_box_sum (&r, t, s->x, s->y, 8);
            double minus = relation_box_sum (&r, t, s->x2 - p.shift_x, s->y2 - p.shift_y, 8);
            g_assert_cmpfloat (moved, >, 10.0);
            g_assert_cmpfloat (fabs (plus - s->flux_science), <, 0.01 * s->flux_science);
            g_assert_cmpfloat (fabs (minus + p.flux_ratio * s->flux_template), <,
                               0.01 * s->flux_science);
            n_mov++;
          }
          break;
        case DIA_SIM_COSMIC_RAY:
          {
            int ix = (int) s->x, iy = (int) s->y;
            double sum = 0.0;
            if (ix < 10 || iy < 10 || ix >= r.w - 10 || iy >= r.h - 10)
              break;
            for (int y = iy - 3; y <= iy + 3; y++)
              for (int x = ix - 3; x <= ix + 3; x++)
                {
                  g_autofree float *k = g_new (float, t->kernel_size * t->kernel_size);
                  dia_sim_truth_kernel (t, s->x, s->y, k);
                  sum += relation_residual (&r, k, x, y);
                  /* The mask does not reveal cosmic rays. */
                  g_assert_false (pair.sci->mask[(gsize) y * r.w + x] & DIA_MASK_CR);
                }
            g_assert_cmpfloat (fabs (sum - s->flux_science), <, 0.01 * s->flux_science + 1.0);
            g_assert_cmpfloat (s->flux_science, >=, 800.0);
            n_cr++;
          }
          break;
        default:
          break;
        }
    }
  g_test_message ("%d transients (%d with S/N checked), %d variables, %d moving, %d cosmic rays"
                  " checked; %d near saturated or special sources skipped",
                  n_tr, n_tr_snr, n_var, n_mov, n_cr, n_skipped);
  g_assert_cmpint (n_tr, >=, p.n_transients - 4);
  g_assert_cmpint (n_tr_snr, >=, 4);
  g_assert_cmpint (n_var, >=, p.n_variables - 3);
  g_assert_cmpint (n_mov, ==, 1);
  g_assert_cmpint (n_cr, >=, 15);
  (void) rn2;
  sim_pair_clear (&pair);
}

static void
test_sim_masks (void)
{
  DiaSimParams p;
  SimPair pair = { 0 };
  const DiaSimTruth *t;
  int w, h, n_sat = 0, n_faint = 0, longest_trail = 0;
  float sat;

  dia_sim_params_init (&p, 1024, 1024, 1);
  sim_pair_make (&pair, &p);
  t = pair.truth;
  w = p.width;
  h = p.height;
  sat = (float) p.saturation;

  /* The bad column: every pixel BAD in the science image, nowhere else. */
  g_assert_cmpint (t->bad_column, >=, w / 4);
  g_assert_cmpint (t->bad_column, <, 3 * w / 4);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        gsize i = (gsize) y * w + x;
        gboolean bad = (pair.sci->mask[i] & DIA_MASK_BAD) != 0;
        g_assert_true (bad == (x == t->bad_column));
        g_assert_false (pair.tmpl->mask[i] & DIA_MASK_BAD);
        /* SAT pixels hold exactly the saturation level. */
        if (pair.tmpl->mask[i] & DIA_MASK_SAT)
          g_assert_cmpfloat (pair.tmpl->pix[i], ==, sat);
        if ((pair.sci->mask[i] & DIA_MASK_SAT) && !bad)
          g_assert_cmpfloat (pair.sci->pix[i], ==, sat);
        g_assert_cmpfloat (pair.tmpl->pix[i], <=, sat);
      }

  for (guint i = 0; i < t->sources->len; i++)
    {
      const DiaSimSource *s = &g_array_index (t->sources, DiaSimSource, i);
      int ix = (int) lround (s->x2), iy = (int) lround (s->y2);
      if (s->kind != DIA_SIM_STAR || ix < 0 || iy < 0 || ix >= w || iy >= h)
        continue;
      if (s->saturated && s->flux_template > 2e6)
        {
          /* The core is SAT in the sharp template, and the charge bleeds along the column. */
          int run = 0;
          g_assert_true (pair.tmpl->mask[(gsize) iy * w + ix] & DIA_MASK_SAT);
          g_assert_cmpfloat (pair.tmpl->pix[(gsize) iy * w + ix], ==, sat);
          for (int y = iy; y < h && (pair.tmpl->mask[(gsize) y * w + ix] & DIA_MASK_SAT); y++)
            run++;
          for (int y = iy - 1; y >= 0 && (pair.tmpl->mask[(gsize) y * w + ix] & DIA_MASK_SAT);
               y--)
            run++;
          longest_trail = MAX (longest_trail, run);
          n_sat++;
        }
      else if (s->flux_template < 2e4 && s->flux_template > 0)
        {
          /* Faint stars are not flagged (unless they sit on a bright one's pixels). */
          if (!(pair.tmpl->mask[(gsize) iy * w + ix] & DIA_MASK_SAT))
            {
              g_assert_false (s->saturated);
              n_faint++;
            }
        }
    }
  g_test_message ("%d bright saturated stars, longest SAT run %d px, %d faint stars", n_sat,
                  longest_trail, n_faint);
  g_assert_cmpint (n_sat, >=, 1);
  g_assert_cmpint (longest_trail, >, 30);
  g_assert_cmpint (n_faint, >, 500);
  sim_pair_clear (&pair);
}

static void
test_sim_sharper (void)
{
  DiaSimParams p;
  SimPair pair = { 0 };
  gint64 n;

  dia_sim_params_init (&p, 768, 768, 3);
  p.regime = DIA_SIM_SCIENCE_SHARPER;
  p.flux_ratio = 1.25;
  sim_pair_make (&pair, &p);
  check_kernel_sum (pair.truth);
  check_kernel_relation (pair.truth);
  g_assert_cmpfloat (pair.sci->meta.psf_fwhm, ==, p.fwhm_sharp);
  for (guint i = 0; i < pair.truth->sources->len; i++)
    {
      const DiaSimSource *s = &g_array_index (pair.truth->sources, DiaSimSource, i);
      if (s->kind == DIA_SIM_STAR)
        g_assert_cmpfloat (fabs (s->flux_template - 1.25 * s->flux_science), <=,
                           1e-9 * s->flux_template);
    }
  n = (gint64) p.width * p.height;
  g_assert_cmpfloat (fabs (test_robust_sigma_normalised (pair.tmpl->pix,
                                                         pair.truth->template_model,
                                                         pair.tmpl->var, pair.tmpl->mask,
                                                         DIA_MASK_UNUSABLE, n) - 1.0), <, 0.03);
  sim_pair_clear (&pair);
}

static void
test_sim_bad_params (void)
{
  DiaSimParams p;
  DiaImage *a = NULL, *b = NULL;
  DiaSimTruth *t = NULL;
  g_autoptr (GError) error = NULL;

  dia_sim_params_init (&p, 100000, 64, 1);
  g_assert_false (dia_sim_generate (&p, &a, &b, &t, NULL, &error));
  g_assert_error (error, DIA_ERROR, DIA_ERROR_INVALID);
  g_assert_null (a);
  g_assert_null (t);
  g_clear_error (&error);

  dia_sim_params_init (&p, 128, 128, 1);
  p.fwhm_broad = p.fwhm_sharp;
  g_assert_false (dia_sim_generate (&p, &a, &b, NULL, NULL, &error));
  g_assert_error (error, DIA_ERROR, DIA_ERROR_INVALID);
  g_clear_error (&error);

  dia_sim_params_init (&p, 128, 128, 1);
  p.moffat_beta = NAN;
  g_assert_false (dia_sim_generate (&p, &a, &b, NULL, NULL, &error));
  g_assert_error (error, DIA_ERROR, DIA_ERROR_INVALID);
}

static void
test_sim_write (void)
{
  DiaSimParams p;
  SimPair pair = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *prefix = g_build_filename (dir, "pair", NULL);
  g_autofree char *csv_path = g_strconcat (prefix, "_truth_sources.csv", NULL);
  g_autofree char *json_path = g_strconcat (prefix, "_truth.json", NULL);
  g_autofree char *kpath = g_strconcat (prefix, "_truth_kernel.fits", NULL);
  g_autofree char *vpath = g_strconcat (prefix, "_truth_diffvar.fits", NULL);
  g_autofree char *csv = NULL, *json = NULL;
  g_auto (GStrv) lines = NULL;

  dia_sim_params_init (&p, 256, 200, 5);
  sim_pair_make (&pair, &p);
  g_assert_true (dia_sim_truth_write (pair.truth, prefix, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (csv_path, &csv, NULL, NULL));
  lines = g_strsplit (csv, "\n", -1);
  g_assert_cmpstr (lines[0], ==, "kind,x,y,x2,y2,flux_template,flux_science,saturated");
  /* One line per source plus the header and the empty string after the final newline. */
  g_assert_cmpuint (g_strv_length (lines), ==, pair.truth->sources->len + 2);
  {
    const DiaSimSource *s0 = &g_array_index (pair.truth->sources, DiaSimSource, 0);
    g_auto (GStrv) f = g_strsplit (lines[1], ",", -1);
    g_assert_cmpuint (g_strv_length (f), ==, 8);
    g_assert_cmpstr (f[0], ==, "star");
    g_assert_cmpfloat (fabs (g_ascii_strtod (f[1], NULL) - s0->x), <, 1e-3);
    g_assert_cmpfloat (fabs (g_ascii_strtod (f[6], NULL) - s0->flux_science), <, 1e-2);
  }
  g_assert_true (g_file_get_contents (json_path, &json, NULL, NULL));
  g_assert_nonnull (strstr (json, "\"kernel_sum\""));
  g_assert_nonnull (strstr (json, "\"seed\": 5") ? json : strstr (json, "\"seed\":5"));
  g_assert_true (g_file_test (kpath, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (vpath, G_FILE_TEST_EXISTS));

  /* A folder that does not exist gives an error that names the file. */
  {
    g_autofree char *bad = g_build_filename (dir, "missing", "pair", NULL);
    g_assert_false (dia_sim_truth_write (pair.truth, bad, &error));
    g_assert_nonnull (error);
    g_assert_nonnull (strstr (error->message, "missing"));
    g_clear_error (&error);
  }
  sim_pair_clear (&pair);
  test_tmpdir_remove (dir);
}

int
main (int argc, char **argv)
{
  test_init (&argc, &argv);
  g_test_add_func ("/sim/noise", test_sim_noise);
  g_test_add_func ("/sim/determinism", test_sim_determinism);
  g_test_add_func ("/sim/kernel-relation", test_sim_kernel_relation);
  g_test_add_func ("/sim/special-sources", test_sim_special_sources);
  g_test_add_func ("/sim/masks", test_sim_masks);
  g_test_add_func ("/sim/sharper", test_sim_sharper);
  g_test_add_func ("/sim/bad-params", test_sim_bad_params);
  g_test_add_func ("/sim/write", test_sim_write);
  return g_test_run ();
}
