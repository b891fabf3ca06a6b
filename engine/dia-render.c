/* dia-render.c — float planes to display pixels: limits, stretches, colormaps, resampling.
 *
 * Design.  Everything that turns a float plane into BGRA bytes for the screen lives here, as
 * pure arithmetic on caller-owned buffers, so the UI can run it on any thread and the tests can
 * check it without a display.  The work splits in three:
 *
 *   1. limits: dia_render_compute_limits() reduces the data to (low, high) once per image or
 *      per change of mode.  Automatic modes look at a sample of at most about 10^5 pixels on a
 *      regular grid (zscale: about 1000, as IRAF), skipping masked pixels, non-finite values
 *      and the ±3.4e38 (±FLT_MAX) sentinels some pipelines write for "no data", so one such
 *      pixel never stretches the display to 10^38.
 *   2. value -> [0,1]: limits, then the stretch (linear, log, sqrt, asinh or the histogram
 *      equalisation table), then DS9's contrast/bias.  dia_render_map_value() is the exact
 *      definition; the renderer uses a LUT built from it.
 *   3. resampling: dia_render_region() samples the nearest source pixel for the centre of every
 *      output pixel (so zoomed-in pixels are crisp squares; GTK 4.8 can only scale textures
 *      with a linear filter) and looks the colour up in a fused stretch+colormap LUT of
 *      DIA_RENDER_LUT_SIZE entries over [low, high].  Column indices are computed once per
 *      call, so the inner loop is a load, a mask test and a table lookup.
 *
 * Colours are guint32 0xAARRGGBB values, written to memory as the bytes B, G, R, A (what GDK
 * calls B8G8R8A8); alpha is always 255 so premultiplied and straight alpha agree.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-render.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Entries of the fused value -> colour table: fine enough that the steepest stretch (log with
 * a = 1000 at the low end) moves less than a few grey levels between neighbouring entries. */
#define DIA_RENDER_LUT_SIZE 8192

/* Sample sizes for the automatic limits. */
#define ZSCALE_SAMPLES      1000
#define ROBUST_SAMPLES      100000

/* IRAF zscale constants: contrast, rejection threshold in σ, iterations, the fraction of
 * samples that must survive rejection, and how far a rejection grows to the neighbours. */
#define ZSCALE_CONTRAST     0.25
#define ZSCALE_KREJ         2.5
#define ZSCALE_MAX_ITER     5
#define ZSCALE_MIN_FRACTION 0.5
#define ZSCALE_GROW         0.01

/* Stretch shape constants (DS9's defaults: log exponent 1000, asinh of 10 x). */
#define LOG_A   1000.0
#define ASINH_A 10.0

static inline gboolean
render_value_is_valid (float v)
{
  /* Finite and not a ±FLT_MAX style sentinel. */
  return isfinite (v) && fabsf (v) < 1e38f;
}

void
dia_render_params_init (DiaRenderParams *params)
{
  g_return_if_fail (params != NULL);

  memset (params, 0, sizeof *params);
  params->limits = DIA_LIMITS_ZSCALE;
  params->low = 0.0;
  params->high = 1.0;
  params->percentile_low = 0.5;
  params->percentile_high = 99.5;
  params->sigma_k = 5.0;
  params->stretch = DIA_STRETCH_LINEAR;
  params->colormap = DIA_COLORMAP_GRAY;
  params->contrast = 1.0;
  params->bias = 0.5;
  params->nodata_bgra = 0xFF404040u;
  params->histeq_ready = FALSE;
}

/* Collects up to about max_samples usable values on a regular grid into a new array
 * (g_try_malloc: NULL on failure or when there is nothing usable; *n_out set). */
