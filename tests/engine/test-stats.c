/* test-stats.c — robust statistics against sorted arrays and seeded Gaussian samples.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "test-util.h"
#include "dia-image.h"
#include "dia-rng.h"
#include "dia-stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int
cmp_float (const void *a, const void *b)
{
  float x = *(const float *) a, y = *(const float *) b;
  return x < y ? -1 : x > y;
}

/* Reference median from a sorted copy of the finite values. */
static double
reference_median (const float *v, int n)
{
  g_autofree float *s = g_new (float, MAX (n, 1));
  int m = 0;
  for (int i = 0; i < n; i++)
    if (isfinite (v[i]))
      s[m++] = v[i];
  if (m == 0)
    return NAN;
  qsort (s, m, sizeof (float), cmp_float);
  return m % 2 ? s[m / 2] : 0.5 * ((double) s[m / 2 - 1] + s[m / 2]);
}

static void
test_stats_median_select (void)
{
  DiaRng rng;
  dia_rng_init (&rng, 42, 0);

  /* Hand-made cases first: odd, even, duplicates, NaN and infinities ignored. */
  {
    const float odd[] = { 5, 1, 4, 2, 3 };
    const float even[] = { 8, 1, 7, 2 };
    const float with_nan[] = { NAN, 3, INFINITY, 1, -INFINITY, 2, NAN };
    const float dup[] = { 2, 2, 2, 1, 3, 2 };
    const float none[] = { NAN, NAN };
    float scratch[8];
    g_assert_cmpfloat (dia_stats_median (odd, 5, scratch), ==, 3.0);
    g_assert_cmpfloat (dia_stats_median (even, 4, scratch), ==, 4.5);
    g_assert_cmpfloat (dia_stats_median (with_nan, 7, scratch), ==, 2.0);
    g_assert_cmpfloat (dia_stats_median (dup, 6, scratch), ==, 2.0);
    g_assert_true (isnan (dia_stats_median (none, 2, scratch)));
    g_assert_true (isnan (dia_stats_median (none, 0, scratch)));
    /* The input is left alone. */
    g_assert_cmpfloat (odd[0], ==, 5.0f);
  }

  /* Random arrays of many sizes, with ties and NaNs, against qsort. */
  for (int trial = 0; trial < 200; trial++)
    {
      int n = 1 + (int) (dia_rng_uniform (&rng) * (trial < 100 ? 20 : 3000));
      g_autofree float *v = g_new (float, n);
      g_autofree float *scratch = g_new (float, n);
      g_autofree float *sorted = g_new (float, n);
      for (int i = 0; i < n; i++)
        {
          double u = dia_rng_uniform (&rng);
          v[i] = trial % 3 == 0 ? floorf ((float) (u * 10.0)) : (float) dia_rng_gaussian (&rng);
          if (trial % 4 == 1 && u < 0.1)
            v[i] = NAN;
        }
      g_assert_cmpfloat (dia_stats_median (v, n, scratch), ==, reference_median (v, n));

      /* select: every k against the sorted array (finite values only). */
      {
        int m = 0;
        for (int i = 0; i < n; i++)
          if (isfinite (v[i]))
            sorted[m++] = v[i];
        qsort (sorted, m, sizeof (float), cmp_float);
        for (int k = 0; k < m; k += MAX (1, m / 17))
          {
            int j = 0;
            for (int i = 0; i < n; i++)
              if (isfinite (v[i]))
                scratch[j++] = v[i];
            g_assert_cmpfloat (dia_stats_select (scratch, m, k), ==, sorted[k]);
          }
      }
    }
}

static void
test_stats_robust_sigma (void)
{
  const gint64 n = 1000000;
  g_autofree float *v = g_new (float, n);
  DiaStats st;
  DiaRng rng;
  g_autoptr (GError) error = NULL;

  dia_rng_init (&rng, 7, 3);
  for (gint64 i = 0; i < n; i++)
    v[i] = (float) dia_rng_gaussian (&rng);
  g_assert_true (dia_stats_compute (v, n, &st, &error));
  g_assert_no_error (error);
  g_test_message ("1e6 N(0,1): robust sigma %.5f, stdev %.5f, median %.5f, clipped %.5f +- %.5f",
                  st.robust_sigma, st.stdev, st.median, st.clipped_mean, st.clipped_stdev);
  g_assert_cmpint (st.n, ==, n);
  g_assert_cmpfloat (fabs (st.robust_sigma - 1.0), <, 0.005);
  g_assert_cmpfloat (fabs (st.stdev - 1.0), <, 0.005);
  g_assert_cmpfloat (fabs (st.mean), <, 0.005);
  g_assert_cmpfloat (fabs (st.median), <, 0.005);
  /* A 3σ clip of a Gaussian keeps 99.7 % of it: stdev 0.986. */
  g_assert_cmpfloat (fabs (st.clipped_stdev - 0.986), <, 0.01);
  g_assert_cmpfloat (st.min, <, -4.0);
  g_assert_cmpfloat (st.max, >, 4.0);

  /* Scaling the data scales σ. */
  for (gint64 i = 0; i < n; i++)
    v[i] = 3.0f * v[i] + 100.0f;
  g_assert_true (dia_stats_compute (v, n, &st, NULL));
  g_assert_cmpfloat (fabs (st.robust_sigma - 3.0), <, 0.015);
  g_assert_cmpfloat (fabs (st.median - 100.0), <, 0.015);

  /* No samples: NAN statistics, still success. */
  g_assert_true (dia_stats_compute (v, 0, &st, NULL));
  g_assert_cmpint (st.n, ==, 0);
  g_assert_true (isnan (st.median) && isnan (st.robust_sigma));
}

