/* dia-scale-variance.c — variance-plane rescaling (ALGORITHMS.md §4.3).
 *
 * Variance planes from pipelines or from gain/read-noise estimates are often off by a constant
 * factor (wrong gain, correlated noise from warping, coadd weights).  A difference whose
 * variance is wrong by 20 % turns a 5σ threshold into 4.5σ or 5.5σ, so the factor is measured
 * on each input before the subtraction: background-subtracted pixels divided by √V should have
 * unit spread.  The spread is 0.74 × IQR (robust to the few per cent of pixels in sources).
 * ip_diffim relies on a DETECTED plane to keep sources out; our inputs usually have none, so
 * the neighbourhood (6 px) of every pixel above 5σ of a first estimate is left out as well —
 * otherwise star wings inflate the IQR by several per cent on crowded fields.  5σ cuts a
 * negligible tail of pure noise (6e-7), so the second estimate is not biased low.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-scale-variance.h"
#include "dia-background.h"
#include "dia-error.h"
#include "dia-image.h"
#include "dia-monitor.h"
#include "dia-stats.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

#define SV_BAD_MASK (DIA_MASK_DETECTED | DIA_MASK_DETECTED_NEGATIVE | DIA_MASK_BAD | DIA_MASK_SAT \
                     | DIA_MASK_NO_DATA | DIA_MASK_INTRP)
#define SV_SOURCE_RADIUS 6

/* 0.74 × IQR of v[0..n-1] (reordered). */
static double
sv_iqr_sigma (float *v, gint64 n)
{
  double q25, q75;
  if (n < 2)
    return NAN;
  q25 = dia_stats_select (v, n, n / 4);
  q75 = dia_stats_select (v, n, (3 * n) / 4);
  return 0.74 * (q75 - q25);
}

gboolean
dia_scale_variance_factor (const DiaImage *image, double *factor, DiaMonitor *monitor,
                           GError **error)
{
  int w = image->width, h = image->height;
  size_t n = (size_t) w * h;
  g_autoptr (DiaBackground) bg = NULL;
  g_autofree float *r = g_try_new (float, n);
  g_autofree float *v = g_try_new (float, n);
  g_autofree guint8 *hot = g_try_malloc0 (n);
  g_autofree guint8 *near = g_try_malloc0 (n);
  g_autofree float *row = g_try_new (float, w);
  gint64 m = 0;
  double s1, s2, f;

  *factor = 1.0;
  if (r == NULL || v == NULL || hot == NULL || near == NULL || row == NULL)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_NO_MEMORY,
                   _("Variance scaling of %s: out of memory"),
                   image->source ? image->source : _("an image"));
      return FALSE;
    }
  bg = dia_background_estimate (image, 32, SV_BAD_MASK, monitor, error);
  if (bg == NULL)
    return FALSE;
  for (int y = 0; y < h; y++)
    {
      DiaRect line = { 0, y, w, 1 };
      dia_background_render (bg, &line, row, w);
      for (int x = 0; x < w; x++)
        {
          size_t i = dia_image_index (image, x, y), o = (size_t) y * w + x;
          float p = image->pix[i], var = image->var[i];
          r[o] = NAN;
          if ((image->mask[i] & SV_BAD_MASK) || !isfinite (p) || !isfinite (var) || !(var > 0))
            continue;
          r[o] = (p - row[x]) / sqrtf (var);
          v[m++] = r[o];
        }
    }
  if (!dia_monitor_check (monitor, error))
    return FALSE;
  if (m < 2)
    return TRUE;
  s1 = sv_iqr_sigma (v, m);

  /* Second pass without the neighbourhoods of > 5σ pixels (separable box dilation). */
  for (size_t i = 0; i < n; i++)
    hot[i] = isfinite (r[i]) && fabsf (r[i]) > 5.0 * s1;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      if (hot[(size_t) y * w + x])
        for (int u = MAX (0, x - SV_SOURCE_RADIUS); u <= MIN (w - 1, x + SV_SOURCE_RADIUS); u++)
          near[(size_t) y * w + u] = 1;
  memset (hot, 0, n);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      if (near[(size_t) y * w + x])
        for (int t = MAX (0, y - SV_SOURCE_RADIUS); t <= MIN (h - 1, y + SV_SOURCE_RADIUS); t++)
          hot[(size_t) t * w + x] = 1;
  m = 0;
  for (size_t i = 0; i < n; i++)
    if (!hot[i] && isfinite (r[i]))
      v[m++] = r[i];
  s2 = m >= 1000 ? sv_iqr_sigma (v, m) : s1;
  f = s2 * s2;

  if (!(f <= DIA_SCALE_VARIANCE_LIMIT))
    {
      /* Image-based estimate: spread of the pixels against the typical variance. */
      gint64 k = 0, kv = 0;
      double med_v;
      for (int y = 0; y < h; y++)
        {
          DiaRect line = { 0, y, w, 1 };
          dia_background_render (bg, &line, row, w);
          for (int x = 0; x < w; x++)
            {
              size_t i = dia_image_index (image, x, y), o = (size_t) y * w + x;
              if (isfinite (r[o]) && !hot[o])
                v[k++] = image->pix[i] - row[x];
            }
        }
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          {
            size_t o = (size_t) y * w + x;
            if (isfinite (r[o]) && !hot[o])
              r[kv++] = image->var[dia_image_index (image, x, y)];
          }
      med_v = kv ? dia_stats_select (r, kv, kv / 2) : NAN;
      s2 = sv_iqr_sigma (v, k);
      f = s2 * s2 / med_v;
      if (!(f <= DIA_SCALE_VARIANCE_LIMIT))
        {
          g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                       _("Variance scaling of %s: the measured noise is %.3g times the variance "
                         "plane (limit %g); the variance plane or the gain is probably wrong — "
                         "fix it or turn scale_variance off"),
                       image->source ? image->source : _("an image"), f,
                       DIA_SCALE_VARIANCE_LIMIT);
          return FALSE;
        }
    }
  *factor = f;
  return TRUE;
}

DiaImage *
dia_scale_variance_apply (const DiaImage *image, double factor, GError **error)
{
  DiaImage *out = dia_image_copy (image, error);
  if (out == NULL)
    return NULL;
  for (int y = 0; y < out->height; y++)
    {
      float *v = out->var + dia_image_index (out, 0, y);
      for (int x = 0; x < out->width; x++)
        v[x] = (float) (v[x] * factor);
    }
  g_snprintf (out->meta.variance_note, sizeof out->meta.variance_note,
              "%s; scaled by %.4f to the measured noise", image->meta.variance_note, factor);
  dia_image_freeze (out);
  return out;
}

static gboolean
sv_replace (DiaImage **image, double *factor, DiaMonitor *monitor, GError **error)
{
  DiaImage *scaled;
  if (!dia_scale_variance_factor (*image, factor, monitor, error))
    return FALSE;
  if (fabs (*factor - 1.0) < 1e-4)
    return TRUE;
  scaled = dia_scale_variance_apply (*image, *factor, error);
  if (scaled == NULL)
    return FALSE;
  dia_image_unref (*image);
  *image = scaled;
  return TRUE;
}

gboolean
dia_scale_variance_pair (DiaImage **tmpl, DiaImage **sci, double *f_tmpl, double *f_sci,
                         DiaMonitor *monitor, GError **error)
{
  *f_tmpl = *f_sci = 1.0;
  return sv_replace (tmpl, f_tmpl, monitor, error) && sv_replace (sci, f_sci, monitor, error);
}