static float *
render_sample (const float *data, const DiaMask *mask, DiaMask exclude, int width, int height,
               size_t stride, gint64 max_samples, gint64 *n_out)
{
  gint64 total = (gint64) width * height;
  int step = 1;
  float *samples;
  gint64 n = 0;

  *n_out = 0;
  if (data == NULL || width <= 0 || height <= 0)
    return NULL;
  if (total > max_samples)
    step = (int) ceil (sqrt ((double) total / (double) max_samples));

  for (;;)
    {
      gint64 cap = ((gint64) (width + step - 1) / step) * ((height + step - 1) / step);

      samples = g_try_malloc_n ((gsize) MAX (cap, 1), sizeof (float));
      if (samples == NULL)
        return NULL;
      n = 0;
      for (int y = step / 2; y < height; y += step)
        {
          const float *row = data + (size_t) y * stride;
          const DiaMask *mrow = mask != NULL ? mask + (size_t) y * stride : NULL;

          for (int x = step / 2; x < width; x += step)
            if (render_value_is_valid (row[x]) && (mrow == NULL || (mrow[x] & exclude) == 0))
              samples[n++] = row[x];
        }
      /* A heavily masked image can leave the coarse grid almost empty: look at every pixel
       * then (and thin out below if that gives too many). */
      if (n >= MIN (max_samples / 10, 100) || step == 1)
        break;
      g_free (samples);
      step = 1;
    }

  if (n > max_samples)
    {
      double stride_f = (double) n / (double) max_samples;
      gint64 m = 0;

      for (gint64 i = 0; i < max_samples; i++)
        samples[m++] = samples[(gint64) (i * stride_f)];
      n = m;
    }
  if (n == 0)
    {
      g_free (samples);
      return NULL;
    }
  *n_out = n;
  return samples;
}

static int
render_compare_float (const void *a, const void *b)
{
  float fa = *(const float *) a, fb = *(const float *) b;

  return (fa > fb) - (fa < fb);
}

/* IRAF's zscale on sorted samples: fit a line to value against rank with iterative
 * k-σ rejection (rejections grown to neighbours), divide its slope by the contrast and span the
 * ranks around the median with it, clamped to the sample range.  If rejection leaves fewer
 * than half the samples, the sample range is used. */
static void
render_zscale (float *s, gint64 n, double *low, double *high)
{
  double zmin = s[0], zmax = s[n - 1];
  gint64 center = (n - 1) / 2;
  double median = (n % 2) ? s[n / 2] : 0.5 * ((double) s[n / 2 - 1] + s[n / 2]);
  gint64 min_good = MAX (5, (gint64) (n * ZSCALE_MIN_FRACTION));
  gint64 grow = MAX (1, (gint64) (n * ZSCALE_GROW));
  guint8 *bad = g_try_malloc0 ((gsize) n);
  guint8 *next_bad = g_try_malloc0 ((gsize) n);
  double slope = 0.0, intercept = median;
  gint64 n_good = n;

  if (n < 5 || bad == NULL || next_bad == NULL)
    {
      *low = zmin;
      *high = zmax;
      g_free (bad);
      g_free (next_bad);
      return;
    }

  for (int iter = 0; iter < ZSCALE_MAX_ITER; iter++)
    {
      double sx = 0, sy = 0, sxx = 0, sxy = 0, ss = 0, det;
      double threshold;
      gint64 m = 0, new_good = 0;

      for (gint64 i = 0; i < n; i++)
        if (!bad[i])
          {
            double x = (double) i, y = s[i];
            sx += x; sy += y; sxx += x * x; sxy += x * y;
            m++;
          }
      det = m * sxx - sx * sx;
      if (m < 2 || det <= 0)
        break;
      slope = (m * sxy - sx * sy) / det;
      intercept = (sy - slope * sx) / m;

      for (gint64 i = 0; i < n; i++)
        if (!bad[i])
          {
            double r = s[i] - (intercept + slope * i);
            ss += r * r;
          }
      threshold = ZSCALE_KREJ * sqrt (ss / m);

      memcpy (next_bad, bad, (size_t) n);
      for (gint64 i = 0; i < n; i++)
        if (!bad[i] && fabs (s[i] - (intercept + slope * i)) > threshold)
          for (gint64 j = MAX (0, i - grow); j <= MIN (n - 1, i + grow); j++)
            next_bad[j] = 1;
      for (gint64 i = 0; i < n; i++)
        new_good += !next_bad[i];
      if (new_good == m || new_good < min_good)
        {
          if (new_good >= min_good)
            memcpy (bad, next_bad, (size_t) n);
          n_good = new_good;
          break;
        }
      memcpy (bad, next_bad, (size_t) n);
      n_good = new_good;
    }
  g_free (bad);
  g_free (next_bad);

  if (n_good < min_good)
    {
      *low = zmin;
      *high = zmax;
      return;
    }
  slope /= ZSCALE_CONTRAST;
  *low = MAX (zmin, median - (double) center * slope);
  *high = MIN (zmax, median + (double) (n - 1 - center) * slope);
}

