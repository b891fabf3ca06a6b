/* dia-stats.c — medians by selection, MAD, afw-style clipped means.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-stats.h"
#include "dia-error.h"
#include "dia-image.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

float
dia_stats_select (float *v, gint64 n, gint64 k)
{
  gint64 lo = 0, hi = n - 1;
  while (hi > lo)
    {
      /* Median of three pivot; Hoare partition. */
      gint64 mid = lo + (hi - lo) / 2;
      float a = v[lo], b = v[mid], c = v[hi];
      float pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
      gint64 i = lo, j = hi;
      while (i <= j)
        {
          while (v[i] < pivot)
            i++;
          while (v[j] > pivot)
            j--;
          if (i <= j)
            {
              float t = v[i];
              v[i] = v[j];
              v[j] = t;
              i++;
              j--;
            }
        }
      if (k <= j)
        hi = j;
      else if (k >= i)
        lo = i;
      else
        break;
    }
  return v[k];
}

static gint64
stats_copy_finite (const float *data, gint64 n, float *out)
{
  gint64 m = 0;
  for (gint64 i = 0; i < n; i++)
    if (isfinite (data[i]))
      out[m++] = data[i];
  return m;
}

/* Median of already-finite v[0..m-1] (reorders v). */
static double
stats_median_inplace (float *v, gint64 m)
{
  if (m == 0)
    return NAN;
  if (m % 2)
    return dia_stats_select (v, m, m / 2);
  {
    double hi = dia_stats_select (v, m, m / 2);
    float lo = v[0];
    for (gint64 i = 1; i < m / 2; i++)
      lo = MAX (lo, v[i]);
    return 0.5 * (hi + lo);
  }
}

double
dia_stats_median (const float *data, gint64 n, float *scratch)
{
  gint64 m = stats_copy_finite (data, n, scratch);
  return stats_median_inplace (scratch, m);
}

void
dia_stats_clipped (const float *data, gint64 n, double n_sigma, int n_iter, double *mean,
                   double *stdev)
{
  float *v = g_try_new (float, MAX (n, 1));
  gint64 m;
  double centre, half, q1, q3;

  *mean = *stdev = NAN;
  if (v == NULL)
    return;
  m = stats_copy_finite (data, n, v);
  if (m == 0)
    {
      g_free (v);
      return;
    }
  centre = stats_median_inplace (v, m);
  q1 = dia_stats_select (v, m, m / 4);
  q3 = dia_stats_select (v, m, MIN (m - 1, (3 * m) / 4));
  half = n_sigma * 0.7413 * (q3 - q1);
  for (int it = 0; it < n_iter; it++)
    {
      double s = 0, s2 = 0;
      gint64 k = 0;
      for (gint64 i = 0; i < m; i++)
        if (fabs (v[i] - centre) <= half)
          {
            s += v[i];
            s2 += (double) v[i] * v[i];
            k++;
          }
      if (k < 2)
        break;
      *mean = s / k;
      *stdev = sqrt (MAX (0.0, (s2 - s * s / k) / (k - 1)));
      centre = *mean;
      half = n_sigma * *stdev;
      if (half <= 0)
        break;
    }
  if (!isfinite (*mean))
    {
      *mean = centre;
      *stdev = 0.0;
    }
  g_free (v);
}

gboolean
dia_stats_compute (const float *data, gint64 n, DiaStats *out, GError **error)
{
  float *v;
  gint64 m;
  double s = 0, s2 = 0;

  memset (out, 0, sizeof *out);
  out->mean = out->stdev = out->median = out->robust_sigma = NAN;
  out->min = out->max = out->clipped_mean = out->clipped_stdev = NAN;
  if (n <= 0)
    return TRUE;
  v = g_try_new (float, n);
  if (v == NULL)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_NO_MEMORY, _("Not enough memory for statistics"));
      return FALSE;
    }
  m = stats_copy_finite (data, n, v);
  out->n = m;
  if (m == 0)
    {
      g_free (v);
      return TRUE;
    }
  out->min = out->max = v[0];
  for (gint64 i = 0; i < m; i++)
    {
      s += v[i];
      s2 += (double) v[i] * v[i];
      out->min = MIN (out->min, v[i]);
      out->max = MAX (out->max, v[i]);
    }
  out->mean = s / m;
  out->stdev = m > 1 ? sqrt (MAX (0.0, (s2 - s * s / m) / (m - 1))) : 0.0;
  out->median = stats_median_inplace (v, m);
  for (gint64 i = 0; i < m; i++)
    v[i] = fabsf (v[i] - (float) out->median);
  out->robust_sigma = 1.4826 * stats_median_inplace (v, m);
  g_free (v);
  dia_stats_clipped (data, n, 3.0, 3, &out->clipped_mean, &out->clipped_stdev);
  return TRUE;
}

gboolean
dia_stats_image (const DiaImage *image, const DiaRect *rect, gboolean use_variance,
                 DiaMask exclude, gint64 max_samples, DiaStats *out, GError **error)
{
  DiaRect r = rect ? *rect : (DiaRect){ 0, 0, image->width, image->height };
  DiaRect whole = { 0, 0, image->width, image->height };
  gint64 total, m = 0;
  int step = 1;
  float *buf;
  gboolean ok;

  r = dia_rect_intersect (&r, &whole);
  total = (gint64) r.width * r.height;
  if (max_samples > 0 && total > max_samples)
    step = (int) ceil (sqrt ((double) total / max_samples));
  buf = g_try_new (float, MAX (1, total / ((gint64) step * step) + r.width + r.height + 1));
  if (buf == NULL)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_NO_MEMORY, _("Not enough memory for statistics"));
      return FALSE;
    }
  for (int y = r.y; y < r.y + r.height; y += step)
    {
      const float *p = (use_variance ? image->var : image->pix) + dia_image_index (image, 0, y);
      const DiaMask *mk = image->mask + dia_image_index (image, 0, y);
      for (int x = r.x; x < r.x + r.width; x += step)
        if ((mk[x] & exclude) == 0)
          buf[m++] = p[x];
    }
  ok = dia_stats_compute (buf, m, out, error);
  g_free (buf);
  return ok;
}