static void
test_stats_clipped (void)
{
  const gint64 n = 200000;
  g_autofree float *v = g_new (float, n);
  double mean, stdev, plain = 0.0;
  DiaRng rng;

  dia_rng_init (&rng, 11, 0);
  /* 5 % one-sided outliers (cosmic rays, stars) on top of N(0, 1). */
  for (gint64 i = 0; i < n; i++)
    {
      v[i] = (float) dia_rng_gaussian (&rng);
      if (dia_rng_uniform (&rng) < 0.05)
        v[i] += (float) (8.0 + 40.0 * dia_rng_uniform (&rng));
      plain += v[i];
    }
  plain /= n;
  dia_stats_clipped (v, n, 3.0, 3, &mean, &stdev);
  g_test_message ("clipped mean %.5f (plain mean %.3f), clipped stdev %.4f", mean, plain, stdev);
  g_assert_cmpfloat (plain, >, 1.0);
  g_assert_cmpfloat (fabs (mean), <, 0.01);
  g_assert_cmpfloat (fabs (stdev - 0.986), <, 0.02);

  /* NaN samples are ignored, all-NaN input gives NAN. */
  v[0] = NAN;
  v[1] = INFINITY;
  dia_stats_clipped (v, n, 3.0, 3, &mean, &stdev);
  g_assert_cmpfloat (fabs (mean), <, 0.01);
  v[0] = v[1] = NAN;
  dia_stats_clipped (v, 2, 3.0, 3, &mean, &stdev);
  g_assert_true (isnan (mean));
}

static void
test_stats_image (void)
{
  g_autoptr (DiaImage) img = dia_image_new (200, 150, NULL);
  DiaRect r = { 50, 40, 100, 60 };
  DiaStats st;
  DiaRng rng;

  dia_rng_init (&rng, 3, 0);
  for (int y = 0; y < img->height; y++)
    for (int x = 0; x < img->width; x++)
      {
        size_t i = dia_image_index (img, x, y);
        gboolean inside = x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height;
        img->pix[i] = (float) ((inside ? 10.0 : -50.0) + 2.0 * dia_rng_gaussian (&rng));
        img->var[i] = 4.0f;
        /* Masked pixels hold absurd values that must not leak into the statistics. */
        if (inside && (x + y) % 10 == 0)
          {
            img->mask[i] = DIA_MASK_SAT;
            img->pix[i] = 1e6f;
          }
      }
  g_assert_true (dia_stats_image (img, &r, FALSE, DIA_MASK_UNUSABLE, 0, &st, NULL));
  g_assert_cmpint (st.n, ==, r.width * r.height - r.width * r.height / 10);
  g_assert_cmpfloat (fabs (st.median - 10.0), <, 0.1);
  g_assert_cmpfloat (fabs (st.robust_sigma - 2.0), <, 0.1);
  g_assert_cmpfloat (st.max, <, 100.0);

  /* The variance plane, and a sub-sampled estimate. */
  g_assert_true (dia_stats_image (img, &r, TRUE, 0, 0, &st, NULL));
  g_assert_cmpfloat (st.median, ==, 4.0);
  g_assert_true (dia_stats_image (img, &r, FALSE, DIA_MASK_UNUSABLE, 1000, &st, NULL));
  g_assert_cmpint (st.n, <=, 1000 + r.width + r.height);
  g_assert_cmpint (st.n, >, 500);
  g_assert_cmpfloat (fabs (st.median - 10.0), <, 0.3);

  /* A rectangle sticking out of the image is clipped to it. */
  {
    DiaRect big = { -10, -10, 1000, 1000 };
    g_assert_true (dia_stats_image (img, &big, FALSE, 0, 0, &st, NULL));
    g_assert_cmpint (st.n, ==, img->width * img->height);
  }
}

int
main (int argc, char **argv)
{
  test_init (&argc, &argv);
  g_test_add_func ("/stats/median-select", test_stats_median_select);
  g_test_add_func ("/stats/robust-sigma", test_stats_robust_sigma);
  g_test_add_func ("/stats/clipped", test_stats_clipped);
  g_test_add_func ("/stats/image", test_stats_image);
  return g_test_run ();
}