static double
render_quantile_sorted (const float *s, gint64 n, double percent)
{
  double pos = CLAMP (percent, 0.0, 100.0) / 100.0 * (double) (n - 1);
  gint64 i = (gint64) floor (pos);
  double f = pos - (double) i;

  if (i >= n - 1)
    return s[n - 1];
  return s[i] + f * ((double) s[i + 1] - s[i]);
}

void
dia_render_compute_limits (const float *data, const DiaMask *mask, DiaMask exclude, int width,
                           int height, size_t stride, DiaRenderParams *params)
{
  g_autofree float *s = NULL;
  gint64 n = 0;
  double low = 0.0, high = 1.0;

  g_return_if_fail (params != NULL);

  switch (params->limits)
    {
    case DIA_LIMITS_MANUAL:
      low = params->low;
      high = params->high;
      break;

    case DIA_LIMITS_MINMAX:
      {
        gboolean any = FALSE;

        for (int y = 0; data != NULL && y < height; y++)
          {
            const float *row = data + (size_t) y * stride;
            const DiaMask *mrow = mask != NULL ? mask + (size_t) y * stride : NULL;

            for (int x = 0; x < width; x++)
              if (render_value_is_valid (row[x]) && (mrow == NULL || (mrow[x] & exclude) == 0))
                {
                  if (!any || row[x] < low)
                    low = row[x];
                  if (!any || row[x] > high)
                    high = row[x];
                  any = TRUE;
                }
          }
        if (!any)
          low = 0.0, high = 1.0;
      }
      break;

    case DIA_LIMITS_ZSCALE:
      s = render_sample (data, mask, exclude, width, height, stride, ZSCALE_SAMPLES, &n);
      if (s != NULL)
        {
          qsort (s, (size_t) n, sizeof (float), render_compare_float);
          render_zscale (s, n, &low, &high);
        }
      break;

    case DIA_LIMITS_PERCENTILE:
      s = render_sample (data, mask, exclude, width, height, stride, ROBUST_SAMPLES, &n);
      if (s != NULL)
        {
          qsort (s, (size_t) n, sizeof (float), render_compare_float);
          low = render_quantile_sorted (s, n, params->percentile_low);
          high = render_quantile_sorted (s, n, params->percentile_high);
        }
      break;

    case DIA_LIMITS_SYMMETRIC_SIGMA:
      s = render_sample (data, mask, exclude, width, height, stride, ROBUST_SAMPLES, &n);
      if (s != NULL)
        {
          double median, mad;

          qsort (s, (size_t) n, sizeof (float), render_compare_float);
          median = render_quantile_sorted (s, n, 50.0);
          for (gint64 i = 0; i < n; i++)
            s[i] = fabsf (s[i] - (float) median);
          qsort (s, (size_t) n, sizeof (float), render_compare_float);
          mad = render_quantile_sorted (s, n, 50.0);
          high = params->sigma_k * 1.4826 * mad;
          low = -high;
        }
      break;

    default:
      break;
    }

  /* A constant image (or none) still needs an interval to divide by. */
  if (!isfinite (low) || !isfinite (high))
    low = 0.0, high = 1.0;
  if (high <= low)
    {
      double half = MAX (fabs (low) * 1e-3, 0.5);
      double mid = low;

      low = mid - half;
      high = mid + half;
    }
  params->low = low;
  params->high = high;
  params->histeq_ready = FALSE;
}

void
dia_render_compute_histeq (const float *data, const DiaMask *mask, DiaMask exclude, int width,
                           int height, size_t stride, DiaRenderParams *params)
{
  g_autofree float *s = NULL;
  gint64 n = 0, counts[DIA_RENDER_HISTEQ_BINS] = { 0 }, total = 0, cum = 0;
  double range;

  g_return_if_fail (params != NULL);

  params->histeq_ready = FALSE;
  range = params->high - params->low;
  s = render_sample (data, mask, exclude, width, height, stride, ROBUST_SAMPLES, &n);
  if (s == NULL || !(range > 0))
    return;
  for (gint64 i = 0; i < n; i++)
    {
      double t = (s[i] - params->low) / range;
      int bin = (int) floor (t * DIA_RENDER_HISTEQ_BINS);

      counts[CLAMP (bin, 0, DIA_RENDER_HISTEQ_BINS - 1)]++;
      total++;
    }
  params->histeq_cdf[0] = 0.0f;
  for (int b = 0; b < DIA_RENDER_HISTEQ_BINS; b++)
    {
      cum += counts[b];
      params->histeq_cdf[b + 1] = (float) ((double) cum / (double) total);
    }
  /* Pin the ends so that the limits still map to exactly 0 and 1. */
  params->histeq_cdf[0] = 0.0f;
  params->histeq_cdf[DIA_RENDER_HISTEQ_BINS] = 1.0f;
  params->histeq_ready = TRUE;
}

/* The stretch and contrast/bias of t in [0,1] (already normalised by the limits). */
static double
render_stretch (const DiaRenderParams *params, double t)
{
  t = CLAMP (t, 0.0, 1.0);
  switch (params->stretch)
    {
    case DIA_STRETCH_LOG:
      t = log1p (LOG_A * t) / log1p (LOG_A);
      break;
    case DIA_STRETCH_SQRT:
      t = sqrt (t);
      break;
    case DIA_STRETCH_ASINH:
      t = asinh (ASINH_A * t) / asinh (ASINH_A);
      break;
    case DIA_STRETCH_HISTEQ:
      if (params->histeq_ready)
        {
          double pos = t * DIA_RENDER_HISTEQ_BINS;
          int i = MIN ((int) floor (pos), DIA_RENDER_HISTEQ_BINS - 1);
          double f = pos - i;

          t = params->histeq_cdf[i] + f * (params->histeq_cdf[i + 1] - params->histeq_cdf[i]);
        }
      break;
    case DIA_STRETCH_LINEAR:
    default:
      break;
    }
  /* DS9 contrast/bias: contrast scales the ramp about the bias point. */
  if (params->contrast != 1.0 || params->bias != 0.5)
    t = (t - params->bias) * params->contrast + 0.5;
  return CLAMP (t, 0.0, 1.0);
}

double
dia_render_map_value (const DiaRenderParams *params, double value)
{
  double range;

  g_return_val_if_fail (params != NULL, NAN);

  if (!isfinite (value) || fabs (value) >= 1e38)
    return NAN;
  range = params->high - params->low;
  if (!(range > 0))
    return value >= params->high ? 1.0 : 0.0;
  return render_stretch (params, (value - params->low) / range);
}

static inline guint32
render_pack (double r, double g, double b)
{
  guint32 ri = (guint32) lround (CLAMP (r, 0.0, 255.0));
  guint32 gi = (guint32) lround (CLAMP (g, 0.0, 255.0));
  guint32 bi = (guint32) lround (CLAMP (b, 0.0, 255.0));

  return 0xFF000000u | (ri << 16) | (gi << 8) | bi;
}

/* Piecewise-linear interpolation through anchor colours at equally spaced t. */
static guint32
render_ramp (const guint8 (*anchors)[3], int n_anchors, double t)
{
  double pos = CLAMP (t, 0.0, 1.0) * (n_anchors - 1);
  int i = MIN ((int) floor (pos), n_anchors - 2);
  double f = pos - i;
  const guint8 *a = anchors[i], *b = anchors[i + 1];

  return render_pack (a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]),
                      a[2] + f * (b[2] - a[2]));
}

guint32
dia_render_colormap (DiaColormap colormap, double t)
{
  /* Perceptual map: dark violet through blue and green to yellow, chosen by hand for a
   * steadily increasing lightness (not any published table). */
  static const guint8 perceptual[][3] = {
    { 46, 12, 72 }, { 62, 58, 130 }, { 46, 108, 142 }, { 36, 148, 136 },
    { 78, 190, 104 }, { 168, 218, 58 }, { 252, 232, 44 },
  };
  /* Diverging map: blue at 0, exactly white at 0.5, red at 1. */
  static const guint8 diverging[][3] = {
    { 36, 62, 170 }, { 120, 150, 230 }, { 255, 255, 255 }, { 236, 132, 110 }, { 176, 24, 40 },
  };

  if (isnan (t))
    t = 0.0;
  t = CLAMP (t, 0.0, 1.0);
  switch (colormap)
    {
    case DIA_COLORMAP_GRAY_INVERTED:
      return render_pack (255.0 * (1.0 - t), 255.0 * (1.0 - t), 255.0 * (1.0 - t));
    case DIA_COLORMAP_VIRIDIS_LIKE:
      return render_ramp (perceptual, G_N_ELEMENTS (perceptual), t);
    case DIA_COLORMAP_DIVERGING:
      return render_ramp (diverging, G_N_ELEMENTS (diverging), t);
    case DIA_COLORMAP_GRAY:
    default:
      return render_pack (255.0 * t, 255.0 * t, 255.0 * t);
    }
}

static inline void
render_put (guint8 *px, guint32 c)
{
  px[0] = (guint8) (c & 0xFF);
  px[1] = (guint8) ((c >> 8) & 0xFF);
  px[2] = (guint8) ((c >> 16) & 0xFF);
  px[3] = (guint8) (c >> 24);
}

void
dia_render_region (const float *data, const DiaMask *mask, int width, int height,
                   size_t stride, const DiaRenderParams *params, double src_x, double src_y,
                   double zoom, guint8 *out, int out_width, int out_height, size_t out_stride)
{
  g_autofree guint32 *lut = NULL;
  g_autofree int *col = NULL;
  double low, range, lut_scale;

  g_return_if_fail (params != NULL);
  if (out == NULL || out_width <= 0 || out_height <= 0)
    return;

  col = g_try_malloc_n ((gsize) out_width, sizeof (int));
  lut = g_try_malloc_n (DIA_RENDER_LUT_SIZE, sizeof (guint32));
  if (data == NULL || width <= 0 || height <= 0 || !(zoom > 0) || !isfinite (zoom)
      || !isfinite (src_x) || !isfinite (src_y) || col == NULL || lut == NULL)
    {
      for (int r = 0; r < out_height; r++)
        for (int c = 0; c < out_width; c++)
          render_put (out + (size_t) r * out_stride + (size_t) c * 4, params->nodata_bgra);
      return;
    }

  low = params->low;
  range = params->high - params->low;
  if (!(range > 0))
    range = 1.0;
  for (int i = 0; i < DIA_RENDER_LUT_SIZE; i++)
    {
      double t = (double) i / (DIA_RENDER_LUT_SIZE - 1);

      lut[i] = dia_render_colormap (params->colormap, render_stretch (params, t));
    }
  lut_scale = (DIA_RENDER_LUT_SIZE - 1) / range;

  /* Output column c covers image x in [src_x + c / zoom, src_x + (c + 1) / zoom) and shows
   * the pixel whose cell contains the centre of that span (pixel i spans [i − ½, i + ½)). */
  for (int c = 0; c < out_width; c++)
    {
      double x = src_x + (c + 0.5) / zoom;
      double xi = floor (x + 0.5);

      col[c] = (xi >= 0 && xi < width) ? (int) xi : -1;
    }

  for (int r = 0; r < out_height; r++)
    {
      guint8 *orow = out + (size_t) r * out_stride;
      double y = src_y + (out_height - 1 - r + 0.5) / zoom;
      double yi = floor (y + 0.5);
      const float *row;
      const DiaMask *mrow;

      if (!(yi >= 0 && yi < height))
        {
          for (int c = 0; c < out_width; c++)
            render_put (orow + (size_t) c * 4, params->nodata_bgra);
          continue;
        }
      row = data + (size_t) yi * stride;
      mrow = mask != NULL ? mask + (size_t) yi * stride : NULL;
      for (int c = 0; c < out_width; c++)
        {
          int x = col[c];
          guint32 colour = params->nodata_bgra;

          if (x >= 0)
            {
              float v = row[x];

              if (render_value_is_valid (v) && (mrow == NULL || !(mrow[x] & DIA_MASK_NO_DATA)))
                {
                  double f = (v - low) * lut_scale;
                  int idx = f <= 0 ? 0 : f >= DIA_RENDER_LUT_SIZE - 1
                                          ? DIA_RENDER_LUT_SIZE - 1 : (int) lround (f);

                  colour = lut[idx];
                }
            }
          render_put (orow + (size_t) c * 4, colour);
        }
    }
}
